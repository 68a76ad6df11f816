"""Factories: small, explicit builders for test data (no demo data in tests)."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

from app.extensions import db
from app.models import (
    Building,
    Community,
    Device,
    Grid,
    Household,
    Organization,
    Person,
    ProxyLink,
    RoleAssignment,
    StreetOffice,
)
from app.models.base import utcnow
from app.people.auth import hash_secret

_seq = itertools.count(1)
PIN = "246813"
PASSWORD = "correct horse battery"


def street_office(**kw) -> StreetOffice:
    """A street office."""
    n = next(_seq)
    office = StreetOffice(code=kw.pop("code", f"so{n}"), name=kw.pop("name", f"测试街道{n}"), **kw)
    db.session.add(office)
    db.session.flush()
    return office


def community(office: StreetOffice | None = None, **kw) -> Community:
    """A community with one grid and one building with one household."""
    n = next(_seq)
    office = office or street_office()
    c = Community(
        street_office=office,
        code=kw.pop("code", f"c{n}"),
        name=kw.pop("name", f"测试社区{n}"),
        phone=kw.pop("phone", "010-1234 5678"),
        address="测试路1号",
        office_hours="8:30-17:30",
        **kw,
    )
    db.session.add(c)
    grid = Grid(community=c, name="第一网格")
    building = Building(community=c, grid=grid, name="1号楼")
    db.session.add_all([grid, building, Household(building=building, unit="1", room="101")])
    db.session.flush()
    return c


def phone() -> str:
    """A unique valid mobile number."""
    return f"137{next(_seq):08d}"


def resident(
    c: Community,
    *,
    name: str | None = None,
    care_flags=None,
    pin: str = PIN,
    household: Household | None = None,
    **kw,
) -> Person:
    """A resident of `c` living in its first household."""
    household = household or c.buildings[0].households[0]
    p = Person(
        display_name=name or f"居民{next(_seq)}",
        phone=kw.pop("phone", phone()),
        pin_hash=hash_secret(pin),
        community_id=c.id,
        household=household,
        care_flags=care_flags or [],
        **kw,
    )
    p.roles.append(RoleAssignment(role="resident", community_id=c.id))
    db.session.add(p)
    db.session.flush()
    return p


def staff(role: str = "committee_staff", *, password: str = PASSWORD, **scope) -> Person:
    """A staff-side account with one scoped role."""
    n = next(_seq)
    p = Person(
        display_name=f"{role}{n}",
        username=f"user{n}",
        phone=phone(),
        password_hash=hash_secret(password),
    )
    can_write = scope.pop("can_write", False)
    p.roles.append(RoleAssignment(role=role, can_write=can_write, **scope))
    db.session.add(p)
    db.session.flush()
    return p


def organization(c: Community, kind: str = "property", **kw) -> Organization:
    """An organization serving `c`."""
    org = Organization(name=kw.pop("name", f"组织{next(_seq)}"), kind=kind, **kw)
    org.communities.append(c)
    db.session.add(org)
    db.session.flush()
    return org


def device(c: Community, **kw) -> Device:
    """A kiosk device in `c`."""
    d = Device(
        community=c,
        name=kw.pop("name", f"大屏{next(_seq)}"),
        building=kw.pop("building", c.buildings[0]),
        **kw,
    )
    db.session.add(d)
    db.session.flush()
    return d


def proxy_link(relative: Person, elder: Person, status: str = "confirmed") -> ProxyLink:
    """A family-proxy link."""
    link = ProxyLink(
        proxy=relative,
        resident=elder,
        status=status,
        relation="女儿",
        confirmed_at=utcnow() if status == "confirmed" else None,
    )
    db.session.add(link)
    db.session.flush()
    return link


@dataclass
class Side:
    """Everyone in one community."""

    community: Community
    staff: Person
    grid_worker: Person
    org_member: Person
    resident: Person
    elder: Person
    relative: Person
    device: Device
    organization: Organization
    extra: dict = field(default_factory=dict)


@dataclass
class World:
    """Community A and community B (a foreign community), plus officials and an admin."""

    a: Side
    b: Side
    official: Person
    official_writer: Person
    admin: Person
    office_b_official: Person


def _side(c: Community) -> Side:
    grid = c.grids[0]
    org = organization(c)
    elder = resident(c, name="独居老人", care_flags=["lives_alone"], birth_year=1940)
    relative = Person(display_name="子女", phone=phone(), pin_hash=hash_secret(PIN))
    db.session.add(relative)
    db.session.flush()
    proxy_link(relative, elder)
    return Side(
        community=c,
        staff=staff("committee_staff", community_id=c.id),
        grid_worker=staff("grid_worker", grid_id=grid.id),
        org_member=staff("org_member", organization_id=org.id),
        resident=resident(c),
        elder=elder,
        relative=relative,
        device=device(c),
        organization=org,
    )


def make_world() -> World:
    """Two communities under two street offices, every role in each."""
    office_a, office_b = street_office(), street_office()
    a, b = _side(community(office_a)), _side(community(office_b))
    world = World(
        a=a,
        b=b,
        official=staff("street_official", street_office_id=office_a.id),
        official_writer=staff("street_official", street_office_id=office_a.id, can_write=True),
        admin=staff("platform_admin"),
        office_b_official=staff("street_official", street_office_id=office_b.id),
    )
    db.session.commit()
    return world
