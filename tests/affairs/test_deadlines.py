"""Deadlines: overdue notices, escalation to the street office after the grace period, and
auto-closing unconfirmed cases — by the scheduler commands and on read. Time is moved by
setting timestamps in the database, never by sleeping."""

from __future__ import annotations

from datetime import timedelta

from app.affairs import deadlines, workflow
from app.extensions import db
from app.models.case import Case, CaseEvent
from app.models.notification import Notification
from tests.affairs.conftest import actor, backdate, put_in_state, submit


def _kinds(case):
    return [
        e.kind
        for e in db.session.query(CaseEvent).filter_by(case_id=case.id).order_by(CaseEvent.id)
    ]


def _notices(person, kind):
    return db.session.query(Notification).filter_by(person_id=person.id, kind=kind).count()


def test_escalate_command_notifies_then_escalates_after_the_grace(runner, app, cats):
    world = cats
    case = submit(world.a)
    workflow.assign_case(actor(world.a.staff), case.id, organization_id=world.a.organization.id)
    db.session.commit()
    # Not due yet: nothing happens.
    result = runner.invoke(args=["cases", "escalate"])
    assert result.exit_code == 0 and "overdue notices: 0, escalated: 0" in result.output
    # One hour past the deadline: the handler is told, nobody escalates yet.
    backdate(case, due_at=timedelta(hours=49), created_at=timedelta(hours=97))
    result = runner.invoke(args=["cases", "escalate"])
    assert "overdue notices: 1, escalated: 0" in result.output, result.output
    db.session.expire_all()
    assert case.overdue_notified_at is not None and case.escalated_at is None
    assert _notices(world.a.org_member, "case_overdue") == 1
    assert _notices(world.official, "case_escalated") == 0
    # Past the grace period (24 h by default): escalated to the street office, once.
    backdate(case, due_at=timedelta(hours=24))
    result = runner.invoke(args=["cases", "escalate"])
    assert "overdue notices: 0, escalated: 1" in result.output
    again = runner.invoke(args=["cases", "escalate"])
    assert "overdue notices: 0, escalated: 0" in again.output
    db.session.expire_all()
    assert case.escalated_at is not None
    assert _kinds(case).count("escalated") == 1 and _kinds(case).count("overdue") == 1
    for person in (world.official, world.official_writer, world.a.staff):
        assert _notices(person, "case_escalated") == 1
    # The other street office and community hear nothing.
    assert _notices(world.office_b_official, "case_escalated") == 0
    assert _notices(world.b.staff, "case_escalated") == 0


def test_grace_period_is_configurable(runner, app, cats):
    world = cats
    case = submit(world.a)
    backdate(case, due_at=timedelta(hours=50))  # two hours overdue
    app.config["CASE_ESCALATION_GRACE_HOURS"] = 1
    try:
        result = runner.invoke(args=["cases", "escalate"])
    finally:
        app.config["CASE_ESCALATION_GRACE_HOURS"] = 24
    assert "overdue notices: 1, escalated: 1" in result.output
    # Unassigned: the committee hears about the overdue case.
    assert _notices(world.a.staff, "case_overdue") == 1


def test_overdue_and_escalation_are_evaluated_on_read(client, cats, auth):
    world = cats
    case = submit(world.a)
    backdate(case, due_at=timedelta(hours=48 + 30))
    body = client.get(f"/api/v1/cases/{case.id}", headers=auth.headers(world.a.staff)).get_json()
    assert body["overdue"] is True and body["escalated"] is True
    db.session.expire_all()
    assert _kinds(case) == ["submitted", "overdue", "escalated"]
    # The staff inbox shows it among the overdue ones.
    listing = client.get(
        "/api/v1/cases", headers=auth.headers(world.a.staff), query_string={"overdue": "true"}
    ).get_json()
    assert [c["id"] for c in listing["items"]] == [case.id] and listing["counts"]["overdue"] == 1
    # A list read sweeps the community too.
    other = submit(world.a)
    backdate(other, due_at=timedelta(hours=49))
    client.get("/api/v1/cases", headers=auth.headers(world.a.elder))
    db.session.expire_all()
    assert other.overdue_notified_at is not None and other.escalated_at is None


