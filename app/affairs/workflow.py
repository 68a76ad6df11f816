"""Moving a case along: the transitions of `rules.RULES` (accept, reject, start,
resolve, confirm, reopen, close), assignment, merging, rating, notes, corrections, support and
attachments. Every step writes a timeline event and tells whom it concerns.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from flask import current_app
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select, update

from app.affairs import attachments, categories, policy
from app.affairs.common import (
    STAFF_VOICES,
    _actor_role,
    _event,
    _local,
    _now,
    _place,
)
from app.affairs.deadlines import _new_deadline
from app.affairs.intake import _location
from app.affairs.notify import (
    _announce_status,
    _assignee_people,
    _tell_of_resident_step,
    _tell_reporter,
)
from app.affairs.queries import get_case
from app.affairs.rules import _SPECIAL, _WORKERS
from app.extensions import db
from app.infra import events
from app.infra.errors import Conflict, NotFound, invalid_field
from app.infra.text import (
    clean_text,
)
from app.models import (
    Organization,
    Person,
)
from app.models.case import (
    ASSIGNED,
    CLOSED,
    OPEN_STATUSES,
    RESOLVED,
    Case,
    CaseEvent,
    CaseSupport,
)
from app.people import notifications
from app.people.actors import Actor


def transition(
    actor: Actor,
    case_id: int,
    action: str,
    *,
    note: str | None = None,
    public: bool | None = None,
    reason: str | None = None,
    rating: int | None = None,
    comment: str | None = None,
) -> Case:
    """Move a case along the state machine (accept, reject, start, resolve, confirm, reopen,
    close). Reject needs a reason; confirm may carry a rating (1–5) and a comment."""
    if action in _SPECIAL:
        raise invalid_field("action", _l("Use the assign or merge endpoint for this."))
    case = get_case(actor, case_id)
    _act, _frm, to_status, _who = policy.rule_for(actor, case, action)
    note = clean_text(note or "", "note", max_length=2000, multiline=True, required=False) or None
    if action == "reject":
        reason = clean_text(
            reason if reason is not None else (note or ""), "reason", max_length=500, multiline=True
        )
        note = reason
    if rating is not None and action != "confirm":
        raise invalid_field("rating", _l("Rate when confirming, or after the case is closed."))
    now = _now()
    from_status = _move(case, to_status, now)
    if action == "accept":
        case.accepted_at = now
    elif action == "reject":
        case.reject_reason = reason
        case.closed_at = now
    elif action == "resolve":
        case.resolved_at = now
    elif action in ("confirm", "close"):
        case.closed_at = now
        case.closed_reason = "confirmed" if action == "confirm" else "staff"
    elif action == "reopen":
        case.resolved_at = case.closed_at = case.closed_reason = None
        # A rating was for the fix that did not hold: the next confirmation rates again (the
        # old one stays on the timeline as its "rated" step).
        case.rating = case.rating_comment = case.rated_at = None
        _new_deadline(case, now + timedelta(hours=case.category.deadline_hours))
    role = _actor_role(actor, case)
    is_public = True if public is None else bool(public)
    if action == "reject" or role not in STAFF_VOICES:
        # The step itself is never internal: the resident is always told a rejection's reason,
        # and a step the resident (or the screen that filed the case) takes shows on the
        # timeline. What they say with it (a reopen reason) is for the committee and
        # themselves only: published_note never shows a note that is not staff-written.
        is_public = True
    _event(
        case,
        action,
        actor,
        note=note,
        public=is_public,
        from_status=from_status,
        to_status=to_status,
        role=role,
    )
    if action == "confirm" and rating is not None:
        _rate(actor, case, rating, comment)
    db.session.flush()
    _announce_status(actor, case, note if is_public and role in STAFF_VOICES else None)
    if action in ("confirm", "reopen") and role not in STAFF_VOICES:
        _tell_of_resident_step(case, action, note)  # the alert centre of who works on it
    if action in ("confirm", "reopen"):
        # Followers in the same transaction (participation: points for a confirmed case).
        events.changed("case_confirmed" if action == "confirm" else "case_reopened", case)
    return case


def _move(case: Case, to_status: str, now: datetime) -> str:
    """Move the case from the status it was read in to `to_status`; returns that status. Two
    requests may both have read it (a double-clicked resolve, a confirm and the auto-close):
    the move is a conditional UPDATE, so the second finds the status changed and is refused
    with 409, instead of writing the step twice and moving the status counts twice. On
    PostgreSQL the second waits for the first's commit, then finds no row; on SQLite writers
    take turns. The ORM then writes the same values and counts the move once."""
    from_status = case.status
    moved = db.session.execute(
        update(Case)
        .where(Case.id == case.id, Case.status == from_status)
        .values(status=to_status, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    if moved.rowcount != 1:
        raise Conflict(_l("Someone else changed this case just now. Please reload it."))
    case.status = to_status
    case.updated_at = now
    return from_status


def confirm_case(
    actor: Actor, case_id: int, *, rating: int | None = None, comment: str | None = None
) -> Case:
    """The resident (or their proxy, or the kiosk that filed it) confirms the fix; may rate."""
    return transition(actor, case_id, "confirm", rating=rating, comment=comment)


def reopen_case(actor: Actor, case_id: int, reason: str | None = None) -> Case:
    """Not fixed after all: back to the committee with the resident's reason."""
    return transition(actor, case_id, "reopen", note=reason)


