"""The actor: who is doing something, and in which scopes. Built once per request or command."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

from sqlalchemy import select

from app.extensions import db
from app.models import Device, Person, RoleAssignment
from app.models.organization import organization_community
from app.models.person import (
    COMMITTEE_STAFF,
    GRID_WORKER,
    ORG_MEMBER,
    PLATFORM_ADMIN,
    RESIDENT,
    STAFF_SIDE_ROLES,
    STREET_OFFICIAL,
)


@dataclass(frozen=True)
class Actor:
    """A signed-in person or kiosk device, with its roles loaded; anonymous when both are None."""

    person: Person | None = None
    device: Device | None = None
    roles: tuple[RoleAssignment, ...] = field(default_factory=tuple)
    on_behalf_of: Person | None = None  # the resident a family proxy acts for

    @classmethod
    def for_person(
        cls, person: Person, on_behalf_of: Person | None = None, *, sign_in: str | None = None
    ) -> Actor:
        """The actor for a person, with their role assignments. An easy-mode sign-in
        (`sign_in="easy"`, kept for a year) acts as a resident only: a worker's other roles
        need the staff console's sign-in, which lasts a shift."""
        roles = tuple(person.roles)
        if sign_in == "easy":
            roles = tuple(r for r in roles if r.role == RESIDENT)
        return cls(person=person, roles=roles, on_behalf_of=on_behalf_of)

    @classmethod
    def for_device(cls, device: Device) -> Actor:
        """The actor for a kiosk device."""
        return cls(device=device)

    @classmethod
    def anonymous(cls) -> Actor:
        """Nobody signed in."""
        return cls()

    # --- identity -------------------------------------------------------------------------
    @property
    def is_anonymous(self) -> bool:
        """True when nobody is signed in."""
        return self.person is None and self.device is None

    @property
    def person_id(self) -> int | None:
        """The person's id, if a person."""
        return self.person.id if self.person else None

    @property
    def subject(self) -> Person | None:
        """Whom an action is for: the represented resident when acting as proxy, else the person."""
        return self.on_behalf_of or self.person

    def _roles(self, role: str) -> list[RoleAssignment]:
        return [r for r in self.roles if r.role == role]

    @cached_property
    def is_admin(self) -> bool:
        """Platform administrator."""
        return bool(self._roles(PLATFORM_ADMIN))

    @cached_property
    def is_staff_side(self) -> bool:
        """Any role other than resident: its changes are audited."""
        return any(r.role in STAFF_SIDE_ROLES for r in self.roles)

    # --- scopes ---------------------------------------------------------------------------
    @cached_property
    def staff_community_ids(self) -> frozenset[int]:
        """Communities where this actor is committee staff."""
        return frozenset(r.community_id for r in self._roles(COMMITTEE_STAFF) if r.community_id)

    @cached_property
    def grid_ids(self) -> frozenset[int]:
        """Grids this actor works as grid worker."""
        return frozenset(r.grid_id for r in self._roles(GRID_WORKER) if r.grid_id)

    @cached_property
    def grid_community_ids(self) -> frozenset[int]:
        """Communities of the grids this actor works."""
        return frozenset(r.grid.community_id for r in self._roles(GRID_WORKER) if r.grid)

    @cached_property
    def organization_ids(self) -> frozenset[int]:
        """Organizations this actor is a member of."""
        return frozenset(r.organization_id for r in self._roles(ORG_MEMBER) if r.organization_id)

    @cached_property
    def organization_reach(self) -> dict[int, frozenset[int]]:
        """Per organization, the communities this member works in for it.

        A membership granted for a community (what committee staff grant) reaches that
        community only, while the organization still serves it; a membership without a
        community (granted by an administrator or `flask create-user`) reaches every community
        the organization serves. So staff of one community can never, through an organization
        that also serves another community, give anyone a way into that other community."""
        return _reach(self._roles(ORG_MEMBER), self._served)

    @cached_property
    def leads_any_organization(self) -> bool:
        """Holds some organization's lead (负责人) membership; decided from the loaded roles
        alone (the staff menu asks on every page), so it may include one whose organization no
        longer serves the membership's community: the page itself then checks the reach."""
        return any(r.leads_organization for r in self._roles(ORG_MEMBER))

    @cached_property
    def led_organization_reach(self) -> dict[int, frozenset[int]]:
        """Per organization this actor leads (负责人), the communities they manage its members
        in: those their lead memberships reach, as in `organization_reach`."""
        return _reach([r for r in self._roles(ORG_MEMBER) if r.leads_organization], self._served)

    def leads(self, organization_id: int, community_id: int) -> bool:
        """True when the actor leads that organization in that community."""
        return community_id in self.led_organization_reach.get(organization_id, ())

    @cached_property
    def _served(self) -> dict[int, frozenset[int]]:
        """The communities each of this actor's organizations serves: one statement for every
        organization (not the organization and its communities each)."""
        org_ids = {r.organization_id for r in self._roles(ORG_MEMBER) if r.organization_id}
        if not org_ids:
            return {}
        link = organization_community.c
        served: dict[int, set[int]] = {}
        for org_id, community_id in db.session.execute(
            select(link.organization_id, link.community_id).where(link.organization_id.in_(org_ids))
        ):
            served.setdefault(org_id, set()).add(community_id)
        return {org_id: frozenset(ids) for org_id, ids in served.items()}

    @cached_property
    def organization_community_ids(self) -> frozenset[int]:
        """Communities this actor works in for one of their organizations."""
        return frozenset(c for ids in self.organization_reach.values() for c in ids)

    def organizations_in(self, community_id: int) -> frozenset[int]:
        """This actor's organizations they work for in that community."""
        return frozenset(
            org_id for org_id, ids in self.organization_reach.items() if community_id in ids
        )

    def works_for(self, organization_id: int | None, community_id: int) -> bool:
        """True when the actor works for that organization in that community."""
        return community_id in self.organization_reach.get(organization_id, ())

    @cached_property
    def official_community_ids(self) -> frozenset[int]:
        """Communities under this actor's street offices (read access)."""
        return frozenset(
            c.id
            for r in self._roles(STREET_OFFICIAL)
            if r.street_office
            for c in r.street_office.communities
        )

    @cached_property
    def official_write_community_ids(self) -> frozenset[int]:
        """Communities where the street office granted this official write access."""
        return frozenset(
            c.id
            for r in self._roles(STREET_OFFICIAL)
            if r.street_office and r.can_write
            for c in r.street_office.communities
        )

    @cached_property
    def resident_community_ids(self) -> frozenset[int]:
        """Communities this actor lives in (or acts for a resident of)."""
        ids = {r.community_id for r in self._roles(RESIDENT) if r.community_id}
        for p in (self.person, self.on_behalf_of):
            if p is not None and p.community_id:
                ids.add(p.community_id)
        return frozenset(ids)

    @cached_property
    def device_community_ids(self) -> frozenset[int]:
        """The community a kiosk device stands in."""
        return frozenset({self.device.community_id} if self.device else ())


def _reach(memberships, served: dict[int, frozenset[int]]) -> dict[int, frozenset[int]]:
    """Per organization, the communities these memberships reach: a membership for a community
    that one (while the organization serves it), one without a community all it serves."""
    reach: dict[int, set[int]] = {}
    for r in memberships:
        if r.organization_id is None:
            continue
        ids = served.get(r.organization_id, frozenset())
        if r.community_id is not None:
            ids = ids & {r.community_id}
        reach.setdefault(r.organization_id, set()).update(ids)
    return {org_id: frozenset(ids) for org_id, ids in reach.items()}
