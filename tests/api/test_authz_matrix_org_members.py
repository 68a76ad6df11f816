"""Authorization of the organization-membership routes: every actor kind × every call, in the
community the organization serves (A) and in another it also serves (B), whose records must
look missing to everyone who does not work there (tests/api/test_authz_matrix.py counts
ORG_MEMBER_ROUTES toward its coverage).

Besides the `world` roles: `lead` leads the organization in A only, `member` is a resident of A
and a plain member there, `lead_b` leads it in B only."""

from __future__ import annotations

import pytest

from app.extensions import db
from app.models import RoleAssignment
from tests.matrix import ANON, ROLES, check_status, expected_status
from tests.services.org_members_scene import make_scene

EXTRA = ["lead", "member", "lead_b"]
MANAGERS = frozenset({"staff", "official_writer", "admin"})
RUNNERS = MANAGERS | {"lead"}


def R(success, allowed, body=None, overrides=None):
    """One route's expectations in community A (others get 403)."""
    return {
        "success": success,
        "allowed": frozenset(allowed),
        "others": 403,
        "body": body,
        # lead_b does not work in A at all: A's records are not found for them.
        "overrides": {"lead_b": 404, **(overrides or {})},
    }


def _new_member(scene, side):
    newcomer = scene.newcomer if side == "a" else scene.world.b.resident
    return {"phone": newcomer.phone}


MEMBERS = "/api/v1/organizations/<organization_id>/members"
ONE = "/api/v1/organizations/<organization_id>/members/<assignment_id>"
LEAD = "/api/v1/organizations/<organization_id>/members/<assignment_id>/lead"

ORG_MEMBER_ROUTES = {
    ("GET", MEMBERS): R(200, RUNNERS),
    ("POST", MEMBERS): R(201, RUNNERS, body=_new_member),
    ("DELETE", ONE): R(204, RUNNERS),
    ("PUT", LEAD): R(200, MANAGERS),
    # On the lead's own lead role: a lead may not stand themselves (or another lead) down.
    ("DELETE", LEAD): R(200, MANAGERS),
}


def _target(scene, side: str, method: str, rule: str) -> int:
    if rule == LEAD and method == "DELETE":
        return (scene.lead_role if side == "a" else scene.lead_b.roles[0]).id
    return (scene.member_role if side == "a" else scene.member_b_role).id


def _call(client, scene, side, method, rule, headers, spec):
    community = scene.a if side == "a" else scene.b
    path = rule.replace("<organization_id>", str(scene.org.id)).replace(
        "<assignment_id>", str(_target(scene, side, method, rule))
    )
    kwargs = {"headers": headers, "query_string": {"community_id": community}}
    if spec["body"] is not None:
        kwargs["json"] = spec["body"](scene, side)
    return client.open(path, method=method, **kwargs)


def _headers(auth, world, scene, role):
    people = {"lead": scene.lead, "member": scene.member, "lead_b": scene.lead_b}
    if role in people:
        return auth.headers(people[role])
    return auth.for_role(world, role)


def _unchanged(scene, side):
    db.session.expire_all()
    target = scene.member_role if side == "a" else scene.member_b_role
    lead = scene.lead_role if side == "a" else scene.lead_b.roles[0]
    assert db.session.get(RoleAssignment, target.id) is not None
    assert db.session.get(RoleAssignment, target.id).leads_organization is False
    assert db.session.get(RoleAssignment, lead.id).leads_organization is True
    newcomer = scene.newcomer if side == "a" else scene.world.b.resident
    assert not [r for r in newcomer.roles if r.role == "org_member"]


OWN = [(m, r, role) for (m, r) in ORG_MEMBER_ROUTES for role in [ANON, *ROLES, *EXTRA]]


@pytest.mark.parametrize(
    ("method", "rule", "role"), OWN, ids=[f"{m} {r} {role}" for m, r, role in OWN]
)
def test_own_community(client, world, auth, method, rule, role):
    spec = ORG_MEMBER_ROUTES[(method, rule)]
    scene = make_scene(world)
    response = _call(client, scene, "a", method, rule, _headers(auth, world, scene, role), spec)
    expected = expected_status(spec, role)
    check_status(response, expected)
    if expected >= 400 and method != "GET":
        _unchanged(scene, "a")


# In B, where the organization also serves: all but the admin and B's own lead are outsiders,
# except world.a.org_member, whose membership (without a community) reaches B too: an insider
# without the right (403).
FOREIGN = [
    (m, r, role)
    for (m, r) in ORG_MEMBER_ROUTES
    for role in [*ROLES, "lead", "member"]
    if role != "admin"
]


@pytest.mark.parametrize(
    ("method", "rule", "role"), FOREIGN, ids=[f"{m} {r} {role}" for m, r, role in FOREIGN]
)
def test_the_other_community_is_not_found(client, world, auth, method, rule, role):
    spec = ORG_MEMBER_ROUTES[(method, rule)]
    scene = make_scene(world)
    response = _call(client, scene, "b", method, rule, _headers(auth, world, scene, role), spec)
    check_status(response, 403 if role == "org_member" else 404)
    _unchanged(scene, "b")


@pytest.mark.parametrize(("method", "rule"), list(ORG_MEMBER_ROUTES))
def test_the_lead_of_b_works_in_b(client, world, auth, method, rule):
    spec = ORG_MEMBER_ROUTES[(method, rule)]
    scene = make_scene(world)
    response = _call(client, scene, "b", method, rule, auth.headers(scene.lead_b), spec)
    check_status(response, spec["success"] if "lead" in spec["allowed"] else 403)
