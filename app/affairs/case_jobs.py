"""The case jobs (app/infra/jobs.py; create_app registers them): deadlines and auto-close, taken
by the system for every community."""

from __future__ import annotations

from datetime import datetime

from app.affairs import cases
from app.infra import audit
from app.people.actors import Actor

DEADLINE_STEPS = ("due_soon", "overdue", "escalated")
AUTO_CLOSE_STEPS = ("auto_closed",)
SWEEP_LIMIT = 100_000


def _run(now: datetime | None, only: tuple[str, ...]) -> dict:
    audit.bind_actor(Actor.anonymous())
    counts = cases.run_due_work(now=now, only=only, limit=SWEEP_LIMIT)
    return {step: counts[step] for step in only}


def deadlines_job(now: datetime | None, sweep: bool) -> dict:
    """The job "case_deadlines": remind handlers of cases due within CASE_DUE_SOON_HOURS, notify
    them of overdue cases and escalate those to the street office after the grace."""
    return _run(now, DEADLINE_STEPS)


def auto_close_job(now: datetime | None, sweep: bool) -> dict:
    """The job "case_auto_close": close resolved cases the resident did not confirm within
    CASE_AUTO_CLOSE_DAYS."""
    return _run(now, AUTO_CLOSE_STEPS)
