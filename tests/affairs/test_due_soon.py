"""Due-soon reminders: the handlers of an open case (the committee while nobody has it) hear
once, CASE_DUE_SOON_HOURS (at most half the category's deadline) before it is due — by the
scheduler command, on read, and once under racing evaluations; again only after the deadline is
reset. Time is moved with `now=` arguments or by setting timestamps in the database, never by
sleeping."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from zoneinfo import ZoneInfo

from app.affairs import deadlines, views, workflow
from app.extensions import db
from app.infra import audit
from app.models.case import Case, CaseEvent
from app.models.notification import Notification
from app.people.actors import Actor
from tests import factories as f
from tests.affairs.conftest import actor, backdate, category, put_in_state, submit

REMINDER = "case_due_soon"


def _kinds(case):
    return [
        e.kind
        for e in db.session.query(CaseEvent).filter_by(case_id=case.id).order_by(CaseEvent.id)
    ]


def _reminders(person):
    return (
        db.session.query(Notification)
        .filter_by(person_id=person.id, kind=REMINDER)
        .order_by(Notification.id)
        .all()
    )


def _assigned(side, **to):
    case = submit(side)
    workflow.assign_case(actor(side.staff), case.id, **(to or {"person_id": side.grid_worker.id}))
    db.session.commit()
    return case


def _sweep(at, **kwargs):
    counts = deadlines.run_due_work(now=at, **kwargs)
    db.session.commit()
    return counts


def test_the_assignee_is_reminded_once_before_the_deadline(cats):
    world = cats
    case = _assigned(world.a)  # repair: 48 hours; reminded 4 hours before by default
    due = case.due_at
    assert _sweep(due - timedelta(hours=4, minutes=1))["due_soon"] == 0
    assert _reminders(world.a.grid_worker) == []
    assert _sweep(due - timedelta(hours=3, minutes=59))["due_soon"] == 1
    assert _sweep(due - timedelta(hours=1))["due_soon"] == 0
    db.session.expire_all()
    [notice] = _reminders(world.a.grid_worker)
    local_due = due.astimezone(ZoneInfo("Asia/Shanghai")).strftime("%Y-%m-%d %H:%M")
    assert notice.title == f"即将到期：{case.reference}"
    assert notice.body.startswith(f"{case.category.name} · ")
    assert notice.body.endswith(f" · {local_due} 前办结")
    assert notice.link == f"/staff/cases/{case.id}"
    assert case.due_soon_notified_at is not None
    # An internal timeline event, shown to workers only.
    assert _kinds(case) == ["submitted", "assigned", "due_soon"]
    event = db.session.query(CaseEvent).filter_by(case_id=case.id, kind="due_soon").one()
    assert event.public is False and event.actor_role == "system"
    view = views.case_view(actor(world.a.staff), case)
    assert view["timeline"][-1]["label"] == "临近办理期限"
    assert "due_soon" not in [
        e["kind"] for e in views.case_view(actor(world.a.resident), case)["timeline"]
    ]
    # Nobody else heard; past the deadline the overdue notice still comes, once.
    assert _reminders(world.a.staff) == [] and _reminders(world.a.resident) == []
    assert _sweep(due + timedelta(minutes=1))["overdue"] == 1
    db.session.expire_all()
    assert _kinds(case)[-2:] == ["due_soon", "overdue"]
    assert len(_reminders(world.a.grid_worker)) == 1


def test_an_organization_is_reminded_through_its_members_or_else_the_committee(cats):
    world = cats
    case = _assigned(world.a, organization_id=world.a.organization.id)
    _sweep(case.due_at - timedelta(hours=1))
    assert len(_reminders(world.a.org_member)) == 1 and _reminders(world.a.staff) == []
    # An organization with nobody signed up: the committee hears instead.
    empty = f.organization(world.a.community)
    db.session.commit()
    other = _assigned(world.a, organization_id=empty.id)
    _sweep(other.due_at - timedelta(hours=1))
    assert [n.title for n in _reminders(world.a.staff)] == [f"即将到期：{other.reference}"]


def test_no_reminder_when_turned_off(app, cats):
    world = cats
    case = _assigned(world.a)
    app.config["CASE_DUE_SOON_HOURS"] = 0
    try:
        assert _sweep(case.due_at - timedelta(minutes=5))["due_soon"] == 0
        assert deadlines.evaluate_case(case, case.due_at - timedelta(minutes=5)) == []
    finally:
        app.config["CASE_DUE_SOON_HOURS"] = 4
    assert _reminders(world.a.grid_worker) == [] and "due_soon" not in _kinds(case)


def test_the_reminder_point_is_configurable_and_at_most_half_the_deadline(app, cats):
    world = cats
    app.config["CASE_DUE_SOON_HOURS"] = 10
    try:
        long = _assigned(world.a)  # 48 hours: 10 hours before
        assert _sweep(long.due_at - timedelta(hours=10, minutes=1))["due_soon"] == 0
        assert _sweep(long.due_at - timedelta(hours=9, minutes=59))["due_soon"] == 1
        # A 2-hour category is not "due soon" when it is assigned: one hour before.
        category(world.a).deadline_hours = 2
        db.session.commit()
        short = _assigned(world.a)
        assert short.due_at - short.created_at == timedelta(hours=2)
        assert _sweep(short.due_at - timedelta(hours=1, minutes=1))["due_soon"] == 0
        assert deadlines.evaluate_case(short, short.due_at - timedelta(hours=1, minutes=1)) == []
        assert _sweep(short.due_at - timedelta(minutes=59))["due_soon"] == 1
    finally:
        app.config["CASE_DUE_SOON_HOURS"] = 4


def test_only_the_overdue_notice_when_first_seen_after_the_deadline(cats):
    world = cats
    case = _assigned(world.a)
    counts = _sweep(case.due_at + timedelta(minutes=1))
    assert counts["due_soon"] == 0 and counts["overdue"] == 1
    db.session.expire_all()
    assert _reminders(world.a.grid_worker) == [] and case.due_soon_notified_at is None
    assert _kinds(case) == ["submitted", "assigned", "overdue"]
    # On read, too.
    late = _assigned(world.a)
    assert deadlines.evaluate_case(late, late.due_at + timedelta(hours=1)) == ["overdue"]


def test_a_new_deadline_brings_a_new_reminder(cats):
    world = cats
    case = _assigned(world.a)
    _sweep(case.due_at - timedelta(hours=1))
    # Reassigned with a new deadline: reminded again before that one.
    new_due = case.due_at + timedelta(days=2)
    workflow.assign_case(
        actor(world.a.staff), case.id, person_id=world.a.grid_worker.id, due_at=new_due
    )
    db.session.commit()
    assert case.due_soon_notified_at is None
    assert _sweep(new_due - timedelta(hours=5))["due_soon"] == 0
    assert _sweep(new_due - timedelta(hours=1))["due_soon"] == 1
    # Reassigned without a new deadline: no second reminder for the same one.
    workflow.assign_case(actor(world.a.staff), case.id, organization_id=world.a.organization.id)
    db.session.commit()
    assert _sweep(new_due - timedelta(minutes=30))["due_soon"] == 0
    # Resolved, then reopened: a fresh deadline, and a reminder before it.
    put_in_state(case, world.a, "resolved")
    workflow.transition(actor(world.a.staff), case.id, "reopen", note="还是不亮")
    db.session.commit()
    assert case.due_soon_notified_at is None and case.status == "reopened"
    assert _sweep(case.due_at - timedelta(hours=1))["due_soon"] == 1
    db.session.expire_all()
    assert _kinds(case).count("due_soon") == 3
    assert len(_reminders(world.a.grid_worker)) == 2 and len(_reminders(world.a.org_member)) == 1


def test_a_new_category_brings_a_new_reminder(cats):
    world = cats
    case = _assigned(world.a)
    _sweep(case.due_at - timedelta(hours=1))
    workflow.update_case(
        actor(world.a.staff), case.id, {"category_id": category(world.a, "dispute").id}
    )  # 120 hours
    db.session.commit()
    assert case.due_soon_notified_at is None
    assert _sweep(case.due_at - timedelta(hours=2))["due_soon"] == 1
    assert len(_reminders(world.a.grid_worker)) == 2


def test_no_reminder_for_cases_closed_resolved_or_rejected(cats):
    world = cats
    resolved, closed, rejected = submit(world.a), submit(world.a), submit(world.a)
    put_in_state(resolved, world.a, "resolved")
    put_in_state(closed, world.a, "closed")
    put_in_state(rejected, world.a, "rejected")
    at = resolved.due_at - timedelta(hours=1)
    assert _sweep(at)["due_soon"] == 0
    for case in (resolved, closed, rejected):
        assert deadlines.evaluate_case(case, at) == []
    assert db.session.query(Notification).filter_by(kind=REMINDER).count() == 0


def test_a_case_nobody_has_yet_reminds_the_committee_while_there_is_time(cats):
    world = cats
    waiting = submit(world.a)  # not sent to anyone yet
    theirs = submit(world.b)
    at = waiting.due_at - timedelta(hours=1)
    assert _sweep(at - timedelta(hours=3, minutes=30))["due_soon"] == 0  # not yet
    assert _sweep(at)["due_soon"] == 2  # one per community
    db.session.expire_all()
    [notice] = _reminders(world.a.staff)
    assert notice.title == f"尚未分派，即将到期：{waiting.reference}"
    assert notice.link == f"/staff/cases/{waiting.id}"
    # only that community's committee; no handler, resident or other committee hears of it
    assert _reminders(world.a.grid_worker) == [] and _reminders(world.a.resident) == []
    assert [n.title for n in _reminders(world.b.staff)] == [
        f"尚未分派，即将到期：{theirs.reference}"
    ]
    assert _kinds(waiting)[-1] == "due_soon"
    # Sent to a handler afterwards: no second reminder before the deadline, the notice after.
    workflow.assign_case(actor(world.a.staff), waiting.id, person_id=world.a.grid_worker.id)
    db.session.commit()
    assert _sweep(at + timedelta(minutes=30))["due_soon"] == 0
    assert _reminders(world.a.grid_worker) == []
    assert _sweep(waiting.due_at + timedelta(minutes=1))["overdue"] == 2


def test_the_reminder_is_in_each_recipients_language(cats):
    world = cats
    world.a.grid_worker.locale = "en"
    db.session.commit()
    case = _assigned(world.a)
    _sweep(case.due_at - timedelta(hours=1))
    [notice] = _reminders(world.a.grid_worker)
    local_due = case.due_at.astimezone(ZoneInfo("Asia/Shanghai")).strftime("%Y-%m-%d %H:%M")
    assert notice.title == f"Due soon: {case.reference}"
    assert notice.body.endswith(f" · due {local_due}")
    # Chinese for the members of an organization who did not choose English.
    other = _assigned(world.a, organization_id=world.a.organization.id)
    _sweep(other.due_at - timedelta(hours=1))
    [zh] = _reminders(world.a.org_member)
    assert zh.title == f"即将到期：{other.reference}"


def test_racing_evaluations_remind_once(app, cats):
    world = cats
    case = _assigned(world.a, organization_id=world.a.organization.id)
    case_id, at = case.id, case.due_at - timedelta(hours=1)
    n = 8
    barrier = threading.Barrier(n)

    def one(i):
        # Half of them read the case (as a request does), half sweep (as the scheduler does).
        with app.app_context():
            audit.bind_actor(Actor.anonymous())
            barrier.wait(timeout=30)
            if i % 2:
                done = deadlines.evaluate_case(db.session.get(Case, case_id), at)
            else:
                done = ["due_soon"] * deadlines.run_due_work(now=at)["due_soon"]
            db.session.commit()
            return done

    with ThreadPoolExecutor(n) as pool:
        results = list(pool.map(one, range(n)))
    assert sum(len(r) for r in results) == 1, results
    db.session.expire_all()
    assert _kinds(case).count("due_soon") == 1
    assert len(_reminders(world.a.org_member)) == 1


def test_the_escalate_command_and_list_reads_send_reminders(runner, client, auth, cats):
    world = cats
    case = _assigned(world.a)
    result = runner.invoke(args=["cases", "escalate"])
    assert result.exit_code == 0, result.output
    assert "due-soon reminders: 0, overdue notices: 0, escalated: 0" in result.output
    backdate(case, due_at=timedelta(hours=45))  # due in three hours
    result = runner.invoke(args=["cases", "escalate"])
    assert "due-soon reminders: 1, overdue notices: 0, escalated: 0" in result.output
    again = runner.invoke(args=["cases", "escalate"])
    assert "due-soon reminders: 0, overdue notices: 0, escalated: 0" in again.output
    assert len(_reminders(world.a.grid_worker)) == 1
    # auto-close leaves reminders alone.
    other = _assigned(world.a)
    backdate(other, due_at=timedelta(hours=45))
    assert "auto-closed: 0" in runner.invoke(args=["cases", "auto-close"]).output
    db.session.expire_all()
    assert other.due_soon_notified_at is None
    # A list read sweeps its community.
    listing = client.get("/api/v1/cases", headers=auth.headers(world.a.staff))
    assert listing.status_code == 200
    db.session.expire_all()
    assert other.due_soon_notified_at is not None
    assert len(_reminders(world.a.grid_worker)) == 2
