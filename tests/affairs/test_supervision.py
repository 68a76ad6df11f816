"""督办 (supervision): the street official of the case's street office sets a deadline and an
instruction on an escalated case; the committee and the handler see it and answer it; residents,
the public view, the lobby screen and the 查进度 sentence never read the instruction."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from app.affairs import kiosk_progress, queries, supervision, views, workflow
from app.affairs.deadlines import evaluate_case
from app.extensions import db
from app.infra import audit
from app.infra.errors import Conflict, Forbidden, Invalid, NotFound
from app.models import AuditLog
from app.models.base import utcnow
from app.models.case import CaseEvent
from app.models.notification import Notification
from app.models.supervision import CaseSupervision
from app.residents import easy
from tests.affairs.conftest import actor, backdate, put_in_state, submit

INSTRUCTION = "请三日内修复并回报街道，密码门禁 4321"


def escalated(side, status="assigned"):
    """A case of the side put in `status`, then left two days past its deadline: escalated."""
    case = submit(side)
    put_in_state(case, side, status)
    backdate(case, due_at=timedelta(hours=24 * 4))
    assert "escalated" in evaluate_case(case)
    db.session.commit()
    return case


def issue(world, case, *, by=None, hours=48, text=INSTRUCTION):
    item = supervision.supervise_case(
        actor(by or world.official),
        case.id,
        instruction=text,
        due_at=utcnow() + timedelta(hours=hours),
    )
    db.session.commit()
    return item


def test_the_official_of_the_office_supervises_an_escalated_case(cats):
    world = cats
    case = escalated(world.a)
    audit.bind_actor(actor(world.official))  # what the request does (security.current_actor)
    item = issue(world, case)
    assert item.status == "open" and item.community_id == case.community_id
    event = case.events[-1]
    assert event.kind == "supervised" and event.public is False and event.note == INSTRUCTION
    assert event.actor_person_id == world.official.id
    # The committee and the organization's member who handles it are told.
    told = set(
        db.session.scalars(
            db.select(Notification.person_id).where(Notification.kind == "case_supervised")
        )
    )
    assert world.a.staff.id in told and world.a.org_member.id in told
    # The change is audited by the flush hook, as the official's.
    entry = db.session.scalars(
        db.select(AuditLog).where(AuditLog.target_type == "case_supervision")
    ).one()
    assert entry.actor_person_id == world.official.id and entry.action == "create"
    assert entry.community_id == case.community_id


def test_only_the_official_of_the_cases_street_office(cats):
    world = cats
    case = escalated(world.a)
    with pytest.raises(NotFound):  # another street office: the case does not exist for them
        issue(world, case, by=world.office_b_official)
    for who in (world.a.staff, world.a.grid_worker, world.a.org_member, world.a.resident):
        with pytest.raises(Forbidden):
            issue(world, case, by=who)
    case.is_public = False
    db.session.commit()
    with pytest.raises(NotFound):  # a private case of their community, not theirs
        issue(world, case, by=world.a.elder)
    assert db.session.scalar(db.select(db.func.count()).select_from(CaseSupervision)) == 0


def test_not_escalated_or_closed_is_a_conflict(cats):
    world = cats
    fresh = submit(world.a)
    with pytest.raises(Conflict):
        issue(world, fresh)
    done = escalated(world.a)
    put_in_state(done, world.a, "closed")
    with pytest.raises(Conflict):
        issue(world, done)


@pytest.mark.parametrize("hours", [-1, 0, 24 * 400])
def test_the_deadline_must_be_ahead_within_a_year(cats, hours):
    world = cats
    case = escalated(world.a)
    with pytest.raises(Invalid) as caught:
        issue(world, case, hours=hours)
    assert "due_at" in caught.value.errors


def test_an_empty_instruction_is_refused(cats):
    world = cats
    case = escalated(world.a)
    with pytest.raises(Invalid) as caught:
        issue(world, case, text="   ")
    assert "instruction" in caught.value.errors


def test_fulfilment_is_recorded_and_the_official_told(cats):
    world = cats
    case = escalated(world.a)
    item = issue(world, case)
    # The official, a grid worker not handling it, and a resident may not answer it.
    for who, error in (
        (world.official, Forbidden),
        (world.a.grid_worker, Forbidden),
        (world.a.resident, Forbidden),  # the reporter
        (world.b.staff, NotFound),
    ):
        with pytest.raises(error):
            supervision.fulfil_supervision(actor(who), case.id, item.id, note="好了")
    with pytest.raises(Invalid):
        supervision.fulfil_supervision(actor(world.a.org_member), case.id, item.id, note=" ")
    done = supervision.fulfil_supervision(
        actor(world.a.org_member), case.id, item.id, note="已更换灯管"
    )
    db.session.commit()
    assert done.status == "fulfilled" and done.fulfilled_by_id == world.a.org_member.id
    assert done.fulfilment_note == "已更换灯管" and done.fulfilled_at is not None
    assert case.events[-1].kind == "supervision_fulfilled" and case.events[-1].public is False
    told = db.session.scalars(
        db.select(Notification).where(Notification.kind == "case_supervision_done")
    ).one()
    assert told.person_id == world.official.id
    with pytest.raises(Conflict):  # answered once
        supervision.fulfil_supervision(actor(world.a.staff), case.id, item.id, note="再次")
    with pytest.raises(NotFound):  # the id of another case's 督办
        other = escalated(world.a)
        supervision.fulfil_supervision(actor(world.a.staff), other.id, item.id, note="x")
    row = supervision.case_supervisions(actor(world.a.staff), case)[0]
    assert row["open"] is False and row["overdue"] is False and row["late"] is False


def test_overdue_supervision_is_flagged_and_listed_for_the_committee_and_handler(cats):
    world = cats
    case = escalated(world.a)
    item = issue(world, case)
    foreign = escalated(world.b)
    issue(world, foreign, by=world.office_b_official)
    item.due_at = utcnow() - timedelta(hours=1)
    db.session.commit()
    for who in (world.a.staff, world.a.org_member, world.official, world.admin):
        rows = supervision.open_supervisions_for(actor(who))
        mine = [r for r in rows if r["case_id"] == case.id]
        assert mine and mine[0]["overdue"] is True and mine[0]["instruction"] == INSTRUCTION
        if who is not world.admin:
            assert all(r["community_id"] == world.a.community.id for r in rows)
    # B's organization handles the foreign case: that one only.
    rows = supervision.open_supervisions_for(actor(world.b.org_member))
    assert [r["case_id"] for r in rows] == [foreign.id]
    assert supervision.open_supervisions_for(actor(world.a.resident)) == []
    supervision.fulfil_supervision(actor(world.a.staff), case.id, item.id, note="处理完毕")
    db.session.commit()
    assert supervision.open_supervisions_for(actor(world.a.staff)) == []
    row = supervision.case_supervisions(actor(world.official), case)[0]
    assert row["late"] is True and row["overdue"] is False


def test_the_official_adds_a_note_and_reassigns_within_the_community(cats):
    world = cats
    case = escalated(world.a)
    assert "assign" in views.case_view(actor(world.official), case)["actions"]
    note = workflow.add_note(actor(world.official), case.id, "街道关注此事", public=True)
    assert note.public is False  # an official's note on the case is internal
    with pytest.raises(Invalid):  # a worker of another community
        workflow.assign_case(actor(world.official), case.id, person_id=world.b.grid_worker.id)
    workflow.assign_case(actor(world.official), case.id, person_id=world.a.grid_worker.id)
    db.session.commit()
    assert case.assignee_person_id == world.a.grid_worker.id
    assert case.events[-1].kind == "assigned"
    assert case.events[-1].actor_person_id == world.official.id
    choices = queries.case_assignee_choices(actor(world.official), case)
    assert world.a.grid_worker.id in {p["id"] for p in choices["people"]}
    # Not escalated: the read-only official changes nothing.
    calm = submit(world.a)
    with pytest.raises(Forbidden):
        workflow.add_note(actor(world.official), calm.id, "看看")
    with pytest.raises(Forbidden):
        workflow.assign_case(actor(world.official), calm.id, person_id=world.a.grid_worker.id)


def test_residents_screens_and_the_public_never_read_the_instruction(cats):
    world = cats
    case = escalated(world.a)
    case.is_public = True
    item = issue(world, case)
    supervision.fulfil_supervision(actor(world.a.staff), case.id, item.id, note="回报内容")
    db.session.commit()
    secret = ("密码门禁", "回报内容")
    outsiders = [
        views.case_view(actor(world.a.resident), case),  # the reporter
        views.case_view(actor(world.a.elder), case),  # a neighbour (public view)
        easy.case_for_resident(actor(world.a.resident), case.id),
        kiosk_progress.progress_view(case),
        {"s": queries.case_status_for_reference(actor(world.a.resident), case.reference)},
    ]
    for seen in outsiders:
        text = json.dumps(seen, default=str, ensure_ascii=False)
        assert not any(s in text for s in secret), text
        assert "supervis" not in text
    assert supervision.case_supervisions(actor(world.a.resident), case) == []
    with pytest.raises(NotFound):
        supervision.list_supervisions(actor(world.b.staff), case.id)
    with pytest.raises(Forbidden):
        supervision.list_supervisions(actor(world.a.resident), case.id)
    events = db.session.scalars(
        db.select(CaseEvent).where(CaseEvent.kind.in_(["supervised", "supervision_fulfilled"]))
    ).all()
    assert len(events) == 2 and not any(e.public for e in events)
