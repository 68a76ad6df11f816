"""The doorbell stream: SSE framing (retry, id, heartbeat, Last-Event-ID, end) over HTTP too."""

import time

import pytest

from app.infra.events import LocalHub
from kiosk import sse


def _stream(hub, **kw):
    sub = hub.subscribe(["community:1"])
    args = {
        "version": 5,
        "last_event_id": None,
        "heartbeat": 30.0,
        "lifetime": 300.0,
        "retry_ms": 3000,
    }
    args.update(kw)
    return sub, sse.frames(sub, **args)


def test_frames_start_with_retry_then_the_current_version():
    hub = LocalHub()
    sub, gen = _stream(hub)
    assert next(gen) == "retry: 3000\n: linli kiosk stream\n\n"
    assert next(gen) == 'id: 5\nevent: version\ndata: {"version":5}\n\n'
    hub.deliver("community:1", {"type": "feed", "version": 5})  # already sent
    hub.deliver("community:1", {"type": "feed", "version": 4})  # older
    hub.deliver("community:1", {"type": "feed", "version": 7})
    assert next(gen) == 'id: 7\nevent: version\ndata: {"version":7}\n\n'
    gen.close()
    assert sub.closed and hub.subscriber_count() == 0


def test_last_event_id_resumes_without_repeating():
    hub = LocalHub()
    _sub, gen = _stream(hub, last_event_id=5)
    assert next(gen).startswith("retry: ")
    hub.deliver("community:1", {"version": 6})
    assert next(gen).startswith("id: 6\n")
    gen.close()
    # A client that missed versions (or comes from an older database) gets the current one.
    for last in (3, 9):
        _sub, gen = _stream(hub, last_event_id=last)
        next(gen)
        assert next(gen).startswith("id: 5\n")
        gen.close()


def test_heartbeat_comments_keep_the_line_open():
    hub = LocalHub()
    _sub, gen = _stream(hub, heartbeat=0.1)
    next(gen), next(gen)
    started = time.monotonic()
    assert next(gen) == ": heartbeat\n\n"
    assert 0.05 < time.monotonic() - started < 1.0
    assert next(gen) == ": heartbeat\n\n"
    gen.close()


def test_stream_ends_by_itself_and_on_revocation():
    hub = LocalHub()
    _sub, gen = _stream(hub, lifetime=0.2, heartbeat=0.05)
    frames = list(gen)
    assert frames[-1].startswith("event: bye\n")
    assert hub.subscriber_count() == 0
    sub = hub.subscribe(["community:1", "device:9"])
    gen = sse.frames(sub, version=1, last_event_id=1, heartbeat=30, lifetime=300, retry_ms=1000)
    next(gen)
    hub.deliver("device:9", {"type": "revoked", "device_id": 9})
    assert next(gen) == "event: revoked\ndata: {}\n\n"
    with pytest.raises(StopIteration):
        next(gen)


def test_parse_last_event_id():
    assert sse.parse_last_event_id("12") == 12
    for bad in (None, "", "-1", "1e3", "abc", "9" * 40):
        assert sse.parse_last_event_id(bad) is None


# --- over HTTP ------------------------------------------------------------------------------------
def _ticket(client, screen):
    return client.post("/kiosk/api/ticket", headers=screen).get_json()["ticket"]


def test_http_stream_headers_and_live_versions(client, auth, world, post):
    screen = auth.headers(device=world.a.device)
    ticket = _ticket(client, screen)
    client.delete_cookie("kiosk_ticket", path="/kiosk/stream")
    response = client.get(f"/kiosk/stream?ticket={ticket}", buffered=False)
    try:
        assert response.status_code == 200
        assert response.mimetype == "text/event-stream"
        assert response.headers["X-Accel-Buffering"] == "no"
        assert "no-cache" in response.headers["Cache-Control"]
        frames = iter(response.response)
        assert next(frames).decode().startswith("retry: 3000\n")
        assert next(frames).decode() == 'id: 0\nevent: version\ndata: {"version":0}\n\n'
        post(title="停水通知")  # published and committed by the API
        assert next(frames).decode() == 'id: 1\nevent: version\ndata: {"version":1}\n\n'
        assert next(frames).decode() == ": heartbeat\n\n"
    finally:
        response.close()


def test_http_stream_resumes_from_last_event_id_and_by_cookie(client, auth, world, post):
    screen = auth.headers(device=world.a.device)
    post(title="一")
    _ticket(client, screen)  # sets the cookie only the stream path receives
    response = client.get("/kiosk/stream", headers={"Last-Event-ID": "1"}, buffered=False)
    try:
        assert response.status_code == 200
        frames = iter(response.response)
        next(frames)
        post(title="二")
        assert next(frames).decode().startswith("id: 2\n")
    finally:
        response.close()


def test_http_stream_accepts_a_bearer_device_token(client, auth, world):
    response = client.get(
        "/kiosk/stream", headers=auth.headers(device=world.a.device), buffered=False
    )
    try:
        assert response.status_code == 200
    finally:
        response.close()
    assert client.get("/kiosk/stream", headers=auth.headers(world.a.staff)).status_code == 401


def test_revoking_ends_the_open_stream(client, auth, world):
    screen = auth.headers(device=world.a.device)
    response = client.get("/kiosk/stream", headers=screen, buffered=False)
    try:
        frames = iter(response.response)
        next(frames), next(frames)
        client.delete(f"/api/v1/devices/{world.a.device.id}", headers=auth.headers(world.a.staff))
        rest = [f.decode() for f in frames]
        assert "event: revoked\ndata: {}\n\n" in rest
    finally:
        response.close()