def rate_case(actor: Actor, case_id: int, rating: int, comment: str | None = None) -> Case:
    """Rate a closed case once (1–5 stars, optional comment): the reporter only."""
    case = get_case(actor, case_id)
    policy.ensure(actor, "rate", case)
    _rate(actor, case, rating, comment)
    db.session.flush()
    return case


def _rate(actor: Actor, case: Case, rating, comment) -> None:
    if not isinstance(rating, int) or isinstance(rating, bool) or not 1 <= rating <= 5:
        raise invalid_field("rating", _l("Choose 1 to 5 stars."))
    if case.rating is not None:
        raise Conflict(_l("This case has already been rated."))
    case.rating = rating
    case.rating_comment = (
        clean_text(comment or "", "comment", max_length=500, multiline=True, required=False) or None
    )
    case.rated_at = _now()
    _event(case, "rated", actor, note=case.rating_comment, public=False, data={"rating": rating})


def assign_case(
    actor: Actor,
    case_id: int,
    *,
    person_id: int | None = None,
    organization_id: int | None = None,
    note: str | None = None,
    due_at: datetime | None = None,
) -> Case:
    """Dispatch to a grid worker or staff member (person_id) or an organization serving the
    community (social organization, property company…); optionally set a new deadline."""
    case = get_case(actor, case_id)
    policy.ensure(actor, "assign", case)
    if (person_id is None) == (organization_id is None):
        raise invalid_field("person_id", _l("Choose one person or one organization."))
    label = None
    if person_id is not None:
        person = db.session.get(Person, person_id)
        if person is None or not _works_in(person, case.community_id):
            raise invalid_field("person_id", _l("Not a worker of this community."))
        case.assignee_person_id, case.assignee_organization_id = person.id, None
        label = person.display_name
    else:
        org = db.session.get(Organization, organization_id)
        if org is None or case.community_id not in {c.id for c in org.communities}:
            raise invalid_field(
                "organization_id", _l("Not an organization serving this community.")
            )
        case.assignee_person_id, case.assignee_organization_id = None, org.id
        label = org.name
    now = _now()
    if due_at is not None:
        if due_at.tzinfo is None:
            raise invalid_field("due_at", _l("Give a time with its time zone."))
        if not now < due_at <= now + timedelta(days=366):
            raise invalid_field("due_at", _l("The deadline must be in the coming year."))
        _new_deadline(case, due_at)
    from_status = _move(case, ASSIGNED, now)
    case.assigned_at = now
    case.accepted_at = case.accepted_at or now
    note = clean_text(note or "", "note", max_length=2000, multiline=True, required=False) or None
    _event(
        case,
        "assigned",
        actor,
        note=note,
        public=False,
        from_status=from_status,
        to_status=ASSIGNED,
        data={"person_id": person_id, "organization_id": organization_id, "assignee": label},
    )
    db.session.flush()
    for person_id_ in _assignee_people(case):
        with notifications.in_locale_of(person_id_):
            notifications.notify(
                person_id_,
                "case_assigned",
                _("New work: %(ref)s", ref=case.reference),
                _(
                    "%(category)s · %(where)s · due %(due)s",
                    category=case.category.name,
                    where=_place(case),
                    due=_local(case.due_at),
                ),
                link=f"/staff/cases/{case.id}",
            )
    _announce_status(actor, case, None)
    return case


