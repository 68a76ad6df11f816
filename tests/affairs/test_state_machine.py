"""The case lifecycle as a state machine: every action × every status × every role.

The expected table below is written out independently of app.affairs.rules.RULES, so a change
to the rules that is not also a deliberate change here fails.
"""

from __future__ import annotations

import pytest

from app.affairs import rules, workflow
from app.extensions import db
from app.infra.errors import DomainError
from app.models.case import CASE_STATUSES, OPEN_STATUSES, CaseEvent
from tests.affairs.conftest import actor, put_in_state, submit

M = frozenset({"staff", "official_writer", "admin"})
REPORTERS = frozenset({"reporter", "proxy"})
EXPECTED = {
    "accept": {"submitted": M, "reopened": M},
    "reject": {"submitted": M, "accepted": M, "reopened": M},
    "assign": {s: M for s in ("submitted", "accepted", "assigned", "in_progress", "reopened")},
    "start": {"assigned": M | {"assignee"}},
    "resolve": {"assigned": M | {"assignee"}, "in_progress": M | {"assignee"}},
    "confirm": {"resolved": REPORTERS},
    "reopen": {"resolved": REPORTERS | M, "closed": M},
    "close": {"resolved": M},
    "merge": {s: M for s in ("submitted", "accepted", "assigned", "in_progress", "reopened")},
}
TARGET = {
    "accept": "accepted",
    "reject": "rejected",
    "assign": "assigned",
    "start": "in_progress",
    "resolve": "resolved",
    "confirm": "closed",
    "reopen": "reopened",
    "close": "closed",
    "merge": "closed",
}
ROLES = [
    "reporter",
    "proxy",
    "neighbour",
    "staff",
    "official",
    "official_writer",
    "admin",
    "grid_worker",
    "assignee",
    "device",
]


def _actor(world, role):
    a = world.a
    return {
        "reporter": lambda: actor(a.elder),
        "proxy": lambda: actor(a.relative, act_for=a.elder),
        "neighbour": lambda: actor(a.resident),
        "staff": lambda: actor(a.staff),
        "official": lambda: actor(world.official),
        "official_writer": lambda: actor(world.official_writer),
        "admin": lambda: actor(world.admin),
        "grid_worker": lambda: actor(a.grid_worker),
        "assignee": lambda: actor(a.org_member),
        "device": lambda: actor(device=a.device),
    }[role]()


def _do(world, who, action, case):
    if action == "assign":
        return workflow.assign_case(who, case.id, person_id=world.a.grid_worker.id)
    if action == "merge":
        target = submit(world.a, description="同一个问题，先报的那条。")
        return workflow.merge_case(who, case.id, target.id)
    if action == "reject":
        return workflow.transition(who, case.id, action, reason="不属于社区受理范围")
    return workflow.transition(who, case.id, action, note="处理说明")


def test_the_table_names_every_action_and_status():
    assert set(EXPECTED) == set(rules.ACTIONS)
    assert set(CASE_STATUSES) == {
        "submitted",
        "accepted",
        "assigned",
        "in_progress",
        "resolved",
        "closed",
        "rejected",
        "reopened",
    }


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("action", list(EXPECTED))
def test_every_transition_is_allowed_exactly_for_its_roles(cats, action, role):
    world = cats
    for status in CASE_STATUSES:
        case = submit(world.a, by=actor(world.a.relative, act_for=world.a.elder))
        put_in_state(case, world.a, status)
        events_before = db.session.query(CaseEvent).filter_by(case_id=case.id).count()
        allowed = role in EXPECTED[action].get(status, ())
        try:
            _do(world, _actor(world, role), action, case)
            db.session.commit()
            outcome = 200
        except DomainError as error:
            db.session.rollback()
            outcome = error.status_code
        db.session.expire_all()
        if allowed:
            assert outcome == 200, (action, status, role)
            assert case.status == TARGET[action]
            kinds = [e.kind for e in case.events]
            assert kinds[-1] == {"assign": "assigned", "merge": "merged"}.get(action, action)
            assert case.events[-1].from_status == status
        else:
            expected = 409 if status not in EXPECTED[action] else 403
            assert outcome == expected, (action, status, role, outcome)
            assert case.status == status
            assert db.session.query(CaseEvent).filter_by(case_id=case.id).count() == events_before


