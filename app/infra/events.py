"""The event bus: small doorbell messages for live clients (lobby screens), sent after commit.

A message is a small JSON-able dict on a channel such as ``community:3`` or ``device:7``; it says
*that* something changed (with a version), never *what* — clients re-fetch a snapshot.

Backends:
- in-process (the embedded default): publishers and subscribers in one process meet in a
  `LocalHub`;
- Redis pub/sub when REDIS_URL is set: `publish` goes to Redis, and one listener per process feeds
  every message into that process's hub, so several gunicorn workers or hosts all hear it.

Other processes without Redis are reached by `app.screens.feed.FeedWatcher`, which polls the
feed versions in the database (one cheap query per process, not per client) and feeds the hub.

Services never publish directly: `publish_after_commit` queues the message on the session and it
goes out only when the transaction commits (a rollback drops it), so a client that re-fetches on
the doorbell always sees the new state.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Iterable

from flask import Flask, current_app, has_app_context
from sqlalchemy import event
from sqlalchemy.orm import Session

log = logging.getLogger("linli.events")

_PENDING_KEY = "linli_events"


class Subscription:
    """A client's mailbox: the newest message of each subscribed channel, oldest channel first.

    Only the newest version matters to a doorbell, so a slow reader never piles up a backlog;
    an Event (cooperative under gevent) wakes the reader, which is cheaper than a Queue when a
    thousand readers wake at once.
    """

    def __init__(self, hub: LocalHub, channels: tuple[str, ...]):
        self.hub = hub
        self.channels = channels
        self._pending: dict[str, dict] = {}
        self._lock = threading.Lock()
        self._ready = threading.Event()
        self.closed = False

    def put(self, channel: str, message: dict) -> None:
        """Deliver a message (replacing an unread one of the same channel)."""
        with self._lock:
            self._pending.pop(channel, None)
            self._pending[channel] = message
            self._ready.set()

    def get(self, timeout: float | None = None) -> tuple[str, dict] | None:
        """The next (channel, message), or None after `timeout` seconds."""
        if not self._ready.wait(timeout):
            return None
        with self._lock:
            if not self._pending:
                self._ready.clear()
                return None
            channel = next(iter(self._pending))
            message = self._pending.pop(channel)
            if not self._pending:
                self._ready.clear()
            return channel, message

    def close(self) -> None:
        """Stop receiving."""
        if not self.closed:
            self.closed = True
            self.hub.unsubscribe(self)

    def __enter__(self) -> Subscription:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class LocalHub:
    """In-process fan-out from channels to subscriptions."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._subs: dict[str, set[Subscription]] = {}

    def subscribe(self, channels: Iterable[str]) -> Subscription:
        """A new subscription to `channels`."""
        sub = Subscription(self, tuple(channels))
        with self._lock:
            for channel in sub.channels:
                self._subs.setdefault(channel, set()).add(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        """Forget a subscription."""
        with self._lock:
            for channel in sub.channels:
                subs = self._subs.get(channel)
                if subs is not None:
                    subs.discard(sub)
                    if not subs:
                        del self._subs[channel]

    def deliver(self, channel: str, message: dict) -> int:
        """Hand a message to every subscriber of the channel; returns how many."""
        with self._lock:
            targets = list(self._subs.get(channel, ()))
        for sub in targets:
            sub.put(channel, message)
        return len(targets)

    def channels(self) -> list[str]:
        """Channels with at least one subscriber."""
        with self._lock:
            return list(self._subs)

    def subscriber_count(self) -> int:
        """Open subscriptions (a subscription counts once)."""
        with self._lock:
            return len({s for subs in self._subs.values() for s in subs})


class EventBus:
    """Publish/subscribe for one app in one process: in-process, or over Redis when configured."""

    def __init__(self, redis_url: str | None = None, prefix: str = "linli") -> None:
        self.hub = LocalHub()
        self.redis_url = redis_url
        self.prefix = prefix.rstrip(":") + ":"
        self._redis = None
        self._listener: threading.Thread | None = None
        self._listener_pid: int | None = None
        self._listener_ready = threading.Event()
        self._stopping = False
        self._start_lock = threading.Lock()

    @property
    def backend(self) -> str:
        """'redis' or 'local'."""
        return "redis" if self.redis_url else "local"

    # --- publishing -------------------------------------------------------------------------
    def publish(self, channel: str, message: dict) -> None:
        """Send a message now (services use publish_after_commit instead)."""
        if self.redis_url:
            try:
                self._client().publish(self.prefix + channel, json.dumps(message))
                return
            except Exception:  # Redis down: this process still hears it; others poll the feed
                log.warning("redis publish failed; delivering in-process only", exc_info=True)
        self.hub.deliver(channel, message)

    # --- subscribing ------------------------------------------------------------------------
    def subscribe(self, channels: Iterable[str]) -> Subscription:
        """Subscribe this process to channels (starts the Redis listener on first use)."""
        if self.redis_url:
            self.start_listener()
        return self.hub.subscribe(channels)

    def start_listener(self, wait: float = 2.0) -> None:
        """Start (once per process, also after a fork) the thread that feeds Redis into the hub."""
        if not self.redis_url:
            return
        pid = os.getpid()
        with self._start_lock:
            if (
                self._listener is not None
                and self._listener_pid == pid
                and self._listener.is_alive()
            ):
                return
            self._redis = None  # never reuse a connection pool across fork
            self._listener_ready.clear()
            self._stopping = False
            self._listener_pid = pid
            self._listener = threading.Thread(
                target=self._listen, name="linli-events-redis", daemon=True
            )
            self._listener.start()
        self._listener_ready.wait(wait)

    def stop(self) -> None:
        """Stop the Redis listener (tests, shutdown)."""
        self._stopping = True
        listener = self._listener
        if listener is not None:
            listener.join(timeout=3)
        self._listener = None

    def _client(self):
        if self._redis is None:
            import redis

            self._redis = redis.Redis.from_url(
                self.redis_url, socket_connect_timeout=2, socket_timeout=5, health_check_interval=30
            )
        return self._redis

    def _listen(self) -> None:
        import redis

        backoff = 0.5
        while not self._stopping:
            pubsub = None
            try:
                client = redis.Redis.from_url(
                    self.redis_url,
                    socket_connect_timeout=2,
                    socket_timeout=None,
                    health_check_interval=30,
                )
                pubsub = client.pubsub()
                pubsub.psubscribe(self.prefix + "*")
                backoff = 0.5
                while not self._stopping:
                    msg = pubsub.get_message(timeout=0.5)
                    if msg is None:
                        continue
                    if msg.get("type") == "psubscribe":
                        self._listener_ready.set()  # Redis confirmed: nothing is missed now
                        continue
                    if msg.get("type") != "pmessage":
                        continue
                    channel = msg["channel"]
                    channel = channel.decode() if isinstance(channel, bytes) else channel
                    try:
                        data = json.loads(msg["data"])
                    except (TypeError, ValueError):
                        continue
                    self.hub.deliver(channel[len(self.prefix) :], data)
            except Exception:
                if self._stopping:
                    break
                log.warning("redis listener lost its connection; retrying", exc_info=True)
                self._listener_ready.set()  # do not keep subscribers waiting
                time.sleep(backoff)
                backoff = min(backoff * 2, 10)
            finally:
                if pubsub is not None:
                    try:
                        pubsub.close()
                    except Exception:
                        pass


def init_app(app: Flask) -> EventBus:
    """Create the app's bus (idempotent)."""
    bus = app.extensions.get("linli_events")
    if bus is None:
        bus = EventBus(
            app.config.get("REDIS_URL"), app.config.get("EVENTS_CHANNEL_PREFIX", "linli")
        )
        app.extensions["linli_events"] = bus
    return bus


def get_bus(app: Flask | None = None) -> EventBus:
    """The bus of `app` (default: the current app)."""
    app = app or current_app._get_current_object()
    return app.extensions.get("linli_events") or init_app(app)


# --- in-transaction change hooks ------------------------------------------------------------------
# A domain says *that* something changed (`changed("feed", community_id)`); create_app subscribes
# the modules that follow it (`on_change(app, "feed", feed.touch_feed)`). The listeners run now, in
# the caller's transaction, so a lower layer never imports the one above it.
_LISTENERS_KEY = "linli_change_listeners"


def on_change(app: Flask, topic: str, listener) -> None:
    """Call `listener(*args)` on every `changed(topic, *args)` in this app (idempotent)."""
    listeners = app.extensions.setdefault(_LISTENERS_KEY, {}).setdefault(topic, [])
    if listener not in listeners:
        listeners.append(listener)


def changed(topic: str, *args) -> None:
    """Tell this app's listeners of `topic`, in the current transaction."""
    for listener in current_app.extensions.get(_LISTENERS_KEY, {}).get(topic, ()):
        listener(*args)


# --- after-commit publishing ---------------------------------------------------------------------
def publish_after_commit(channel: str, message: dict) -> None:
    """Queue a message on the current database session; it is sent when the session commits."""
    from app.extensions import db

    session = db.session()
    if not session.in_transaction():
        session.begin()  # so a rollback or close of this unit of work drops the message too
    pending = session.info.setdefault(_PENDING_KEY, {})
    # One message per channel per transaction: the last one carries the newest version.
    pending[channel] = message


def _after_commit(session: Session) -> None:
    pending = session.info.pop(_PENDING_KEY, None)
    if not pending or not has_app_context():
        return
    bus = get_bus()
    for channel, message in pending.items():
        try:
            bus.publish(channel, message)
        except Exception:  # a doorbell must never break a committed request
            log.exception("could not publish %s", channel)


def _after_soft_rollback(session: Session, previous_transaction) -> None:
    # Any rollback of the whole session (even with no SQL sent yet) drops the messages; a
    # rolled-back savepoint does not.
    if not previous_transaction.nested:
        session.info.pop(_PENDING_KEY, None)


def _after_transaction_end(session: Session, transaction) -> None:
    # A transaction that ended without a commit (close, error) leaves nothing behind; after a
    # commit the messages were already taken by _after_commit.
    if transaction.parent is None and not transaction.nested:
        session.info.pop(_PENDING_KEY, None)


_HOOKS = (
    ("after_commit", _after_commit),
    ("after_soft_rollback", _after_soft_rollback),
    ("after_transaction_end", _after_transaction_end),
)


def install() -> None:
    """Attach the session hooks (idempotent)."""
    for name, fn in _HOOKS:
        if not event.contains(Session, name, fn):
            event.listen(Session, name, fn)


install()
