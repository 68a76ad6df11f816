"""What a case looks like to its reader (the dicts the channels render): list rows, the
full view with its timeline, attachments and reporter, per access level.

Privacy: the public view shows category, building-level location, status and the notes staff
published — never the reporter, nor anything a resident wrote (description, notes, reasons,
rating comments: `published_note`). An anonymous case keeps no link to any person. Workers see
the reporter (phone masked unless policy says "see_contact"), and each such read is audited.
"""

from __future__ import annotations

from collections import namedtuple
from datetime import datetime
from functools import cache
from types import SimpleNamespace

from flask_babel import get_translations
from flask_babel import lazy_gettext as _l

from app.affairs import categories, policy, words
from app.affairs.common import (
    STAFF_VOICES,
    _now,
    _place,
    reference_digits,
)
from app.affairs.deadlines import is_overdue
from app.affairs.notify import _people_with_role
from app.affairs.policy import allowed_actions
from app.affairs.rules import supported_by
from app.extensions import db
from app.infra import audit
from app.infra.text import (
    mask_email,
    mask_phone,
)
from app.models import (
    Household,
    Person,
)
from app.models.case import (
    Case,
    CaseAttachment,
    CaseEvent,
)
from app.people.actors import Actor

CHANNEL_LABELS = {
    "app": _l("Phone app"),
    "proxy": _l("Family member"),
    "phone": _l("Phone call"),
    "counter": _l("At the office"),
    "kiosk": _l("Lobby screen"),
    "voice": _l("Voice"),
    "patrol": _l("Grid worker patrol"),
    "open311": _l("Partner system"),
}


EVENT_LABELS = {
    "submitted": _l("Submitted"),
    "accept": _l("Accepted"),
    "reject": _l("Not accepted"),
    "assigned": _l("Assigned"),
    "start": _l("Work started"),
    "resolve": _l("Resolved"),
    "confirm": _l("Confirmed by the resident"),
    "reopen": _l("Reopened"),
    "close": _l("Closed"),
    "note": _l("Note"),
    "merged": _l("Merged into another case"),
    "merged_in": _l("Another case merged in"),
    "due_soon": _l("Deadline approaching"),
    "overdue": _l("Past its deadline"),
    "escalated": _l("Escalated to the street office"),
    "auto_closed": _l("Closed automatically"),
    "rated": _l("Rated"),
    "attachment": _l("File added"),
    "updated": _l("Details changed"),
    "supervised": _l("Supervision by the street office"),
    "supervision_fulfilled": _l("Supervision answered"),
    # urgent help's chain (app/affairs/urgent.py), internal
    "help_alerted": _l("Urgent help alert sent"),
    "help_escalated": _l("Urgent help passed on to the next level"),
    "help_acknowledged": _l("Urgent help acknowledged"),
}


ROLE_LABELS = {
    "reporter": _l("Resident"),
    "staff": _l("Residents' committee"),
    "assignee": _l("Handler"),
    "device": _l("Lobby screen"),
    "system": _l("System"),
    "open311": _l("Partner system"),
}


ACTION_LABELS = {
    "accept": _l("Accept"),
    "reject": _l("Reject"),
    "assign": _l("Assign"),
    "start": _l("Start work"),
    "resolve": _l("Mark resolved"),
    "confirm": _l("Confirm resolved"),
    "reopen": _l("Reopen"),
    "close": _l("Close"),
    "merge": _l("Merge"),
}


def _assignee_view(case: Case, level: str) -> dict | None:
    if case.assignee_organization_id is not None:
        org = case.assignee_organization
        return {"kind": "organization", "id": org.id, "name": org.name}
    if case.assignee_person_id is not None:
        person = case.assignee_person
        if level in ("staff", "assignee", "reporter"):
            return {"kind": "person", "id": person.id, "name": person.display_name}
        return {"kind": "person", "id": None, "name": str(_l("Community worker"))}
    return None


def published_note(event: CaseEvent) -> str | None:
    """An event's note as anyone may read it: staff-written public notes only, never what a
    resident, their proxy, a lobby screen or a partner system wrote."""
    if event.public and event.actor_role in STAFF_VOICES:
        return event.note
    return None


