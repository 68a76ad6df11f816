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


# Dates a calendar of community affairs cannot mean: some cannot even be turned into UTC
# (0001-01-01 east of UTC, 9999-12-31 west of it). An activity's were a 500 when saved; an
# announcement's and a consultation's a 400 naming no field.
FAR_DATES = ["0001-01-01T00:00:00", "0001-01-01T00:00:00+08:00", "9999-12-31T23:00:00-05:00"]


@pytest.mark.parametrize("when", FAR_DATES)
def test_far_off_dates_are_a_field_error_and_store_nothing(client, world, staff_headers, db, when):
    from datetime import timedelta

    from app.models.activity import Activity
    from app.models.announcement import Announcement
    from app.models.base import utcnow
    from app.models.consultation import Consultation

    start = utcnow() + timedelta(days=1)
    activity = {
        "community_id": world.a.community.id,
        "title": "楼道清洁",
        "place": "2号楼前",
        "starts_at": start.isoformat(),
        "ends_at": (start + timedelta(hours=2)).isoformat(),
        "capacity": 5,
    }
    writes = [
        ("/api/v1/activities", activity, ("signup_opens_at", "starts_at", "ends_at")),
        (
            "/api/v1/announcements",
            {"title": "停水通知", "body": "明天停水。"},
            ("publish_at", "expire_at"),
        ),
        (
            "/api/v1/consultations",
            {"title": "加装电梯", "options": ["同意", "不同意"]},
            ("opens_at", "closes_at"),
        ),
    ]
    before = [db.session.query(m).count() for m in (Activity, Announcement, Consultation)]
    for path, good, fields in writes:
        for field in fields:
            r = client.post(path, headers=staff_headers, json={**good, field: when})
            body = _envelope(r, 422)
            assert field in body["errors"], (path, field, body)
    db.session.expire_all()
    assert [db.session.query(m).count() for m in (Activity, Announcement, Consultation)] == before


def test_a_token_label_and_login_are_text(client, world):
    resident = world.a.resident
    r = client.post(
        "/api/v1/auth/token", json={"login": resident.phone, "pin": f.PIN, "label": "a\x00b"}
    )
    assert "label" in _envelope(r, 422)["errors"]
    r = client.post("/api/v1/auth/token", json={"login": "138\x0000000000", "pin": f.PIN})
    assert "login" in _envelope(r, 422)["errors"]
    ok = client.post(
        "/api/v1/auth/token", json={"login": resident.phone, "pin": f.PIN, "label": "我的手机"}
    )
    assert ok.status_code == 201
