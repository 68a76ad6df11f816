"""The OpenAPI document validates, covers every /api/v1 route, and matches docs/openapi.json."""

import json
import re
from pathlib import Path

from openapi_spec_validator import validate

# WebSocket endpoints are not OpenAPI operations; the voice API documents its stream in
# POST /api/v1/voice/text.
NOT_OPENAPI = {"voice_stream.voice_stream"}
SNAPSHOT = Path(__file__).resolve().parents[2] / "docs" / "openapi.json"


def _spec(client):
    r = client.get("/api/openapi.json")
    assert r.status_code == 200
    return r.get_json()


def test_document_is_valid_openapi(client):
    validate(_spec(client))


def test_every_api_route_is_documented_with_a_summary(app, client):
    paths = _spec(client)["paths"]
    missing, unsummarised = [], []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1/") or rule.endpoint in NOT_OPENAPI:
            continue
        path = re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"{\1}", rule.rule)
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            op = paths.get(path, {}).get(method.lower())
            if op is None:
                missing.append(f"{method} {path}")
            elif not op.get("summary"):
                unsummarised.append(f"{method} {path}")
    assert not missing, missing
    assert not unsummarised, unsummarised


def test_errors_are_documented_in_the_envelope(client):
    spec = _spec(client)
    error = spec["components"]["schemas"]["Error"]["properties"]
    assert {"code", "status", "message", "errors"} <= set(error)


def test_committed_snapshot_matches(client):
    # The API diff a reviewer reads: regenerate with `make openapi` when the API changes.
    current = _spec(client)
    assert SNAPSHOT.exists(), "run `make openapi` to write docs/openapi.json"
    committed = json.loads(SNAPSHOT.read_text())
    assert committed == current, "the API changed: run `make openapi` and commit docs/openapi.json"


def _prop(spec, schema, name):
    return spec["components"]["schemas"][schema]["properties"][name]


def test_stated_patterns_agree_with_what_the_services_accept(client):
    # The document states rules the services check; a client that validates against it must
    # neither refuse what the service takes nor send what the service refuses.
    from app.affairs import categories, common
    from app.infra import idempotency, text
    from app.infra.errors import Invalid

    spec = _spec(client)
    stated = {
        "code": _prop(spec, "CategoryCreate", "code")["pattern"],
        "key": next(
            p
            for p in spec["paths"]["/api/v1/cases"]["post"]["parameters"]
            if p["name"] == "Idempotency-Key"
        )["schema"]["pattern"],
    }
    assert _prop(spec, "Attribute", "code")["pattern"] == stated["code"]
    stated.update(
        pin=_prop(spec, "Join", "pin")["pattern"],
        phone=_prop(spec, "Join", "phone")["pattern"],
        reference=next(
            p
            for p in spec["paths"]["/api/v1/cases/by-reference"]["get"]["parameters"]
            if p["name"] == "reference"
        )["schema"]["pattern"],
        name=_prop(spec, "Join", "display_name")["pattern"],
    )

    def code_ok(value):  # the rule a question's code goes through (as a category's does)
        try:
            categories._check_attributes([{"code": value, "description": "问题"}])
        except Invalid:
            return False
        return True

    def service_ok(check):
        def accepts(value):
            try:
                check(value)
            except Invalid:
                return False
            return True

        return accepts

    samples = {
        "code": (
            ["repair", "a", "lift-2", "x_y", "9", "a" * 40],
            ["", "Repair", "-a", "_a", "a b", "报修", "a" * 41, "a\n", "ａ"],
        ),
        "key": (["k", "a-B_9.~!", "x" * 200], ["", "a b", "密钥", "x" * 201, "a\tb", "k\n"]),
        # full-width digits typed by a Chinese input method count as digits
        "pin": (
            ["135790", "１３５７９０", "13５79０"],
            ["", "12345", "1234567", "abcdef", "000000", "123456", "１１１１１１", "13579\n"],
        ),
        # the usual spellings (the service also takes brackets and separators anywhere)
        "phone": (
            [
                "13912345678",
                "139 1234 5678",
                "139-1234-5678",
                "+8613912345678",
                "+86 139 1234 5678",
                "008613912345678",
                "１３９１２３４５６７８",
            ],
            ["", "12912345678", "1391234567", "139123456789", "phone", "+87 13912345678"],
        ),
        "reference": (
            ["2026-000123", "2026 123", "2026000123", " 2026-1 "],
            ["", "2026", "abc", "2026-00012345678901", "20-26"],
        ),
        "name": (
            ["张三", "Li Wei", "3号楼", " 王 "],
            ["", "   ", "\u200b", "a\nb", "a\tb", "\u202eabc", "\x00a"],
        ),
    }
    accepts = {
        "code": code_ok,
        "key": lambda v: bool(idempotency.KEY.fullmatch(v)),
        "pin": service_ok(text.check_pin),
        "phone": service_ok(text.normalize_phone),
        "reference": lambda v: common.normalize_reference(v) is not None,
        "name": service_ok(lambda v: text.clean_name(v, "name", max_length=80)),
    }
    for rule, (good, bad) in samples.items():
        # JSON Schema patterns are ECMA-262: there "$" is the very end, as fullmatch is here
        pattern = re.compile(stated[rule])
        for value in good:
            assert pattern.fullmatch(value) and accepts[rule](value), (rule, value)
        for value in bad:
            assert not pattern.fullmatch(value), (rule, value)
            assert not accepts[rule](value), (rule, value)