def test_happy_path_through_the_api_with_a_timeline(client, cats, auth):
    world = cats
    resident = auth.headers(world.a.resident)
    staff = auth.headers(world.a.staff)
    org = auth.headers(world.a.org_member)
    r = client.post(
        "/api/v1/cases",
        json={"category_code": "repair", "description": "三楼楼道灯坏了"},
        headers=resident,
    )
    assert r.status_code == 201, r.get_json()
    case_id = r.get_json()["id"]
    assert r.headers["Location"].endswith(f"/api/v1/cases/{case_id}")
    steps = [
        (staff, {"action": "accept", "note": "已受理"}, "accepted"),
        (org, {"action": "start"}, "in_progress"),
        (org, {"action": "resolve", "note": "已更换灯泡"}, "resolved"),
        (resident, {"action": "confirm", "rating": 5, "comment": "谢谢"}, "closed"),
    ]
    r = client.post(f"/api/v1/cases/{case_id}/transitions", json=steps[0][1], headers=staff)
    assert r.status_code == 200 and r.get_json()["status"] == "accepted"
    r = client.post(
        f"/api/v1/cases/{case_id}/assignment",
        json={"organization_id": world.a.organization.id, "note": "请物业今天处理"},
        headers=staff,
    )
    assert r.status_code == 200 and r.get_json()["status"] == "assigned"
    for headers, body, status in steps[1:]:
        r = client.post(f"/api/v1/cases/{case_id}/transitions", json=body, headers=headers)
        assert r.status_code == 200, r.get_json()
        assert r.get_json()["status"] == status
    mine = client.get(f"/api/v1/cases/{case_id}", headers=resident).get_json()
    assert mine["rating"] == 5 and mine["rating_comment"] == "谢谢"
    kinds = [e["kind"] for e in mine["timeline"]]
    # The resident sees public steps only: the internal dispatch instruction stays inside.
    assert kinds == ["submitted", "accept", "start", "resolve", "confirm"]
    assert all(e["public"] for e in mine["timeline"])
    assert "请物业今天处理" not in str(mine)
    full = client.get(f"/api/v1/cases/{case_id}", headers=staff).get_json()
    assert [e["kind"] for e in full["timeline"]] == [
        "submitted",
        "accept",
        "assigned",
        "start",
        "resolve",
        "confirm",
        "rated",
    ]
    assert any(e["note"] == "请物业今天处理" and not e["public"] for e in full["timeline"])
    assert all(e["at"] for e in full["timeline"])
    assert full["timeline"][1]["actor"] == world.a.staff.display_name


def test_reject_needs_a_reason_and_the_resident_reads_it(client, cats, auth):
    world = cats
    case = submit(world.a)
    staff = auth.headers(world.a.staff)
    r = client.post(
        f"/api/v1/cases/{case.id}/transitions", json={"action": "reject"}, headers=staff
    )
    assert r.status_code == 422 and "reason" in r.get_json()["errors"]
    r = client.post(
        f"/api/v1/cases/{case.id}/transitions",
        json={"action": "reject", "reason": "请拨打 12345 反映"},
        headers=staff,
    )
    assert r.status_code == 200
    view = client.get(f"/api/v1/cases/{case.id}", headers=auth.headers(world.a.resident)).get_json()
    assert view["status"] == "rejected" and view["reject_reason"] == "请拨打 12345 反映"
    assert view["timeline"][-1]["note"] == "请拨打 12345 反映"


def test_reopen_resets_the_deadline_and_the_resident_can_rate_once(cats):
    world = cats
    case = submit(world.a)
    put_in_state(case, world.a, "resolved")
    workflow.reopen_case(actor(world.a.resident), case.id, "灯还是不亮")
    db.session.commit()
    assert case.status == "reopened" and case.resolved_at is None
    assert case.due_at > case.created_at
    put_in_state(case, world.a, "resolved")
    workflow.confirm_case(actor(world.a.resident), case.id)
    workflow.rate_case(actor(world.a.resident), case.id, 4, "修好了")
    db.session.commit()
    assert case.rating == 4
    with pytest.raises(DomainError) as again:
        workflow.rate_case(actor(world.a.resident), case.id, 5)
    assert again.value.status_code == 409
    db.session.rollback()
    with pytest.raises(DomainError) as stranger:
        workflow.rate_case(actor(world.a.elder), case.id, 1)
    assert stranger.value.status_code == 403
    for bad in (0, 6, True, "5"):
        other = submit(world.a)
        put_in_state(other, world.a, "resolved")
        with pytest.raises(DomainError) as wrong:
            workflow.confirm_case(actor(world.a.resident), other.id, rating=bad)
        assert wrong.value.status_code == 422
        db.session.rollback()


def test_a_merged_case_cannot_be_reopened(cats):
    world = cats
    target, dup = submit(world.a), submit(world.a, by=world.a.elder)
    workflow.merge_case(actor(world.a.staff), dup.id, target.id)
    db.session.commit()
    with pytest.raises(DomainError) as error:
        workflow.transition(actor(world.a.staff), dup.id, "reopen")
    assert error.value.status_code == 409


def test_the_kiosk_that_filed_an_anonymous_case_may_confirm_it_no_other(cats):
    world = cats
    kiosk = actor(device=world.a.device)
    case = submit(world.a, by=kiosk, code="environment", description="垃圾桶满了")
    assert case.reporter_id is None and case.anonymous
    put_in_state(case, world.a, "resolved")
    from tests import factories as f

    other = f.device(world.a.community)
    db.session.commit()
    with pytest.raises(DomainError) as error:
        workflow.confirm_case(actor(device=other), case.id)
    assert error.value.status_code == 403
    db.session.rollback()
    workflow.confirm_case(kiosk, case.id, rating=4)
    db.session.commit()
    assert case.status == "closed" and case.rating == 4


def test_open_statuses_are_the_ones_with_a_running_clock():
    assert set(OPEN_STATUSES) == {"submitted", "accepted", "assigned", "in_progress", "reopened"}
