"""督办: a street official's deadline and instruction on an escalated case, and its fulfilment

Revision ID: 0017_supervision
Revises: 0014_device_sound
Create Date: 2026-12-03 12:03:47.542310

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0017_supervision'
down_revision = '0016_delivery'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('case_supervision',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('community_id', sa.Integer(), nullable=False),
    sa.Column('issued_by_id', sa.Integer(), nullable=False),
    sa.Column('instruction', sa.Text(), nullable=False),
    sa.Column('due_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('fulfilled_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('fulfilled_by_id', sa.Integer(), nullable=True),
    sa.Column('fulfilment_note', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['case_record.id'], name=op.f('fk_case_supervision_case_id_case_record')),
    sa.ForeignKeyConstraint(['community_id'], ['community.id'], name=op.f('fk_case_supervision_community_id_community')),
    sa.ForeignKeyConstraint(['fulfilled_by_id'], ['person.id'], name=op.f('fk_case_supervision_fulfilled_by_id_person')),
    sa.ForeignKeyConstraint(['issued_by_id'], ['person.id'], name=op.f('fk_case_supervision_issued_by_id_person')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_case_supervision'))
    )
    with op.batch_alter_table('case_supervision', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_case_supervision_case_id'), ['case_id'], unique=False)
        batch_op.create_index('ix_case_supervision_open', ['community_id', 'status', 'due_at'], unique=False)



def downgrade():
    with op.batch_alter_table('case_supervision', schema=None) as batch_op:
        batch_op.drop_index('ix_case_supervision_open')
        batch_op.drop_index(batch_op.f('ix_case_supervision_case_id'))

    op.drop_table('case_supervision')
