"""The alert centre's services: urgent help goes to the grid worker and the committee at once,
then climbs (committee again → street office) while nobody acknowledges it (timing with an
injected `now`), each step on the case; one acknowledgement stops it for everyone; nobody sees or
acknowledges another person's notices."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from app.affairs import urgent
from app.extensions import db
from app.infra import jobs
from app.infra.errors import NotFound, Unavailable
from app.models import AuditLog, RoleAssignment
from app.models.base import utcnow
from app.models.case import Case, CaseEvent
from app.models.notification import HelpAlert, Notification
from app.people import notifications
from app.people.actors import Actor

MINUTES = 5


@pytest.fixture()
def chain(app, cats):
    """The world with a 5-minute escalation step."""
    old = app.config["ALERT_ESCALATE_MINUTES"]
    app.config["ALERT_ESCALATE_MINUTES"] = MINUTES
    yield cats
    app.config["ALERT_ESCALATE_MINUTES"] = old


def _told(alert_id: int) -> list[int]:
    return sorted(
        db.session.scalars(select(Notification.person_id).where(Notification.alert_id == alert_id))
    )


def _raise(side, now):
    told = urgent.raise_urgent_help(Actor.for_person(side.elder), "救命，我摔倒了", now=now)
    db.session.commit()
    return told, db.session.scalars(select(HelpAlert).order_by(HelpAlert.id.desc())).first()


def test_the_chain_climbs_on_time_and_each_step_is_on_the_case(chain):
    a, world = chain.a, chain
    t0 = utcnow()
    told, alert = _raise(a, t0)
    first = sorted([a.grid_worker.id, a.staff.id])
    assert told == first and _told(alert.id) == first
    case = db.session.get(Case, alert.case_id)
    assert case.channel == "voice" and case.category.code == "help" and not case.is_public
    assert case.reporter_id == a.elder.id
    # not yet: one second before the step
    assert urgent.escalate_due(t0 + timedelta(minutes=MINUTES) - timedelta(seconds=1)) == 0
    assert _told(alert.id) == first
    # the step: the committee staff are called again
    assert urgent.escalate_due(t0 + timedelta(minutes=MINUTES)) == 1
    db.session.commit()
    assert _told(alert.id) == sorted([a.grid_worker.id, a.staff.id, a.staff.id])
    staff_note = db.session.scalar(
        select(Notification)
        .where(Notification.alert_id == alert.id, Notification.person_id == a.staff.id)
        .order_by(Notification.id.desc())
    )
    assert staff_note.urgent and "5" in staff_note.body and a.elder.phone in staff_note.body
    assert staff_note.link == f"/staff/cases/{case.id}"
    # a second run at the same moment does nothing (the step was claimed)
    assert urgent.escalate_due(t0 + timedelta(minutes=MINUTES)) == 0
    # then the street office (both officials of office A; not office B's)
    assert urgent.escalate_due(t0 + timedelta(minutes=2 * MINUTES)) == 1
    db.session.commit()
    expected = sorted(
        [a.grid_worker.id, a.staff.id, a.staff.id, world.official.id, world.official_writer.id]
    )
    assert _told(alert.id) == expected
    assert world.office_b_official.id not in _told(alert.id)
    # the top: nothing more
    db.session.refresh(alert)
    assert alert.level == urgent.STREET and alert.next_at is None
    assert urgent.escalate_due(t0 + timedelta(hours=5)) == 0
    kinds = list(
        db.session.scalars(
            select(CaseEvent.kind).where(CaseEvent.case_id == case.id).order_by(CaseEvent.id)
        )
    )
    assert kinds == ["submitted", "help_alerted", "help_escalated", "help_escalated"]
    steps = db.session.scalars(
        select(CaseEvent).where(CaseEvent.kind.like("help_%")).order_by(CaseEvent.id)
    ).all()
    assert all(not e.public for e in steps)
    assert [e.note for e in steps] == [
        "、".join(p.display_name for p in sorted((a.grid_worker, a.staff), key=lambda p: p.id)),
        a.staff.display_name,
        f"{world.official.display_name}、{world.official_writer.display_name}",
    ]
    steps = db.session.scalars(
        select(AuditLog).where(AuditLog.action == "urgent_help_escalated").order_by(AuditLog.id)
    ).all()
    assert [s.detail["level"] for s in steps] == ["committee_staff", "street_office"]


def test_acknowledging_stops_the_chain_for_everyone(chain):
    a = chain.a
    t0 = utcnow()
    _, alert = _raise(a, t0)
    urgent.escalate_due(t0 + timedelta(minutes=MINUTES))
    db.session.commit()
    staff_note = db.session.scalar(
        select(Notification).where(
            Notification.alert_id == alert.id, Notification.person_id == a.staff.id
        )
    )
    assert notifications.count_unacknowledged(a.staff.id, urgent_only=True) == 2  # call + step
    notifications.acknowledge(Actor.for_person(a.staff), staff_note.id)
    db.session.commit()
    db.session.refresh(alert)
    assert alert.acknowledged_by_id == a.staff.id and alert.next_at is None
    # the grid worker's notice of the same alert shows it was taken on, by whom
    grid_note = db.session.scalar(
        select(Notification).where(
            Notification.alert_id == alert.id, Notification.person_id == a.grid_worker.id
        )
    )
    assert grid_note.acknowledged_by_id == a.staff.id
    assert notifications.count_unacknowledged(a.grid_worker.id, urgent_only=True) == 0
    assert notifications.count_unacknowledged(a.staff.id, urgent_only=True) == 0
    # no further step
    assert urgent.escalate_due(t0 + timedelta(hours=1)) == 0
    assert chain.official.id not in _told(alert.id)
    events = db.session.scalars(
        select(CaseEvent)
        .where(CaseEvent.case_id == alert.case_id, CaseEvent.kind.like("help_%"))
        .order_by(CaseEvent.id)
    ).all()
    assert [e.kind for e in events] == ["help_alerted", "help_escalated", "help_acknowledged"]
    assert events[-1].actor_person_id == a.staff.id
    # acknowledging again changes nothing
    again = notifications.acknowledge(Actor.for_person(a.staff), staff_note.id)
    assert again.acknowledged_by_id == a.staff.id


def test_without_a_grid_worker_it_starts_at_the_committee(chain):
    a = chain.a
    db.session.execute(
        RoleAssignment.__table__.delete().where(RoleAssignment.person_id == a.grid_worker.id)
    )
    db.session.commit()
    t0 = utcnow()
    told, alert = _raise(a, t0)
    assert told == [a.staff.id] and alert.level == urgent.COMMITTEE
    assert alert.next_at == t0 + timedelta(minutes=MINUTES)


def test_a_screen_raises_an_alert_without_a_case(chain):
    a = chain.a
    told = urgent.raise_urgent_help(Actor.for_device(a.device), "求助")
    db.session.commit()
    alert = db.session.scalars(select(HelpAlert)).one()
    assert told == sorted([a.grid_worker.id, a.staff.id]) and alert.case_id is None
    note = db.session.scalars(
        select(Notification).where(
            Notification.alert_id == alert.id, Notification.person_id == a.grid_worker.id
        )
    ).one()
    assert note.link == "/staff/alerts" and a.device.name in note.title


def test_nobody_to_tell_is_unavailable(chain):
    a = chain.a
    db.session.execute(RoleAssignment.__table__.delete())
    db.session.commit()
    with pytest.raises(Unavailable):
        urgent.raise_urgent_help(Actor.for_person(a.elder), "救命")


def test_nobody_sees_or_acknowledges_another_persons_notices(chain):
    a, b = chain.a, chain.b
    mine = notifications.notify(a.staff.id, "case_overdue", "Past its deadline", "…")
    theirs = notifications.notify(b.staff.id, "case_overdue", "Past its deadline", "…")
    db.session.commit()
    staff_a = Actor.for_person(a.staff)
    listed = [n.id for n in notifications.list_alerts(staff_a).items]
    assert mine.id in listed and theirs.id not in listed
    for other in (theirs.id, 2**31 - 1):
        with pytest.raises(NotFound):
            notifications.acknowledge(staff_a, other)
    # a colleague in the same community does not reach mine either
    with pytest.raises(NotFound):
        notifications.acknowledge(Actor.for_person(a.grid_worker), mine.id)
    db.session.refresh(theirs)
    assert theirs.acknowledged_at is None


def test_urgent_unacknowledged_on_top_then_newest_first_and_counts(chain):
    a = chain.a
    staff = Actor.for_person(a.staff)
    old_urgent = notifications.notify(a.staff.id, "urgent_help", "U1", "…", urgent=True)
    plain = notifications.notify(a.staff.id, "case_assigned", "N1", "…")
    done_urgent = notifications.notify(a.staff.id, "urgent_help", "U2", "…", urgent=True)
    newest = notifications.notify(a.staff.id, "case_overdue", "N2", "…")
    notifications.acknowledge(staff, done_urgent.id)
    db.session.commit()
    order = [n.id for n in notifications.list_alerts(staff).items]
    assert order == [old_urgent.id, newest.id, done_urgent.id, plain.id]
    counts = notifications.alert_counts(staff)
    assert counts == {
        "unacknowledged": 3,
        "urgent": 1,
        "newest_id": newest.id,
        "newest_urgent_id": old_urgent.id,
    }


def test_escalation_runs_as_a_loop_job(chain, app):
    a = chain.a
    names = {job.name: job for job in jobs.registered(app)}
    assert names["urgent_help_escalation"].loop and names["alert_doorbells"].loop
    t0 = utcnow()
    _, alert = _raise(a, t0)
    result = jobs.run_due(t0 + timedelta(minutes=MINUTES), only=["urgent_help_escalation"])
    assert result == {"urgent_help_escalation": {"climbed": 1}}
    assert a.staff.id in _told(alert.id)


def test_the_api_acknowledges_and_counts(client, auth, chain):
    a = chain.a
    urgent.raise_urgent_help(Actor.for_person(a.elder), "救命")
    db.session.commit()
    headers = auth.headers(a.grid_worker)
    counts = client.get("/api/v1/notifications/unread-count", headers=headers).get_json()
    assert counts["unacknowledged"] == 1 and counts["urgent"] == 1 and counts["unread"] == 1
    note = client.get("/api/v1/notifications", headers=headers).get_json()["items"][0]
    assert note["urgent"] is True and note["acknowledged_at"] is None
    done = client.post(f"/api/v1/notifications/{note['id']}/acknowledge", headers=headers)
    assert done.status_code == 200 and done.get_json()["acknowledged_by_id"] == a.grid_worker.id
    counts = client.get("/api/v1/notifications/unread-count", headers=headers).get_json()
    assert counts["unacknowledged"] == 0 and counts["urgent"] == 0
    # another person's notice: 404 in the envelope
    other = client.post(
        f"/api/v1/notifications/{note['id']}/acknowledge", headers=auth.headers(a.staff)
    )
    assert other.status_code == 404 and other.get_json()["code"] == 404


def test_doorbells_reach_streams_of_this_process_for_notices_written_elsewhere(app, chain):
    """Without Redis a notice written by another worker never passes this process's bus: the
    loop job sees the new id and rings the listening person's channel (and nobody else's)."""
    from app.infra import events
    from app.screens import feed

    feed.watcher(app).stop()  # a watcher left by a stream test would run the job meanwhile
    notifications._SEEN.clear()
    a = chain.a
    bus = events.get_bus(app)
    with bus.subscribe([notifications.alert_channel(a.staff.id)]) as sub:
        assert notifications.doorbells_job(None, False) == {"rang": 0}  # learns where it stands
        # as another process would write them: straight into the table, no doorbell here
        for person_id in (a.staff.id, a.grid_worker.id):
            db.session.execute(
                Notification.__table__.insert().values(
                    person_id=person_id,
                    kind="case_assigned",
                    title="New work",
                    body="…",
                    urgent=False,
                    created_at=utcnow(),
                )
            )
        db.session.commit()
        assert sub.get(timeout=0.1) is None
        assert notifications.doorbells_job(None, False) == {"rang": 1}  # only the listener
        channel, message = sub.get(timeout=1)
        newest = db.session.scalar(
            select(Notification.id)
            .where(Notification.person_id == a.staff.id)
            .order_by(Notification.id.desc())
        )
        assert channel == f"alerts:{a.staff.id}" and message["id"] == newest
        assert notifications.doorbells_job(None, False) == {"rang": 0}  # once
        assert notifications.doorbells_job(None, True) == {"rang": 0}  # cron: nobody listens


def test_a_residents_confirmation_or_reopening_reaches_the_handlers(chain):
    from app.affairs import workflow
    from tests.affairs.conftest import put_in_state, submit

    a = chain.a
    case = submit(a)
    put_in_state(case, a, "resolved")  # handled by A's organization

    def kinds(person):
        return [
            n.kind
            for n in db.session.scalars(
                select(Notification).where(Notification.person_id == person.id)
            )
        ]

    workflow.reopen_case(Actor.for_person(a.resident), case.id, reason="灯还是不亮")
    db.session.commit()
    reopened = db.session.scalars(
        select(Notification).where(
            Notification.person_id == a.org_member.id, Notification.kind == "case_reopened"
        )
    ).one()
    assert case.reference in reopened.title and "灯还是不亮" in reopened.body
    assert reopened.link == f"/staff/cases/{case.id}"
    put_in_state(case, a, "resolved")
    workflow.confirm_case(Actor.for_person(a.resident), case.id)
    db.session.commit()
    assert "case_confirmed" in kinds(a.org_member)
    assert "case_confirmed" not in kinds(chain.b.staff)
    # a step staff take themselves is not announced to them this way
    put_in_state(case, a, "resolved")
    workflow.transition(Actor.for_person(a.staff), case.id, "close")
    db.session.commit()
    assert kinds(a.org_member).count("case_confirmed") == 1


def test_with_redis_an_urgent_alert_rings_another_workers_stream(app, chain, monkeypatch):
    """With REDIS_URL the doorbell goes over Redis: a stream held by another worker hears it
    at once (after commit), with no poll."""
    import uuid

    from app.infra.events import EventBus
    from tests.kiosk.test_events import REDIS_URL
    from tests.live import redis_reachable

    if not redis_reachable(REDIS_URL):
        pytest.skip("Redis is not running")
    a = chain.a
    prefix = f"linli-test-{uuid.uuid4().hex[:8]}"
    monkeypatch.setitem(app.extensions, "linli_events", EventBus(REDIS_URL, prefix))
    other_worker = EventBus(REDIS_URL, prefix)
    try:
        sub = other_worker.subscribe([notifications.alert_channel(a.grid_worker.id)])
        urgent.raise_urgent_help(Actor.for_person(a.elder), "救命")
        assert sub.get(0.3) is None  # not before the commit
        db.session.commit()
        channel, message = sub.get(2.0)
        note = db.session.scalars(
            select(Notification)
            .where(Notification.person_id == a.grid_worker.id)
            .order_by(Notification.id)
        ).all()[-1]
        assert channel == f"alerts:{a.grid_worker.id}" and message["id"] == note.id
    finally:
        other_worker.stop()
        app.extensions["linli_events"].stop()


def test_help_said_again_joins_the_waiting_alert(chain):
    # One emergency, one chain and one case: said again (or a client's retry) before anybody
    # took it, the call joins the alert, and its level is told once more.
    a = chain.a
    t0 = utcnow()
    told, alert = _raise(a, t0)
    again, same = _raise(a, t0 + timedelta(minutes=2))
    assert same.id == alert.id and again == told
    assert db.session.query(HelpAlert).count() == 1
    assert db.session.query(Case).filter(Case.category.has(code="help")).count() == 1
    assert _told(alert.id) == sorted(told * 2)
    steps = db.session.query(CaseEvent).filter_by(case_id=alert.case_id, kind="help_alerted")
    assert steps.count() == 2
    # Once somebody took it on, a new call is a new alert.
    staff_note = db.session.scalar(
        select(Notification).where(
            Notification.alert_id == alert.id, Notification.person_id == a.staff.id
        )
    )
    notifications.acknowledge(Actor.for_person(a.staff), staff_note.id)
    db.session.commit()
    _, taken_on = _raise(a, t0 + timedelta(minutes=3))
    assert taken_on.id != alert.id
    # And so is one after a while, even if nobody took the last one on.
    _, later = _raise(a, t0 + urgent.REPEAT_WINDOW + timedelta(minutes=4))
    assert later.id not in (alert.id, taken_on.id)
