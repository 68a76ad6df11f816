"""an organization's lead (负责人): an org_member who manages the organization's members in
the communities their membership reaches

Revision ID: 0020_org_leads
Revises: 0019_activities
Create Date: 2026-12-03 15:50:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0020_org_leads'
down_revision = '0019_activities'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('role_assignment', schema=None) as batch_op:
        batch_op.add_column(sa.Column('leads_organization', sa.Boolean(), server_default=sa.false(), nullable=False))


def downgrade():
    with op.batch_alter_table('role_assignment', schema=None) as batch_op:
        batch_op.drop_column('leads_organization')
