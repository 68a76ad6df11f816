"""Expired sign-in counters, idempotency keys and rate-limit windows are forgotten (the feed
watcher's hourly round and `flask jobs run`); fresh and locked ones stay."""

from datetime import timedelta

import pytest

from app.models import LoginThrottle, RateLimit
from app.models.base import utcnow
from app.models.idempotency import IdempotencyKey
from app.screens import feed


@pytest.fixture()
def rows(db):
    now = utcnow()
    day = timedelta(days=1)
    db.session.add_all(
        [
            # unknown logins tried once, long ago / recently
            LoginThrottle(login="13700000001", failures=1, last_failure_at=now - 2 * day),
            LoginThrottle(
                login="13700000002", failures=1, last_failure_at=now - timedelta(hours=2)
            ),
            # still locked although the last failure is old; a lock that ended long ago
            LoginThrottle(
                login="13700000003",
                failures=0,
                last_failure_at=now - 2 * day,
                locked_until=now + timedelta(minutes=5),
                lock_count=1,
            ),
            LoginThrottle(
                login="13700000004",
                failures=0,
                last_failure_at=now - 3 * day,
                locked_until=now - 2 * day,
                lock_count=1,
            ),
            LoginThrottle(login="legacy-row", failures=0),  # written on a success by old code
            IdempotencyKey(
                key_hash="a" * 64, fingerprint="f", created_at=now - timedelta(hours=49)
            ),
            IdempotencyKey(
                key_hash="b" * 64, fingerprint="f", created_at=now - timedelta(hours=47)
            ),
            RateLimit(key="case:p:1", hits=3, expires_at=now - timedelta(seconds=1)),
            RateLimit(key="case:p:2", hits=3, expires_at=now + timedelta(minutes=30)),
        ]
    )
    db.session.commit()
    return db


def _left(db):
    db.session.expire_all()
    return (
        sorted(r.login for r in db.session.query(LoginThrottle)),
        sorted(r.key_hash[0] for r in db.session.query(IdempotencyKey)),
        sorted(r.key for r in db.session.query(RateLimit)),
    )


KEPT = (["13700000002", "13700000003"], ["b"], ["case:p:2"])


def test_cli_purge_forgets_old_rows_and_keeps_fresh_ones(app, rows, runner):
    result = runner.invoke(args=["jobs", "run", "purge_expired"])
    assert result.exit_code == 0, result.output
    assert "login throttles: 3" in result.output and "idempotency keys: 1" in result.output
    assert "rate limits: 1" in result.output
    assert _left(rows) == KEPT


def test_the_feed_watcher_purges_at_most_hourly(app, rows):
    watcher = feed.FeedWatcher(app)
    watcher.poll_once()
    assert _left(rows) == KEPT
    rows.session.add(
        LoginThrottle(login="13700000009", failures=1, last_failure_at=utcnow() - timedelta(days=2))
    )
    rows.session.commit()
    watcher.poll_once()  # within the hour: not again
    assert "13700000009" in _left(rows)[0]
