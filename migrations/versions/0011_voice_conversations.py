"""voice: conversations in the database when there is no Redis, so every worker takes any turn

Revision ID: 0011_voice_conversations
Revises: 0010_proxy_request_phone
Create Date: 2026-12-03 05:53:01

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0011_voice_conversations'
down_revision = '0010_proxy_request_phone'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('voice_conversation',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('owner', sa.String(length=64), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=True),
    sa.Column('device_id', sa.Integer(), nullable=True),
    sa.Column('state', sa.JSON(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['device_id'], ['device.id'], name=op.f('fk_voice_conversation_device_id_device'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['person_id'], ['person.id'], name=op.f('fk_voice_conversation_person_id_person'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_voice_conversation'))
    )
    with op.batch_alter_table('voice_conversation', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_voice_conversation_device_id'), ['device_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_voice_conversation_expires_at'), ['expires_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_voice_conversation_person_id'), ['person_id'], unique=False)



def downgrade():
    with op.batch_alter_table('voice_conversation', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_voice_conversation_person_id'))
        batch_op.drop_index(batch_op.f('ix_voice_conversation_expires_at'))
        batch_op.drop_index(batch_op.f('ix_voice_conversation_device_id'))

    op.drop_table('voice_conversation')
