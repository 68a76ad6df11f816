"""The state machine: the statuses' labels and `RULES`, which action moves which status
where and who may do it, with who works on a case and who may write notes. `policy` reads this
table to answer who may do what; nothing else decides it.
"""

from __future__ import annotations

from sqlalchemy import select

from app.extensions import db
from app.models.case import (
    ACCEPTED,
    ASSIGNED,
    CLOSED,
    IN_PROGRESS,
    OPEN_STATUSES,
    REJECTED,
    REOPENED,
    RESOLVED,
    SUBMITTED,
    Case,
    CaseSupport,
)
from app.people.actors import Actor

# (action, from statuses, to status, who). Who: manager = committee staff / admin / street
# official with write access; supervisor = an official of the street office over the community,
# on an escalated open case (督办: they may reassign it and write notes); assignee = the person or
# a member of the organization the case is assigned to; reporter = the resident it is for (or
# their confirmed family proxy); filer_device = the kiosk that filed an anonymous case (nobody
# else can confirm it).
RULES: tuple[tuple[str, tuple[str, ...], str, frozenset[str]], ...] = (
    ("accept", (SUBMITTED, REOPENED), ACCEPTED, frozenset({"manager"})),
    ("reject", (SUBMITTED, ACCEPTED, REOPENED), REJECTED, frozenset({"manager"})),
    (
        "assign",
        (SUBMITTED, ACCEPTED, ASSIGNED, IN_PROGRESS, REOPENED),
        ASSIGNED,
        frozenset({"manager", "supervisor"}),
    ),
    ("start", (ASSIGNED,), IN_PROGRESS, frozenset({"assignee", "manager"})),
    ("resolve", (ASSIGNED, IN_PROGRESS), RESOLVED, frozenset({"assignee", "manager"})),
    ("confirm", (RESOLVED,), CLOSED, frozenset({"reporter", "filer_device"})),
    ("reopen", (RESOLVED,), REOPENED, frozenset({"reporter", "filer_device", "manager"})),
    ("reopen", (CLOSED,), REOPENED, frozenset({"manager"})),
    ("close", (RESOLVED,), CLOSED, frozenset({"manager"})),
    ("merge", OPEN_STATUSES, CLOSED, frozenset({"manager"})),
)


ACTIONS = tuple(dict.fromkeys(rule[0] for rule in RULES))


# Who works on a case (notes, photos): managers, the community's grid workers, the assignee.
# Street officials without write access read everything and change nothing, except on an
# escalated case (as "supervisor": 督办, notes, reassignment).
_WORKERS = frozenset({"manager", "fieldworker", "assignee"})


_NOTE_TAKERS = _WORKERS | {"reporter", "supervisor"}


# Actions done through their own function (they need more than a note).
_SPECIAL = ("assign", "merge")


def supported_by(actor: Actor, case: Case) -> bool:
    """Whether the caller already said "me too"."""
    subject = actor.subject
    if subject is None:
        return False
    return (
        db.session.scalar(
            select(CaseSupport.id).where(
                CaseSupport.case_id == case.id, CaseSupport.person_id == subject.id
            )
        )
        is not None
    )
