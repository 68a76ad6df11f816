"""Duplicate suggestions near a point stay the newest matches when many reports crowd one place.

The box query walks each open status newest first and keeps the newest 50 of all of them
(app/affairs/intake._similar_places); these tests compare its answer with the rule worked out
in Python over every case, with the open statuses interleaved so a wrong merge would show.
"""

from __future__ import annotations

import math
from datetime import timedelta

import pytest
from flask import current_app
from sqlalchemy import event

from app.affairs import intake
from app.extensions import db
from app.models.base import utcnow
from app.models.case import OPEN_STATUSES, Case
from tests.affairs.conftest import actor, category, put_in_state, submit

LAT, LON = 39.90000, 116.40000
STATUS_CYCLE = [
    "submitted",
    "in_progress",
    "closed",
    "assigned",
    "reopened",
    "accepted",
    "resolved",
]


def _in_box(side, staff: bool) -> list[Case]:
    cat = category(side, "environment")
    radius = current_app.config["CASE_SIMILAR_RADIUS_M"]
    since = utcnow() - timedelta(days=60)
    dlat = math.degrees(radius / 6_371_000.0)
    dlon = dlat / math.cos(math.radians(LAT))
    boxed = [
        c
        for c in db.session.query(Case).filter(Case.category_id == cat.id).all()
        if c.status in OPEN_STATUSES
        and c.merged_into_id is None
        and c.created_at >= since
        and (staff or c.is_public)
        and c.latitude is not None
        and abs(c.latitude - LAT) <= dlat
        and abs(c.longitude - LON) <= dlon
    ]
    return boxed


def _expected(side, *, staff: bool, limit: int = 5) -> list[int]:
    radius = current_app.config["CASE_SIMILAR_RADIUS_M"]
    places = sorted(_in_box(side, staff), key=lambda c: c.id, reverse=True)[:50]
    near = [c.id for c in places if intake._distance_m(LAT, LON, c.latitude, c.longitude) <= radius]
    return near[:limit]


def test_crowded_place_suggests_the_newest_open_cases(app, cats, monkeypatch):
    world = cats
    monkeypatch.setitem(app.config, "CASE_CREATE_PER_HOUR", 0)  # one resident files them all
    made = []
    for i in range(140):
        # Spread over a little more than the radius, so some fall outside it.
        case = submit(
            world.a,
            code="environment",
            description=f"广场积水 {i}",
            address="中心广场",
            latitude=LAT + (i % 9 - 4) * 0.0003,
            longitude=LON + (i % 5 - 2) * 0.0009,
        )
        made.append(case)
    for i, case in enumerate(made):
        status = STATUS_CYCLE[i % len(STATUS_CYCLE)]
        if status != "submitted":
            put_in_state(case, world.a, status)
    # Some private, some old, one merged: none of these may be suggested to a resident.
    made[-1].is_public = False
    made[-2].created_at = utcnow() - timedelta(days=61)
    made[-4].merged_into_id = made[0].id
    db.session.commit()

    cat = category(world.a, "environment")
    for who, staff in ((world.a.resident, False), (world.a.staff, True)):
        got = intake.similar_cases(
            actor(who), category_id=cat.id, latitude=LAT, longitude=LON, limit=5
        )
        expected = _expected(world.a, staff=staff)
        assert len(expected) == 5
        # The rule itself needs the cut: more than 50 matches stand in the box.
        assert len(_in_box(world.a, staff)) > 50
        assert [c.id for c in got] == expected


def test_the_walks_read_only_their_index_on_sqlite(app, cats):
    """On SQLite each kind of place is one walk of its covering index, id after the status (the
    table is never read, and SQLite stops each status's walk early), not a latitude range that
    must read and sort every open case of the category in the band."""
    if db.engine.dialect.name != "sqlite":
        pytest.skip("SQLite's plan; PostgreSQL walks each status apart (see _similar_places)")
    world = cats
    case = submit(world.a, code="environment", address="中心广场", latitude=LAT, longitude=LON)
    seen = []

    def grab(conn, cursor, statement, parameters, context, executemany):
        if "ORDER BY case_record.id DESC" in statement and "building_id" in statement:
            seen.append((statement, parameters))

    event.listen(db.engine, "before_cursor_execute", grab)
    try:
        intake.similar_cases(
            actor(world.a.resident),
            category_id=case.category_id,
            building_id=case.building_id or 1,
            latitude=LAT,
            longitude=LON,
        )
    finally:
        event.remove(db.engine, "before_cursor_execute", grab)
    assert len(seen) == 2
    raw = db.session.connection().connection.dbapi_connection
    for (statement, parameters), index in zip(
        seen, ("ix_case_record_similar", "ix_case_record_nearby_open"), strict=True
    ):
        plan = [row[3] for row in raw.execute("EXPLAIN QUERY PLAN " + statement, parameters)]
        walks = [p for p in plan if p.startswith("SEARCH case_record")]
        assert walks == [walks[0]] and f"COVERING INDEX {index} " in walks[0], plan
