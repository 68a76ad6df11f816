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
    from app.services import categories, idempotency
    from app.services.errors import Invalid

    spec = _spec(client)
    stated = {
        "code": _prop(spec, "CategoryCreate", "code")["pattern"],
        "key": next(p for p in spec["paths"]["/api/v1/cases"]["post"]["parameters"]
                    if p["name"] == "Idempotency-Key")["schema"]["pattern"],
    }
    assert _prop(spec, "Attribute", "code")["pattern"] == stated["code"]
    # PINs and phones state no pattern: full-width digits and separators are accepted too.
    assert "pattern" not in _prop(spec, "Join", "pin") and "pattern" not in _prop(
        spec, "Join", "phone")

    def code_ok(value):  # the rule a question's code goes through (as a category's does)
        try:
            categories._check_attributes([{"code": value, "description": "问题"}])
        except Invalid:
            return False
        return True

    samples = {
        "code": (["repair", "a", "lift-2", "x_y", "9", "a" * 40],
                 ["", "Repair", "-a", "_a", "a b", "报修", "a" * 41, "a\n", "ａ"]),
        "key": (["k", "a-B_9.~!", "x" * 200], ["", "a b", "密钥", "x" * 201, "a\tb", "k\n"]),
    }
    accepts = {"code": code_ok, "key": lambda v: bool(idempotency.KEY.fullmatch(v))}
    for rule, (good, bad) in samples.items():
        # JSON Schema patterns are ECMA-262: there "$" is the very end, as fullmatch is here
        pattern = re.compile(stated[rule])
        for value in good:
            assert pattern.fullmatch(value) and accepts[rule](value), (rule, value)
        for value in bad:
            assert not pattern.fullmatch(value), (rule, value)
            assert not accepts[rule](value), (rule, value)
