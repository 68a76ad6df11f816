"""PostgreSQL under gevent (app/database.py HoldingWaits): a connection that has written in its
transaction waits for the server without handing the worker to its other requests, for a
bounded time; reads stay cooperative; a lock held by another request of the same worker is
still waited for cooperatively after the bound, so the worker never stalls on itself.

gevent's monkey patching cannot be undone inside pytest's process, so each case runs in a
child Python that patches first, as gunicorn.conf.py does. PostgreSQL only (TEST_DATABASE_URL).
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest
from sqlalchemy import create_engine

from app.database import install_postgres
from tests.conftest import _postgres_url
from tests.live import create_postgres_database

pytestmark = pytest.mark.skipif(_postgres_url() is None, reason="PostgreSQL (TEST_DATABASE_URL)")

_PRELUDE = """
from gevent import monkey
monkey.patch_all()
import json, sys, time
import gevent
from sqlalchemy import create_engine, text
from app.database import install_postgres

engine = create_engine(sys.argv[1], pool_size=4)
waits = install_postgres(engine, {"PG_HOLDING_WAIT_MS": int(sys.argv[2])})
assert waits is not None
with engine.begin() as conn:
    conn.execute(text("CREATE TABLE IF NOT EXISTS holding_waits_probe (id int PRIMARY KEY, n int)"))
    conn.execute(text("INSERT INTO holding_waits_probe VALUES (1, 0) ON CONFLICT DO NOTHING"))

ticks = [0]

def ticker():  # runs whenever the worker's hub gets the CPU from a waiting request
    while True:
        ticks[0] += 1
        gevent.sleep(0)

def ticks_during(work):
    before = ticks[0]
    work()
    return ticks[0] - before
"""


@pytest.fixture(scope="module")
def pg_url():
    """A database of its own on the test server (the probe's table is dropped with it)."""
    url, drop = create_postgres_database(_postgres_url(), "linli_waits")
    yield url
    drop()


def _run(url: str, body: str, budget_ms: int, timeout: float = 60) -> dict:
    script = _PRELUDE + textwrap.dedent(body)
    done = subprocess.run(
        [sys.executable, "-c", script, url, str(budget_ms)],
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_a_write_transaction_does_not_yield_and_reads_do(pg_url):
    result = _run(
        pg_url,
        """
        gevent.spawn(ticker)
        gevent.sleep(0)

        def reads():
            with engine.connect() as conn:
                conn.execute(text("SET LOCAL join_collapse_limit = 1"))  # the inbox's: no lock
                for _ in range(20):
                    conn.execute(text("SELECT pg_sleep(0.002)"))
                conn.rollback()

        def writes():
            with engine.begin() as conn:
                conn.execute(text("UPDATE holding_waits_probe SET n = n + 1 WHERE id = 1"))
                for _ in range(20):
                    conn.execute(text("SELECT pg_sleep(0.002)"))

        def after_a_rollback():
            with engine.connect() as conn:
                conn.execute(text("UPDATE holding_waits_probe SET n = n + 1 WHERE id = 1"))
                conn.rollback()
                for _ in range(20):
                    conn.execute(text("SELECT pg_sleep(0.002)"))
                conn.rollback()

        print(json.dumps({
            "reads": ticks_during(reads),
            "writes": ticks_during(writes),
            "reads_after_commit": ticks_during(reads),
            "after_a_rollback": ticks_during(after_a_rollback),
            "holding": len(waits.holding),
        }))
        """,
        budget_ms=200,
    )
    assert result["reads"] >= 20  # every round trip let the ticker run
    assert result["writes"] <= 1  # the UPDATE and the 20 round trips after it did not
    assert result["reads_after_commit"] >= 20
    assert result["after_a_rollback"] >= 20
    assert result["holding"] == 0


def test_a_lock_held_by_a_request_of_the_same_worker_is_waited_for_cooperatively(pg_url):
    """Greenlet A holds the row and waits (cooperatively) for something else; B, in a write
    transaction, needs the row. B blocks for the bound only, then lets A run and commit: the
    worker does not stall on itself (without the bound it would wait forever)."""
    result = _run(
        pg_url,
        """
        order = []

        def a():
            with engine.begin() as conn:
                conn.execute(text("UPDATE holding_waits_probe SET n = n + 1 WHERE id = 1"))
                order.append("a holds")
                gevent.sleep(0.3)  # e.g. a call to another service, holding the row
                order.append("a commits")

        def b():
            with engine.begin() as conn:
                conn.execute(text("CREATE TEMP TABLE IF NOT EXISTS y (id int)"))
                conn.execute(text("INSERT INTO y VALUES (1)"))  # B is in a write transaction
                conn.execute(text("UPDATE holding_waits_probe SET n = n + 1 WHERE id = 1"))
                order.append("b updated")

        started = time.monotonic()
        first = gevent.spawn(a)
        gevent.sleep(0.05)
        second = gevent.spawn(b)
        gevent.joinall([first, second], timeout=20, raise_error=True)
        print(json.dumps({"order": order, "seconds": time.monotonic() - started}))
        """,
        budget_ms=50,
    )
    assert result["order"] == ["a holds", "a commits", "b updated"]
    assert result["seconds"] < 5


def test_not_installed_where_waits_block_already():
    """In a process gevent has not patched (threads, gthread workers), psycopg's waits block
    already: nothing is installed."""
    url = _postgres_url()
    engine = create_engine(url)
    try:
        assert install_postgres(engine, {"PG_HOLDING_WAIT_MS": 5}) is None
    finally:
        engine.dispose()


def test_a_lost_connection_is_not_marked_and_an_ended_one_is_forgotten():
    """A statement on a closed connection fails as it would have (no error from the hook), and
    the end of a transaction forgets the connection."""
    import select

    import psycopg

    from app.database import HoldingWaits

    waits = HoldingWaits(0.005, select.poll, select.poll, None)
    conn = psycopg.connect(_postgres_url().replace("postgresql+psycopg://", "postgresql://"))
    try:
        waits.begin(conn)
        assert waits.holding == {conn.pgconn.socket}
        waits.end(conn)
        assert waits.holding == set()
    finally:
        conn.close()
    waits.begin(conn)
    assert waits.holding == set()