def _timeline(actor: Actor, case: Case, level: str) -> list[dict]:
    rows = []
    inside = level in ("staff", "assignee")
    for event in case.events:
        # The reporter reads their own words back (their notes, their reopen reason); anyone
        # else outside the committee only what staff published.
        own = level == "reporter" and event.actor_role == "reporter"
        if not (inside or event.public or (own and event.kind == "note")):
            continue
        if level in ("staff", "assignee") and event.actor_person is not None:
            who = event.actor_person.display_name
        else:
            who = str(ROLE_LABELS.get(event.actor_role, ROLE_LABELS["system"]))
        data = dict(event.data or {})
        if level not in ("staff", "assignee"):
            data = {k: v for k, v in data.items() if k in ("into", "channel", "kind")}
        rows.append(
            {
                "id": event.id,
                "at": event.at,
                "kind": event.kind,
                "label": str(EVENT_LABELS.get(event.kind, event.kind)),
                "from_status": event.from_status,
                "to_status": event.to_status,
                # A real move only: the first event enters "submitted" from nothing (its label
                # already says so), and a step never "moves" a case to where it stood.
                "moved": event.from_status is not None
                and event.to_status is not None
                and event.from_status != event.to_status,
                "note": event.note if inside or own else published_note(event),
                "public": event.public,
                "actor": who,
                "data": data,
            }
        )
    return rows


def _attachment_rows(case: Case, level: str) -> list[dict]:
    rows = []
    for a in case.attachments:
        if level == "public" and not (a.public and a.kind == "photo" and case.is_public):
            continue
        rows.append(attachment_row(case.id, a))
    return rows


def attachment_row(case_id: int, attachment: CaseAttachment) -> dict:
    """One attachment as the case view and the attachments endpoints show it."""
    return {
        "id": attachment.id,
        "kind": attachment.kind,
        "mime": attachment.mime,
        "size": attachment.size,
        "width": attachment.width,
        "height": attachment.height,
        "public": attachment.public,
        "created_at": attachment.created_at,
        "url": f"/api/v1/cases/{case_id}/attachments/{attachment.id}",
    }


def case_summary(
    case: Case,
    level: str,
    now: datetime | None = None,
    labels: dict | None = None,
    names: dict | None = None,
) -> dict:
    """A list row: never the reporter; public rows carry no description (`labels`: the status
    labels, `names`: category names by id, worded once for a whole list)."""
    now = now or _now()
    row = {
        "id": case.id,
        "reference": case.reference,
        "status": case.status,
        "status_label": labels[case.status] if labels else words.status_label(case.status),
        "community_id": case.community_id,
        "created_at": case.created_at,
        "updated_at": case.updated_at,
        "support_count": case.support_count,
        "is_public": case.is_public,
    }
    if level == "public" and not case.is_public:
        return row
    row.update(
        category={
            "id": case.category.id,
            "code": case.category.code,
            "name": (
                names[case.category.id]
                if names is not None and case.category.id in names
                else categories.shown(case.category)
            ),
            "icon": case.category.icon,
        },
        building=case.building.name if case.building is not None else None,
    )
    if level != "public":
        row.update(
            description=case.description[:120],
            channel=case.channel,
            place=_place(case),
            grid_id=case.grid_id,
            due_at=case.due_at,
            overdue=is_overdue(case, now),
            escalated=case.escalated_at is not None,
            assignee=_assignee_view(case, level),
        )
    return row


def _row_case(row, translate=None) -> SimpleNamespace:
    """A row of `queries.summary_select()` shaped like the parts of a Case a list row reads
    (`translate`: the gettext for flat labels)."""
    building = household = assignee_org = assignee_person = None
    if row.building_id is not None:
        building = SimpleNamespace(name=row.building_name)
    if row.household_id is not None:
        household = SimpleNamespace(
            unit=row.household_unit,
            room=row.household_room,
            building=SimpleNamespace(name=row.household_building_name),
        )
        household.label = Household.format_label(
            row.household_building_name, row.household_unit, row.household_room, translate
        )
    if row.assignee_organization_id is not None:
        assignee_org = SimpleNamespace(id=row.assignee_organization_id, name=row.org_name)
    if row.assignee_person_id is not None:
        assignee_person = SimpleNamespace(id=row.assignee_person_id, display_name=row.person_name)
    return SimpleNamespace(
        id=row.id,
        reference=row.reference,
        status=row.status,
        community_id=row.community_id,
        created_at=row.created_at,
        updated_at=row.updated_at,
        support_count=row.support_count,
        is_public=row.is_public,
        description=row.description,
        channel=row.channel,
        address=row.address,
        grid_id=row.grid_id,
        due_at=row.due_at,
        escalated_at=row.escalated_at,
        category=SimpleNamespace(
            id=row.category_id,
            code=row.category_code,
            name=row.category_name,
            icon=row.category_icon,
        ),
        building=building,
        household=household,
        assignee_organization_id=row.assignee_organization_id,
        assignee_organization=assignee_org,
        assignee_person_id=row.assignee_person_id,
        assignee_person=assignee_person,
    )


