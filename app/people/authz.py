"""Authorization: every rule about who may see or change what, in one place.

Services call these with the actor and the record's community. Records an actor may not read
at all are reported as not found, so ids of another community reveal nothing.
"""

from __future__ import annotations

from app.infra.errors import Forbidden, NotFound, Unauthorized
from app.people.actors import Actor


def require_signed_in(actor: Actor) -> None:
    """Raise Unauthorized for anonymous callers."""
    if actor.is_anonymous:
        raise Unauthorized()


def require_person(actor: Actor) -> None:
    """Only a person (not a kiosk device) may do this."""
    require_signed_in(actor)
    if actor.person is None:
        raise Forbidden()


def can_read_community(actor: Actor, community_id: int) -> bool:
    """Public records of a community: its residents, its devices, anyone working there."""
    return (
        actor.is_admin
        or community_id in actor.staff_community_ids
        or community_id in actor.official_community_ids
        or community_id in actor.grid_community_ids
        or community_id in actor.organization_community_ids
        or community_id in actor.resident_community_ids
        or community_id in actor.device_community_ids
    )


def can_see_internal(actor: Actor, community_id: int) -> bool:
    """Internal records (registers, internal notes, follow-up lists): the community's workers."""
    return (
        actor.is_admin
        or community_id in actor.staff_community_ids
        or community_id in actor.official_community_ids
        or community_id in actor.grid_community_ids
    )


def can_manage_community(actor: Actor, community_id: int) -> bool:
    """Change community data: committee staff, admins, and officials granted write access."""
    return (
        actor.is_admin
        or community_id in actor.staff_community_ids
        or community_id in actor.official_write_community_ids
    )


def can_see_contact(actor: Actor, person) -> bool:
    """Unmasked phone: the person, their confirmed proxy, their community's staff, grid worker."""
    if actor.person is not None and actor.person.id == person.id:
        return True
    if actor.on_behalf_of is not None and actor.on_behalf_of.id == person.id:
        return True
    if actor.is_admin:
        return True
    if person.community_id and person.community_id in actor.staff_community_ids:
        return True
    return is_persons_grid_worker(actor, person)


def can_see_care(actor: Actor, person) -> bool:
    """Care flags (独居老人…): only the community's committee staff and the person's grid worker."""
    if actor.is_admin:
        return True
    if person.community_id and person.community_id in actor.staff_community_ids:
        return True
    return is_persons_grid_worker(actor, person)


def is_persons_grid_worker(actor: Actor, person) -> bool:
    """True when the actor works the grid the person's building belongs to."""
    household = person.household
    grid_id = household.building.grid_id if household is not None else None
    return grid_id is not None and grid_id in actor.grid_ids


def ensure_readable(actor: Actor, community_id: int) -> None:
    """Not found unless the actor may read the community's public records."""
    require_signed_in(actor)
    if not can_read_community(actor, community_id):
        raise NotFound()


def ensure_internal(actor: Actor, community_id: int) -> None:
    """Not found for outsiders; forbidden for insiders without staff access."""
    ensure_readable(actor, community_id)
    if not can_see_internal(actor, community_id):
        raise Forbidden()


def ensure_manager(actor: Actor, community_id: int) -> None:
    """Not found for outsiders; forbidden for insiders who may not change it."""
    ensure_readable(actor, community_id)
    if not can_manage_community(actor, community_id):
        raise Forbidden()


def ensure_admin(actor: Actor) -> None:
    """Platform administrators only."""
    require_signed_in(actor)
    if not actor.is_admin:
        raise Forbidden()


def readable_community_ids(actor: Actor) -> frozenset[int] | None:
    """Communities the actor may read; None means all (admin)."""
    if actor.is_admin:
        return None
    return (
        actor.staff_community_ids
        | actor.official_community_ids
        | actor.grid_community_ids
        | actor.organization_community_ids
        | actor.resident_community_ids
        | actor.device_community_ids
    )


# --- what a console section needs (the staff menu shows only what the actor may open) -----------
def works_internally(actor: Actor) -> bool:
    """Some community's internal records (its registers, screens, categories, announcements)."""
    return actor.is_admin or bool(
        actor.staff_community_ids | actor.official_community_ids | actor.grid_community_ids
    )


def manages_somewhere(actor: Actor) -> bool:
    """Some community whose data the actor may change."""
    return actor.is_admin or bool(actor.staff_community_ids | actor.official_write_community_ids)


def can_read_audit(actor: Actor, community_id: int | None) -> bool:
    """The audit log: admins all of it; a community's committee staff and its street office
    (who oversee the committee) that community's entries."""
    if actor.is_admin:
        return True
    return community_id is not None and (
        community_id in actor.staff_community_ids or community_id in actor.official_community_ids
    )


def audit_community_ids(actor: Actor) -> frozenset[int] | None:
    """Communities whose audit entries the actor may read; None means all (admin)."""
    if actor.is_admin:
        return None
    return actor.staff_community_ids | actor.official_community_ids


def reads_audit(actor: Actor) -> bool:
    """Some part of the audit log."""
    ids = audit_community_ids(actor)
    return ids is None or bool(ids)
