"""Counts per status in the staff inbox: kept figures that always match the cases themselves."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from app.affairs import counts, deadlines, workflow
from app.extensions import db
from app.models.case import CASE_STATUSES, Case, CaseStatusCount
from tests.affairs.conftest import actor, backdate, put_in_state, submit


def _counted(community_id) -> dict:
    rows = db.session.execute(
        select(Case.status, func.count())
        .where(Case.community_id == community_id)
        .group_by(Case.status)
    )
    return {status: n for status, n in rows}


def _kept(community_id) -> dict:
    rows = db.session.execute(
        select(CaseStatusCount.status, CaseStatusCount.total).where(
            CaseStatusCount.community_id == community_id
        )
    )
    return {status: n for status, n in rows if n}


def _inbox_counts(client, auth, side) -> dict:
    r = client.get(
        "/api/v1/cases",
        headers=auth.headers(side.staff),
        query_string={"community_id": side.community.id},
    )
    assert r.status_code == 200, r.get_json()
    return {s: n for s, n in r.get_json()["counts"].items() if n and s in CASE_STATUSES}


def test_counts_per_status_follow_every_move_and_stay_in_their_community(client, cats, auth):
    world = cats
    a1, a2, a3, a4 = (submit(world.a) for _ in range(4))
    b1, _b2 = submit(world.b), submit(world.b)
    put_in_state(a2, world.a, "assigned")
    put_in_state(a3, world.a, "resolved")
    put_in_state(a4, world.a, "closed")
    put_in_state(b1, world.b, "in_progress")
    workflow.transition(actor(world.a.staff), a1.id, "accept")
    db.session.commit()
    # Nobody confirmed a3 in time: the auto-close claims it with an UPDATE of its own.
    backdate(a3, resolved_at=timedelta(days=60))
    assert (
        deadlines.run_due_work(community_id=world.a.community.id, only=("auto_closed",))[
            "auto_closed"
        ]
        == 1
    )
    db.session.commit()

    expected_a = {"accepted": 1, "assigned": 1, "closed": 2}
    assert _inbox_counts(client, auth, world.a) == expected_a == _counted(world.a.community.id)
    assert _inbox_counts(client, auth, world.b) == {"submitted": 1, "in_progress": 1}
    assert _kept(world.a.community.id) == expected_a
    assert _kept(world.b.community.id) == _counted(world.b.community.id)
    full = client.get("/api/v1/cases", headers=auth.headers(world.a.staff)).get_json()["counts"]
    assert (full["open"], full["rejected"], full["submitted"]) == (2, 0, 0)


def test_counts_include_this_transactions_moves_and_forget_rolled_back_ones(cats):
    world = cats
    case = submit(world.a)
    staff = actor(world.a.staff)
    workflow.transition(staff, case.id, "reject", reason="不属于社区受理范围")
    tally = counts.status_counts(staff, world.a.community.id)
    assert (tally["submitted"], tally["rejected"], tally["open"]) == (0, 1, 0)
    db.session.rollback()
    tally = counts.status_counts(staff, world.a.community.id)
    assert (tally["submitted"], tally["rejected"], tally["open"]) == (1, 0, 1)
    assert _kept(world.a.community.id) == {"submitted": 1}


def test_recount_rebuilds_the_figures_from_the_cases(cats):
    world = cats
    submit(world.a), submit(world.b)
    db.session.execute(CaseStatusCount.__table__.delete())
    db.session.commit()
    counts.recount_statuses()
    db.session.commit()
    assert _kept(world.a.community.id) == {"submitted": 1} == _kept(world.b.community.id)


def test_the_overdue_count_comes_with_the_kept_figures_and_sees_unflushed_changes(cats):
    world = cats
    staff = actor(world.a.staff)
    community_id = world.a.community.id
    # A community with no kept rows yet still gets its overdue row (0).
    tally = counts.status_counts(staff, community_id)
    assert tally["overdue"] == 0 and tally["open"] == 0
    late, on_time, closed = submit(world.a), submit(world.a), submit(world.a)
    put_in_state(closed, world.a, "closed")
    db.session.commit()
    for case in (late, closed):
        backdate(case, due_at=timedelta(days=30))
    db.session.commit()
    tally = counts.status_counts(staff, community_id)
    # Only the open case past its deadline; the closed one is not overdue any more.
    assert (tally["overdue"], tally["open"], tally["closed"]) == (1, 2, 1)
    # A change not flushed yet counts: status_counts reads past the ORM (app.database.plain)
    # but flushes first, as session.execute would.
    db.session.get(Case, on_time.id).due_at = late.due_at
    assert counts.status_counts(staff, community_id)["overdue"] == 2
    db.session.rollback()
    assert counts.status_counts(staff, community_id)["overdue"] == 1