def test_list_reads_sweep_a_community_at_most_once_per_interval(
    client, app, cats, auth, monkeypatch
):
    world = cats
    monkeypatch.setitem(app.config, "CASE_LIST_SWEEP_SECONDS", 60)
    monkeypatch.setitem(app.extensions, "linli_list_sweeps", {})
    clock = [1000.0]
    monkeypatch.setattr(deadlines, "_clock", lambda: clock[0])
    headers = auth.headers(world.a.staff)

    def read(community):
        listing = client.get(
            "/api/v1/cases", headers=headers, query_string={"community_id": community.id}
        )
        assert listing.status_code == 200
        db.session.expire_all()
        return listing.get_json()

    read(world.a.community)  # swept: nothing was due
    case = submit(world.a)
    backdate(case, due_at=timedelta(hours=49))
    # Within the interval the read does not sweep, but still shows the case as overdue.
    clock[0] += 59
    listing = read(world.a.community)
    assert listing["counts"]["overdue"] == 1
    assert [c["overdue"] for c in listing["items"] if c["id"] == case.id] == [True]
    assert case.overdue_notified_at is None and _notices(world.a.staff, "case_overdue") == 0
    # Once the interval has passed, the next read sweeps and the committee is told, once.
    clock[0] += 2
    read(world.a.community)
    assert case.overdue_notified_at is not None
    assert _notices(world.a.staff, "case_overdue") == 1
    # Each community has its own interval.
    other = submit(world.b)
    backdate(other, due_at=timedelta(hours=49))
    client.get(
        "/api/v1/cases",
        headers=auth.headers(world.b.staff),
        query_string={"community_id": world.b.community.id},
    )
    db.session.expire_all()
    assert other.overdue_notified_at is not None
    # 0 sweeps on every read.
    monkeypatch.setitem(app.config, "CASE_LIST_SWEEP_SECONDS", 0)
    again = submit(world.a)
    backdate(again, due_at=timedelta(hours=49))
    read(world.a.community)
    assert again.overdue_notified_at is not None


def test_closed_and_resolved_cases_are_never_overdue(runner, cats):
    world = cats
    case = submit(world.a)
    put_in_state(case, world.a, "resolved")
    backdate(case, due_at=timedelta(hours=500))
    runner.invoke(args=["cases", "escalate"])
    db.session.expire_all()
    assert case.overdue_notified_at is None and case.escalated_at is None
    assert not deadlines.is_overdue(case)


def test_unconfirmed_cases_close_by_themselves(runner, app, cats, client, auth):
    world = cats
    case = submit(world.a)
    put_in_state(case, world.a, "resolved")
    backdate(case, resolved_at=timedelta(days=6, hours=23))
    assert "auto-closed: 0" in runner.invoke(args=["cases", "auto-close"]).output
    backdate(case, resolved_at=timedelta(hours=2))
    assert "auto-closed: 1" in runner.invoke(args=["cases", "auto-close"]).output
    assert "auto-closed: 0" in runner.invoke(args=["cases", "auto-close"]).output
    db.session.expire_all()
    assert case.status == "closed" and case.closed_reason == "auto"
    assert _kinds(case)[-1] == "auto_closed"
    assert _notices(world.a.resident, "case_status") == 1
    # The resident can still rate it.
    r = client.post(
        f"/api/v1/cases/{case.id}/rating",
        json={"rating": 3},
        headers=auth.headers(world.a.resident),
    )
    assert r.status_code == 200 and r.get_json()["rating"] == 3


def test_auto_close_days_are_configurable_and_evaluated_on_read(app, cats, client, auth):
    world = cats
    case = submit(world.a)
    put_in_state(case, world.a, "resolved")
    backdate(case, resolved_at=timedelta(days=2, minutes=1))
    app.config["CASE_AUTO_CLOSE_DAYS"] = 2
    try:
        body = client.get(
            f"/api/v1/cases/{case.id}", headers=auth.headers(world.a.resident)
        ).get_json()
    finally:
        app.config["CASE_AUTO_CLOSE_DAYS"] = 7
    assert body["status"] == "closed" and body["closed_reason"] == "auto"
    assert "rate" in body["actions"]


def test_escalate_does_not_close_and_auto_close_does_not_escalate(runner, cats):
    world = cats
    overdue, resolved = submit(world.a), submit(world.a)
    backdate(overdue, due_at=timedelta(days=5))
    put_in_state(resolved, world.a, "resolved")
    backdate(resolved, resolved_at=timedelta(days=30))
    runner.invoke(args=["cases", "auto-close"])
    db.session.expire_all()
    assert overdue.overdue_notified_at is None and resolved.status == "closed"
    runner.invoke(args=["cases", "escalate"])
    db.session.expire_all()
    assert overdue.escalated_at is not None
    assert db.session.query(Case).filter_by(status="closed").count() == 1


def test_a_step_is_not_taken_on_a_case_that_changed_since_it_was_read(cats):
    # The sweep read the case overdue; a handler then resolved it (or moved its deadline) and
    # committed. The overdue notice went out all the same, on a resolved case.
    world = cats
    case = submit(world.a)
    workflow.assign_case(actor(world.a.staff), case.id, organization_id=world.a.organization.id)
    db.session.commit()
    backdate(case, due_at=timedelta(hours=49), created_at=timedelta(hours=97))
    stale = db.session.get(Case, case.id)
    assert stale.status == "assigned"  # what the sweep saw
    with db.engine.begin() as other:  # another request, committed meanwhile
        other.execute(
            Case.__table__.update().where(Case.__table__.c.id == case.id).values(status="resolved")
        )
    assert deadlines.evaluate_case(stale) == []
    db.session.commit()
    db.session.expire_all()
    assert db.session.get(Case, case.id).overdue_notified_at is None
    assert _notices(world.a.org_member, "case_overdue") == 0
