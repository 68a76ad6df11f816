"""督办 (supervision): an official of the street office over a community sets a deadline and an
instruction on an escalated open case (已上报); the committee and the case's handler see it at
the top of the case and in their lists, and record its fulfilment with a note. Overdue while
open is shown as such. The instruction is internal: residents, the public view, the lobby
screen and the voice dialog never read it (the timeline events are internal too).

Who may do what is `policy` ("supervise", "fulfil_supervision"); the official's reassignment
and notes on an escalated case are the ordinary `workflow.assign_case` / `workflow.add_note`
(policy's "supervisor" relation allows them).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import or_, select
from sqlalchemy.orm import selectinload

from app.affairs import policy
from app.affairs.common import _event, _local, _now
from app.affairs.notify import _assignee_people, _community_staff
from app.affairs.queries import get_case
from app.extensions import db
from app.infra.errors import Conflict, NotFound, invalid_field
from app.infra.text import clean_text
from app.models.case import Case
from app.models.supervision import SUPERVISION_FULFILLED, SUPERVISION_OPEN, CaseSupervision
from app.people import notifications
from app.people.actors import Actor

STATUS_LABELS = {
    SUPERVISION_OPEN: _l("Waiting for the reply"),
    SUPERVISION_FULFILLED: _l("Answered"),
}


def supervise_case(
    actor: Actor, case_id: int, *, instruction: str, due_at: datetime
) -> CaseSupervision:
    """督办: the street official asks for `instruction` to be done by `due_at` on an escalated
    case of the office's communities; the handlers and the committee are told."""
    case = get_case(actor, case_id)
    policy.ensure(actor, "supervise", case)
    instruction = clean_text(instruction or "", "instruction", max_length=1000, multiline=True)
    now = _now()
    if not isinstance(due_at, datetime) or due_at.tzinfo is None:
        raise invalid_field("due_at", _l("Give a time with its time zone."))
    if due_at <= now:
        raise invalid_field("due_at", _l("The deadline must be in the future."))
    if due_at > now + timedelta(days=366):
        raise invalid_field("due_at", _l("The deadline must be in the coming year."))
    item = CaseSupervision(
        case=case,
        community_id=case.community_id,
        issued_by_id=actor.person.id,
        instruction=instruction,
        due_at=due_at,
        status=SUPERVISION_OPEN,
        created_at=now,
        updated_at=now,
    )
    db.session.add(item)
    db.session.flush()
    case.updated_at = now
    _event(
        case,
        "supervised",
        actor,
        note=instruction,
        public=False,
        data={"supervision_id": item.id, "due_at": due_at.isoformat()},
    )
    db.session.flush()
    for person_id in sorted(set(_assignee_people(case)) | set(_community_staff(case.community_id))):
        with notifications.in_locale_of(person_id):
            notifications.notify(
                person_id,
                "case_supervised",
                _("Supervision of %(ref)s: due %(due)s", ref=case.reference, due=_local(due_at)),
                instruction[:200],
                link=f"/staff/cases/{case.id}",
            )
    return item


def fulfil_supervision(
    actor: Actor, case_id: int, supervision_id: int, *, note: str
) -> CaseSupervision:
    """The committee or the case's handler records what was done about a 督办; the official
    who issued it is told."""
    case = get_case(actor, case_id)
    item = _find(case, supervision_id)
    policy.ensure(actor, "fulfil_supervision", case)
    if item.status != SUPERVISION_OPEN:
        raise Conflict(_l("This supervision has already been answered."))
    note = clean_text(note or "", "note", max_length=2000, multiline=True)
    now = _now()
    item.status = SUPERVISION_FULFILLED
    item.fulfilled_at = now
    item.fulfilled_by_id = actor.person.id
    item.fulfilment_note = note
    item.updated_at = case.updated_at = now
    _event(
        case,
        "supervision_fulfilled",
        actor,
        note=note,
        public=False,
        data={"supervision_id": item.id, "late": now > item.due_at},
    )
    db.session.flush()
    with notifications.in_locale_of(item.issued_by_id):
        notifications.notify(
            item.issued_by_id,
            "case_supervision_done",
            _("Supervision answered: %(ref)s", ref=case.reference),
            note[:200],
            link=f"/staff/cases/{case.id}",
        )
    return item


