"""Authorization of every announcement and screen route: each role in its own community, and every
record of the other community reported as not found (with nothing changed there).

Written in the shape of tests/api/test_authz_matrix.py, whose route coverage counts KIOSK_ROUTES.
"""

from __future__ import annotations

import io

import pytest

from app.extensions import db
from app.models.announcement import Announcement
from app.notices import announcements
from app.people.actors import Actor
from app.screens import kiosk
from tests.matrix import ANON, ROLES, check_status, expected_status

ALL = frozenset(ROLES)
INTERNAL = frozenset({"staff", "grid_worker", "official", "official_writer", "admin"})
MANAGERS = frozenset({"staff", "official_writer", "admin"})
AUDIENCE = frozenset({"resident", "elder", "relative"})
# Workers who may look but not change: forbidden; everyone else never learns the record exists.
LOOK_NOT_TOUCH = {"grid_worker": 403, "official": 403}


class Scene:
    """One side's records, made on first use: a live urgent announcement and a draft."""

    def __init__(self, side):
        self.side = side
        self._live = self._draft = None

    def _post(self, **kw) -> int:
        a = announcements.create_announcement(
            Actor.for_person(self.side.staff), community_id=self.side.community.id, **kw
        )
        db.session.commit()
        return a.id

    @property
    def live(self) -> int:
        if self._live is None:
            self._live = self._post(title="燃气检修", body="请家中留人。", priority="urgent")
        return self._live

    @property
    def draft(self) -> int:
        if self._draft is None:
            self._draft = self._post(title="草稿", draft=True)
        return self._draft

    def pairing_code(self) -> str:
        code = kiosk.request_pairing(f"10.1.{self.side.community.id}.{id(self) % 250}")["code"]
        db.session.commit()
        return code


def _png() -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (8, 8), (10, 120, 200)).save(out, "PNG")
    return out.getvalue()


def R(success, allowed, others=403, *, target="live", body=None, files=None, overrides=None):
    """One route's expectations."""
    return {
        "success": success,
        "allowed": frozenset(allowed),
        "others": others,
        "target": target,
        "body": body,
        "files": files,
        "overrides": overrides or {},
    }


KIOSK_ROUTES = {
    ("GET", "/api/v1/announcements"): R(200, ALL),
    ("POST", "/api/v1/announcements"): R(
        201,
        MANAGERS,
        body=lambda s: {
            "title": "停水",
            "body": "明天停水。",
            "priority": "normal",
            "community_id": s.side.community.id,
        },
    ),
    ("GET", "/api/v1/announcements/<announcement_id>"): R(200, ALL),
    ("PATCH", "/api/v1/announcements/<announcement_id>"): R(
        200, MANAGERS, 404, body=lambda s: {"title": "燃气检修（改）"}, overrides=LOOK_NOT_TOUCH
    ),
    ("POST", "/api/v1/announcements/<announcement_id>/publish"): R(
        200, MANAGERS, 404, target="draft", overrides=LOOK_NOT_TOUCH
    ),
    ("POST", "/api/v1/announcements/<announcement_id>/withdraw"): R(
        200, MANAGERS, 404, overrides=LOOK_NOT_TOUCH
    ),
    ("GET", "/api/v1/announcements/<announcement_id>/revisions"): R(200, INTERNAL),
    ("POST", "/api/v1/announcements/<announcement_id>/ack"): R(200, AUDIENCE),
    ("GET", "/api/v1/announcements/<announcement_id>/follow-up"): R(200, INTERNAL),
    ("PUT", "/api/v1/announcements/<announcement_id>/image"): R(
        200,
        MANAGERS,
        404,
        files=lambda s: {"image": (io.BytesIO(_png()), "p.png")},
        overrides=LOOK_NOT_TOUCH,
    ),
    ("DELETE", "/api/v1/announcements/<announcement_id>/image"): R(
        200, MANAGERS, 404, overrides=LOOK_NOT_TOUCH
    ),
    ("GET", "/api/v1/communities/<community_id>/devices/status"): R(200, INTERNAL),
    ("PATCH", "/api/v1/devices/<device_id>"): R(
        200,
        MANAGERS,
        body=lambda s: {"name": "改名的屏", "quiet_start": "22:00", "quiet_end": "06:30"},
    ),
    ("POST", "/api/v1/devices/<device_id>/pairing"): R(
        200, MANAGERS, body=lambda s: {"code": s.pairing_code()}
    ),
}


