"""The state machine (`RULES`): which action moves which status where, and who may do it;
what else an actor may do to a case (note, attach, rate, support). The services check again.
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from app.affairs.common import _relation
from app.affairs.words import STATUS_LABELS
from app.extensions import db
from app.infra.errors import Conflict, Forbidden, invalid_field
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
# official with write access; assignee = the person or a member of the organization the case
# is assigned to; reporter = the resident it is for (or their confirmed family proxy);
# filer_device = the kiosk that filed an anonymous case (nobody else can confirm it).
RULES: tuple[tuple[str, tuple[str, ...], str, frozenset[str]], ...] = (
    ("accept", (SUBMITTED, REOPENED), ACCEPTED, frozenset({"manager"})),
    ("reject", (SUBMITTED, ACCEPTED, REOPENED), REJECTED, frozenset({"manager"})),
    (
        "assign",
        (SUBMITTED, ACCEPTED, ASSIGNED, IN_PROGRESS, REOPENED),
        ASSIGNED,
        frozenset({"manager"}),
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
# Street officials without write access read everything but change nothing.
_WORKERS = frozenset({"manager", "fieldworker", "assignee"})


_NOTE_TAKERS = _WORKERS | {"reporter"}


# Actions done through their own function (they need more than a note).
_SPECIAL = ("assign", "merge")


def allowed_actions(actor: Actor, case: Case) -> list[str]:
    """What the actor may do to the case now (for buttons; the services check again)."""
    rel = _relation(actor, case)
    actions = [
        action
        for action in ACTIONS
        if any(case.status in frm and rel & who for a, frm, _to, who in RULES if a == action)
    ]
    if case.merged_into_id is not None:
        actions = [a for a in actions if a != "reopen"]
    if rel & _NOTE_TAKERS:
        actions.append("note")
    if _may_attach(rel, case):
        actions.append("attach")
    if _may_rate(rel, case):
        actions.append("rate")
    if _may_support(actor, case):
        actions.append("support")
    return actions


def _rule_for(actor: Actor, case: Case, action: str):
    rules = [r for r in RULES if r[0] == action]
    if not rules:
        raise invalid_field("action", ", ".join(a for a in ACTIONS if a not in _SPECIAL))
    in_state = [r for r in rules if case.status in r[1]]
    if not in_state:
        raise Conflict(
            _l(
                "This cannot be done while the case is “%(status)s”.",
                status=STATUS_LABELS[case.status],
            )
        )
    rel = _relation(actor, case)
    for rule in in_state:
        if rel & rule[3]:
            return rule
    raise Forbidden()


def _may_rate(rel, case: Case) -> bool:
    return (
        bool(rel & {"reporter", "filer_device"})
        and case.status == CLOSED
        and case.rating is None
        and case.closed_reason != "merged"
    )


def _may_support(actor: Actor, case: Case) -> bool:
    subject = actor.subject
    return (
        subject is not None
        and actor.device is None
        and case.is_public
        and case.status in OPEN_STATUSES
        and case.reporter_id != subject.id
        and subject.community_id == case.community_id
    )


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


def _may_attach(rel, case: Case) -> bool:
    if rel & _WORKERS:
        return True
    if "reporter" in rel:
        return case.status not in (CLOSED, REJECTED)
    return "filer_device" in rel and case.status == SUBMITTED
