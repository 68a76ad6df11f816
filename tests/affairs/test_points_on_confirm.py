"""A resident who confirms their fixed case earns the community's points for it (once, also on
a retry); a reopening takes them back. The affairs domain only says what happened
("case_confirmed" / "case_reopened"); participation follows it (app/__init__.py listeners)."""

from __future__ import annotations

from sqlalchemy import select

from app.affairs import workflow
from app.extensions import db
from app.models.points import PointEntry
from app.participation import points
from tests.affairs.conftest import actor, put_in_state, submit


def _lines(case_id):
    return list(
        db.session.scalars(
            select(PointEntry.delta)
            .where(PointEntry.source_kind == "case_confirmed", PointEntry.source_id == case_id)
            .order_by(PointEntry.id)
        )
    )


def test_confirming_credits_the_reporter_once_and_reopening_takes_it_back(cats):
    side = cats.a
    case = put_in_state(submit(side), side, "resolved")
    db.session.commit()
    before = points.balance(side.resident.id)
    workflow.confirm_case(actor(side.resident), case.id)
    db.session.commit()
    earned = points.DEFAULT_POINTS["case_confirmed"]
    assert points.balance(side.resident.id) == before + earned
    assert _lines(case.id) == [earned]
    # the listener credits at most once for the case, however often it hears it
    points.on_case_confirmed(case)
    assert _lines(case.id) == [earned]


def test_staff_closing_a_case_earns_nothing_and_a_reopening_reverses(cats):
    side = cats.a
    closed = put_in_state(submit(side), side, "resolved")
    db.session.commit()
    workflow.transition(actor(side.staff), closed.id, "close")
    db.session.commit()
    assert _lines(closed.id) == []

    case = put_in_state(submit(side), side, "resolved")
    db.session.commit()
    workflow.confirm_case(actor(side.resident), case.id)
    db.session.commit()
    earned = points.DEFAULT_POINTS["case_confirmed"]
    # The committee reopens the confirmed case through the workflow: its "case_reopened" event
    # reaches participation, which takes the points back.
    workflow.reopen_case(actor(side.staff), case.id, reason="漏水又出现了")
    db.session.commit()
    assert case.status == "reopened"
    assert _lines(case.id) == [earned, -earned]
    assert points.balance(side.resident.id) == 0
    # Reopening the case staff closed takes nothing back: it earned nothing.
    workflow.reopen_case(actor(side.staff), closed.id, reason="复查未通过")
    db.session.commit()
    assert _lines(closed.id) == []
