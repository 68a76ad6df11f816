"""One scheduler (app/infra/jobs.py): `flask jobs run` runs every registered job, the feed
watcher only its own at their intervals, a failing job does not stop the others."""

from datetime import timedelta

import pytest

from app.infra import jobs
from app.models import LoginThrottle
from app.models.base import utcnow

JOBS = [
    "case_deadlines",
    "case_auto_close",
    "consultation_close",
    "announcement_boundaries",
    "urgent_help_escalation",
    "alert_doorbells",
    "purge_expired",
    "speech_cache",
    "deliveries",
    "activity_reminders",
]


def test_every_domain_registered_its_job(app):
    assert [job.name for job in jobs.registered(app)] == JOBS
    loop = {job.name: job.every for job in jobs.registered(app) if job.loop}
    # Deadlines stay with cron (and list reads), as before the one scheduler.
    assert loop == {
        "announcement_boundaries": 0.0,
        "urgent_help_escalation": 1.0,  # the alert centre: unacknowledged urgent help climbs
        "alert_doorbells": 0.0,  # console pages held by this process hear other workers
        "purge_expired": 3600.0,
        "speech_cache": 3600.0,
        "deliveries": 15.0,  # SMS and e-mail, in the default install too
        "activity_reminders": 300.0,  # a notice before an activity one signed up for
    }


def test_flask_jobs_run_runs_them_all(runner, db):
    db.session.add(
        LoginThrottle(login="13700000001", failures=1, last_failure_at=utcnow() - timedelta(days=2))
    )
    db.session.commit()
    result = runner.invoke(args=["jobs", "run"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert [line.split(":")[0] for line in lines] == JOBS
    assert "login throttles: 1" in result.output
    assert "due soon: 0, overdue: 0, escalated: 0" in result.output
    assert "auto closed: 0" in result.output
    assert "urgent_help_escalation: climbed: 0" in result.output
    assert db.session.query(LoginThrottle).count() == 0


def test_flask_jobs_run_names_and_list(runner, db):
    result = runner.invoke(args=["jobs", "run", "speech_cache"])
    assert result.exit_code == 0, result.output
    assert result.output == "speech_cache: speech files: 0\n"
    wrong = runner.invoke(args=["jobs", "run", "no_such_job"])
    assert wrong.exit_code == 2 and "no_such_job" in wrong.output
    listed = runner.invoke(args=["jobs", "list"]).output
    assert "case_deadlines" in listed and "flask jobs run only" in listed
    assert "purge_expired" in listed and "watcher every 3600 s" in listed


@pytest.fixture()
def scratch(app):
    """Two extra jobs on the app, removed afterwards."""
    calls = []

    def good(now, sweep):
        calls.append(("good", sweep))
        return 1

    def bad(now, sweep):
        calls.append(("bad", sweep))
        raise RuntimeError("boom")

    registry = jobs.init_app(app)
    saved = dict(registry)
    registry.clear()
    jobs.register(app, "bad", bad, every=60)
    jobs.register(app, "good", good, every=60)
    jobs.register(app, "cron_only", good, loop=False)
    yield calls
    registry.clear()
    registry.update(saved)


def test_the_loop_runs_its_jobs_at_their_interval_and_survives_a_failure(db, scratch):
    schedule = jobs.Schedule()
    assert jobs.run_due(schedule=schedule) == {"good": 1}
    assert scratch == [("bad", False), ("good", False)]
    assert jobs.run_due(schedule=schedule) == {}  # within the minute: not again
    assert len(scratch) == 2


def test_cron_runs_everything_then_reports_the_failure(db, scratch):
    with pytest.raises(RuntimeError, match="boom"):
        jobs.run_due()
    assert scratch == [("bad", True), ("good", True), ("good", True)]
