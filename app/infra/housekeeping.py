"""Forgetting what has expired: sign-in counters, idempotency keys, rate-limit windows, voice
conversations kept in the database, and speech over the cache's size.

`purge_expired` and `trim_speech_cache` run in each process's feed watcher
(app/screens/kiosk.py, at most hourly: the embedded default needs no scheduler) and in
`flask cases purge` from cron.
"""

from __future__ import annotations

import logging
from datetime import datetime

from app.models.base import utcnow

log = logging.getLogger("linli.housekeeping")

INTERVAL_SECONDS = 3600


def purge_expired(now: datetime | None = None) -> dict:
    """Delete sign-in throttles of logins not locked and without a failure for a day, idempotency
    keys older than IDEMPOTENCY_TTL_HOURS, rate-limit windows that have ended and voice
    conversations that have expired; returns how many of each. Flushes; the caller commits."""
    from app.assistant import voice
    from app.infra import idempotency, ratelimit
    from app.people import auth

    now = now or utcnow()
    return {"login_throttles": auth.purge_throttles(now),
            "idempotency_keys": idempotency.purge_expired(),
            "rate_limits": ratelimit.purge_expired(now),
            "voice_conversations": voice.purge_expired_conversations(now)}


def trim_speech_cache() -> int:
    """Bring the speech cache within VOICE_CACHE_MAX_MB (least recently used first); returns
    how many files were deleted (0 without the voice runtime)."""
    from flask import current_app

    from app.assistant.voice import EXTENSION

    runtime = current_app.extensions.get(EXTENSION)
    return runtime.trim_cache() if runtime is not None else 0
