"""lobby screens report whether they can make sound by themselves (heartbeat `sound`)

ok / blocked (the browser's autoplay policy holds sound until someone taps) / unknown; NULL for
screens that never said.

Revision ID: 0014_device_sound
Revises: 0013_open311_fidelity
Create Date: 2026-12-03 06:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0014_device_sound'
down_revision = '0013_open311_fidelity'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('device_state', schema=None) as batch_op:
        batch_op.add_column(sa.Column('sound', sa.String(length=8), nullable=True))


def downgrade():
    with op.batch_alter_table('device_state', schema=None) as batch_op:
        batch_op.drop_column('sound')