def _headers(auth, world, role):
    return auth.for_role(world, role)


def _call(client, scene, method, rule, headers, spec):
    path = rule.replace("<community_id>", str(scene.side.community.id)).replace(
        "<device_id>", str(scene.side.device.id)
    )
    if "<announcement_id>" in path:
        target = scene.draft if spec["target"] == "draft" else scene.live
        path = path.replace("<announcement_id>", str(target))
    kwargs = {"headers": headers}
    if spec["body"] is not None:
        kwargs["json"] = spec["body"](scene)
    if spec["files"] is not None:
        kwargs.update(data=spec["files"](scene), content_type="multipart/form-data")
    db.session.commit()
    return client.open(path, method=method, buffered=True, **kwargs)


def _plain(rule: str) -> str:
    import re

    return re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"<\1>", rule)


def test_matrix_covers_every_route_of_announcements_and_screens(app):
    mine = set()
    for rule in app.url_map.iter_rules():
        blueprint = rule.endpoint.split(".")[0]
        if blueprint == "announcements" or (
            blueprint == "devices"
            and (
                "status" in rule.rule
                or "pairing" in rule.rule
                or rule.rule == "/api/v1/devices/<id:device_id>"
            )
        ):
            for method in rule.methods - {"HEAD", "OPTIONS"}:
                mine.add((method, _plain(rule.rule)))
    # The device registry's older routes (GET/DELETE one, list, register, token) are in the
    # core matrix; PATCH and pairing are this feature's.
    mine -= {("GET", "/api/v1/devices/<device_id>"), ("DELETE", "/api/v1/devices/<device_id>")}
    assert mine == set(KIOSK_ROUTES)


OWN = [(m, r, role) for (m, r) in KIOSK_ROUTES for role in [ANON, *ROLES]]


@pytest.mark.parametrize(
    ("method", "rule", "role"), OWN, ids=[f"{m} {r} {role}" for m, r, role in OWN]
)
def test_own_community(client, world, auth, method, rule, role):
    spec = KIOSK_ROUTES[(method, rule)]
    response = _call(client, Scene(world.a), method, rule, _headers(auth, world, role), spec)
    check_status(response, expected_status(spec, role))


FOREIGN = [
    (m, r, role)
    for (m, r) in KIOSK_ROUTES
    if "<" in r or m == "POST" and r == "/api/v1/announcements"
    for role in ROLES
    if role != "admin"
]


@pytest.mark.parametrize(
    ("method", "rule", "role"), FOREIGN, ids=[f"{m} {r} {role}" for m, r, role in FOREIGN]
)
def test_other_community_records_are_not_found(client, world, auth, method, rule, role):
    spec = KIOSK_ROUTES[(method, rule)]
    scene = Scene(world.b)
    live, draft = scene.live, scene.draft
    response = _call(client, scene, method, rule, _headers(auth, world, role), spec)
    assert response.status_code == 404, response.get_data(as_text=True)[:300]
    assert response.get_json()["code"] == 404
    db.session.expire_all()
    assert db.session.get(Announcement, live).title == "燃气检修"
    assert db.session.get(Announcement, live).status == "published"
    assert db.session.get(Announcement, draft).status == "draft"
    assert db.session.query(Announcement).filter_by(community_id=world.b.community.id).count() == 2
    assert world.b.device.name != "改名的屏" and world.b.device.revoked_at is None
