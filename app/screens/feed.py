"""The lobby screens' feed: versions, doorbells, schedule boundaries, and each process's watcher.

Every change a screen should show bumps its community's feed version (`touch_feed`, in the same
transaction) and rings the bus after commit. Announcements do not call this module: they say
`events.changed("feed", community_id)` and create_app subscribed `touch_feed` to that
(app/__init__.py), so the feed may read announcements (`next_boundary`, `tick`) without a circle.

One `FeedWatcher` per process (started by the first stream, or by the voice thread) polls the
feed table — one small query, not one per screen — so streams held by other workers or hosts hear
changes without Redis too, and it wakes at the next schedule boundary to publish or expire items
on time. Each round it also runs the due jobs (app/infra/jobs.py): it is the embedded default's
scheduler.
"""

from __future__ import annotations

import logging
import os
import threading
from datetime import datetime

from flask import Flask, current_app
from sqlalchemy import func, insert, select, update

from app.extensions import db
from app.infra import events, jobs, uow
from app.models.base import utcnow
from app.models.kiosk import KioskFeed
from app.notices import announcements
from app.notices import common as notices

log = logging.getLogger("linli.kiosk")


# --- the feed ------------------------------------------------------------------------------------
def _insert_ignore(values: dict):
    dialect = db.session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as dialect_insert
    elif dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as dialect_insert
    else:  # pragma: no cover - other databases are not supported
        return insert(KioskFeed).values(**values)
    return (
        dialect_insert(KioskFeed)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["community_id"])
    )


def feed_channel(community_id: int) -> str:
    """The bus channel of a community's screens."""
    return f"community:{community_id}"


def device_channel(device_id: int) -> str:
    """The bus channel of one screen."""
    return f"device:{device_id}"


def touch_feed(community_id: int) -> int:
    """Bump the community's feed version and ring its screens after commit; returns the version."""
    now = utcnow()
    db.session.execute(
        _insert_ignore({"community_id": community_id, "version": 0, "updated_at": now})
    )
    version = db.session.execute(
        update(KioskFeed)
        .where(KioskFeed.community_id == community_id)
        .values(version=KioskFeed.version + 1, updated_at=now)
        .returning(KioskFeed.version)
    ).scalar_one()
    boundary = notices.next_boundary(community_id, now)
    db.session.execute(
        update(KioskFeed).where(KioskFeed.community_id == community_id).values(boundary_at=boundary)
    )
    events.publish_after_commit(
        feed_channel(community_id),
        {"type": "feed", "community_id": community_id, "version": int(version)},
    )
    return int(version)


def feed_version(community_id: int) -> int:
    """The community's current feed version (0 before anything was published)."""
    return int(
        db.session.scalar(select(KioskFeed.version).where(KioskFeed.community_id == community_id))
        or 0
    )


def notify_device(device_id: int, kind: str) -> None:
    """Tell one screen (after commit) about something only it cares about, e.g. 'revoked'."""
    events.publish_after_commit(device_channel(device_id), {"type": kind, "device_id": device_id})


def run_due_boundaries(now: datetime | None = None, force: bool = False) -> int:
    """Process every community whose schedule boundary has passed; returns how many (commits).

    Several processes may call this at once: claiming the boundary is one conditional UPDATE,
    so each boundary is processed once.
    """
    now = now or utcnow()
    query = select(KioskFeed.community_id)
    if not force:
        query = query.where(KioskFeed.boundary_at <= now)
    due = list(db.session.scalars(query))
    done = 0
    for community_id in due:
        claim = update(KioskFeed).where(KioskFeed.community_id == community_id)
        if not force:
            claim = claim.where(KioskFeed.boundary_at <= now)
        if db.session.execute(claim.values(boundary_at=None)).rowcount != 1:
            uow.rollback()
            continue
        if announcements.tick(now, community_id=community_id) == 0:
            touch_feed(community_id)  # a window edge or lookahead: same items, new time
        uow.commit()
        done += 1
    if force:
        # Communities without a feed row yet (nothing was ever touched) still get their statuses.
        announcements.tick(now)
        uow.commit()
    return done


def boundaries_job(now: datetime | None, sweep: bool) -> int:
    """The job "announcement_boundaries": from `flask jobs run` every community (also those
    without a feed row yet), from the watcher only those whose boundary has passed."""
    now = now or utcnow()
    if sweep:
        return run_due_boundaries(now, force=True)
    if not db.session.scalar(
        select(func.count()).select_from(KioskFeed).where(KioskFeed.boundary_at <= now)
    ):
        return 0
    return run_due_boundaries(now)


class FeedWatcher:
    """Per process: hears feed versions bumped by other processes; runs the due jobs."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self.versions: dict[int, int] = {}
        self._thread: threading.Thread | None = None
        self._pid: int | None = None
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self.schedule = jobs.Schedule()

    def ensure_running(self) -> None:
        """Start the watcher in this process (again after a fork); a no-op when disabled."""
        if self.app.config.get("KIOSK_FEED_POLL_SECONDS", 0) <= 0:
            return
        with self._lock:
            if self._thread is not None and self._pid == os.getpid() and self._thread.is_alive():
                return
            self._stop.clear()
            self.versions = {}
            self._pid = os.getpid()
            self._thread = threading.Thread(
                target=self._run, name="linli-feed-watcher", daemon=True
            )
            self._thread.start()

    def stop(self) -> None:
        """Stop (tests, shutdown)."""
        self._stop.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=5)
        self._thread = None

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                wait = self.poll_once()
            except Exception:
                log.warning("feed watcher poll failed", exc_info=True)
                wait = 2.0
            self._stop.wait(wait)

    def poll_once(self) -> float:
        """One round: run the due jobs (schedule boundaries, hourly purges), deliver newer
        versions to this process; returns the next wait."""
        with self.app.app_context():
            try:
                jobs.run_due(schedule=self.schedule)
            finally:
                db.session.remove()
        bus = events.get_bus(self.app)
        interval = float(self.app.config.get("KIOSK_FEED_POLL_SECONDS") or 0.25)
        if bus.redis_url:
            interval = max(interval, 5.0)  # Redis carries the doorbell; this is a safety net
        if bus.hub.subscriber_count() == 0:
            return interval
        with self.app.app_context():
            try:
                rows = db.session.execute(
                    select(KioskFeed.community_id, KioskFeed.version, KioskFeed.boundary_at)
                ).all()
            finally:
                db.session.remove()
        upcoming = None
        for community_id, version, boundary in rows:
            old = self.versions.get(community_id)
            if old is None or version > old:
                self.versions[community_id] = int(version)
                # Streams drop versions they already sent, so a repeat is harmless.
                bus.hub.deliver(
                    feed_channel(community_id),
                    {"type": "feed", "community_id": community_id, "version": int(version)},
                )
            if boundary is not None and (upcoming is None or boundary < upcoming):
                upcoming = boundary
        if upcoming is not None:
            interval = min(interval, max(0.05, (upcoming - utcnow()).total_seconds()))
        return interval


def watcher(app: Flask | None = None) -> FeedWatcher:
    """The app's feed watcher (created on first use)."""
    app = app or current_app._get_current_object()
    found = app.extensions.get("linli_feed_watcher")
    if found is None:
        found = app.extensions["linli_feed_watcher"] = FeedWatcher(app)
    return found
