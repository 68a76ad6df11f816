"""How the databases plan the staff list's page and the deadline sweeps.

PostgreSQL chooses the page once (an InitPlan, `id = ANY(ARRAY(page))`) and walks open cases by
deadline on ix_case_record_open_due for the overdue page, also in the one plan it reuses for
every execution of a prepared statement (the page's size, offset and statuses are written into
the SQL). SQLite has no such index: without
statistics it would take it for the sweeps' own smaller partial indexes.
"""

from __future__ import annotations

import re
from contextlib import contextmanager
from datetime import timedelta

import pytest
from sqlalchemy import event, inspect

from app.affairs import deadlines
from app.extensions import db
from app.models.base import utcnow
from app.models.case import Case
from tests.affairs.conftest import submit


@contextmanager
def _grab(marker: str):
    """The statements (with their parameters) run inside the block that contain `marker`."""
    seen = []

    def on_execute(_conn, _cursor, statement, parameters, _context, _many):
        if marker in statement:
            seen.append((statement, parameters))

    event.listen(db.engine, "before_cursor_execute", on_execute)
    try:
        yield seen
    finally:
        event.remove(db.engine, "before_cursor_execute", on_execute)


def _number(names: list, name: str) -> str:
    # pyformat's %(name)s as PREPARE's $n
    if name not in names:
        names.append(name)
    return f"${names.index(name) + 1}"


@pytest.fixture()
def overdue(cats):
    """Twelve open cases of community A, all past their deadline."""
    world = cats
    for n in range(12):
        submit(world.a, by=world.a.staff, reporter_id=world.a.resident.id, address=f"东门 {n}")
    db.session.execute(
        db.update(Case)
        .where(Case.community_id == world.a.community.id)
        .values(due_at=utcnow() - timedelta(hours=2))
    )
    db.session.commit()
    return world


def _five_for_staff(client, auth, world, **query):
    """The staff list's first page of five, with `query` as its filters."""
    got = client.get(
        "/api/v1/cases",
        query_string={"community_id": world.a.community.id, "per_page": 5, **query},
        headers=auth.headers(world.a.staff),
    )
    assert got.status_code == 200 and len(got.get_json()["items"]) == 5


def test_postgresql_chooses_the_overdue_page_once_on_the_open_deadline_index(client, auth, overdue):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL's plan (SQLite keeps `id IN (page)`, and has no such index)")
    with _grab("ORDER BY case_record.due_at") as seen:
        _five_for_staff(client, auth, overdue, overdue="true")
    assert len(seen) == 1, seen
    from psycopg import sql

    statement, parameters = seen[0]
    assert "LIMIT 5 OFFSET 0" in statement  # written in: a plan made once still sees them
    raw = db.engine.raw_connection()
    plans = {}
    try:
        cursor = raw.cursor()
        # Twelve rows would rather be sorted than walked: sorting is priced out here, so the
        # plan shows whether the page's conditions let PostgreSQL walk the index at all.
        cursor.execute("SET enable_sort = off")
        # The joins in their written order, as the app plans its pages (_JOINS_AS_WRITTEN).
        cursor.execute("SET join_collapse_limit = 1")
        # The plan for these values, and the one plan for any values that PostgreSQL may
        # switch to after a few executions of a prepared statement (its "generic" plan).
        cursor.execute("EXPLAIN " + statement, parameters)
        plans["custom"] = "\n".join(row[0] for row in cursor.fetchall())
        names = []
        numbered = re.sub(r"%\((\w+)\)s", lambda m: _number(names, m.group(1)), statement)
        cursor.execute("PREPARE page AS " + numbered)
        cursor.execute("SET plan_cache_mode = force_generic_plan")
        values = sql.SQL(", ").join(sql.Literal(parameters[n]) for n in names)
        cursor.execute(sql.SQL("EXPLAIN EXECUTE page({})").format(values))
        plans["generic"] = "\n".join(row[0] for row in cursor.fetchall())
        raw.rollback()
    finally:
        raw.close()
    for plan in plans.values():
        assert "InitPlan" in plan, plan  # the page runs once, not a semi-join among the joins
        assert "ix_case_record_open_due" in plan, plan


def test_postgresql_keeps_the_joins_in_written_order_for_the_page_only(client, auth, overdue):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL's planner setting")
    with _grab("join_collapse_limit") as seen:
        _five_for_staff(client, auth, overdue)
    assert [statement for statement, _ in seen] == ["SET LOCAL join_collapse_limit = 1"]
    # LOCAL: the request's transaction only; the connection goes back to the pool as it was.
    for _ in range(3):  # whichever of the pool's connections comes next
        assert db.session.execute(db.text("SHOW join_collapse_limit")).scalar() == "8"
        db.session.rollback()


def test_sqlite_sweeps_keep_their_own_partial_indexes(app, overdue):
    if db.engine.dialect.name != "sqlite":
        pytest.skip("SQLite's plan (the open-deadline index is PostgreSQL's only)")
    indexes = {ix["name"] for ix in inspect(db.engine).get_indexes("case_record")}
    assert "ix_case_record_notice" in indexes and "ix_case_record_open_due" not in indexes
    with _grab("WHERE case_record.overdue_notified_at") as seen:
        deadlines.run_due_work(community_id=overdue.a.community.id, only=("overdue", "escalated"))
    db.session.rollback()
    sweeps = [(s, p) for s, p in seen if s.lstrip().startswith("SELECT")]
    assert len(sweeps) == 2, [s for s, _ in sweeps]
    raw = db.session.connection().connection.dbapi_connection
    for (statement, parameters), index in zip(
        sweeps, ("ix_case_record_notice", "ix_case_record_escalation"), strict=True
    ):
        plan = [row[3] for row in raw.execute("EXPLAIN QUERY PLAN " + statement, parameters)]
        assert any(f"INDEX {index} " in step for step in plan), plan