def _find(case: Case, supervision_id: int) -> CaseSupervision:
    item = db.session.get(CaseSupervision, supervision_id)
    if item is None or item.case_id != case.id:
        raise NotFound()
    return item


def supervision_row(item: CaseSupervision, now: datetime | None = None) -> dict:
    """One 督办 as the staff side reads it (never shown to residents)."""
    now = now or _now()
    is_open = item.status == SUPERVISION_OPEN
    return {
        "id": item.id,
        "case_id": item.case_id,
        "reference": item.case.reference,
        "community_id": item.community_id,
        "instruction": item.instruction,
        "due_at": item.due_at,
        "status": item.status,
        "status_label": str(STATUS_LABELS[item.status]),
        "open": is_open,
        "overdue": is_open and item.due_at < now,
        "late": (not is_open) and item.fulfilled_at is not None and item.fulfilled_at > item.due_at,
        "issued_by": item.issued_by.display_name,
        "issued_at": item.created_at,
        "fulfilled_at": item.fulfilled_at,
        "fulfilled_by": item.fulfilled_by.display_name if item.fulfilled_by else None,
        "fulfilment_note": item.fulfilment_note,
    }


def case_supervisions(actor: Actor, case: Case) -> list[dict]:
    """A case's 督办, open ones first, for those who read its internal side (else none)."""
    if not policy.may(actor, "read_internal", case):
        return []
    items = db.session.scalars(
        select(CaseSupervision)
        .where(CaseSupervision.case_id == case.id)
        .options(
            selectinload(CaseSupervision.issued_by), selectinload(CaseSupervision.fulfilled_by)
        )
        .order_by(CaseSupervision.id.desc())
    ).all()
    now = _now()
    rows = [supervision_row(item, now) for item in items]
    return sorted(rows, key=lambda r: not r["open"])


def list_supervisions(actor: Actor, case_id: int) -> list[dict]:
    """The API's list of a case's 督办: its workers and handler only (403 for residents)."""
    case = get_case(actor, case_id)
    policy.ensure(actor, "read_internal", case)
    return case_supervisions(actor, case)


def open_supervisions_for(actor: Actor, *, limit: int = 50) -> list[dict]:
    """Open 督办 the actor should see, earliest deadline first (overdue ones are flagged): the
    committee's and officials' communities, and the cases assigned to them or their
    organizations. For the overview and the inbox; empty for residents and screens."""
    if actor.person is None or not actor.is_staff_side:
        return []
    query = (
        select(CaseSupervision)
        .join(Case, Case.id == CaseSupervision.case_id)
        .where(CaseSupervision.status == SUPERVISION_OPEN)
        .options(
            selectinload(CaseSupervision.case),
            selectinload(CaseSupervision.issued_by),
        )
        .order_by(CaseSupervision.due_at, CaseSupervision.id)
    )
    if not actor.is_admin:
        communities = (
            actor.staff_community_ids | actor.official_community_ids | actor.grid_community_ids
        )
        mine = [Case.assignee_person_id == actor.person.id]
        if actor.organization_ids:
            mine.append(Case.assignee_organization_id.in_(actor.organization_ids))
        query = query.where(or_(CaseSupervision.community_id.in_(communities), *mine))
    now = _now()
    rows = []
    # Read more than asked for: a row an organization's member may not work on is skipped.
    for item in db.session.scalars(query.limit(limit * 2)):
        if not policy.may(actor, "read_internal", item.case):
            continue
        rows.append(supervision_row(item, now))
        if len(rows) >= limit:
            break
    return rows
