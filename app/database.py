"""How the app talks to its database engine: SQLite pragmas and busy waits that do not freeze.

SQLite lets one writer at a time. Its own busy wait sleeps inside the C library, which under
gevent freezes the whole worker: every other request, and the very request that holds the
write lock and needs the CPU to commit it (with a 30 s busy timeout, one worker stood still for
30 s). So SQLite waits only `SQLITE_BUSY_SLICE_MS` itself; a statement refused as busy is tried
again after a cooperative sleep (time.sleep, patched by gevent) until `SQLITE_BUSY_TIMEOUT`
seconds have passed, and then fails (a 503 the client may retry). Retrying is safe because a
statement refused with SQLITE_BUSY did nothing: with Python's sqlite3 a transaction's first
write is its first statement, so it holds no snapshot yet.
"""

from __future__ import annotations

import random
import sqlite3
import time

from sqlalchemy import event

# Execution option: this statement's own busy budget in seconds (readiness probes want less).
BUSY_BUDGET = "linli_busy_seconds"


def _is_busy(error: Exception) -> bool:
    return (
        isinstance(error, sqlite3.OperationalError)
        and getattr(error, "sqlite_errorname", "SQLITE_BUSY") == "SQLITE_BUSY"
        and "locked" in str(error)
    )


def _retrying(run, context, budget: float):
    if context is not None:
        budget = context.execution_options.get(BUSY_BUDGET, budget)
    deadline = time.monotonic() + budget
    pause = 0.002
    while True:
        try:
            run()
            return True
        except sqlite3.OperationalError as error:
            if not _is_busy(error) or time.monotonic() >= deadline:
                raise
        time.sleep(min(pause * (0.5 + random.random()), max(0.0, deadline - time.monotonic())))
        pause = min(pause * 2, 0.05)


def install_sqlite(engine, config) -> None:
    """Pragmas on every new SQLite connection, and cooperative retries of busy statements."""
    slice_ms = int(config["SQLITE_BUSY_SLICE_MS"])
    budget = float(config["SQLITE_BUSY_TIMEOUT"])

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record):  # pragma: no cover - trivial
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA journal_mode=WAL")
        # Durable across a crash of the process in WAL mode; FULL stalled gevent workers for
        # seconds on a busy disk (only a power cut can lose the last commits).
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute(f"PRAGMA busy_timeout={slice_ms}")
        cur.close()

    @event.listens_for(engine, "do_execute")
    def _execute(cursor, statement, parameters, context):
        return _retrying(lambda: cursor.execute(statement, parameters), context, budget)

    @event.listens_for(engine, "do_execute_no_params")
    def _execute_no_params(cursor, statement, context):
        return _retrying(lambda: cursor.execute(statement), context, budget)

    @event.listens_for(engine, "do_executemany")
    def _executemany(cursor, statement, parameters, context):
        return _retrying(lambda: cursor.executemany(statement, parameters), context, budget)


def schema_on(dialect_name: str):
    """An Alembic `include_object` for comparing the models with a database of `dialect_name`:
    autogenerate does not read `ddl_if`, so the model objects that `ddl_if(dialect=…)` builds
    on other databases only are left out (ix_case_record_open_due: PostgreSQL)."""

    def include_object(obj, name, type_, reflected, compare_to):
        ddl_if = getattr(obj, "_ddl_if", None)
        if reflected or ddl_if is None or ddl_if.dialect is None:
            return True
        dialects = (ddl_if.dialect,) if isinstance(ddl_if.dialect, str) else ddl_if.dialect
        return dialect_name in dialects

    return include_object
