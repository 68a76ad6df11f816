"""Activities and volunteers (社区活动, 志愿服务): publish, sign up (also for an elder, by the
family proxy), a first-come waiting list, reminders, check-in at the door (the activity's QR
link) or by staff ticking a list, volunteer hours certified by the organizer, and the points
they earn.

No overbooking: every change of an activity's places first takes the activity's lock
(PostgreSQL: SELECT … FOR UPDATE of its row; SQLite: a no-change UPDATE of the row takes the one
write lock), so sign-ups and cancellations of one activity run one after another; the counter
`Activity.taken` is checked against the capacity by the database too (ck_activity_taken).
When a place frees up, the first person on the waiting list gets it and is told.

Who manages an activity: the community's committee (authz.can_manage_community) and, for an
activity of a social organization, its members who work for it in that community
(`actor.works_for`).
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select, update

from app.demo import seed_hook
from app.extensions import db
from app.i18n import local_time
from app.infra import audit, events, uow
from app.infra.errors import Conflict, Forbidden, NotFound, invalid_field
from app.infra.text import clean_text, mask_phone, utc_time
from app.models import Organization
from app.models.activity import (
    ATTENDED,
    CANCELLED,
    SIGNED_UP,
    WAITLISTED,
    Activity,
    SignUp,
    VolunteerHours,
)
from app.models.base import utcnow
from app.notices.common import local_zone
from app.participation import points, screen_identity
from app.people import authz
from app.people.actors import Actor
from app.people.notifications import in_locale_of, notify

MAX_CAPACITY = 10000
REMIND_BEFORE = timedelta(hours=24)
# The door's QR code works from an hour before the start until the end.
CHECKIN_EARLY = timedelta(hours=1)


# --- who may do what -----------------------------------------------------------------------
def can_manage(actor: Actor, activity: Activity) -> bool:
    """The committee, or a member working for the organizing organization in that community."""
    if authz.can_manage_community(actor, activity.community_id):
        return True
    return activity.organization_id is not None and actor.works_for(
        activity.organization_id, activity.community_id
    )


def may_publish_in(actor: Actor, community_id: int) -> bool:
    """The committee, or a member of an organization serving the community."""
    return authz.can_manage_community(actor, community_id) or bool(
        actor.organizations_in(community_id)
    )


def get_activity(actor: Actor, activity_id: int) -> Activity:
    """An activity the actor may read (another community's: not found)."""
    authz.require_signed_in(actor)
    activity = db.session.get(Activity, activity_id)
    if activity is None:
        raise NotFound()
    authz.ensure_readable(actor, activity.community_id)
    return activity


def _managed(actor: Actor, activity_id: int) -> Activity:
    activity = get_activity(actor, activity_id)
    if not can_manage(actor, activity):
        raise Forbidden()
    return activity


def _lock(activity: Activity) -> Activity:
    uow.lock_row(Activity, activity.id)
    db.session.refresh(activity)
    return activity


# --- publishing ----------------------------------------------------------------------------
def _check_times(starts_at, ends_at, opens_at, closes_at, now) -> None:
    if starts_at is None:
        raise invalid_field("starts_at", _l("This cannot be empty."))
    if ends_at is None:
        raise invalid_field("ends_at", _l("This cannot be empty."))
    if starts_at <= now:
        raise invalid_field("starts_at", _l("The activity must start in the future."))
    if ends_at <= starts_at:
        raise invalid_field("ends_at", _l("The end must be after the start."))
    if opens_at is not None and closes_at is not None and closes_at <= opens_at:
        raise invalid_field("signup_closes_at", _l("Sign-up must close after it opens."))
    if closes_at is not None and closes_at > starts_at:
        raise invalid_field("signup_closes_at", _l("Sign-up must close before the start."))


def publish(
    actor: Actor,
    community_id: int,
    *,
    title: str,
    place: str,
    starts_at: datetime,
    ends_at: datetime,
    capacity: int,
    description: str = "",
    organization_id: int | None = None,
    signup_opens_at: datetime | None = None,
    signup_closes_at: datetime | None = None,
    now: datetime | None = None,
) -> Activity:
    """Publish an activity for the committee (no organization) or for an organization the
    actor works for in that community."""
    authz.ensure_readable(actor, community_id)
    if organization_id is None:
        if not authz.can_manage_community(actor, community_id):
            raise Forbidden()
    else:
        org = db.session.get(Organization, organization_id)
        if org is None or community_id not in {c.id for c in org.communities}:
            raise invalid_field("organization_id", _l("This organization does not serve here."))
        if not (
            authz.can_manage_community(actor, community_id)
            or actor.works_for(organization_id, community_id)
        ):
            raise Forbidden()
    # A time without a zone is the community's (as people type it); far-off years are refused.
    zone = local_zone()
    starts_at, ends_at, signup_opens_at, signup_closes_at = (
        utc_time(value, field, zone)
        for field, value in (
            ("starts_at", starts_at),
            ("ends_at", ends_at),
            ("signup_opens_at", signup_opens_at),
            ("signup_closes_at", signup_closes_at),
        )
    )
    _check_times(starts_at, ends_at, signup_opens_at, signup_closes_at, now or utcnow())
    if not isinstance(capacity, int) or not 1 <= capacity <= MAX_CAPACITY:
        raise invalid_field("capacity", _l("Places are a whole number from 1 to 10000."))
    activity = Activity(
        community_id=community_id,
        organization_id=organization_id,
        title=clean_text(title, "title", max_length=120),
        description=clean_text(
            description, "description", max_length=4000, multiline=True, required=False
        ),
        place=clean_text(place, "place", max_length=120),
        starts_at=starts_at,
        ends_at=ends_at,
        capacity=capacity,
        signup_opens_at=signup_opens_at,
        signup_closes_at=signup_closes_at,
        checkin_token=secrets.token_urlsafe(24),
        created_by_id=actor.person_id,
    )
    db.session.add(activity)
    db.session.flush()
    events.changed("feed", community_id)
    return activity


def cancel_activity(actor: Actor, activity_id: int) -> Activity:
    """Call an activity off; everyone signed up or waiting is told."""
    activity = _lock(_managed(actor, activity_id))
    if activity.status == "cancelled":
        return activity
    activity.status = "cancelled"
    for signup in _signups(activity.id, (SIGNED_UP, WAITLISTED)):
        _tell(
            signup.person_id,
            "activity_cancelled",
            lambda a=activity: _("Activity called off: %(title)s", title=a.title),
            lambda a=activity: _("Sorry, %(title)s will not take place.", title=a.title),
            activity,
        )
    db.session.flush()
    events.changed("feed", activity.community_id)
    return activity


# --- lists and views -----------------------------------------------------------------------
def _signups(activity_id: int, statuses) -> list[SignUp]:
    return list(
        db.session.scalars(
            select(SignUp)
            .where(SignUp.activity_id == activity_id, SignUp.status.in_(statuses))
            .order_by(SignUp.seq)
        )
    )


def _my_signup(actor: Actor, activity_id: int) -> SignUp | None:
    subject = actor.subject
    if subject is None:
        return None
    return db.session.scalar(
        select(SignUp).where(SignUp.activity_id == activity_id, SignUp.person_id == subject.id)
    )


def waitlist_position(signup: SignUp) -> int | None:
    """1 for the first in line; None when not waiting."""
    if signup.status != WAITLISTED:
        return None
    ahead = db.session.scalar(
        select(func.count())
        .select_from(SignUp)
        .where(
            SignUp.activity_id == signup.activity_id,
            SignUp.status == WAITLISTED,
            SignUp.seq < signup.seq,
        )
    )
    return (ahead or 0) + 1


def signup_open(activity: Activity, now: datetime | None = None) -> bool:
    """Whether sign-up is open now."""
    now = now or utcnow()
    return (
        activity.status == "published"
        and now < activity.starts_at
        and (activity.signup_opens_at is None or now >= activity.signup_opens_at)
        and (activity.signup_closes_at is None or now < activity.signup_closes_at)
    )


def organizer_name(activity: Activity) -> str:
    """Who organizes it, as people read it."""
    if activity.organization is not None:
        return activity.organization.name
    return _("%(community)s residents' committee", community=activity.community.name)


def activity_view(actor: Actor, activity: Activity) -> dict:
    """What an activity looks like to the actor (its place on the list for a resident)."""
    mine = _my_signup(actor, activity.id)
    waiting = db.session.scalar(
        select(func.count())
        .select_from(SignUp)
        .where(SignUp.activity_id == activity.id, SignUp.status == WAITLISTED)
    )
    return {
        "id": activity.id,
        "community_id": activity.community_id,
        "organization_id": activity.organization_id,
        "organizer": organizer_name(activity),
        "title": activity.title,
        "description": activity.description,
        "place": activity.place,
        "starts_at": activity.starts_at,
        "ends_at": activity.ends_at,
        "capacity": activity.capacity,
        "taken": activity.taken,
        "places_left": max(0, activity.capacity - activity.taken),
        "waiting": waiting or 0,
        "status": activity.status,
        "signup_open": signup_open(activity),
        "signup_opens_at": activity.signup_opens_at,
        "signup_closes_at": activity.signup_closes_at,
        "my_status": None if mine is None else mine.status,
        "my_waitlist_position": None if mine is None else waitlist_position(mine),
        "can_manage": can_manage(actor, activity),
    }


def list_activities(
    actor: Actor,
    community_id: int | None = None,
    *,
    include_past: bool = False,
    managed_only: bool = False,
    now: datetime | None = None,
) -> list[Activity]:
    """Activities of a community (default: the caller's own), soonest first."""
    authz.require_signed_in(actor)
    if community_id is None:
        subject = actor.subject
        community_id = subject.community_id if subject is not None else None
        if community_id is None and actor.device is not None:
            community_id = actor.device.community_id
        if community_id is None:
            return []
    authz.ensure_readable(actor, community_id)
    query = select(Activity).where(Activity.community_id == community_id)
    if not include_past:
        query = query.where(Activity.ends_at > (now or utcnow()), Activity.status == "published")
    activities = list(db.session.scalars(query.order_by(Activity.starts_at, Activity.id)))
    if managed_only:
        activities = [a for a in activities if can_manage(actor, a)]
    return activities


def my_signups(actor: Actor, *, now: datetime | None = None) -> list[Activity]:
    """The coming activities the caller (or the elder a family proxy acts for) holds a place in
    or waits for, soonest first: what they can still cancel."""
    authz.require_person(actor)
    query = (
        select(Activity)
        .join(SignUp, SignUp.activity_id == Activity.id)
        .where(
            SignUp.person_id == actor.subject.id,
            SignUp.status.in_((SIGNED_UP, WAITLISTED)),
            Activity.status == "published",
            Activity.starts_at > (now or utcnow()),
        )
        .order_by(Activity.starts_at, Activity.id)
    )
    return list(db.session.scalars(query))


def roster(actor: Actor, activity_id: int) -> list[dict]:
    """The sign-up list for the organizer: names, masked phones, status, hours."""
    activity = _managed(actor, activity_id)
    hours = {
        h.person_id: h
        for h in db.session.scalars(
            select(VolunteerHours).where(VolunteerHours.activity_id == activity.id)
        )
    }
    rows = []
    unmasked = False
    for signup in _signups(activity.id, (SIGNED_UP, ATTENDED, WAITLISTED)):
        person = signup.person
        h = hours.get(person.id)
        contact = authz.can_see_contact(actor, person) and person.phone is not None
        unmasked = unmasked or contact
        rows.append(
            {
                "signup_id": signup.id,
                "person_id": person.id,
                "name": person.display_name,
                "phone": person.phone if contact else mask_phone(person.phone),
                "status": signup.status,
                "waitlist_position": waitlist_position(signup),
                "signed_up_by_proxy": signup.signed_up_by_id not in (None, person.id),
                "checked_in_at": signup.checked_in_at,
                "hours_id": h.id if h else None,
                "hours": h.hours if h else None,
                "hours_certified": bool(h and h.certified_at),
            }
        )
    if unmasked:
        # Full phone numbers are a sensitive read, on the record like a person's page.
        audit.record_read(actor, "activity_roster", activity.id, activity.community_id, ["phone"])
    return rows


def checkin_token(actor: Actor, activity_id: int) -> str:
    """The secret of the door's QR code (organizers only)."""
    return _managed(actor, activity_id).checkin_token


# --- signing up ----------------------------------------------------------------------------
def _tell(person_id: int, kind: str, title, body, activity: Activity) -> None:
    with in_locale_of(person_id):
        notify(person_id, kind, title(), body(), link=f"/easy/activities/{activity.id}")


def sign_up(actor: Actor, activity_id: int, *, now: datetime | None = None) -> SignUp:
    """Sign the caller (or the elder a family proxy acts for) up: a place while there is one
    and nobody waits, else the waiting list. Signing up again changes nothing."""
    activity = get_activity(actor, activity_id)
    authz.require_person(actor)
    subject = actor.subject
    if subject.community_id != activity.community_id:
        raise Forbidden(_l("This activity is for residents of its community."))
    if not signup_open(activity, now):
        raise Conflict(_l("Sign-up for this activity is not open."))
    # Asked again under the lock: a call-off (or a change) may have come while we waited for it.
    if not signup_open(_lock(activity), now):
        raise Conflict(_l("Sign-up for this activity is not open."))
    signup = _my_signup(actor, activity.id)
    if signup is not None and signup.status != CANCELLED:
        return signup
    waiting = db.session.scalar(
        select(func.count())
        .select_from(SignUp)
        .where(SignUp.activity_id == activity.id, SignUp.status == WAITLISTED)
    )
    activity.last_seq += 1
    status = SIGNED_UP if activity.taken < activity.capacity and not waiting else WAITLISTED
    if status == SIGNED_UP:
        activity.taken += 1
    if signup is None:
        signup = SignUp(activity_id=activity.id, person_id=subject.id)
        db.session.add(signup)
    signup.status = status
    signup.seq = activity.last_seq
    signup.signed_up_by_id = actor.person_id
    signup.checked_in_at = None
    db.session.flush()
    events.changed("feed", activity.community_id)  # places left, on the lobby screens
    return signup


def cancel(actor: Actor, activity_id: int) -> SignUp:
    """Withdraw the caller's (or the represented elder's) sign-up; the first in line gets the
    place."""
    activity = get_activity(actor, activity_id)
    authz.require_person(actor)
    if activity.starts_at <= utcnow():
        raise Conflict(_l("The activity has started; it can no longer be cancelled."))
    _lock(activity)
    signup = _my_signup(actor, activity.id)
    if signup is None or signup.status == CANCELLED:
        raise NotFound(_l("You have not signed up for this activity."))
    if signup.status == ATTENDED:
        raise Conflict(_l("You have already checked in."))
    held = signup.status == SIGNED_UP
    signup.status = CANCELLED
    if held:
        activity.taken -= 1
        # A called-off activity has no place to give: nobody waiting is promoted or told.
        if activity.status != "cancelled":
            _promote(activity)
    db.session.flush()
    events.changed("feed", activity.community_id)
    return signup


def _promote(activity: Activity) -> None:
    # Give freed places to the waiting list, first come first served.
    for waiting in _signups(activity.id, (WAITLISTED,)):
        if activity.taken >= activity.capacity:
            break
        waiting.status = SIGNED_UP
        activity.taken += 1
        _tell(
            waiting.person_id,
            "activity_place",
            lambda a=activity: _("You have a place: %(title)s", title=a.title),
            lambda a=activity: _("A place came free and it is yours. %(place)s.", place=a.place),
            activity,
        )


# --- check-in ------------------------------------------------------------------------------
def _mark_attended(actor: Actor, activity: Activity, signup: SignUp) -> SignUp:
    if signup.status == ATTENDED:
        return signup
    if signup.status != SIGNED_UP:
        raise Conflict(_l("Only people with a place can check in."))
    signup.status = ATTENDED
    signup.checked_in_at = utcnow()
    signup.checked_in_by_id = actor.person_id
    db.session.flush()
    points.credit(
        signup.person_id,
        activity.community_id,
        "activity_attended",
        signup.id,
        reason=_("Took part: %(title)s", title=activity.title),
        by=actor.person_id,
    )
    return signup


def check_in_by_token(actor: Actor, token: str, *, now: datetime | None = None) -> SignUp:
    """The resident opened the door's QR link while signed in: they are there."""
    authz.require_signed_in(actor)
    if not isinstance(token, str) or not 10 <= len(token) <= 64:
        raise NotFound()
    activity = db.session.scalar(select(Activity).where(Activity.checkin_token == token))
    if activity is None:
        raise NotFound()
    authz.ensure_readable(actor, activity.community_id)
    authz.require_person(actor)
    now = now or utcnow()
    if activity.status != "published" or not (
        activity.starts_at - CHECKIN_EARLY <= now <= activity.ends_at
    ):
        raise Conflict(_l("Check-in is open from an hour before the start until the end."))
    signup = _my_signup(actor, activity.id)
    if signup is None or signup.status in (CANCELLED, WAITLISTED):
        raise Conflict(_l("You do not have a place in this activity."))
    return _mark_attended(actor, activity, signup)


def activity_for_token(actor: Actor, token: str) -> Activity:
    """The activity a QR link names (for the check-in page)."""
    authz.require_person(actor)
    activity = db.session.scalar(select(Activity).where(Activity.checkin_token == str(token)[:64]))
    if activity is None:
        raise NotFound()
    authz.ensure_readable(actor, activity.community_id)
    return activity


def set_attendance(actor: Actor, activity_id: int, signup_id: int, attended: bool) -> SignUp:
    """Staff tick (or untick) someone on the list; unticking takes back the points."""
    activity = _managed(actor, activity_id)
    signup = db.session.get(SignUp, signup_id)
    if signup is None or signup.activity_id != activity.id:
        raise NotFound()
    if attended:
        return _mark_attended(actor, activity, signup)
    if signup.status == ATTENDED:
        # Certified hours (and their points) stand on the attendance: it is not taken back.
        certified = db.session.scalar(
            select(VolunteerHours.id).where(
                VolunteerHours.activity_id == activity.id,
                VolunteerHours.person_id == signup.person_id,
                VolunteerHours.certified_at.is_not(None),
            )
        )
        if certified is not None:
            raise Conflict(_l("These hours are already certified."))
        signup.status = SIGNED_UP
        signup.checked_in_at = None
        db.session.flush()
        points.reverse("activity_attended", signup.id, signup.person_id, by=actor.person_id)
    return signup


# --- volunteer hours -----------------------------------------------------------------------
def record_hours(actor: Actor, activity_id: int, person_id: int, hours: float) -> VolunteerHours:
    """The organizer records how long someone volunteered at the activity (they attended)."""
    activity = _managed(actor, activity_id)
    signup = db.session.scalar(
        select(SignUp).where(SignUp.activity_id == activity.id, SignUp.person_id == person_id)
    )
    if signup is None or signup.status != ATTENDED:
        raise invalid_field("person_id", _l("Only people who checked in can get hours."))
    if not isinstance(hours, int | float) or not 0 < hours <= 24:
        raise invalid_field("hours", _l("Hours are between 0.5 and 24."))
    hours = round(float(hours) * 2) / 2
    if hours <= 0:
        raise invalid_field("hours", _l("Hours are between 0.5 and 24."))
    row = db.session.scalar(
        select(VolunteerHours).where(
            VolunteerHours.activity_id == activity.id, VolunteerHours.person_id == person_id
        )
    )
    if row is not None and row.certified_at is not None:
        raise Conflict(_l("These hours are already certified."))
    if row is None:
        row = VolunteerHours(activity_id=activity.id, person_id=person_id, hours=hours)
        db.session.add(row)
    row.hours = hours
    row.recorded_by_id = actor.person_id
    db.session.flush()
    return row


def certify_hours(actor: Actor, hours_id: int) -> VolunteerHours:
    """The organizer certifies recorded hours (志愿服务时长认证); they earn points per hour."""
    authz.require_signed_in(actor)
    row = db.session.get(VolunteerHours, hours_id)
    if row is None:
        raise NotFound()
    activity = _managed(actor, row.activity_id)
    if row.certified_at is None:
        # Attendance may have been taken back since the hours were recorded.
        signup = _signup_of(activity.id, row.person_id)
        if signup is None or signup.status != ATTENDED:
            raise invalid_field(
                "person_id",
                _l("They are no longer ticked as present. Tick them again, then certify."),
            )
        row.certified_at = utcnow()
        row.certified_by_id = actor.person_id
        db.session.flush()
        per_hour = points.rule_points(activity.community_id, "volunteer_hours")
        points.credit(
            row.person_id,
            activity.community_id,
            "volunteer_hours",
            row.id,
            points=round(per_hour * float(row.hours)),
            reason=_(
                "Volunteered %(hours)s h: %(title)s",
                hours=format(row.hours, "g"),
                title=activity.title,
            ),
            by=actor.person_id,
        )
    return row


def volunteer_hours_of(person_id: int) -> float:
    """A person's certified volunteer hours in total."""
    total = db.session.scalar(
        select(func.coalesce(func.sum(VolunteerHours.hours), 0)).where(
            VolunteerHours.person_id == person_id, VolunteerHours.certified_at.is_not(None)
        )
    )
    return float(total or 0)


# --- the lobby screen ----------------------------------------------------------------------
def for_screen(community_id: int, now: datetime | None = None, limit: int = 4) -> list[dict]:
    """The coming activities a lobby screen shows (no names of anyone signed up)."""
    now = now or utcnow()
    rows = db.session.scalars(
        select(Activity)
        .where(
            Activity.community_id == community_id,
            Activity.status == "published",
            Activity.ends_at > now,
        )
        .order_by(Activity.starts_at, Activity.id)
        .limit(limit)
    )
    return [
        {
            "id": a.id,
            "title": a.title,
            "place": a.place,
            "starts_at": a.starts_at.isoformat(),
            "places_left": max(0, a.capacity - a.taken),
        }
        for a in rows
    ]


# --- reminders (a job) ---------------------------------------------------------------------
def remind_job(now: datetime | None = None, sweep: bool = True) -> int:
    """Tell everyone with a place about activities starting within a day (once each)."""
    now = now or utcnow()
    due = db.session.scalars(
        select(Activity).where(
            Activity.status == "published",
            Activity.reminded_at.is_(None),
            Activity.starts_at > now,
            Activity.starts_at <= now + REMIND_BEFORE,
        )
    ).all()
    told = 0
    for activity in due:
        # Claimed by a conditional UPDATE: every worker's job loop may find the same activity,
        # and only the one that claims it tells anyone.
        claimed = db.session.execute(
            update(Activity)
            .where(Activity.id == activity.id, Activity.reminded_at.is_(None))
            .values(reminded_at=now)
            .execution_options(synchronize_session=False)
        )
        if claimed.rowcount != 1:
            continue
        activity.reminded_at = now
        for signup in _signups(activity.id, (SIGNED_UP,)):
            _tell(
                signup.person_id,
                "activity_reminder",
                lambda a=activity: _("Reminder: %(title)s", title=a.title),
                lambda a=activity: _(
                    "%(title)s starts soon, at %(place)s. See you there.",
                    title=a.title,
                    place=a.place,
                ),
                activity,
            )
            told += 1
    db.session.flush()
    return told


# --- demo ----------------------------------------------------------------------------------
@seed_hook
def seed_demo_activities(ctx: dict) -> None:
    """Two activities in 和平社区 (the committee's and 夕阳红志愿服务社's), sign-ups, one
    attended with certified hours, and a points history; idempotent."""
    heping = ctx["communities"]["heping"]
    community = heping["community"]
    residents = heping["residents"]
    staff_actor = Actor.for_person(heping["staff"])
    social = ctx["social_org"]
    existing = {
        a.title: a
        for a in db.session.scalars(select(Activity).where(Activity.community_id == community.id))
    }
    start = utcnow().replace(second=0, microsecond=0)
    specs = [
        (
            "重阳节敬老茶话会",
            "社区活动室（3号楼一层）",
            None,
            start + timedelta(days=2, hours=2),
            30,
            "一起喝茶聊天、听戏，为八十岁以上老人祝寿。",
        ),
        (
            "楼道清洁志愿服务",
            "2号楼楼前集合",
            social.id,
            start + timedelta(minutes=30),
            12,
            "清理楼道杂物、擦拭扶手。手套和工具由夕阳红志愿服务社提供。",
        ),
    ]
    made = {}
    for title, place, org_id, starts, capacity, description in specs:
        activity = existing.get(title)
        if activity is None:
            activity = Activity(
                community_id=community.id,
                organization_id=org_id,
                title=title,
                description=description,
                place=place,
                starts_at=starts,
                ends_at=starts + timedelta(hours=2),
                capacity=capacity,
                checkin_token=secrets.token_urlsafe(24),
                created_by_id=heping["staff"].id,
            )
            db.session.add(activity)
            db.session.flush()
        made[title] = activity
    party = made["重阳节敬老茶话会"]
    cleanup = made["楼道清洁志愿服务"]
    for person in residents[1:5]:
        if _signup_of(party.id, person.id) is None:
            sign_up(Actor.for_person(person), party.id)
    # the family proxy signs the elder up
    elder, child = ctx["elder"], ctx["family_proxy"]
    if _signup_of(party.id, elder.id) is None:
        sign_up(Actor.for_person(child, on_behalf_of=elder), party.id)
    volunteer = residents[2]
    if _signup_of(cleanup.id, volunteer.id) is None:
        sign_up(Actor.for_person(volunteer), cleanup.id)
    # a past activity with attendance and hours, so the points history is not empty
    past = existing.get("社区垃圾分类宣传")
    if past is None:
        past = Activity(
            community_id=community.id,
            organization_id=social.id,
            title="社区垃圾分类宣传",
            description="在小区门口向居民讲解垃圾分类。",
            place="小区南门",
            starts_at=start - timedelta(days=7),
            ends_at=start - timedelta(days=7) + timedelta(hours=2),
            capacity=10,
            checkin_token=secrets.token_urlsafe(24),
            created_by_id=heping["staff"].id,
        )
        db.session.add(past)
        db.session.flush()
        for person in residents[1:4]:
            past.last_seq += 1
            past.taken += 1
            db.session.add(
                SignUp(
                    activity_id=past.id,
                    person_id=person.id,
                    signed_up_by_id=person.id,
                    status=SIGNED_UP,
                    seq=past.last_seq,
                )
            )
        db.session.flush()
        for signup in _signups(past.id, (SIGNED_UP,)):
            set_attendance(staff_actor, past.id, signup.id, True)
        hours = record_hours(staff_actor, past.id, residents[1].id, 2)
        certify_hours(staff_actor, hours.id)
        residents[1].show_on_leaderboard = True
        residents[2].show_on_leaderboard = True
        db.session.flush()
    ctx["summary"]["activities"] = {
        "community": community.name,
        "titles": [party.title, cleanup.title],
        "checkin_url": f"/easy/activities/check-in/{cleanup.checkin_token}",
    }


def _signup_of(activity_id: int, person_id: int) -> SignUp | None:
    return db.session.scalar(
        select(SignUp).where(SignUp.activity_id == activity_id, SignUp.person_id == person_id)
    )


# --- sign-up at the lobby screen -----------------------------------------------------------
def screen_activities(actor: Actor, now: datetime | None = None) -> list[dict]:
    """The coming activities a paired screen offers for sign-up by touch (no names)."""
    device = screen_identity.screen_device(actor)
    now = now or utcnow()
    return [
        {
            "id": a.id,
            "title": a.title,
            "place": a.place,
            "starts_at": a.starts_at.isoformat(),
            "ends_at": a.ends_at.isoformat(),
            "when": local_time(a.starts_at, _("MMM d, HH:mm"))
            + " – "
            + local_time(a.ends_at, "HH:mm"),
            "places_left": max(0, a.capacity - a.taken),
            "signup_open": signup_open(a, now),
        }
        for a in list_activities(actor, device.community_id, now=now)
    ]


def kiosk_sign_up(actor: Actor, activity_id: int, *, phone: str, pin: str, ip: str | None) -> dict:
    """A resident signs up at the lobby screen after phone number and PIN: the same sign_up as
    the easy mode and the API (a place, else the waiting list; again: nothing changes)."""
    device = screen_identity.screen_device(actor)
    activity = get_activity(actor, activity_id)  # another community's activity: not found
    person = screen_identity.identify(phone, pin, ip=ip)
    if person.community_id != device.community_id:
        raise Forbidden(_l("This activity is for residents of its community."))
    resident = Actor.for_person(person)
    before = _my_signup(resident, activity.id)
    already = before is not None and before.status != CANCELLED
    signup = sign_up(resident, activity.id)
    position = waitlist_position(signup)
    if position is not None:
        message = (
            _("You are already on the waiting list, number %(n)d.", n=position)
            if already
            else _("It is full. You are number %(n)d on the waiting list.", n=position)
        )
    elif already:
        message = _("You have already signed up.")
    else:
        message = _("You have signed up. See you there!")
    return {
        "status": signup.status,
        "already": already,
        "waitlist_position": position,
        "places_left": max(0, activity.capacity - activity.taken),
        "message": message,
    }