@cache
def _plain_row(fields: tuple[str, ...]):
    """A namedtuple class for rows with these columns: a Row's attributes are looked up by
    name on each access (~0.3 µs, thirty a row), a namedtuple's by position (bench/PROFILE.md
    round 8)."""
    return namedtuple("SummaryRow", fields)


def summary_rows(rows, level: str, now: datetime | None = None) -> list[dict]:
    """List rows (case_summary) from `queries.summary_select()` rows: no ORM objects, and each
    status worded once for the whole list."""
    now = now or _now()
    labels = {status: words.status_label(status) for status in {row.status for row in rows}}
    # The request's translations looked up once, not once per row and word.
    translations = get_translations()

    def translate(msgid, **variables):
        return translations.ugettext(msgid) % variables

    out, names = [], {}
    if not rows:
        return out
    plain = _plain_row(tuple(rows[0]._fields))._make
    for row in rows:
        case = _row_case(plain(row), translate)
        if case.category.id not in names:
            names[case.category.id] = categories.shown(case.category)
        out.append(case_summary(case, level, now, labels, names))
    return out


def case_view(actor: Actor, case: Case) -> dict:
    """Everything the actor may see of one case; reading the reporter is audited."""
    level = policy.level(actor, case)
    now = _now()
    view = case_summary(case, level, now)
    view.update(
        reference_digits=reference_digits(case.reference),
        level=level,
        merged_into=case.merged_into.reference if case.merged_into is not None else None,
        closed_reason=case.closed_reason,
    )
    if level == "public" and not case.is_public:
        view["timeline"] = []
        view["actions"] = allowed_actions(actor, case)
        return view
    view["location"] = {
        "building_id": case.building_id,
        "building": case.building.name if case.building else None,
        "latitude": round(case.latitude, 3) if case.latitude is not None else None,
        "longitude": round(case.longitude, 3) if case.longitude is not None else None,
    }
    if level != "public":
        view.update(
            description=case.description,
            transcript=case.transcript,
            anonymous=case.anonymous,
            attributes=case.attributes or {},
            resolved_at=case.resolved_at,
            closed_at=case.closed_at,
            reject_reason=case.reject_reason,
            rating=case.rating,
            rating_comment=case.rating_comment,
            category_notice=categories.shown(case.category, "notice"),
        )
        view["location"].update(
            household_id=case.household_id,
            place=_place(case),
            address=case.address,
            latitude=case.latitude,
            longitude=case.longitude,
        )
    # Nobody said "me too" yet (a new case): no need to ask whether the caller did.
    view["supported_by_me"] = bool(case.support_count) and supported_by(actor, case)
    view["timeline"] = _timeline(actor, case, level)
    view["attachments"] = _attachment_rows(case, level)
    view["actions"] = allowed_actions(actor, case)
    if policy.may(actor, "see_reporter", case):
        view["reporter"] = _reporter_view(actor, case)
        if level == "staff":
            view["suggested_assignee"] = suggested_assignee(case)
    return view


def _reporter_view(actor: Actor, case: Case) -> dict | None:
    if case.reporter is None and not (
        case.contact_name or case.contact_phone or case.contact_email
    ):
        return None
    fields = ["reporter"]
    unmasked = policy.may(actor, "see_contact", case)
    if case.reporter is not None:
        person = case.reporter
        view = {
            "id": person.id,
            "name": person.display_name,
            "phone": person.phone if unmasked else mask_phone(person.phone),
            "household": person.household.label if person.household else None,
            "self_declared": False,
        }
    else:
        view = {
            "id": None,
            "name": case.contact_name,
            "phone": case.contact_phone if unmasked else mask_phone(case.contact_phone),
            "email": case.contact_email if unmasked else mask_email(case.contact_email),
            "household": None,
            "self_declared": True,
        }
    if case.proxy is not None:
        view["proxy"] = {"id": case.proxy.id, "name": case.proxy.display_name}
    if unmasked:
        fields.append("reporter_phone")
    if actor.subject is None or actor.subject.id != case.reporter_id:
        audit.record_read(actor, "case", case.id, case.community_id, fields)
    return view


def suggested_assignee(case: Case) -> dict | None:
    """The category's default handler, made concrete for this case."""
    category = case.category
    if category.handler_organization_id is not None:
        return {
            "organization_id": category.handler_organization_id,
            "name": category.handler_organization.name,
        }
    if category.handler_role == "grid_worker" and case.grid_id is not None:
        people = _people_with_role(role="grid_worker", grid_id=case.grid_id)
        if people:
            return {"person_id": people[0], "name": db.session.get(Person, people[0]).display_name}
    return None
