"""affairs: due-soon reminders also for cases nobody has yet (they go to the committee)

The sweep index ix_case_record_due_soon no longer requires an assignee.

Revision ID: 0006_due_soon_unassigned
Revises: 0005_case_due_soon
Create Date: 2026-11-27 04:10:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0006_due_soon_unassigned'
down_revision = '0005_case_due_soon'
branch_labels = None
depends_on = None

WAITING = ("due_soon_notified_at IS NULL AND overdue_notified_at IS NULL AND escalated_at IS NULL "
           "AND status IN ('submitted', 'accepted', 'assigned', 'in_progress', 'reopened')")
ASSIGNED = " AND (assignee_person_id IS NOT NULL OR assignee_organization_id IS NOT NULL)"


def _replace(where: str) -> None:
    with op.batch_alter_table('case_record', schema=None) as batch_op:
        batch_op.drop_index('ix_case_record_due_soon')
        batch_op.create_index('ix_case_record_due_soon', ['community_id', 'due_at'], unique=False,
                              sqlite_where=sa.text(where), postgresql_where=sa.text(where))


def upgrade():
    _replace(WAITING)


def downgrade():
    _replace(WAITING + ASSIGNED)
