"""Granting roles never gives more reach than the granter has (decided in the service)."""

import pytest

from app.affairs import categories, intake, workflow
from app.infra.errors import Conflict, Forbidden, Invalid, NotFound
from app.models.notification import Notification
from app.people import people
from app.people.actors import Actor
from tests import factories as f


def _shared(world):
    org = f.organization(world.a.community, name="共用物业")
    org.communities.append(world.b.community)
    f.db.session.flush()
    return org


def _fresh(person):
    """The actor as a new request would build it (roles reloaded)."""
    f.db.session.expire(person, ["roles"])
    return Actor.for_person(person)


def test_a_membership_granted_by_staff_reaches_only_their_community(world, db):
    org = _shared(world)
    staff = Actor.for_person(world.a.staff)
    people.grant_role(
        staff,
        world.a.resident,
        "org_member",
        community_id=world.a.community.id,
        organization_id=org.id,
    )
    member = _fresh(world.a.resident)
    assert member.organization_reach == {org.id: frozenset({world.a.community.id})}
    assert world.b.community.id not in member.organization_community_ids
    assert member.works_for(org.id, world.a.community.id)
    assert not member.works_for(org.id, world.b.community.id)
    # When the organization no longer serves the community, the membership reaches nothing.
    org.communities.remove(world.a.community)
    db.session.flush()
    assert _fresh(world.a.resident).organization_reach == {org.id: frozenset()}


def test_an_organization_wide_membership_reaches_every_community_it_serves(world, db):
    org = _shared(world)
    people.grant_role(
        Actor.for_person(world.admin), world.a.elder, "org_member", organization_id=org.id
    )
    reach = _fresh(world.a.elder).organization_reach
    assert reach == {org.id: frozenset({world.a.community.id, world.b.community.id})}


@pytest.mark.parametrize(
    ("role", "scope", "error"),
    [
        ("org_member", {"community_id": "b"}, NotFound),  # another community
        ("org_member", {}, Forbidden),  # organization-wide: administrators only
        ("committee_staff", {"community_id": "a"}, Forbidden),
        ("street_official", {"community_id": "a"}, Forbidden),
        ("platform_admin", {"community_id": "a"}, Forbidden),
        ("grid_worker", {"community_id": "a", "grid": "b"}, Invalid),  # a grid of B
        ("grid_worker", {"community_id": "a"}, Invalid),  # no grid
        ("org_member", {"community_id": "a", "org": "b"}, Invalid),  # B's own organization
        ("org_member", {"community_id": "a", "org": "a", "can_write": True}, Invalid),
        ("resident", {"community_id": "a", "street_office_id": "a"}, Invalid),
    ],
)
def test_staff_cannot_grant_beyond_their_community(world, db, role, scope, error):
    sides = {"a": world.a, "b": world.b}
    kwargs = {}
    if "community_id" in scope:
        kwargs["community_id"] = sides[scope["community_id"]].community.id
    if "grid" in scope:
        kwargs["grid_id"] = sides[scope["grid"]].community.grids[0].id
    kwargs["organization_id"] = (
        sides[scope.get("org", "a")].organization.id if role == "org_member" else None
    )
    if "street_office_id" in scope:
        kwargs["street_office_id"] = world.a.community.street_office_id
    kwargs["can_write"] = scope.get("can_write", False)
    before = len(world.a.resident.roles)
    with pytest.raises(error):
        people.grant_role(Actor.for_person(world.a.staff), world.a.resident, role, **kwargs)
    assert len(world.a.resident.roles) == before


def test_staff_cannot_grant_to_someone_outside_their_community(world, db):
    with pytest.raises(NotFound):
        people.grant_role(
            Actor.for_person(world.a.staff),
            world.b.resident,
            "org_member",
            community_id=world.a.community.id,
            organization_id=world.a.organization.id,
        )
    with pytest.raises(NotFound):  # a staff-side account of nowhere in particular
        people.grant_role(
            Actor.for_person(world.a.staff),
            world.b.staff,
            "grid_worker",
            community_id=world.a.community.id,
            grid_id=world.a.community.grids[0].id,
        )


def test_the_same_role_twice_is_a_conflict(world, db):
    staff = Actor.for_person(world.a.staff)
    scope = {"community_id": world.a.community.id, "organization_id": world.a.organization.id}
    people.grant_role(staff, world.a.resident, "org_member", **scope)
    with pytest.raises(Conflict):
        people.grant_role(staff, world.a.resident, "org_member", **scope)


def test_only_members_working_in_the_cases_community_are_told_of_it(world, db):
    org = _shared(world)
    people.grant_role(
        Actor.for_person(world.a.staff),
        world.a.resident,
        "org_member",
        community_id=world.a.community.id,
        organization_id=org.id,
    )
    people.grant_role(None, world.a.elder, "org_member", organization_id=org.id)
    categories.install_defaults(None, world.b.community.id)
    category = categories.list_categories(Actor.for_person(world.b.staff), world.b.community.id)[0]
    case = intake.submit_case(
        Actor.for_person(world.b.resident), category_id=category.id, description="楼道灯不亮"
    )
    workflow.assign_case(Actor.for_person(world.b.staff), case.id, organization_id=org.id)
    db.session.flush()
    told = {n.person_id for n in db.session.query(Notification).filter_by(kind="case_assigned")}
    assert world.a.elder.id in told and world.a.resident.id not in told


def test_staff_cannot_switch_off_someone_who_also_works_elsewhere(client, world, auth, db):
    people.grant_role(None, world.a.resident, "committee_staff", community_id=world.b.community.id)
    db.session.commit()
    path = f"/api/v1/people/{world.a.resident.id}"
    off = client.patch(path, headers=auth.headers(world.a.staff), json={"is_active": False})
    assert off.status_code == 403 and off.get_json()["code"] == 403
    db.session.expire_all()
    assert world.a.resident.is_active
    # Only their own residents, or someone an administrator switches off.
    plain = client.patch(
        f"/api/v1/people/{world.a.elder.id}",
        headers=auth.headers(world.a.staff),
        json={"is_active": False},
    )
    assert plain.status_code == 200
    admin = client.patch(path, headers=auth.headers(world.admin), json={"is_active": False})
    assert admin.status_code == 200
