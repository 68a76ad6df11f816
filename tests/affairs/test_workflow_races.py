"""Steps that two requests take at once, and steps taken again after a reopen.

A case's status moves by a conditional UPDATE (workflow._move): of two requests that read the
same status, the second is refused with 409 instead of writing the step twice and moving the
status counts twice. Runs on SQLite and, with TEST_DATABASE_URL, on PostgreSQL.
"""

from __future__ import annotations

from app.affairs import workflow
from app.extensions import db
from app.infra.errors import Conflict
from app.models.case import Case, CaseEvent
from tests.affairs.conftest import put_in_state, submit
from tests.affairs.test_counts import _counted, _kept
from tests.participation.helpers import concurrently


def test_two_resolves_at_once_make_one_step(app, cats):
    world = cats
    case = put_in_state(submit(world.a), world.a, "in_progress")
    case.assignee_organization_id = None
    case.assignee_person_id = world.a.staff.id
    db.session.commit()
    results = concurrently(
        app,
        [world.a.staff.id] * 4,
        lambda who: workflow.transition(who, case.id, "resolve", note="修好了").id,
    )
    assert sum(r == case.id for r in results) == 1, results
    assert all(isinstance(r, Conflict) for r in results if r != case.id), results
    db.session.expire_all()
    resolved = db.session.query(CaseEvent).filter_by(case_id=case.id, kind="resolve").count()
    assert resolved == 1
    assert db.session.get(Case, case.id).status == "resolved"
    assert _kept(world.a.community.id) == _counted(world.a.community.id)


def test_a_confirm_and_a_close_at_once_make_one_step(app, cats):
    world = cats
    case = put_in_state(submit(world.a), world.a, "resolved")
    db.session.commit()
    steps = {world.a.resident.id: "confirm", world.a.staff.id: "close"}
    results = concurrently(
        app,
        list(steps),
        lambda who: workflow.transition(who, case.id, steps[who.person_id]).status,
    )
    assert sorted(map(type, results), key=str) == sorted([str, Conflict], key=str), results
    db.session.expire_all()
    closing = db.session.query(CaseEvent).filter(
        CaseEvent.case_id == case.id, CaseEvent.kind.in_(("confirm", "close"))
    )
    assert closing.count() == 1
    assert _kept(world.a.community.id) == _counted(world.a.community.id)


def test_a_case_reopened_after_its_rating_can_be_rated_again(client, cats, auth):
    world = cats
    case = put_in_state(submit(world.a), world.a, "resolved")
    db.session.commit()
    me = auth.headers(world.a.resident)
    url = f"/api/v1/cases/{case.id}/transitions"
    r = client.post(url, json={"action": "confirm", "rating": 5}, headers=me)
    assert r.status_code == 200 and r.get_json()["rating"] == 5
    staff = auth.headers(world.a.staff)
    assert (
        client.post(url, json={"action": "reopen", "note": "又坏了"}, headers=staff).status_code
        == 200
    )
    db.session.expire_all()
    assert db.session.get(Case, case.id).rating is None
    put_in_state(db.session.get(Case, case.id), world.a, "resolved")  # fixed again
    db.session.commit()
    # The second fix is confirmed and rated as the first was (a 409 before).
    r = client.post(url, json={"action": "confirm", "rating": 3}, headers=me)
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["rating"] == 3
    rated = db.session.query(CaseEvent).filter_by(case_id=case.id, kind="rated").count()
    assert rated == 2  # both ratings stay on the timeline


def test_why_staff_merged_a_case_stays_inside(client, cats, auth):
    world = cats
    duplicate = submit(world.a, is_public=True)
    original = submit(world.a, by=world.a.elder, is_public=True)
    staff = auth.headers(world.a.staff)
    note = "和502王阿姨反映的重复"
    r = client.post(
        f"/api/v1/cases/{duplicate.id}/merge",
        json={"into_reference": original.reference, "note": note},
        headers=staff,
    )
    assert r.status_code == 200, r.get_json()
    inside = client.get(f"/api/v1/cases/{duplicate.id}", headers=staff).get_data(as_text=True)
    assert note in inside
    # A neighbour and the duplicate's own reporter see the step, not why.
    for who in (world.a.elder, world.a.resident):
        seen = client.get(f"/api/v1/cases/{duplicate.id}", headers=auth.headers(who))
        assert seen.status_code == 200
        kinds = [e["kind"] for e in seen.get_json()["timeline"]]
        assert "merged" in kinds and note not in seen.get_data(as_text=True), who
