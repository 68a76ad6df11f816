"""The staff console's overview (概览): each party's work, gathered for the signed-in account.

One section per role the account holds, each item a figure or a short list with the page it
opens (the inbox with a filter, a case, an announcement's follow-up):
- committee staff, per community: new, overdue, due today, screens offline, and the urgent help
  this person has not acknowledged;
- grid worker: 我的任务 (cases assigned to me) and elders living alone in my grids who have not
  acknowledged an urgent announcement (the follow-up; reading care flags is audited once per
  load);
- organization member: open cases assigned to their organizations where they work for them;
- street official (and platform admin): figures per community and the escalated (已上报) cases.

It only reads: every figure comes through the same services and authz rules the pages use.
"""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import func, or_, select
from sqlalchemy.orm import contains_eager

from app.affairs import supervision
from app.affairs.common import _now
from app.affairs.counts import status_counts
from app.affairs.queries import _SUMMARY_LOADS, day_end, inbox, month_bounds
from app.extensions import db
from app.infra import audit
from app.infra.text import mask_phone
from app.models import Building, Community, Household, Person
from app.models.announcement import Announcement, AnnouncementAck
from app.models.case import OPEN_STATUSES, SUBMITTED, Case
from app.models.notification import Notification
from app.notices.common import effective_status
from app.notices.policy import may, reaches
from app.people import authz, notifications
from app.people.actors import Actor
from app.screens.kiosk import device_statuses

LIST_LIMIT = 10
# An administrator's overview lists communities up to this many (the inbox pages the rest).
ADMIN_COMMUNITY_LIMIT = 50


def staff_overview(actor: Actor) -> dict:
    """What the signed-in account's overview shows, one key per role it holds (absent when it
    does not hold that role)."""
    authz.require_person(actor)
    view: dict = {}
    urgent = unacknowledged_urgent_help(actor)
    if actor.staff_community_ids or urgent["count"]:
        view["urgent_help"] = urgent
    supervisions = supervision.open_supervisions_for(actor, limit=LIST_LIMIT)
    if supervisions:
        view["supervisions"] = supervisions
    if actor.staff_community_ids:
        view["committee"] = [
            committee_figures(actor, c) for c in _communities(actor.staff_community_ids)
        ]
    if actor.grid_ids:
        view["grid"] = {
            "my_cases": my_cases(actor),
            "follow_ups": elder_follow_ups(actor),
        }
    if actor.organization_reach:
        view["organization"] = organization_cases(actor)
    office_ids = None if actor.is_admin else actor.official_community_ids
    if actor.is_admin or office_ids:
        view["street"] = street_figures(actor, office_ids)
    return view


def default_inbox_assignee(actor: Actor) -> str | None:
    """What the case inbox opens on: a grid worker's on 我的任务 ("me", what is assigned to
    them); committee staff, officials and admins on every open case (None)."""
    return "me" if actor.grid_ids and not (actor.is_admin or actor.staff_community_ids) else None


def _communities(ids, limit: int | None = None) -> list[Community]:
    query = select(Community).order_by(Community.id)
    if ids is not None:
        query = query.where(Community.id.in_(ids))
    if limit is not None:
        query = query.limit(limit)
    return list(db.session.scalars(query))


def _count(*conditions) -> int:
    return db.session.scalar(select(func.count()).select_from(Case).where(*conditions)) or 0


# --- urgent help ------------------------------------------------------------------------------
def unacknowledged_urgent_help(actor: Actor) -> dict:
    """Urgent notices (救命 / 我摔倒了 and the chain's steps) nobody has acknowledged yet in this
    person's alert centre: their count and the latest few ({"count", "items"}, each item: id,
    title, body, created_at, link)."""
    authz.require_person(actor)
    waiting = (
        Notification.person_id == actor.person.id,
        Notification.urgent.is_(True),
        Notification.acknowledged_at.is_(None),
    )
    count = notifications.count_unacknowledged(actor.person.id, urgent_only=True)
    items = db.session.scalars(
        select(Notification).where(*waiting).order_by(Notification.id.desc()).limit(5)
    )
    return {
        "count": count,
        "items": [
            {
                "id": n.id,
                "title": n.title,
                "body": n.body,
                "created_at": n.created_at,
                "link": n.link if n.link and n.link.startswith("/staff/") else None,
            }
            for n in items
        ],
    }


