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
