"""the staff list's overdue page walks open cases in deadline order on a partial index
(ix_case_record_open_due) and stops after a page, instead of reading and sorting every open
overdue case of the community

Revision ID: 0022_open_due_index
Revises: 0021_nearby_open_index
Create Date: 2026-12-04 17:40:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0022_open_due_index'
down_revision = '0021_nearby_open_index'
branch_labels = None
depends_on = None

_OPEN = "status IN ('submitted', 'accepted', 'assigned', 'in_progress', 'reopened')"


def upgrade():
    # PostgreSQL only (the model's index has ddl_if): on SQLite the deadline sweeps would take
    # it for their own smaller partial indexes.
    if op.get_bind().dialect.name != 'postgresql':
        return
    op.create_index(
        'ix_case_record_open_due',
        'case_record',
        ['community_id', 'due_at', 'id'],
        unique=False,
        postgresql_where=sa.text(_OPEN),
    )


def downgrade():
    if op.get_bind().dialect.name != 'postgresql':
        return
    op.drop_index('ix_case_record_open_due', table_name='case_record')
