"""Authorization of every voice route: any signed-in caller (person, family proxy, screen) may
talk to the assistant; anonymous callers get 401; rendered speech is public by its unguessable
URL. VOICE_ROUTES is read by tests/api/test_authz_matrix.py (every API route has an entry)."""

from __future__ import annotations

import pytest

from tests.matrix import ANON, ROLES, check_status, expected_status

ALL = frozenset(ROLES)


def R(success, allowed=ALL, anonymous=401):
    """One route's expectations."""
    return {"success": success, "allowed": frozenset(allowed), "anonymous": anonymous}


VOICE_ROUTES = {
    ("POST", "/api/v1/voice/text"): R(200),
    ("POST", "/api/v1/voice/conversations"): R(201),
    ("DELETE", "/api/v1/voice/conversations/<conversation_id>"): R(204),
    ("POST", "/api/v1/voice/utterances"): R(200),
    ("POST", "/api/v1/voice/transcriptions"): R(200),
    ("GET", "/api/v1/voice/status"): R(200),
    ("GET", "/api/v1/voice/speech"): R(200),
    ("GET", "/api/v1/voice/speech/<speech_id>"): R(200, anonymous=200),
    # The WebSocket (not an OpenAPI operation): tests/voice_app/test_stream.py.
    ("GET", "/api/v1/voice/stream"): None,
}


def _headers(auth, world, role):
    return auth.for_role(world, role)


def _call(client, auth, world, say, method, rule, headers, role):
    if rule.endswith("<conversation_id>"):
        owner = headers if role != ANON else _headers(auth, world, "resident")
        started = client.post("/api/v1/voice/conversations", json={}, headers=owner)
        path = rule.replace("<conversation_id>", started.get_json()["conversation_id"])
        return client.open(path, method=method, headers=headers)
    if rule.endswith("<speech_id>"):
        reply = client.post(
            "/api/v1/voice/conversations", json={}, headers=_headers(auth, world, "resident")
        ).get_json()
        return client.get(reply["reply_audio_url"], headers=headers, buffered=True)
    if rule.endswith("/utterances") or rule.endswith("/transcriptions"):
        return client.post(
            rule + "?language=ko", data=say("공지 사항"), headers=headers, content_type="audio/wav"
        )
    if rule.endswith("/speech"):
        return client.get(rule, query_string={"text": "您好"}, headers=headers, buffered=True)
    if method == "GET":
        return client.get(rule, headers=headers)
    body = {"text": "听公告"} if rule.endswith("/text") else {}
    return client.open(rule, method=method, json=body, headers=headers)


CASES = [(m, r, role) for (m, r), spec in VOICE_ROUTES.items() if spec for role in [ANON, *ROLES]]


@pytest.mark.parametrize(
    ("method", "rule", "role"), CASES, ids=[f"{m} {r} {role}" for m, r, role in CASES]
)
def test_every_caller(client, auth, cats, say, method, rule, role):
    spec = VOICE_ROUTES[(method, rule)]
    response = _call(client, auth, cats, say, method, rule, _headers(auth, cats, role), role)
    check_status(response, expected_status(spec, role))


def test_every_voice_route_is_in_the_matrix(app):
    import re

    rules = set()
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/v1/voice"):
            plain = re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"<\1>", rule.rule)
            rules |= {(m, plain) for m in rule.methods - {"HEAD", "OPTIONS"}}
    assert rules == set(VOICE_ROUTES)
