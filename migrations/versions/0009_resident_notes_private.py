"""affairs: notes residents wrote are internal (they were stored public and Open311 showed them)

Until now a resident's (or family proxy's) note was always stored public, whatever the resident
asked for, and the public view and Open311 status_notes showed it. Only staff publish now; the
reporter still reads their own notes. This marks the notes already written by anyone but staff,
a handler or the system as internal. No schema change.

Revision ID: 0009_resident_notes_private
Revises: 0008_login_throttle
Create Date: 2026-12-02 23:30:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0009_resident_notes_private'
down_revision = '0008_login_throttle'
branch_labels = None
depends_on = None

# app.affairs.cases.STAFF_VOICES as of this revision (a migration does not import the app).
STAFF_VOICES = ('staff', 'assignee', 'system')


def upgrade():
    op.execute(
        sa.text("UPDATE case_event SET public = :internal WHERE kind = 'note' AND public = :public "
                "AND actor_role NOT IN :staff")
        .bindparams(sa.bindparam('staff', expanding=True))
        .bindparams(internal=False, public=True, staff=list(STAFF_VOICES)))


def downgrade():
    # Nothing: which notes were public before cannot be told apart from the ones written
    # internal since, and publishing a resident's words again is never the safe way back.
    pass
