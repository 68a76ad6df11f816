"""cases: a self-declared e-mail address to reply to (Open311 `email`)

Revision ID: 0013_open311_fidelity
Revises: 0011_voice_conversations
Create Date: 2026-12-03 06:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0013_open311_fidelity'
down_revision = "0011_voice_conversations"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('case_record', schema=None) as batch_op:
        batch_op.add_column(sa.Column('contact_email', sa.String(length=254), nullable=True))


def downgrade():
    with op.batch_alter_table('case_record', schema=None) as batch_op:
        batch_op.drop_column('contact_email')
