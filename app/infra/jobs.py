"""What runs on a clock: one registry of jobs per app, one runner.

create_app registers each domain's job by name (app/__init__.py, `register_jobs`): case deadlines,
announcement schedule boundaries, purges of expired rows, the speech cache's size. The runner is
`run_due`, called by

- `flask jobs run` (app/cli.py), from cron or a systemd timer: every job, a full sweep;
- each process's feed watcher (app/screens/feed.py), the embedded default's background loop:
  the jobs marked `loop`, each at most once per `every` seconds in that process.

A job is `run(now, sweep)`: `now` may be None (the job's own clock), `sweep` is True from
`flask jobs run` (everything due, however much) and False from the loop (what is cheaply found
due). It flushes or commits; the runner commits after it, or rolls back when it raises. This
module knows no domain: the domains are handed to it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime

from flask import Flask, current_app

from app.infra import uow

log = logging.getLogger("linli.jobs")

EXTENSION = "linli_jobs"


@dataclass(frozen=True)
class Job:
    """One registered job."""

    name: str
    run: Callable[[datetime | None, bool], object]
    every: float = 0.0  # in the loop: at most once per `every` seconds per process (0: each round)
    loop: bool = True  # also run by the background loop, not only by `flask jobs run`


@dataclass
class Schedule:
    """A loop's memory (one per process): when each job may run again."""

    next_at: dict[str, float] = field(default_factory=dict)

    def take(self, job: Job, clock: float) -> bool:
        """True when the job is due now (and books its next run)."""
        if clock < self.next_at.get(job.name, 0.0):
            return False
        self.next_at[job.name] = clock + job.every
        return True


def init_app(app: Flask) -> dict[str, Job]:
    """The app's (empty) registry (idempotent)."""
    return app.extensions.setdefault(EXTENSION, {})


def register(
    app: Flask,
    name: str,
    run: Callable[[datetime | None, bool], object],
    *,
    every: float = 0.0,
    loop: bool = True,
) -> Job:
    """Register (or replace) the job `name`."""
    job = Job(name, run, every, loop)
    init_app(app)[name] = job
    return job


def registered(app: Flask | None = None) -> list[Job]:
    """The app's jobs, in the order registered."""
    app = app or current_app._get_current_object()
    return list(app.extensions.get(EXTENSION, {}).values())


def run_due(
    now: datetime | None = None,
    *,
    only: Iterable[str] | None = None,
    schedule: Schedule | None = None,
) -> dict[str, object]:
    """Run every due job in the current app context; returns {name: result}.

    Without `schedule` (cron: `flask jobs run`) every job (or those named in `only`) runs as a full
    sweep and a failure is raised after the others ran. With a schedule (the loop) only `loop`
    jobs run, each when its interval has passed; a failure is logged and the round goes on.
    """
    jobs = registered()
    if only is not None:
        wanted = list(only)
        known = {job.name for job in jobs}
        unknown = [name for name in wanted if name not in known]
        if unknown:
            raise KeyError(f"no job {', '.join(unknown)} (known: {', '.join(sorted(known))})")
        jobs = [job for job in jobs if job.name in wanted]
    results: dict[str, object] = {}
    failed: Exception | None = None
    clock = time.monotonic()
    for job in jobs:
        if schedule is not None and not (job.loop and schedule.take(job, clock)):
            continue
        try:
            results[job.name] = job.run(now, schedule is None)
            uow.commit()
        except Exception as error:
            uow.rollback()
            if schedule is None:
                failed = failed or error
                log.exception("job %s failed", job.name)
            else:
                log.warning("job %s failed", job.name, exc_info=True)
    if failed is not None:
        raise failed
    return results
