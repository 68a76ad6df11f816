"""Forgetting what has expired: sign-in counters, idempotency keys, rate-limit windows, and
speech over the cache's size.

Run by each process's feed watcher (app/services/kiosk.py, at most hourly: the embedded
default needs no scheduler) and by `flask cases purge` from cron.
"""

from __future__ import annotations

import logging
from datetime import datetime

from app.models.base import utcnow

log = logging.getLogger("linli.housekeeping")

INTERVAL_SECONDS = 3600


def purge_expired(now: datetime | None = None) -> dict:
    """Delete sign-in throttles of logins not locked and without a failure for a day, idempotency
    keys older than IDEMPOTENCY_TTL_HOURS and rate-limit windows that have ended; returns how
    many of each. Flushes; the caller commits."""
    from app.services import auth, idempotency, ratelimit

    now = now or utcnow()
    return {"login_throttles": auth.purge_throttles(now),
            "idempotency_keys": idempotency.purge_expired(),
            "rate_limits": ratelimit.purge_expired(now)}