PUBLIC_OPERATIONS = {
    "POST /api/v1/auth/token",
    "POST /api/v1/auth/join",
    "GET /api/v1/voice/speech/{speech_id}",
}


def test_security_is_declared_per_operation(client):
    # Tools learn of the bearer token (and of the pages' cookie session with its CSRF header)
    # from the document; an operation anyone may call says so with an empty list.
    spec = _spec(client)
    schemes = spec["components"]["securitySchemes"]
    assert schemes["bearerToken"] == {**schemes["bearerToken"], "type": "http", "scheme": "bearer"}
    assert schemes["cookieSession"]["in"] == "cookie"
    assert schemes["csrfToken"] == {**schemes["csrfToken"], "in": "header", "name": "X-CSRFToken"}
    public = set()
    for path, item in spec["paths"].items():
        for method, op in item.items():
            if method == "parameters":
                continue
            label = f"{method.upper()} {path}"
            assert "security" in op, label
            if op["security"] == []:
                public.add(label)
                continue
            assert {"bearerToken": []} in op["security"], label
            cookie = next(r for r in op["security"] if "cookieSession" in r)
            assert ("csrfToken" in cookie) == (method not in ("get", "head")), label
    assert public == PUBLIC_OPERATIONS


def test_operations_that_need_sign_in_refuse_anonymous_callers(client, records):
    # What the document says is what the app does: every GET that needs a signed-in caller
    # answers an anonymous one 401, asked about real records (GETs with required query
    # parameters would answer 422 for a missing one first, so they are left out).
    spec = _spec(client)
    _headers, ids = records["staff"]
    checked = 0
    for path, item in spec["paths"].items():
        op = item.get("get")
        if (
            op is None
            or op["security"] == []
            or any(p.get("required") and p["in"] == "query" for p in op.get("parameters", []))
        ):
            continue
        r = client.get(re.sub(r"\{([a-z_]+)\}", lambda m: str(ids.get(m.group(1)) or 1), path))
        assert r.status_code == 401, (path, r.status_code)
        checked += 1
    assert checked > 20


def test_rules_across_fields_agree_with_the_service(client, auth, records, world):
    # The oneOf/anyOf rules the document states (fields alone cannot) refuse what the service
    # refuses, and let through what it takes.
    from openapi_schema_validator import OAS30Validator

    spec = _spec(client)
    schemas = spec["components"]["schemas"]

    def doc_ok(name, body):
        return OAS30Validator({**schemas[name], "components": spec["components"]}).is_valid(body)

    staff, ids = records["staff"]
    org = world.a.organization.id
    assign = f"/api/v1/cases/{ids['case_id']}/assignment"
    for body, ok in [
        ({"organization_id": org}, True),
        ({}, False),
        ({"organization_id": org, "person_id": world.a.grid_worker.id}, False),
        ({"organization_id": None, "person_id": None}, False),
    ]:
        assert doc_ok("Assign", body) is ok, body
        r = client.post(assign, headers=staff, json=body)
        assert (r.status_code == 200) is ok, (body, r.get_json())
    for body, ok in [
        ({"login": world.a.resident.phone, "pin": "246813"}, True),
        ({"login": world.a.resident.phone}, False),
        (
            {"login": world.a.resident.phone, "pin": "246813", "password": "correct horse battery"},
            False,
        ),
    ]:
        assert doc_ok("TokenRequest", body) is ok, body
        r = client.post("/api/v1/auth/token", json=body)
        assert (r.status_code == 201) is ok, (body, r.get_json())