# --- committee staff ---------------------------------------------------------------------------
def committee_figures(actor: Actor, community: Community) -> dict:
    """A community's work for its committee: new, overdue, due today, screens offline."""
    counts = status_counts(actor, community.id)
    now = _now()
    due_today = _count(
        Case.community_id == community.id,
        Case.status.in_(OPEN_STATUSES),
        Case.due_at >= now,
        Case.due_at < day_end(now),
    )
    screens = [s for s in device_statuses(actor, community.id) if s["device"].is_active]
    return {
        "community": community,
        "new": counts[SUBMITTED],
        "open": counts["open"],
        "overdue": counts["overdue"],
        "due_today": due_today,
        "screens": len(screens),
        "screens_offline": sum(1 for s in screens if not s["online"]),
    }


# --- grid worker ---------------------------------------------------------------------------------
def my_cases(actor: Actor) -> dict:
    """Open cases assigned to me (我的任务), the soonest deadline first."""
    authz.require_person(actor)
    mine = (Case.assignee_person_id == actor.person.id, Case.status.in_(OPEN_STATUSES))
    rows = db.session.scalars(
        select(Case)
        .where(*mine)
        .order_by(Case.due_at.is_(None), Case.due_at, Case.id)
        .options(*_SUMMARY_LOADS)
        .limit(LIST_LIMIT)
    )
    communities = sorted(actor.grid_community_ids | actor.staff_community_ids)
    return {
        "count": _count(*mine),
        "cases": list(rows),
        "community_id": communities[0] if communities else None,
        "now": _now(),
    }


def elder_follow_ups(actor: Actor) -> list[dict]:
    """Elders living alone in my grids who have not acknowledged a live urgent announcement:
    one row per elder with the announcements to follow up (each opens its follow-up page).

    The same people as each announcement's follow-up (app/notices/acknowledgements.follow_up)
    and in its order, gathered in three queries whatever the number of announcements; reading
    their care flags (and unmasked phones) is recorded once per community shown, not per
    announcement."""
    now = _now()
    live = [
        a
        for a in db.session.scalars(
            select(Announcement)
            .where(
                Announcement.community_id.in_(actor.grid_community_ids),
                Announcement.priority == "urgent",
                Announcement.status == "published",
            )
            .order_by(Announcement.id.desc())
            .limit(20)
        )
        if effective_status(a, now) == "published" and may(actor, "read_internal", a)
    ]
    if not live:
        return []
    community_ids = {a.community_id for a in live}
    # Outside the communities they run, a worker follows up only the people of their grids.
    whole = {c for c in community_ids if _sees_whole_community(actor, c)}
    places = db.session.execute(
        select(Person, Building.id, Building.grid_id)
        .join(Household, Person.household_id == Household.id)
        .join(Building, Household.building_id == Building.id)
        .options(contains_eager(Person.household).contains_eager(Household.building))
        .where(
            Person.community_id.in_(community_ids),
            Building.community_id == Person.community_id,
            Person.is_active.is_(True),
            or_(Person.community_id.in_(whole), Building.grid_id.in_(actor.grid_ids)),
        )
        .order_by(Person.id)
    ).all()
    alone = [
        (p, building_id, grid_id)
        for p, building_id, grid_id in places
        if authz.can_see_care(actor, p) and "lives_alone" in (p.care_flags or [])
    ]
    if not alone:
        return []
    acked = set(
        db.session.execute(
            select(AnnouncementAck.announcement_id, AnnouncementAck.person_id).where(
                AnnouncementAck.announcement_id.in_([a.id for a in live]),
                AnnouncementAck.person_id.in_([p.id for p, _, _ in alone]),
            )
        ).all()
    )
    elders: dict[int, dict] = {}
    shown: dict[int, set[str]] = defaultdict(set)
    listed: dict[int, set[int]] = defaultdict(set)
    for a in live:
        due = [
            p
            for p, building_id, grid_id in alone
            if p.community_id == a.community_id
            and reaches(a, building_id, grid_id)
            and (a.id, p.id) not in acked
        ]
        for p in sorted(due, key=lambda p: _oldest_first(actor, p)):
            if p.id not in elders:
                contact = authz.can_see_contact(actor, p)
                shown[p.community_id].add("care_flags")
                if contact:
                    shown[p.community_id].add("phone")
                elders[p.id] = {
                    "person_id": p.id,
                    "display_name": p.display_name,
                    "household": p.household.label,
                    "phone": p.phone if contact else mask_phone(p.phone),
                    "announcements": [],
                }
            elders[p.id]["announcements"].append({"id": a.id, "title": a.title})
            listed[a.community_id].add(a.id)
    # The audit log's "announcement follow-up", for the announcements of the list at once.
    for community_id, fields in sorted(shown.items()):
        audit.record(
            actor,
            "read",
            "announcement_follow_up",
            None,
            community_id,
            {"fields": sorted(fields), "announcement_ids": sorted(listed[community_id])},
        )
    return list(elders.values())


