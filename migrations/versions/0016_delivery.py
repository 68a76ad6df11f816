"""outbound delivery: delivery_record, and each person's notify_channel and e-mail address

Revision ID: 0016_delivery
Revises: 0014_device_sound
Create Date: 2026-12-03 12:20:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0016_delivery'
down_revision = '0015_alerts'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'delivery_record',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('person_id', sa.Integer(), nullable=False),
        sa.Column('notification_id', sa.Integer(), nullable=True),
        sa.Column('channel', sa.String(length=10), nullable=False),
        sa.Column('kind', sa.String(length=40), nullable=False),
        sa.Column('address_masked', sa.String(length=80), nullable=True),
        sa.Column('status', sa.String(length=10), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('last_error', sa.String(length=300), nullable=True),
        sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('claimed_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('claim_token', sa.String(length=32), nullable=True),
        sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('provider_ref', sa.String(length=120), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['notification_id'], ['notification.id'], ),
        sa.ForeignKeyConstraint(['person_id'], ['person.id'], ),
        sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('delivery_record', schema=None) as batch_op:
        batch_op.create_index('ix_delivery_record_due', ['status', 'next_attempt_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_delivery_record_notification_id'), ['notification_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_delivery_record_person_id'), ['person_id'], unique=False)

    with op.batch_alter_table('person', schema=None) as batch_op:
        batch_op.add_column(sa.Column('notify_channel', sa.String(length=10), server_default='none', nullable=False))
        batch_op.add_column(sa.Column('email', sa.String(length=254), nullable=True))


def downgrade():
    with op.batch_alter_table('person', schema=None) as batch_op:
        batch_op.drop_column('email')
        batch_op.drop_column('notify_channel')

    with op.batch_alter_table('delivery_record', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_delivery_record_person_id'))
        batch_op.drop_index(batch_op.f('ix_delivery_record_notification_id'))
        batch_op.drop_index('ix_delivery_record_due')

    op.drop_table('delivery_record')
