"""The authorization matrix: every /api/v1 route × every role × own and foreign community.

`ROUTES` must name every API route (a new route without an entry fails
test_matrix_covers_every_route). Each entry gives the path-parameter resolvers, a valid body
for writes, the success status, which roles succeed, and what the others get.
"""

from __future__ import annotations

import pytest

from app.models import Person, ProxyLink
from tests import factories as f
from tests.matrix import ANON, ROLES, check_status, expected_status

ALL = frozenset(ROLES)
INTERNAL = frozenset({"staff", "grid_worker", "official", "official_writer", "admin"})
MANAGERS = frozenset({"staff", "official_writer", "admin"})
PERSONS = ALL - {"device"}


def _pending_link(side) -> int:
    newcomer = Person(display_name="新亲属", phone=f.phone(), pin_hash=side.resident.pin_hash)
    f.db.session.add(newcomer)
    f.db.session.flush()
    return f.proxy_link(newcomer, side.resident, status="pending").id


# Path parameter → how to find that record on one side of the world.
PARAMS = {
    "community_id": lambda w, s: s.community.id,
    "building_id": lambda w, s: s.community.buildings[0].id,
    "device_id": lambda w, s: s.device.id,
    "organization_id": lambda w, s: s.organization.id,
    "person_id": lambda w, s: s.elder.id,
    "link_id": lambda w, s: _pending_link(s),
}


def R(success, allowed, others=403, body=None, overrides=None):
    """One route's expectations."""
    return {
        "success": success,
        "allowed": frozenset(allowed),
        "others": others,
        "body": body,
        "overrides": overrides or {},
    }


ROUTES = {
    ("GET", "/api/v1/communities"): R(200, ALL),
    ("GET", "/api/v1/communities/<community_id>"): R(200, ALL),
    ("PATCH", "/api/v1/communities/<community_id>"): R(
        200, MANAGERS, body=lambda w, s: {"office_hours": "周一至周五 9:00-17:00"}
    ),
    ("GET", "/api/v1/communities/<community_id>/grids"): R(200, ALL),
    ("POST", "/api/v1/communities/<community_id>/grids"): R(
        201, MANAGERS, body=lambda w, s: {"name": "第九网格"}
    ),
    ("GET", "/api/v1/communities/<community_id>/buildings"): R(200, ALL),
    ("POST", "/api/v1/communities/<community_id>/buildings"): R(
        201, MANAGERS, body=lambda w, s: {"name": "9号楼", "grid_id": s.community.grids[0].id}
    ),
    ("GET", "/api/v1/buildings/<building_id>/households"): R(200, INTERNAL),
    ("POST", "/api/v1/buildings/<building_id>/households"): R(
        201, MANAGERS, body=lambda w, s: {"unit": "2", "room": "602"}
    ),
    ("GET", "/api/v1/communities/<community_id>/devices"): R(200, INTERNAL),
    ("POST", "/api/v1/communities/<community_id>/devices"): R(
        201, MANAGERS, body=lambda w, s: {"name": "2号楼大屏", "orientation": "portrait"}
    ),
    ("GET", "/api/v1/devices/<device_id>"): R(200, INTERNAL | {"device"}),
    ("DELETE", "/api/v1/devices/<device_id>"): R(200, MANAGERS),
    ("POST", "/api/v1/devices/<device_id>/token"): R(201, MANAGERS),
    ("POST", "/api/v1/communities/<community_id>/invitations"): R(
        201, MANAGERS, body=lambda w, s: {}
    ),
    ("GET", "/api/v1/communities/<community_id>/organizations"): R(200, ALL),
    ("POST", "/api/v1/communities/<community_id>/organizations"): R(
        201, MANAGERS, body=lambda w, s: {"name": "新物业", "kind": "property"}
    ),
    ("GET", "/api/v1/organizations/<organization_id>"): R(200, ALL),
    ("GET", "/api/v1/communities/<community_id>/people"): R(200, INTERNAL),
    ("POST", "/api/v1/communities/<community_id>/people"): R(
        201,
        MANAGERS,
        body=lambda w, s: {"display_name": "新居民", "phone": f.phone(), "pin": "258147"},
    ),
    ("GET", "/api/v1/people/<person_id>"): R(200, INTERNAL | {"elder", "relative"}, others=404),
    ("PATCH", "/api/v1/people/<person_id>"): R(
        200,
        MANAGERS | {"elder", "relative"},
        others=404,
        body=lambda w, s: {"display_name": "王奶奶"},
        overrides={"grid_worker": 403, "official": 403},
    ),
    ("PUT", "/api/v1/people/<person_id>/pin"): R(
        204,
        MANAGERS | {"elder", "relative"},
        others=404,
        body=lambda w, s: {"pin": "258147", "current_pin": f.PIN},
        overrides={"grid_worker": 403, "official": 403},
    ),
    ("POST", "/api/v1/people/<person_id>/roles"): R(
        201,
        MANAGERS,
        others=404,
        body=lambda w, s: {
            "role": "grid_worker",
            "community_id": s.community.id,
            "grid_id": s.community.grids[0].id,
        },
        overrides={"grid_worker": 403, "official": 403, "elder": 403, "relative": 403},
    ),
    ("GET", "/api/v1/audit-logs"): R(200, {"admin"}),
    ("GET", "/api/v1/me"): R(200, ALL),
    ("PATCH", "/api/v1/me"): R(200, PERSONS, body=lambda w, s: {"text_size": "xlarge"}),
    ("DELETE", "/api/v1/auth/token"): R(204, ALL),
    ("GET", "/api/v1/proxy-links"): R(200, PERSONS),
    ("POST", "/api/v1/proxy-links"): R(
        201,
        PERSONS - {"resident"},
        body=lambda w, s: {"resident_phone": s.resident.phone},
        overrides={"resident": 422},
    ),  # the resident's own number
    ("POST", "/api/v1/proxy-links/<link_id>/confirm"): R(
        200, MANAGERS | {"resident"}, others=404, overrides={"grid_worker": 403, "official": 403}
    ),
    ("DELETE", "/api/v1/proxy-links/<link_id>"): R(
        200, MANAGERS | {"resident"}, others=404, overrides={"grid_worker": 403, "official": 403}
    ),
}
# Public by design (tested in test_auth.py): signing in and joining.
PUBLIC = {("POST", "/api/v1/auth/token"), ("POST", "/api/v1/auth/join")}