def _sees_whole_community(actor: Actor, community_id: int) -> bool:
    return (
        actor.is_admin
        or community_id in actor.staff_community_ids
        or community_id in actor.official_community_ids
    )


def _oldest_first(actor: Actor, person) -> tuple:
    """The follow-up's order among elders living alone; it never uses what the reader may not
    see (the birth year is shown only with the contact)."""
    known = authz.can_see_contact(actor, person) and person.birth_year
    return (person.birth_year if known else 9999, person.id)


# --- organization member ------------------------------------------------------------------------
def organization_cases(actor: Actor) -> dict:
    """Open cases assigned to the member's organizations (where they work for them) or to them."""
    page = inbox(actor, status="open", per_page=LIST_LIMIT)
    return {"count": page.total, "cases": list(page.items), "now": _now()}


# --- street official ------------------------------------------------------------------------------
def street_figures(actor: Actor, community_ids) -> dict:
    """Per community of the street office (None: every community, for an administrator): new,
    open, overdue, escalated and resolved this month; and the escalated cases themselves."""
    limit = ADMIN_COMMUNITY_LIMIT if community_ids is None else None
    places = _communities(community_ids, limit)
    places = [c for c in places if authz.can_see_internal(actor, c.id)]
    ids = [c.id for c in places]
    now = _now()
    start, end = month_bounds(now)

    def per_community(*conditions) -> dict[int, int]:
        if not ids:
            return {}
        return dict(
            db.session.execute(
                select(Case.community_id, func.count())
                .where(Case.community_id.in_(ids), *conditions)
                .group_by(Case.community_id)
            ).all()
        )

    escalated_now = (Case.status.in_(OPEN_STATUSES), Case.escalated_at.is_not(None))
    new = per_community(Case.status == SUBMITTED)
    open_ = per_community(Case.status.in_(OPEN_STATUSES))
    overdue = per_community(Case.status.in_(OPEN_STATUSES), Case.due_at < now)
    escalated = per_community(*escalated_now)
    resolved = per_community(Case.resolved_at >= start, Case.resolved_at < end)
    figures = [
        {
            "community": c,
            "new": new.get(c.id, 0),
            "open": open_.get(c.id, 0),
            "overdue": overdue.get(c.id, 0),
            "escalated": escalated.get(c.id, 0),
            "resolved_this_month": resolved.get(c.id, 0),
        }
        for c in places
    ]
    cases = (
        list(
            db.session.scalars(
                select(Case)
                .where(Case.community_id.in_(ids), *escalated_now)
                .order_by(Case.escalated_at.desc(), Case.id.desc())
                .options(*_SUMMARY_LOADS)
                .limit(LIST_LIMIT)
            )
        )
        if ids
        else []
    )
    return {
        "figures": figures,
        "escalated": cases,
        "escalated_count": sum(escalated.values()),
        "now": now,
    }
