"""Who may do what to a consultation (议事协商): one `may(actor, action, consultation)` and its
`ensure`, asked by the services and the channels; and which households a consultation's scope
takes in (the community, one building, one grid)."""

from __future__ import annotations

from datetime import datetime

from flask_babel import lazy_gettext as _l

from app.infra.errors import Conflict, DomainError, Forbidden, NotFound
from app.models import Household
from app.models.base import utcnow
from app.models.consultation import Consultation
from app.people import authz
from app.people.actors import Actor

CONSULTATION_ACTIONS = ("read", "manage", "vote", "second", "comment")
# What residents and screens see; drafts stay with the community's workers.
PUBLIC_STATUSES = ("proposed", "open", "closed", "decided")


def effective_status(c: Consultation, now: datetime | None = None) -> str:
    """The status at `now`: an open vote before its window is "upcoming", after it "closed"."""
    if c.status != "open":
        return c.status
    now = now or utcnow()
    if c.opens_at is not None and now < c.opens_at:
        return "upcoming"
    if c.closes_at is not None and now >= c.closes_at:
        return "closed"
    return "open"


def in_scope(c: Consultation, household: Household | None) -> bool:
    """True when the household may vote on `c` (lives in its community, building or grid)."""
    if household is None or household.building.community_id != c.community_id:
        return False
    if c.scope == "building":
        return household.building_id == c.building_id
    if c.scope == "grid":
        return household.building.grid_id == c.grid_id
    return True


def voter_household(actor: Actor) -> Household | None:
    """The household the actor votes for: their own, or the represented resident's."""
    subject = actor.subject
    return subject.household if subject is not None else None


def _device_sees(actor: Actor, c: Consultation) -> bool:
    device = actor.device
    if device is None or device.community_id != c.community_id:
        return False
    if c.scope == "community" or device.building is None:
        return True
    if c.scope == "building":
        return device.building_id == c.building_id
    return device.building.grid_id == c.grid_id


def _invited_party(actor: Actor, c: Consultation) -> str | None:
    """The invited party the actor speaks for in c's community, if any."""
    invited = set(c.invited or [])
    if "street_office" in invited and c.community_id in actor.official_community_ids:
        return "street_office"
    for role in actor.roles:
        org = role.organization
        if org is not None and org.kind in invited and actor.works_for(org.id, c.community_id):
            return org.kind
    return None


def party_of(actor: Actor, c: Consultation) -> tuple[str, int | None] | None:
    """(party, organization id) the actor comments as, or None when they may not comment."""
    if authz.can_manage_community(actor, c.community_id) or (
        c.community_id in actor.staff_community_ids
    ):
        return "committee", None
    party = _invited_party(actor, c)
    if party is None:
        return None
    if party == "street_office":
        return party, None
    for role in actor.roles:
        org = role.organization
        if org is not None and org.kind == party and actor.works_for(org.id, c.community_id):
            return party, org.id
    return None


def _visible_to(actor: Actor, c: Consultation) -> bool:
    if not authz.can_read_community(actor, c.community_id):
        return False
    if authz.can_see_internal(actor, c.community_id):
        return True
    if c.status not in PUBLIC_STATUSES:
        return False
    if _invited_party(actor, c) is not None:
        return True
    if actor.device is not None:
        return _device_sees(actor, c)
    return in_scope(c, voter_household(actor))


def may(actor: Actor, action: str, c: Consultation) -> bool:
    """Whether the actor may do `action` to the consultation (see `ensure`)."""
    try:
        ensure(actor, action, c)
    except DomainError:
        return False
    return True


def ensure(actor: Actor, action: str, c: Consultation) -> None:
    """Raise what the channels answer when the actor may not:
    - read: see it (residents: open, closed or decided ones of their building/grid/community,
      and proposals to second; workers: every one; otherwise not found);
    - manage: open, close, record the decision (committee staff; residents and outsiders: not
      found; other workers: forbidden);
    - vote / second: a person whose household is in its scope (the state is checked by the
      service: 409 outside the window);
    - comment: the committee and the parties it invited (others who see it: forbidden)."""
    if action not in CONSULTATION_ACTIONS:
        raise ValueError(f"unknown consultation action {action!r}")
    authz.require_signed_in(actor)
    if action == "manage":
        authz.ensure_readable(actor, c.community_id)
        if not authz.can_see_internal(actor, c.community_id):
            raise NotFound()
        authz.ensure_manager(actor, c.community_id)
        return
    if not _visible_to(actor, c):
        raise NotFound()
    if action in ("vote", "second"):
        authz.require_person(actor)
        if not in_scope(c, voter_household(actor)):
            raise Forbidden(_l("Only the households this vote is for can take part."))
        expected = "open" if action == "vote" else "proposed"
        if effective_status(c) != expected:
            raise Conflict(
                _l("This vote is not open.")
                if action == "vote"
                else _l("This proposal is no longer waiting for support.")
            )
    if action == "comment":
        authz.require_person(actor)
        if party_of(actor, c) is None:
            raise Forbidden(_l("Only the committee and the invited parties can comment."))