def _headers(auth, world, role):
    return auth.for_role(world, role)


def _call(client, world, method, rule, side, headers, body_fn):
    path = rule
    for name, resolve in PARAMS.items():
        if f"<{name}>" in path:
            path = path.replace(f"<{name}>", str(resolve(world, side)))
    f.db.session.commit()
    kwargs = {"headers": headers}
    if body_fn is not None:
        kwargs["json"] = body_fn(world, side)
    return client.open(path, method=method, **kwargs)


def _feature_matrices() -> set:
    """Routes covered by the features' own matrices (tests/**/test_authz_matrix*.py, *_ROUTES)."""
    import importlib
    from pathlib import Path

    covered = set()
    root = Path(__file__).resolve().parents[1]
    for path in root.rglob("test_authz_matrix*.py"):
        if path.resolve() == Path(__file__).resolve():
            continue
        dotted = ".".join(path.relative_to(root.parent).with_suffix("").parts)
        module = importlib.import_module(dotted)
        for name, table in vars(module).items():
            if name.endswith("ROUTES") and isinstance(table, dict):
                covered |= set(table)
    return covered


def _plain(rule: str) -> str:
    import re

    return re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"<\1>", rule)


def test_matrix_covers_every_route(app):
    rules = set()
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1/"):
            continue
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            rules.add((method, _plain(rule.rule)))
    covered = set(ROUTES) | PUBLIC | {(m, _plain(r)) for m, r in _feature_matrices()}
    missing = sorted(rules - covered)
    assert not missing, f"routes without an authorization-matrix entry: {missing}"


CASES = [(m, r, role) for (m, r) in ROUTES for role in [ANON, *ROLES]]


