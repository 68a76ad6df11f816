"""Acknowledgements of announcements ("I have read it") and the follow-up of who has not."""

from __future__ import annotations

from sqlalchemy import select

from app.extensions import db
from app.infra import audit
from app.infra.text import mask_phone
from app.models import Building, Household, Person
from app.models.announcement import Announcement, AnnouncementAck
from app.notices.audience import _for_worker, get_announcement
from app.notices.policy import ensure, reaches
from app.people import authz
from app.people.actors import Actor


# --- acknowledgements and follow-up --------------------------------------------------------------
def acknowledge(actor: Actor, announcement_id: int) -> AnnouncementAck:
    """A resident (or their family proxy) taps "I have read it"; tapping again changes nothing."""
    a = get_announcement(actor, announcement_id)
    ensure(actor, "acknowledge", a)
    subject = actor.subject
    ack = db.session.scalar(
        select(AnnouncementAck).where(
            AnnouncementAck.announcement_id == a.id, AnnouncementAck.person_id == subject.id
        )
    )
    if ack is None:
        ack = AnnouncementAck(
            announcement_id=a.id,
            person_id=subject.id,
            acked_by_id=actor.person_id if actor.on_behalf_of else None,
        )
        db.session.add(ack)
        db.session.flush()
    return ack


def acked_by(actor: Actor, announcement_ids: list[int]) -> set[int]:
    """Which of these announcements the caller (or the resident they act for) acknowledged."""
    subject = actor.subject
    if subject is None or not announcement_ids:
        return set()
    return set(
        db.session.scalars(
            select(AnnouncementAck.announcement_id).where(
                AnnouncementAck.person_id == subject.id,
                AnnouncementAck.announcement_id.in_(announcement_ids),
            )
        )
    )


def audience_residents(a: Announcement) -> list[Person]:
    """Active residents of the community whose home the announcement reaches."""
    rows = db.session.execute(
        select(Person, Building.id, Building.grid_id)
        .join(Household, Person.household_id == Household.id)
        .join(Building, Household.building_id == Building.id)
        .where(
            Person.community_id == a.community_id,
            Building.community_id == a.community_id,
            Person.is_active.is_(True),
        )
    )
    return [p for p, building_id, grid_id in rows if reaches(a, building_id, grid_id)]


def follow_up(actor: Actor, announcement_id: int) -> dict:
    """Who in the audience has not acknowledged: elderly living alone first, then the oldest.

    Grid workers see the people of their grids; phones and care flags follow the usual rules
    and reading them is recorded in the audit log.
    """
    a = _for_worker(actor, announcement_id)
    everyone = audience_residents(a)
    limited_to_grids = not (
        actor.is_admin
        or a.community_id in actor.staff_community_ids
        or a.community_id in actor.official_community_ids
    )
    if limited_to_grids:
        everyone = [p for p in everyone if authz.is_persons_grid_worker(actor, p)]
    acked = set(
        db.session.scalars(
            select(AnnouncementAck.person_id).where(AnnouncementAck.announcement_id == a.id)
        )
    )
    pending = []
    shown: set[str] = set()
    for p in everyone:
        if p.id in acked:
            continue
        contact = authz.can_see_contact(actor, p)
        care = authz.can_see_care(actor, p)
        lives_alone = "lives_alone" in (p.care_flags or []) if care else None
        if contact:
            shown.add("phone")
        if care:
            shown.add("care_flags")
        pending.append(
            {
                "person_id": p.id,
                "display_name": p.display_name,
                "household": p.household.label if p.household else None,
                "phone": p.phone if contact else mask_phone(p.phone),
                "birth_year": p.birth_year if contact else None,
                "care_flags": list(p.care_flags or []) if care else None,
                "lives_alone": lives_alone,
                # Sorting never uses what the reader may not see.
                "_key": (
                    0 if lives_alone else 1,
                    (p.birth_year if contact and p.birth_year else 9999),
                    p.id,
                ),
            }
        )
    pending.sort(key=lambda row: row.pop("_key"))
    if shown:
        audit.record_read(actor, "announcement_follow_up", a.id, a.community_id, sorted(shown))
    return {
        "announcement_id": a.id,
        "audience": len(everyone),
        "acknowledged": len(everyone) - len(pending),
        "pending": pending,
    }