def test_rules_between_two_fields_agree_with_the_service(client, records, world):
    # Coordinates come together, a rating only with "confirm", a rejection says why, a
    # category has one kind of handler, a daily span has both ends: the document says what
    # the service does, both ways.
    from openapi_schema_validator import OAS30Validator

    spec = _spec(client)

    def doc_ok(name, body):
        schema = spec["components"]["schemas"][name]
        return OAS30Validator({**schema, "components": spec["components"]}).is_valid(body)

    staff, ids = records["staff"]
    case_url = f"/api/v1/cases/{ids['case_id']}"
    for body, ok in [
        ({"latitude": 39.9}, False),
        ({"latitude": 39.9, "longitude": None}, False),
        ({"latitude": 39.9, "longitude": 116.4}, True),
        ({"latitude": None, "longitude": None}, True),
        ({"is_public": False}, True),
    ]:
        assert doc_ok("CaseUpdate", body) is ok, body
        r = client.patch(case_url, headers=staff, json=body)
        assert (r.status_code == 200) is ok, (body, r.get_json())
    # checked before the case's state is: each of these is refused for its shape
    for body in (
        {"action": "accept", "rating": 4},
        {"action": "reject"},
        {"action": "reject", "reason": "  ", "note": "not ours"},
        {"action": "reject", "reason": None, "note": " "},
    ):
        assert not doc_ok("Transition", body), body
        r = client.post(f"{case_url}/transitions", headers=staff, json=body)
        assert r.status_code == 422, (body, r.get_json())
    for body in (
        {"action": "reject", "note": "Not a matter for the committee."},
        {"action": "reject", "reason": "Not ours.", "note": None},
        {"action": "confirm", "rating": 5},
        {"action": "accept", "rating": None},
    ):
        assert doc_ok("Transition", body), body

    category_url = f"/api/v1/case-categories/{ids['category_id']}"
    org = world.a.organization.id
    both = {"handler_role": "grid_worker", "handler_organization_id": org}
    assert not doc_ok("CategoryUpdate", both)
    assert client.patch(category_url, headers=staff, json=both).status_code == 422
    # naming one kind of handler hands the category over from the other
    for body, expect in [
        ({"handler_organization_id": org}, (org, None)),
        ({"handler_role": "grid_worker"}, (None, "grid_worker")),
        ({"handler_organization_id": org, "handler_role": None}, (org, None)),
    ]:
        assert doc_ok("CategoryUpdate", body), body
        r = client.patch(category_url, headers=staff, json=body)
        assert r.status_code == 200, (body, r.get_json())
        got = r.get_json()
        assert (got["handler_organization_id"], got["handler_role"]) == expect, body

    device_url = f"/api/v1/devices/{ids['device_id']}"
    for body, ok in [
        ({"quiet_start": "22:00"}, False),
        ({"quiet_start": "22:00", "quiet_end": None}, False),
        ({"quiet_start": "22:00", "quiet_end": "07:00"}, True),
        ({"quiet_start": None, "quiet_end": None}, True),
    ]:
        assert doc_ok("DeviceUpdate", body) is ok, body
        r = client.patch(device_url, headers=staff, json=body)
        assert (r.status_code == 200) is ok, (body, r.get_json())
    for window, ok in [
        ({"start": "08:00"}, False),
        ({"start": "08:00", "end": None}, False),
        ({"start": "08:00", "end": "18:00", "days": [1, 2]}, True),
        ({"days": [6, 7]}, True),
    ]:
        body = {"title": "停水通知", "body": "明天上午停水。", "window": window}
        assert doc_ok("AnnouncementCreate", body) is ok, window
        r = client.post("/api/v1/announcements", headers=staff, json=body)
        assert (r.status_code == 201) is ok, (window, r.get_json())
