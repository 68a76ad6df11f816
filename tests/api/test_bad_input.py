"""Bad input gets a clear 4xx in the one envelope, never a 500, and nothing is stored half-way."""

from __future__ import annotations

import json

import pytest

from app.models import AuditLog, Building, Grid, Person
from tests import factories as f
from tests.api.test_authz_matrix import PARAMS, ROUTES

# Each of these must be refused wherever a string goes.
HOSTILE_STRINGS = ["\x00", "a\x00b", "\u202eevil", "x" * 10_000, "<script>alert(1)</script>\u0007"]
WRONG_TYPES = [None, 12, 1.5, True, [], {}, ["a"], {"a": 1}, 2**70, -1]


def _envelope(response, status=None):
    assert response.status_code < 500, response.get_data(as_text=True)[:300]
    assert 400 <= response.status_code < 500
    body = response.get_json()
    assert (
        set(body) <= {"code", "status", "message", "errors"}
        and body["code"] == response.status_code
        and body["message"]
    )
    if status is not None:
        assert response.status_code == status
    return body


@pytest.fixture()
def staff_headers(world, auth):
    return auth.headers(world.a.staff)


def _path(world, rule):
    for name, resolve in PARAMS.items():
        rule = rule.replace(f"<{name}>", str(resolve(world, world.a)))
    f.db.session.commit()
    return rule


def _counts(db):
    return (
        db.session.query(Person).count(),
        db.session.query(Grid).count(),
        db.session.query(Building).count(),
    )


WRITES = [(m, r) for (m, r), spec in ROUTES.items() if spec["body"] is not None]


@pytest.mark.parametrize(("method", "rule"), WRITES, ids=[f"{m} {r}" for m, r in WRITES])
def test_every_write_route_refuses_hostile_field_values(
    client, world, staff_headers, db, method, rule
):
    good = ROUTES[(method, rule)]["body"](world, world.a)
    path = _path(world, rule)
    before = _counts(db)
    for field in list(good) or ["unexpected"]:
        for value in HOSTILE_STRINGS:
            response = client.open(
                path, method=method, json={**good, field: value}, headers=staff_headers
            )
            _envelope(response)
        for value in WRONG_TYPES:
            response = client.open(
                path, method=method, json={**good, field: value}, headers=staff_headers
            )
            # Some of these are legal (null for an optional field); none may crash.
            assert response.status_code < 500, (
                field,
                repr(value)[:40],
                response.get_data(as_text=True)[:200],
            )
    db.session.expire_all()
    if not good:  # bodies with no fields: only the unknown field was tried
        assert _counts(db) == before


@pytest.mark.parametrize(("method", "rule"), WRITES, ids=[f"{m} {r}" for m, r in WRITES])
def test_malformed_and_mistyped_bodies(client, world, staff_headers, method, rule):
    path = _path(world, rule)
    for raw in ["{bad", "[1,2", '{"a": }', "\x00", "null", "[]", '"text"', "1", "{" * 5000]:
        r = client.open(
            path, method=method, data=raw, content_type="application/json", headers=staff_headers
        )
        body = _envelope(r)
        assert r.status_code in (400, 422), (raw[:20], body)
    r = client.open(path, method=method, json={"surprise": 1}, headers=staff_headers)
    assert "surprise" in _envelope(r, 422)["errors"]


def test_unknown_field_named_in_errors(client, world, staff_headers):
    r = client.post(
        f"/api/v1/communities/{world.a.community.id}/grids",
        json={"name": "第三网格", "is_admin": True},
        headers=staff_headers,
    )
    body = _envelope(r, 422)
    assert body["errors"] == {"is_admin": ["Unknown field."]}


def test_oversize_body_is_413_and_nothing_stored(client, world, staff_headers, db):
    big = json.dumps({"name": "x" * (9 * 1024 * 1024)})
    r = client.post(
        f"/api/v1/communities/{world.a.community.id}/grids",
        data=big,
        content_type="application/json",
        headers=staff_headers,
    )
    _envelope(r, 413)
    assert db.session.query(Grid).filter(Grid.name.like("xxx%")).count() == 0


@pytest.mark.parametrize(
    "bad_id",
    ["0", "-1", "abc", "99999999999999999999", "1.5", "%00", "9223372036854775808", "2147483648"],
)
def test_bad_ids_in_paths_are_404(client, world, staff_headers, bad_id):
    r = client.get(f"/api/v1/people/{bad_id}", headers=staff_headers)
    _envelope(r, 404)


def test_biggest_valid_id_is_a_clean_404(client, world, staff_headers):
    r = client.get(f"/api/v1/people/{2**31 - 1}", headers=staff_headers)
    _envelope(r, 404)


@pytest.mark.parametrize(
    "query",
    [
        "page=abc",
        "page=0",
        "per_page=100000",
        "q=%00",
        "care_flag=rich",
        "page=99999999999999999999",
    ],
)
def test_bad_query_strings(client, world, staff_headers, query):
    r = client.get(
        f"/api/v1/communities/{world.a.community.id}/people?{query}", headers=staff_headers
    )
    _envelope(r, 422)


def test_form_encoded_body_is_rejected_cleanly(client, world, staff_headers):
    r = client.post(
        f"/api/v1/communities/{world.a.community.id}/grids",
        data={"name": "第三网格"},
        headers=staff_headers,
    )
    body = _envelope(r, 422)
    assert "name" in body["errors"]


def test_wrong_method_is_405_in_envelope(client, world, staff_headers):
    r = client.put("/api/v1/communities", headers=staff_headers)
    _envelope(r, 405)
    assert "GET" in r.headers["Allow"]


def test_failed_registration_leaves_no_partial_person_or_audit(client, world, staff_headers, db):
    before_people = db.session.query(Person).count()
    before_audit = db.session.query(AuditLog).count()
    r = client.post(
        f"/api/v1/communities/{world.a.community.id}/people",
        headers=staff_headers,
        json={"display_name": "张三", "phone": world.a.resident.phone, "pin": "258147"},
    )
    _envelope(r, 409)
    db.session.expire_all()
    assert db.session.query(Person).count() == before_people
    assert db.session.query(AuditLog).count() == before_audit


def test_forged_and_malformed_authorization_headers(client, world):
    for header in [
        "Bearer",
        "Bearer ",
        "Basic abc",
        "Bearer " + "x" * 5000,
        "Bearer \u202e",
        "bearer ' OR 1=1 --",
    ]:
        r = client.get("/api/v1/me", headers={"Authorization": header})
        _envelope(r, 401)


def test_csrf_required_for_cookie_session_api_writes(client, world, db):
    # A staff member signed in to the console (cookie session) without a CSRF token.
    page = client.get("/staff/login")
    assert page.status_code == 200
    import re

    token = re.search(r'name="csrf_token" value="([^"]+)"', page.get_data(as_text=True)).group(1)
    r = client.post(
        "/staff/login",
        data={"login": world.a.staff.username, "password": f.PASSWORD, "csrf_token": token},
    )
    assert r.status_code == 302
    forged = client.post(
        f"/api/v1/communities/{world.a.community.id}/grids", json={"name": "跨站网格"}
    )
    _envelope(forged, 400)
    ok = client.post(
        f"/api/v1/communities/{world.a.community.id}/grids",
        json={"name": "本站网格"},
        headers={"X-CSRFToken": token},
    )
    assert ok.status_code == 201
