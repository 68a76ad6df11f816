"""Fixtures for announcements and lobby-screen tests."""

from __future__ import annotations

import pytest

from app.infra import events
from app.screens import feed


@pytest.fixture(autouse=True)
def kiosk_settings(app, monkeypatch):
    """No background feed watcher unless a test starts one; short stream timings."""
    monkeypatch.setitem(app.config, "KIOSK_FEED_POLL_SECONDS", 0)
    monkeypatch.setitem(app.config, "KIOSK_HEARTBEAT_SECONDS", 0.2)
    yield
    feed.watcher(app).stop()
    events.get_bus(app).stop()


@pytest.fixture()
def bus(app):
    """The app's event bus (in-process in tests)."""
    return events.get_bus(app)


@pytest.fixture()
def post(client, auth, world):
    """Post an announcement as community A's staff; returns the JSON."""
    headers = auth.headers(world.a.staff)

    def _post(expected: int = 201, **body):
        body.setdefault("title", "停水通知")
        body.setdefault("body", "明天 8:00 至 12:00 停水。\n\n请提前储水。")
        body.setdefault("priority", "normal")
        response = client.post("/api/v1/announcements", json=body, headers=headers)
        assert response.status_code == expected, response.get_json()
        return response.get_json()

    _post.headers = headers
    return _post