def _works_in(person: Person, community_id: int) -> bool:
    for role in person.roles:
        if role.role == "committee_staff" and role.community_id == community_id:
            return True
        if (
            role.role == "grid_worker"
            and role.grid is not None
            and role.grid.community_id == community_id
        ):
            return True
    return False


def add_note(actor: Actor, case_id: int, text: str, *, public: bool = False) -> CaseEvent:
    """A note on the timeline: workers choose public or internal; a resident's (or their
    proxy's) is for the committee and the handler only, whatever `public` says."""
    case = get_case(actor, case_id)
    policy.ensure(actor, "note", case)
    rel = policy.relation(actor, case)
    text = clean_text(text, "note", max_length=2000, multiline=True)
    worker = bool(rel & _WORKERS)
    role = _actor_role(actor, case)
    # A door code or a phone number in a resident's note must never reach the public view or
    # Open311: only staff publish. (The reporter still reads their own notes: see _timeline.)
    public = worker and bool(public) and role in STAFF_VOICES
    case.updated_at = _now()
    event = _event(case, "note", actor, note=text, public=public, role=role)
    db.session.flush()
    if worker and public:
        _tell_reporter(
            case, "case_note", _l("News about your request %(ref)s", ref=case.reference), text
        )
    elif not worker:
        for person_id in _assignee_people(case):
            notifications.notify(
                person_id, "case_note", case.reference, text[:200], link=f"/staff/cases/{case.id}"
            )
    return event


def update_case(actor: Actor, case_id: int, changes: dict) -> Case:
    """Committee staff correct a case's category, location or visibility while it is open."""
    case = get_case(actor, case_id)
    policy.ensure(actor, "update", case)
    changed = []
    if changes.get("category_id") not in (None, case.category_id):
        category = categories.find_category(case.community_id, category_id=changes["category_id"])
        case.category = category
        _new_deadline(case, case.created_at + timedelta(hours=category.deadline_hours))
        if not category.is_public:
            case.is_public = False
        changed.append("category")
    place_keys = ("building_id", "household_id", "address", "latitude", "longitude")
    if any(k in changes for k in place_keys):
        building, household, address, lat, lon = _location(
            case.community_id, **{k: changes.get(k) for k in place_keys}
        )
        case.building, case.household, case.address = building, household, address
        case.latitude, case.longitude = lat, lon
        case.grid_id = building.grid_id if building is not None else None
        changed.append("location")
    if "is_public" in changes:
        case.is_public = bool(changes["is_public"]) and case.category.is_public
        changed.append("is_public")
    if changed:
        case.updated_at = _now()
        _event(case, "updated", actor, public=False, data={"fields": changed})
        db.session.flush()
    return case


