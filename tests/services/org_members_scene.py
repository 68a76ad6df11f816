"""The scene of the organization-membership tests: a social organization O serving communities
A and B, its leads and members in each, a second organization O2 in A, and newcomers."""

from __future__ import annotations

from dataclasses import dataclass

from app.extensions import db
from app.models import Organization, Person, RoleAssignment
from app.people.actors import Actor
from tests import factories as f


def membership(person: Person, org: Organization, community_id=None, *, lead=False):
    """Give `person` a membership of `org` (scoped to a community, or to all it serves)."""
    role = RoleAssignment(
        role="org_member",
        organization_id=org.id,
        community_id=community_id,
        leads_organization=lead,
    )
    person.roles.append(role)
    db.session.flush()
    return role


def actor(person: Person) -> Actor:
    """The actor a request of `person` would build (roles read afresh from the database)."""
    db.session.refresh(person)
    return Actor.for_person(person)


@dataclass
class Scene:
    """World A/B; O = world.a.organization now also serving B (world.a.org_member is its member
    for every community it serves)."""

    world: object
    org: Organization
    org2: Organization
    lead: Person  # lead of O in A (a staff-side account that signs in with a password)
    lead_role: RoleAssignment
    lead_b: Person  # lead of O in B
    member: Person  # resident of A, plain member of O in A
    member_role: RoleAssignment
    member_b: Person  # resident of B, plain member of O in B
    member_b_role: RoleAssignment
    wide_role: RoleAssignment  # world.a.org_member's membership without a community
    org2_role: RoleAssignment  # a plain member of O2 in A
    newcomer: Person  # resident of A, no membership

    @property
    def a(self) -> int:
        return self.world.a.community.id

    @property
    def b(self) -> int:
        return self.world.b.community.id


def make_scene(world) -> Scene:
    """Build the scene on the `world` fixture and commit."""
    a, b = world.a.community, world.b.community
    org = world.a.organization
    org.kind = "social_org"
    org.communities.append(b)
    org2 = f.organization(a, kind="social_org")
    lead = f.staff("org_member", organization_id=org.id, community_id=a.id)
    lead_role = lead.roles[0]
    lead_role.leads_organization = True
    lead_b = f.staff("org_member", organization_id=org.id, community_id=b.id)
    lead_b.roles[0].leads_organization = True
    member = f.resident(a, name="王志愿")
    member_b = f.resident(b, name="赵志愿")
    scene = Scene(
        world=world,
        org=org,
        org2=org2,
        lead=lead,
        lead_role=lead_role,
        lead_b=lead_b,
        member=member,
        member_role=membership(member, org, a.id),
        member_b=member_b,
        member_b_role=membership(member_b, org, b.id),
        wide_role=world.a.org_member.roles[0],
        org2_role=membership(f.resident(a), org2, a.id),
        newcomer=f.resident(a, name="李新人"),
    )
    db.session.commit()
    return scene
