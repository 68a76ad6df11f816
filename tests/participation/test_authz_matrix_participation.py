"""Authorization of every activities and points route: each role in its own community, and the
other community's records reported as not found (tests/api/test_authz_matrix.py counts
PARTICIPATION_ROUTES toward its coverage)."""

from __future__ import annotations

from datetime import timedelta

from app.extensions import db
from app.models.base import utcnow
from app.participation import activities
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
from tests.participation.helpers import actor

ALL = frozenset(ROLES)
PERSONS = ALL - {"device"}
MANAGERS = frozenset({"staff", "official_writer", "admin"})
ORGANIZERS = MANAGERS | {"org_member"}
FOR_ELDER = frozenset({"elder", "relative"})


class Scene:
    """One side: an activity of its organization starting soon; the resident has a place, the
    elder checked in and has recorded hours."""

    def __init__(self, side):
        start = utcnow() + timedelta(minutes=30)
        staff = actor(side.staff)
        self.side = side
        self.activity = activities.publish(
            staff,
            side.community.id,
            title="义诊",
            place="活动室",
            starts_at=start,
            ends_at=start + timedelta(hours=2),
            capacity=5,
            organization_id=side.organization.id,
        )
        activities.sign_up(actor(side.resident), self.activity.id)
        self.elder_signup = activities.sign_up(actor(side.elder), self.activity.id)
        activities.set_attendance(staff, self.activity.id, self.elder_signup.id, True)
        self.hours = activities.record_hours(staff, self.activity.id, side.elder.id, 1)
        db.session.commit()

    def ids(self) -> dict:
        return {
            "activity_id": self.activity.id,
            "signup_id": self.elder_signup.id,
            "person_id": self.side.elder.id,
            "hours_id": self.hours.id,
            "community_id": self.side.community.id,
        }


R = route


def _new_activity(scene):
    start = utcnow() + timedelta(days=1)
    return {
        "community_id": scene.side.community.id,
        "title": "读书会",
        "place": "图书角",
        "starts_at": start.isoformat(),
        "ends_at": (start + timedelta(hours=1)).isoformat(),
        "capacity": 10,
    }


PARTICIPATION_ROUTES = {
    ("GET", "/api/v1/activities"): R(200, ALL, foreign=None),
    ("POST", "/api/v1/activities"): R(201, MANAGERS, body=_new_activity),
    ("GET", "/api/v1/activities/<activity_id>"): R(200, ALL),
    ("POST", "/api/v1/activities/<activity_id>/cancel"): R(200, ORGANIZERS),
    ("POST", "/api/v1/activities/<activity_id>/signup"): R(200, {"resident"} | FOR_ELDER),
    ("DELETE", "/api/v1/activities/<activity_id>/signup"): R(
        200,
        {"resident"},
        others=404,
        overrides={"elder": 409, "relative": 409, "device": 403},
    ),
    ("POST", "/api/v1/activities/check-in"): R(
        200,
        {"resident"} | FOR_ELDER,
        others=409,
        overrides={"device": 403},
        body=lambda scene: {"token": scene.activity.checkin_token},
    ),
    ("GET", "/api/v1/activities/<activity_id>/check-in-link"): R(200, ORGANIZERS),
    ("GET", "/api/v1/activities/<activity_id>/signups"): R(200, ORGANIZERS),
    ("PUT", "/api/v1/activities/<activity_id>/signups/<signup_id>/attendance"): R(
        200, ORGANIZERS, body=lambda scene: {"attended": False}
    ),
    ("PUT", "/api/v1/activities/<activity_id>/hours/<person_id>"): R(
        200, ORGANIZERS, body=lambda scene: {"hours": 2}
    ),
    ("POST", "/api/v1/volunteer-hours/<hours_id>/certify"): R(200, ORGANIZERS),
    ("GET", "/api/v1/points/me"): R(200, PERSONS, foreign=None),
    ("PUT", "/api/v1/points/me/leaderboard"): R(
        200, PERSONS, body=lambda scene: {"show": True}, foreign=None
    ),
    ("GET", "/api/v1/communities/<community_id>/points/leaderboard"): R(200, ALL),
    ("GET", "/api/v1/communities/<community_id>/points/rules"): R(200, ALL),
    ("PUT", "/api/v1/communities/<community_id>/points/rules"): R(
        200, MANAGERS, body=lambda scene: {"source_kind": "vote_cast", "points": 4}
    ),
    ("GET", "/api/v1/people/<person_id>/points"): R(200, MANAGERS),
    ("POST", "/api/v1/people/<person_id>/points/redemptions"): R(
        201, MANAGERS, body=lambda scene: {"points": 1, "item": "香皂"}
    ),
}


def _call(client, scene, method, rule, headers, spec):
    path = rule
    for name, value in scene.ids().items():
        path = path.replace(f"<{name}>", str(value))
    return send(client, method, path, headers, spec, scene)


@parametrize(own_cases(PARTICIPATION_ROUTES))
def test_own_community(client, world, auth, method, rule, role):
    spec = PARTICIPATION_ROUTES[(method, rule)]
    scene = Scene(world.a)
    response = _call(client, scene, method, rule, auth.for_role(world, role), spec)
    check_status(response, expected_status(spec, role))


@parametrize(foreign_cases(PARTICIPATION_ROUTES))
def test_other_community_records_are_not_found(client, world, auth, method, rule, role):
    spec = PARTICIPATION_ROUTES[(method, rule)]
    scene = Scene(world.b)
    response = _call(client, scene, method, rule, auth.for_role(world, role), spec)
    check_status(response, spec["foreign"])