def merge_case(actor: Actor, case_id: int, into_id: int, note: str | None = None) -> Case:
    """Committee staff merge a duplicate into another case of the community; its reporter and
    supporters follow the other case from then on. Returns the case merged into."""
    case = get_case(actor, case_id)
    policy.ensure(actor, "merge", case)
    target = get_case(actor, into_id)
    if target.id == case.id or target.community_id != case.community_id:
        raise invalid_field("into_id", _l("Choose another case of the same community."))
    if target.status not in (*OPEN_STATUSES, RESOLVED) or target.merged_into_id is not None:
        raise Conflict(_l("The case to merge into is already closed."))
    now = _now()
    note = clean_text(note or "", "note", max_length=2000, multiline=True, required=False) or None
    from_status = _move(case, CLOSED, now)
    case.closed_reason, case.closed_at = "merged", now
    case.merged_into_id = target.id
    target.updated_at = now
    # The step is public (its reporter follows the other case now); why staff merged it is
    # theirs: a note naming the other reporter must not reach the neighbours' view.
    _event(
        case,
        "merged",
        actor,
        public=True,
        from_status=from_status,
        to_status=CLOSED,
        data={"into": target.reference},
    )
    if note:
        _event(case, "note", actor, note=note, public=False, role=_actor_role(actor, case))
    _event(target, "merged_in", actor, public=False, data={"from": case.reference})
    followers = set(
        db.session.scalars(select(CaseSupport.person_id).where(CaseSupport.case_id == case.id))
    )
    if case.reporter_id is not None:
        followers.add(case.reporter_id)
    followers.discard(target.reporter_id)
    known = set(
        db.session.scalars(select(CaseSupport.person_id).where(CaseSupport.case_id == target.id))
    )
    for person_id in sorted(followers - known):
        db.session.add(CaseSupport(case_id=target.id, person_id=person_id, created_at=now))
    db.session.flush()
    target.support_count = db.session.scalar(
        select(func.count()).select_from(CaseSupport).where(CaseSupport.case_id == target.id)
    )
    db.session.flush()
    _tell_reporter(
        case,
        "case_merged",
        _l("Your request %(ref)s is handled together with another one", ref=case.reference),
        _l("Follow %(ref)s for news.", ref=target.reference),
    )
    return target


def support_case(actor: Actor, case_id: int) -> Case:
    """ "Me too": a resident of the community backs a public open case, once."""
    case = get_case(actor, case_id)
    policy.ensure(actor, "support", case)
    me = actor.subject.id
    exists = db.session.scalar(
        select(CaseSupport.id).where(CaseSupport.case_id == case.id, CaseSupport.person_id == me)
    )
    if exists is None:
        db.session.add(CaseSupport(case_id=case.id, person_id=me, created_at=_now()))
        db.session.flush()
        db.session.execute(
            update(Case).where(Case.id == case.id).values(support_count=Case.support_count + 1)
        )
        db.session.refresh(case)
    return case


def add_attachment(actor: Actor, case_id: int, data: bytes, *, public: bool = False):
    """Add a photo or recording (type from the bytes); staff may make a photo public."""
    case = get_case(actor, case_id)
    policy.ensure(actor, "attach", case)
    rel = policy.relation(actor, case)
    count = len(case.attachments)
    if count >= current_app.config["CASE_ATTACHMENTS_MAX"]:
        raise Conflict(_l("This case already has as many files as it can hold."))
    prepared = attachments.prepare(data)
    role = _actor_role(actor, case)
    attachment = attachments.store(
        case,
        prepared,
        uploaded_by_id=None if case.anonymous or actor.person is None else actor.person.id,
        device_id=actor.device.id if actor.device else None,
        uploader_role=role,
        public=bool(public) and bool(rel & {"manager"}),
    )
    case.updated_at = _now()
    _event(
        case,
        "attachment",
        actor,
        public="reporter" in rel or role == "device",
        data={"attachment_id": attachment.id, "kind": attachment.kind},
    )
    db.session.flush()
    return attachment


def get_attachment(actor: Actor, case_id: int, attachment_id: int):
    """An attachment the actor may open: all of them for full viewers; public photos of public
    cases for everyone who may read the community."""
    case = get_case(actor, case_id, evaluate=False)
    attachment = next((a for a in case.attachments if a.id == attachment_id), None)
    if attachment is None:
        raise NotFound()
    if policy.level(actor, case) == "public" and not (
        attachment.public and case.is_public and attachment.kind == "photo"
    ):
        raise NotFound()
    return attachment


def set_attachment_public(actor: Actor, case_id: int, attachment_id: int, public: bool):
    """Committee staff show a photo in the public view (or hide it again)."""
    case = get_case(actor, case_id, evaluate=False)
    policy.ensure(actor, "publish_attachment", case)
    attachment = next((a for a in case.attachments if a.id == attachment_id), None)
    if attachment is None:
        raise NotFound()
    if public and attachment.kind != "photo":
        raise invalid_field("public", _l("Only photos can be public."))
    attachment.public = bool(public)
    db.session.flush()
    return attachment
