"""The event bus: in-process fan-out, after-commit delivery, Redis pub/sub across processes,
and the feed watcher that reaches other workers without Redis and fires schedule boundaries."""

import time
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import update

from app.infra import events
from app.infra.events import EventBus, LocalHub
from app.models.announcement import Announcement
from app.models.base import utcnow
from app.models.kiosk import KioskFeed
from app.screens import feed
from tests.live import redis_reachable

REDIS_URL = "redis://127.0.0.1:6379/0"


needs_redis = pytest.mark.skipif(not redis_reachable(REDIS_URL), reason="Redis is not running")


def test_local_hub_fans_out_and_forgets():
    hub = LocalHub()
    a = hub.subscribe(["community:1"])
    b = hub.subscribe(["community:1", "device:2"])
    c = hub.subscribe(["community:2"])
    assert hub.deliver("community:1", {"version": 1}) == 2
    assert a.get(0.1) == ("community:1", {"version": 1})
    assert b.get(0.1) == ("community:1", {"version": 1})
    assert c.get(0.05) is None
    a.close()
    assert hub.deliver("community:1", {"version": 2}) == 1
    b.close(), c.close()
    assert hub.subscriber_count() == 0 and hub.channels() == []


def test_a_slow_subscriber_keeps_only_the_newest_of_each_channel():
    hub = LocalHub()
    sub = hub.subscribe(["community:1", "device:2"])
    for v in range(200):
        hub.deliver("community:1", {"version": v})
    hub.deliver("device:2", {"type": "revoked"})
    assert sub.get(0.1) == ("community:1", {"version": 199})
    assert sub.get(0.1) == ("device:2", {"type": "revoked"})
    assert sub.get(0.05) is None


def test_messages_go_out_after_commit_only(app, db, world, bus):
    sub = bus.subscribe(["community:42"])
    try:
        events.publish_after_commit("community:42", {"version": 1})
        assert sub.get(0.05) is None  # not before the commit
        db.session.commit()
        assert sub.get(0.5) == ("community:42", {"version": 1})
        events.publish_after_commit("community:42", {"version": 2})
        db.session.rollback()
        db.session.commit()
        assert sub.get(0.1) is None  # a rolled-back change rings no bell
    finally:
        sub.close()


def test_publishing_through_the_api_rings_the_community(client, bus, world, post):
    sub = bus.subscribe([f"community:{world.a.community.id}"])
    other = bus.subscribe([f"community:{world.b.community.id}"])
    try:
        post(title="停水通知")
        channel, message = sub.get(1.0)
        assert message == {"type": "feed", "community_id": world.a.community.id, "version": 1}
        assert other.get(0.05) is None
    finally:
        sub.close(), other.close()


@needs_redis
def test_redis_carries_messages_between_processes():
    prefix = f"linli-test-{uuid.uuid4().hex[:8]}"
    worker_a, worker_b = EventBus(REDIS_URL, prefix), EventBus(REDIS_URL, prefix)
    try:
        on_b = worker_b.subscribe(["community:1"])
        on_a = worker_a.subscribe(["community:1"])
        started = time.monotonic()
        worker_a.publish("community:1", {"version": 3})
        assert on_b.get(2.0) == ("community:1", {"version": 3})
        assert time.monotonic() - started < 1.0
        # The publisher's own subscribers hear it once (through Redis), not twice.
        assert on_a.get(2.0) == ("community:1", {"version": 3})
        assert on_a.get(0.2) is None
        # Another prefix (another deployment on the same Redis) hears nothing.
        stranger = EventBus(REDIS_URL, prefix + "-other")
        try:
            far = stranger.subscribe(["community:1"])
            worker_a.publish("community:1", {"version": 4})
            assert on_b.get(2.0)[1] == {"version": 4}
            assert far.get(0.3) is None
        finally:
            stranger.stop()
    finally:
        worker_a.stop(), worker_b.stop()


def test_redis_down_still_reaches_this_process():
    bus = EventBus("redis://127.0.0.1:1/0", "linli-test")
    sub = bus.hub.subscribe(["community:1"])
    bus.publish("community:1", {"version": 1})
    assert sub.get(0.5) == ("community:1", {"version": 1})


@needs_redis
def test_api_publish_with_redis_reaches_another_worker(app, client, world, post, monkeypatch):
    prefix = f"linli-test-{uuid.uuid4().hex[:8]}"
    monkeypatch.setitem(app.extensions, "linli_events", EventBus(REDIS_URL, prefix))
    other_worker = EventBus(REDIS_URL, prefix)
    try:
        sub = other_worker.subscribe([f"community:{world.a.community.id}"])
        post(title="燃气检修", priority="urgent")
        channel, message = sub.get(2.0)
        assert message["version"] == 1 and message["type"] == "feed"
    finally:
        other_worker.stop()
        app.extensions["linli_events"].stop()


def test_feed_watcher_hears_other_workers_through_the_database(app, db, world, bus):
    watcher = feed.FeedWatcher(app)
    cid = world.a.community.id
    feed.touch_feed(cid)
    db.session.commit()
    sub = bus.subscribe([f"community:{cid}"])
    try:
        sub.get(0.2)  # the in-process doorbell of that commit
        watcher.poll_once()
        first = sub.get(0.2)
        assert first is not None and first[1]["version"] == 1
        # Another process bumps the version without this process's bus knowing.
        db.session.execute(
            update(KioskFeed)
            .where(KioskFeed.community_id == cid)
            .values(version=KioskFeed.version + 1)
        )
        db.session.commit()
        assert sub.get(0.05) is None
        watcher.poll_once()
        assert sub.get(0.5) == (
            f"community:{cid}",
            {"type": "feed", "community_id": cid, "version": 2},
        )
        watcher.poll_once()
        assert sub.get(0.05) is None  # nothing new, nothing sent
    finally:
        sub.close()


def test_scheduled_items_go_live_at_their_time_with_nobody_editing(
    app, db, world, bus, post, monkeypatch
):
    monkeypatch.setitem(app.config, "KIOSK_FEED_POLL_SECONDS", 5.0)
    cid = world.a.community.id
    start = utcnow() + timedelta(seconds=1.5)
    item = post(title="定时公告", publish_at=start.isoformat())
    sub = bus.subscribe([f"community:{cid}"])
    watcher = feed.watcher(app)
    try:
        while sub.get(0.05) is not None:
            pass
        watcher.ensure_running()
        # The watcher polls only every 5 s but wakes at the boundary itself.
        got = sub.get(4.0)
        while got is not None and got[1]["version"] < 2:
            got = sub.get(4.0)
        assert got is not None and got[1]["version"] >= 2
        assert utcnow() >= start and utcnow() - start < timedelta(seconds=2.5)
        db.session.expire_all()
        assert db.session.get(Announcement, item["id"]).status == "published"
    finally:
        watcher.stop()
        sub.close()
