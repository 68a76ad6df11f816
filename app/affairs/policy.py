"""Who may do what to a case: one call, `may(actor, action, case)`, and `ensure`, which raises
the error the channels answer with. Every channel and service asks here; the transitions come
from the state machine (`rules.RULES`), the single table of who moves which status where.

`ensure` answers as the services always have: Unauthorized for anonymous callers, NotFound for a
case the actor may not even read (another community's, a private one: ids reveal nothing),
Forbidden for someone who reads it but may not do this, Conflict when the actor may but the
case is not in a state for it, and an invalid `action` field for a step that does not exist.

Actions: the transitions of `rules.ACTIONS` (accept, reject, assign, start, resolve, confirm,
reopen, close, merge) and
- read: see the case at all (`level` says how much);
- read_internal: internal timeline events and data (the community's workers, the assignee);
- see_reporter: who reported it (the same people; each read is audited by the view);
- see_contact: the reporter's unmasked phone and e-mail;
- note, attach, rate, support: add a note, a photo or recording, stars, a "me too";
- update: correct category, location or visibility of an open case;
- publish_attachment: show a photo in the public view, or hide it;
- supervise: 督办 — an official of the community's street office sets a deadline and an
  instruction on an escalated open case (app/affairs/supervision.py);
- fulfil_supervision: the committee or the handler records that a 督办 is done.
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

from app.affairs.rules import (
    _NOTE_TAKERS,
    _SPECIAL,
    _WORKERS,
    ACTIONS,
    RULES,
)
from app.affairs.words import STATUS_LABELS
from app.infra.errors import Conflict, DomainError, Forbidden, NotFound, invalid_field
from app.models.case import CLOSED, OPEN_STATUSES, REJECTED, SUBMITTED, Case
from app.people import authz
from app.people.actors import Actor


def is_escalated(case: Case) -> bool:
    """Open and escalated to the street office (已上报): what an official may supervise."""
    return case.escalated_at is not None and case.status in OPEN_STATUSES


# Actions beyond the transitions, in the order buttons list them after the transitions.
_EXTRA_BUTTONS = ("note", "attach", "rate", "support")

CASE_ACTIONS = (
    *ACTIONS,
    "read",
    "read_internal",
    "see_reporter",
    "see_contact",
    *_EXTRA_BUTTONS,
    "update",
    "publish_attachment",
    "supervise",
    "fulfil_supervision",
)


def relation(actor: Actor, case: Case) -> frozenset[str]:
    """Who the actor is to the case: manager, staff, fieldworker, assignee, reporter,
    filer_device (the screen that filed an anonymous case), reader (may read its community),
    official (of the street office over the community) and supervisor (that official, while
    the case is escalated and open)."""
    rel: set[str] = set()
    if actor.is_anonymous:
        return frozenset()
    community_id = case.community_id
    if authz.can_manage_community(actor, community_id):
        rel.add("manager")
    if authz.can_see_internal(actor, community_id):
        rel.add("staff")
    if community_id in actor.official_community_ids:
        rel.add("official")
        if is_escalated(case):
            rel.add("supervisor")
    if community_id in actor.grid_community_ids:
        rel.add("fieldworker")
    if actor.person is not None and case.assignee_person_id == actor.person.id:
        rel.add("assignee")
    # An organization's member works its cases only in the communities they were granted.
    if case.assignee_organization_id and actor.works_for(
        case.assignee_organization_id, community_id
    ):
        rel.add("assignee")
    subject = actor.subject
    if subject is not None and case.reporter_id is not None and case.reporter_id == subject.id:
        rel.add("reporter")
    if actor.device is not None and case.device_id == actor.device.id and case.reporter_id is None:
        rel.add("filer_device")
    if authz.can_read_community(actor, community_id):
        rel.add("reader")
    return frozenset(rel)


def level_of(rel: frozenset[str], case: Case) -> str | None:
    """How much of the case a relation sees: staff > assignee > reporter > public (None:
    nothing at all)."""
    if "staff" in rel or "manager" in rel:
        return "staff"
    if "assignee" in rel:
        return "assignee"
    if "reporter" in rel:
        return "reporter"
    if "filer_device" in rel or ("reader" in rel and case.is_public):
        return "public"
    return None


def level(actor: Actor, case: Case) -> str | None:
    """How much of the case the actor sees (see `level_of`)."""
    return level_of(relation(actor, case), case)


def may(actor: Actor, action: str, case: Case) -> bool:
    """Whether the actor may do `action` to the case now."""
    if action not in CASE_ACTIONS:
        raise ValueError(f"unknown case action {action!r}")
    try:
        _check(actor, action, case, relation(actor, case))
    except DomainError:
        return False
    return True


def ensure(actor: Actor, action: str, case: Case) -> None:
    """Raise what the channels answer when the actor may not do `action` (see the module)."""
    _check(actor, action, case, relation(actor, case))


def allowed_actions(actor: Actor, case: Case) -> list[str]:
    """What the actor may do to the case now, for the buttons: the transitions, then note,
    attach, rate and support (the services ask again)."""
    rel = relation(actor, case)
    allowed = []
    for action in (*ACTIONS, *_EXTRA_BUTTONS):
        try:
            _check(actor, action, case, rel)
        except DomainError:
            continue
        allowed.append(action)
    return allowed


def rule_for(actor: Actor, case: Case, action: str):
    """The rule of `rules.RULES` the actor moves the case by (ensure's errors otherwise)."""
    rel = relation(actor, case)
    if action not in ACTIONS:
        _rule(action, case, rel)  # not a step of the state machine: an invalid action
    _check(actor, action, case, rel)
    return _rule(action, case, rel)


def _rule(action: str, case: Case, rel: frozenset[str]):
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
    for rule in in_state:
        if rel & rule[3]:
            return rule
    raise Forbidden()


def _check(actor: Actor, action: str, case: Case, rel: frozenset[str]) -> None:
    authz.require_signed_in(actor)
    seen = level_of(rel, case)
    if seen is None:
        raise NotFound()
    if action == "read":
        return
    if action in ("read_internal", "see_reporter"):
        if seen not in ("staff", "assignee"):
            raise Forbidden()
    elif action == "see_contact":
        if case.reporter is not None:
            allowed = authz.can_see_contact(actor, case.reporter)
        else:
            allowed = actor.is_admin or case.community_id in actor.staff_community_ids
        if not allowed:
            raise Forbidden()
    elif action == "note":
        if not rel & _NOTE_TAKERS:
            raise Forbidden()
    elif action == "attach":
        if not _may_attach(rel, case):
            raise Forbidden()
    elif action == "rate":
        if not _may_rate(rel, case):
            if not rel & {"reporter", "filer_device"}:
                raise Forbidden()
            raise Conflict(_l("This case cannot be rated now."))
    elif action == "support":
        authz.require_person(actor)
        if not _may_support(actor, case):
            if (
                case.reporter_id == actor.subject.id
                or actor.subject.community_id != case.community_id
            ):
                raise Forbidden()
            raise Conflict(_l("Only open public cases can be supported."))
    elif action == "update":
        if "manager" not in rel:
            raise Forbidden()
        if case.status not in OPEN_STATUSES:
            raise Conflict()
    elif action == "publish_attachment":
        if "manager" not in rel:
            raise Forbidden()
    elif action == "supervise":
        if "official" not in rel:
            raise Forbidden()
        if "supervisor" not in rel:
            raise Conflict(_l("Only an escalated open case can be supervised."))
    elif action == "fulfil_supervision":
        if not rel & {"manager", "assignee"}:
            raise Forbidden()
    else:
        _rule(action, case, rel)
        if action == "reopen" and (case.closed_reason == "merged" or case.merged_into_id):
            raise Conflict(
                _l("A merged case cannot be reopened; follow the case it was merged into.")
            )


def _may_rate(rel: frozenset[str], case: Case) -> bool:
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


def _may_attach(rel: frozenset[str], case: Case) -> bool:
    if rel & _WORKERS:
        return True
    if "reporter" in rel:
        return case.status not in (CLOSED, REJECTED)
    return "filer_device" in rel and case.status == SUBMITTED