@pytest.mark.parametrize(
    ("method", "rule", "role"), CASES, ids=[f"{m} {r} {role}" for m, r, role in CASES]
)
def test_own_community(client, world, auth, method, rule, role):
    spec = ROUTES[(method, rule)]
    response = _call(
        client, world, method, rule, world.a, _headers(auth, world, role), spec["body"]
    )
    check_status(response, expected_status(spec, role))


FOREIGN = [(m, r, role) for (m, r) in ROUTES if "<" in r for role in ROLES if role != "admin"]


@pytest.mark.parametrize(
    ("method", "rule", "role"), FOREIGN, ids=[f"{m} {r} {role}" for m, r, role in FOREIGN]
)
def test_foreign_community_ids_are_not_found(client, world, auth, method, rule, role, db):
    spec = ROUTES[(method, rule)]
    before = db.session.query(ProxyLink).count()
    response = _call(
        client, world, method, rule, world.b, _headers(auth, world, role), spec["body"]
    )
    assert response.status_code == 404, response.get_data(as_text=True)[:300]
    assert response.get_json()["code"] == 404
    # Nothing was changed on the other side.
    if method != "GET":
        db.session.expire_all()
        assert world.b.device.revoked_at is None
        assert world.b.elder.display_name == "独居老人"
        assert db.session.query(ProxyLink).count() == before + ("link_id" in rule)


def test_a_family_request_never_tells_who_has_the_number_or_where(client, world, auth, db):
    asker = Person(display_name="新亲属", phone=f.phone(), pin_hash=world.a.resident.pin_hash)
    db.session.add(asker)
    db.session.commit()
    headers = auth.headers(asker)
    # A resident of community B, a staff-side account, and a number nobody uses.
    numbers = [world.b.elder.phone, world.b.staff.phone, f.phone()]
    answers = [
        client.post(
            "/api/v1/proxy-links",
            headers=headers,
            json={"resident_phone": number, "relation": "儿子"},
        )
        for number in numbers
    ]
    assert [a.status_code for a in answers] == [201, 201, 201]
    bodies = [a.get_json() for a in answers]
    for body, number in zip(bodies, numbers, strict=True):
        assert body["resident_name"] is None and body["resident_id"] is None
        assert body["resident_phone"] == f"{number[:3]}****{number[-4:]}"
        assert body["status"] == "pending"
    assert {frozenset(b) for b in bodies} == {frozenset(bodies[0])}
    for path in ("/api/v1/proxy-links", "/api/v1/me"):
        text = client.get(path, headers=headers).get_data(as_text=True)
        assert world.b.elder.display_name not in text and world.b.staff.display_name not in text
    again = [
        client.post("/api/v1/proxy-links", headers=headers, json={"resident_phone": n})
        for n in numbers
    ]
    assert [a.status_code for a in again] == [409, 409, 409]
    # The elder sees who asks, agrees; then the relative learns whom they help.
    elder = auth.headers(world.b.elder)
    asking = [
        link
        for link in client.get("/api/v1/proxy-links", headers=elder).get_json()
        if link["proxy_id"] == asker.id
    ]
    assert [link["proxy_name"] for link in asking] == ["新亲属"]
    confirmed = client.post(f"/api/v1/proxy-links/{asking[0]['id']}/confirm", headers=elder)
    assert confirmed.status_code == 200
    mine = {
        link["id"]: link for link in client.get("/api/v1/proxy-links", headers=headers).get_json()
    }
    assert mine[asking[0]["id"]]["resident_name"] == world.b.elder.display_name
    assert mine[asking[0]["id"]]["resident_id"] == world.b.elder.id
    # A request that names nobody can be taken back by its relative, and seen by nobody else.
    ghost = bodies[2]["id"]
    check_status(client.post(f"/api/v1/proxy-links/{ghost}/confirm", headers=headers), 403)
    check_status(
        client.delete(f"/api/v1/proxy-links/{ghost}", headers=auth.headers(world.a.staff)), 404
    )
    assert client.delete(f"/api/v1/proxy-links/{ghost}", headers=headers).status_code == 200
