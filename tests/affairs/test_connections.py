"""One request = one database connection.

A request that holds a pooled connection and then asks the pool for a second one deadlocks
under a burst: every connection is held by a request waiting for another (the 500s after 30 s
that 150 concurrent case submissions gave on PostgreSQL with gevent workers). These tests count
the connections a request has checked out at once, on SQLite and on PostgreSQL alike.
"""

from __future__ import annotations

import io
from contextlib import contextmanager

import pytest
from sqlalchemy import event

from app.affairs import intake
from app.extensions import db
from tests.affairs.conftest import actor, image_bytes, submit

BODY = {"category_code": "repair", "description": "单元门禁坏了，门关不上"}


@contextmanager
def checkouts():
    """Track how many pooled connections are checked out at once (`peak`)."""
    pool = db.engine.pool
    state = {"out": 0, "peak": 0, "total": 0}

    def on_checkout(*_args):
        state["out"] += 1
        state["total"] += 1
        state["peak"] = max(state["peak"], state["out"])

    def on_checkin(*_args):
        state["out"] -= 1

    # The test's own session gives its connection back first: the request starts with none.
    db.session.commit()
    event.listen(pool, "checkout", on_checkout)
    event.listen(pool, "checkin", on_checkin)
    try:
        yield state
    finally:
        event.remove(pool, "checkout", on_checkout)
        event.remove(pool, "checkin", on_checkin)


def test_submitting_a_case_uses_one_connection(cats, client, auth):
    headers = {**auth.headers(cats.a.resident), "Idempotency-Key": "one-connection"}
    with checkouts() as seen:
        r = client.post("/api/v1/cases", json=BODY, headers=headers)
    assert r.status_code == 201, r.get_json()
    assert seen["total"] >= 1
    assert seen["peak"] == 1, seen


def test_submitting_twice_in_one_transaction_still_uses_one_connection(cats):
    # The service itself (kiosk, voice, Open311 and the web pages call it too).
    with checkouts() as seen:
        first = intake.submit_case(
            actor(cats.a.resident), category_code="repair", description="楼道灯不亮了"
        )
        second = intake.submit_case(
            actor(cats.a.elder), category_code="repair", description="电梯停在五楼不动"
        )
        db.session.commit()
    assert first.reference != second.reference
    assert seen["peak"] == 1, seen


def test_uploading_a_photo_uses_one_connection(cats, client, auth):
    case = submit(cats.a)
    headers = {**auth.headers(cats.a.resident), "Idempotency-Key": "photo-one-connection"}
    with checkouts() as seen:
        r = client.post(
            f"/api/v1/cases/{case.id}/attachments",
            headers=headers,
            data={"file": (io.BytesIO(image_bytes("PNG")), "p.png", "image/png")},
        )
    assert r.status_code == 201, r.get_json()
    assert seen["peak"] == 1, seen


@pytest.mark.parametrize("path", ["/readyz", "/healthz"])
def test_health_checks_use_at_most_one_connection(client, db, path):
    with checkouts() as seen:
        r = client.get(path)
    assert r.status_code == 200, r.get_json()
    assert seen["peak"] <= 1, seen


def test_a_pool_of_one_connection_serves_a_submission(app, cats, auth):
    """The deadlock itself, made deterministic: with one pooled connection, a request that asks
    for a second one waits for itself until the pool times out."""
    from tests.test_database import other_app

    headers = {**auth.headers(cats.a.resident), "Idempotency-Key": "pool-of-one"}
    db.session.commit()
    with other_app(
        app,
        env={"DATABASE_POOL_SIZE": "1", "DATABASE_MAX_OVERFLOW": "0", "DATABASE_POOL_TIMEOUT": "1"},
        SQLALCHEMY_ENGINE_OPTIONS={"pool_size": 1, "max_overflow": 0, "pool_timeout": 1},
    ) as small:
        r = small.test_client().post("/api/v1/cases", json=BODY, headers=headers)
    assert r.status_code == 201, r.get_data(as_text=True)[:300]
