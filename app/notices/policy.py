"""Who may do what to an announcement: one `may(actor, action, announcement)` and its `ensure`,
asked by the services and the channels; and who an announcement reaches (a resident's building
or grid, a screen's place, a channel)."""

from __future__ import annotations

from datetime import datetime

from flask_babel import lazy_gettext as _l

from app.infra.errors import Conflict, DomainError, Forbidden, NotFound
from app.models.announcement import Announcement
from app.models.base import utcnow
from app.notices.common import effective_status
from app.people import authz
from app.people.actors import Actor

ANNOUNCEMENT_ACTIONS = ("read", "read_internal", "manage", "acknowledge")


def _subject_place(actor: Actor) -> tuple[int | None, int | None, int | None]:
    """(community, building, grid) of the resident the actor is (or acts for)."""
    subject = actor.subject
    if subject is None:
        return None, None, None
    household = subject.household
    if household is None:
        return subject.community_id, None, None
    return subject.community_id, household.building_id, household.building.grid_id


def reaches(a: Announcement, building_id: int | None, grid_id: int | None) -> bool:
    """True when the audience of `a` includes that building (or its grid)."""
    if a.whole_community:
        return True
    return (building_id is not None and building_id in (a.building_ids or [])) or (
        grid_id is not None and grid_id in (a.grid_ids or [])
    )


def _visible_to(actor: Actor, a: Announcement, now: datetime, channel: str = "app") -> bool:
    """Residents: published items for their building/grid on that channel; workers: all."""
    if not authz.can_read_community(actor, a.community_id):
        return False
    if authz.can_see_internal(actor, a.community_id):
        return True
    if effective_status(a, now) != "published" or channel not in (a.channels or []):
        return False
    community, building, grid = _subject_place(actor)
    if community == a.community_id:
        return reaches(a, building, grid)
    if actor.device is not None and actor.device.community_id == a.community_id:
        device = actor.device
        return device.building_id is None or reaches(
            a, device.building_id, device.building.grid_id if device.building else None
        )
    # Partners (organizations serving the community) read what the community was told.
    return a.community_id in actor.organization_community_ids and a.whole_community


def may(actor: Actor, action: str, a: Announcement) -> bool:
    """Whether the actor may do `action` to the announcement (see `ensure`)."""
    try:
        ensure(actor, action, a)
    except DomainError:
        return False
    return True


def ensure(actor: Actor, action: str, a: Announcement) -> None:
    """Raise what the channels answer when the actor may not:
    - read: see it (otherwise not found, whatever the reason);
    - read_internal: drafts, history, authors, follow-up (the community's workers; others who
      see it: forbidden);
    - manage: change, publish, withdraw it (outsiders and residents: not found, so a draft's
      existence is not told; other workers: forbidden);
    - acknowledge: "I have read it" (a person it is addressed to, while it is published)."""
    if action not in ANNOUNCEMENT_ACTIONS:
        raise ValueError(f"unknown announcement action {action!r}")
    if action == "manage":
        authz.ensure_readable(actor, a.community_id)
        if not authz.can_see_internal(actor, a.community_id):
            raise NotFound()  # residents may not even learn that a draft exists
        authz.ensure_manager(actor, a.community_id)
        return
    authz.require_signed_in(actor)
    if action == "read_internal" and authz.can_see_internal(actor, a.community_id):
        return  # the community's workers see every announcement of it
    if not _visible_to(actor, a, utcnow()):
        raise NotFound()
    if action == "read_internal":
        raise Forbidden()
    if action == "acknowledge":
        authz.require_person(actor)
        community, building, grid = _subject_place(actor)
        if community != a.community_id or not reaches(a, building, grid):
            raise Forbidden(_l("This announcement is not addressed to you."))
        if effective_status(a) != "published":
            raise Conflict()
