"""The territory register: communities, grids, buildings, households."""

from __future__ import annotations

from sqlalchemy import select

from app.extensions import db
from app.infra.errors import Conflict, NotFound, invalid_field
from app.infra.text import clean_name, clean_text
from app.models import Building, Community, Grid, Household, StreetOffice
from app.people import authz
from app.people.actors import Actor


def list_communities(actor: Actor) -> list[Community]:
    """Communities the actor may see."""
    authz.require_signed_in(actor)
    ids = authz.readable_community_ids(actor)
    query = select(Community).order_by(Community.id)
    if ids is not None:
        query = query.where(Community.id.in_(ids))
    return list(db.session.scalars(query))


def get_community(actor: Actor, community_id: int) -> Community:
    """One community, if the actor may see it."""
    community = db.session.get(Community, community_id)
    if community is None:
        raise NotFound()
    authz.ensure_readable(actor, community.id)
    return community


def home_community(actor: Actor) -> Community | None:
    """The home community of the resident the actor is (or acts for), if any."""
    subject = actor.subject
    if subject is None or not subject.community_id:
        return None
    return db.session.get(Community, subject.community_id)


def community_of(actor: Actor) -> Community | None:
    """The community a caller stands in: the screen's, the resident's home, or a worker's only
    one (None when that is not one community)."""
    if actor.device is not None:
        return actor.device.community
    home = home_community(actor)
    if home is not None:
        return home
    ids = (
        actor.staff_community_ids
        | actor.grid_community_ids
        | actor.official_community_ids
        | actor.organization_community_ids
    )
    return db.session.get(Community, next(iter(ids))) if len(ids) == 1 else None


def update_community(actor: Actor, community_id: int, changes: dict) -> Community:
    """Change contact details (phone, address, office hours)."""
    community = get_community(actor, community_id)
    authz.ensure_manager(actor, community.id)
    if "name" in changes:
        community.name = clean_name(changes["name"], "name", max_length=255)
    for key in ("address", "phone", "office_hours"):
        if key in changes:
            setattr(community, key, clean_text(changes[key], key, max_length=255, required=False))
    db.session.flush()
    return community


def list_grids(actor: Actor, community_id: int) -> list[Grid]:
    """Grids of a community."""
    get_community(actor, community_id)
    return list(
        db.session.scalars(select(Grid).where(Grid.community_id == community_id).order_by(Grid.id))
    )


def create_grid(actor: Actor, community_id: int, name: str) -> Grid:
    """Add a grid."""
    community = get_community(actor, community_id)
    authz.ensure_manager(actor, community.id)
    name = clean_name(name, "name", max_length=80)
    if db.session.scalar(select(Grid).where(Grid.community_id == community.id, Grid.name == name)):
        raise Conflict(errors={"name": ["exists"]})
    grid = Grid(community=community, name=name)
    db.session.add(grid)
    db.session.flush()
    return grid


def list_buildings(actor: Actor, community_id: int) -> list[Building]:
    """Buildings of a community."""
    get_community(actor, community_id)
    return list(
        db.session.scalars(
            select(Building).where(Building.community_id == community_id).order_by(Building.id)
        )
    )


def get_building(actor: Actor, building_id: int) -> Building:
    """One building, if the actor may see its community."""
    building = db.session.get(Building, building_id)
    if building is None:
        raise NotFound()
    authz.ensure_readable(actor, building.community_id)
    return building


def create_building(
    actor: Actor,
    community_id: int,
    name: str,
    grid_id: int | None = None,
    latitude: float | None = None,
    longitude: float | None = None,
) -> Building:
    """Add a building, optionally in a grid of the same community."""
    community = get_community(actor, community_id)
    authz.ensure_manager(actor, community.id)
    name = clean_name(name, "name", max_length=80)
    grid = None
    if grid_id is not None:
        grid = db.session.get(Grid, grid_id)
        if grid is None or grid.community_id != community.id:
            raise invalid_field("grid_id", "unknown grid")
    if db.session.scalar(
        select(Building).where(Building.community_id == community.id, Building.name == name)
    ):
        raise Conflict(errors={"name": ["exists"]})
    building = Building(
        community=community, grid=grid, name=name, latitude=latitude, longitude=longitude
    )
    db.session.add(building)
    db.session.flush()
    return building


def list_households(actor: Actor, building_id: int) -> list[Household]:
    """Households of a building (internal register)."""
    building = get_building(actor, building_id)
    authz.ensure_internal(actor, building.community_id)
    return list(
        db.session.scalars(
            select(Household).where(Household.building_id == building.id).order_by(Household.id)
        )
    )


def create_household(actor: Actor, building_id: int, room: str, unit: str = "") -> Household:
    """Add a household (unit + room) to a building."""
    building = get_building(actor, building_id)
    authz.ensure_manager(actor, building.community_id)
    room = clean_text(room, "room", max_length=20)
    unit = clean_text(unit or "", "unit", max_length=20, required=False)
    if db.session.scalar(
        select(Household).where(
            Household.building_id == building.id, Household.unit == unit, Household.room == room
        )
    ):
        raise Conflict(errors={"room": ["exists"]})
    household = Household(building=building, unit=unit, room=room)
    db.session.add(household)
    db.session.flush()
    return household


def street_office_of(community: Community) -> StreetOffice:
    """The street office a community belongs to."""
    return community.street_office
