"""Authorization of every consultations route: each role in its own community, and the other
community's records reported as not found (tests/api/test_authz_matrix.py counts VOTES_ROUTES
toward its coverage)."""

from __future__ import annotations

from app.extensions import db
from app.models import Household
from app.participation import votes
from app.people.actors import Actor
from tests import factories
from tests.matrix import (
    ROLES,
    check_status,
    expected_status,
    foreign_cases,
    own_cases,
    parametrize,
    route,
    send,
)

ALL = frozenset(ROLES)
MANAGERS = frozenset({"staff", "official_writer", "admin"})
HOUSEHOLD = frozenset({"resident", "elder", "relative"})  # the relative acts for the elder
NOT_INSIDERS = {"resident": 404, "elder": 404, "relative": 404, "org_member": 404, "device": 404}


class Scene:
    """One side: an open vote (the property company and the street office invited), a draft, a
    closed vote and a neighbour's proposal waiting for seconds."""

    def __init__(self, side):
        staff = Actor.for_person(side.staff)
        self.side = side

        def make(**kw):
            return votes.create_consultation(
                staff, community_id=side.community.id, title="加装电梯", **kw
            )

        self.open = make(invited=["property", "street_office"])
        self.draft = make(draft=True)
        self.closed = make()
        votes.close_consultation(staff, self.closed.id)
        home = Household(building=side.community.buildings[0], unit="3", room="909")
        db.session.add(home)
        db.session.flush()
        neighbour = factories.resident(side.community, household=home)
        self.proposal = votes.propose(Actor.for_person(neighbour), title="小区停车改造")
        db.session.commit()


def R(*args, target="open", **kwargs):
    """One route's expectations (target: which of the scene's consultations it is called on)."""
    return route(*args, target=target, **kwargs)


VOTES_ROUTES = {
    ("GET", "/api/v1/consultations"): R(200, ALL, foreign=None),
    ("POST", "/api/v1/consultations"): R(
        201,
        MANAGERS,
        body=lambda s: {"title": "楼道堆物清理", "community_id": s.side.community.id},
        foreign=None,
    ),
    ("POST", "/api/v1/consultations/proposals"): R(
        201, HOUSEHOLD, body=lambda s: {"title": "增设充电桩"}, foreign=None
    ),
    ("GET", "/api/v1/consultations/<consultation_id>"): R(200, ALL),
    ("POST", "/api/v1/consultations/<consultation_id>/votes"): R(
        200, HOUSEHOLD, body=lambda s: {"position": 1}
    ),
    ("GET", "/api/v1/consultations/<consultation_id>/results"): R(200, ALL),
    ("POST", "/api/v1/consultations/<consultation_id>/seconds"): R(
        200, HOUSEHOLD, overrides={"org_member": 404}, target="proposal"
    ),
    ("POST", "/api/v1/consultations/<consultation_id>/open"): R(
        200, MANAGERS, overrides=NOT_INSIDERS, target="draft"
    ),
    ("POST", "/api/v1/consultations/<consultation_id>/close"): R(
        200, MANAGERS, overrides=NOT_INSIDERS
    ),
    ("PUT", "/api/v1/consultations/<consultation_id>/decision"): R(
        200, MANAGERS, overrides=NOT_INSIDERS, body=lambda s: {"decision": "同意"}, target="closed"
    ),
    ("GET", "/api/v1/consultations/<consultation_id>/comments"): R(200, ALL),
    ("POST", "/api/v1/consultations/<consultation_id>/comments"): R(
        201, MANAGERS | {"official", "org_member"}, body=lambda s: {"body": "支持"}
    ),
}


def _call(client, scene, method, rule, headers, spec):
    path = rule.replace("<consultation_id>", str(getattr(scene, spec["target"]).id))
    return send(client, method, path, headers, spec, scene)


@parametrize(own_cases(VOTES_ROUTES))
def test_own_community(client, world, auth, method, rule, role):
    spec = VOTES_ROUTES[(method, rule)]
    scene = Scene(world.a)
    response = _call(client, scene, method, rule, auth.for_role(world, role), spec)
    check_status(response, expected_status(spec, role))


@parametrize(foreign_cases(VOTES_ROUTES))
def test_other_community_records_are_not_found(client, world, auth, method, rule, role):
    spec = VOTES_ROUTES[(method, rule)]
    scene = Scene(world.b)
    response = _call(client, scene, method, rule, auth.for_role(world, role), spec)
    check_status(response, spec["foreign"])
