"""Forgetting what has expired: sign-in counters, idempotency keys, rate-limit windows, voice
conversations kept in the database — whatever the domains register here (create_app,
`register_jobs`: `register_purge(app, "login_throttles", auth.purge_throttles)`, …).

`purge_expired` is the job "purge_expired" (app/infra/jobs.py): `flask jobs run` from cron, and
each process's feed watcher at most hourly (the embedded default needs no scheduler).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from flask import Flask, current_app

from app.models.base import utcnow

EXTENSION = "linli_purges"

INTERVAL_SECONDS = 3600


def register_purge(app: Flask, name: str, purge: Callable[[datetime], int]) -> None:
    """Register `purge(now)`, which deletes what has expired and returns how many rows went."""
    app.extensions.setdefault(EXTENSION, {})[name] = purge


def purge_expired(now: datetime | None = None) -> dict:
    """Run every registered purge; returns how many rows each deleted. Flushes; the caller
    commits."""
    now = now or utcnow()
    purges = current_app.extensions.get(EXTENSION, {})
    return {name: purge(now) for name, purge in purges.items()}


def purge_job(now: datetime | None, sweep: bool) -> dict:
    """The job "purge_expired"."""
    return purge_expired(now)
