"""Readiness: the database answers, can write, and the schema is at the latest migration."""

from __future__ import annotations

from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask import current_app
from sqlalchemy import text

from app.database import BUSY_BUDGET
from app.extensions import db

# Writes nothing, but the database must grant a write to run it: a read-only file or server,
# or a SQLite write lock held for too long, make it fail. Always rolled back.
WRITE_PROBE = text("UPDATE alembic_version SET version_num = version_num WHERE 1 = 0")
PROBE_SECONDS = 2


def head_revisions() -> set[str]:
    """The migration heads shipped with this code."""
    config = current_app.extensions["migrate"].migrate.get_config()
    return set(ScriptDirectory.from_config(config).get_heads())


def _probe_write(conn) -> None:
    conn.execute(WRITE_PROBE.execution_options(**{BUSY_BUDGET: PROBE_SECONDS}))


def readiness() -> dict:
    """{ready, database, migrations} — never raises.

    Runs on the request's own session connection (one request = one connection) and rolls
    back whatever it did."""
    try:
        conn = db.session.connection()
        if conn.dialect.name == "postgresql":  # a probe waits seconds, not forever
            conn.execute(text(f"SET LOCAL statement_timeout = '{PROBE_SECONDS}s'"))
        conn.execute(text("SELECT 1"))
        current = set(MigrationContext.configure(conn).get_current_heads())
    except Exception as exc:  # any failure means not ready
        _rollback()
        return {
            "ready": False,
            "database": f"unreachable: {type(exc).__name__}",
            "migrations": None,
        }
    heads = head_revisions()
    current_ok = current == heads
    database = "ok"
    if current:
        try:
            _probe_write(conn)
        except Exception as exc:  # read-only, locked, out of space…
            database = f"cannot write: {type(exc).__name__}"
    _rollback()
    return {
        "ready": current_ok and database == "ok",
        "database": database,
        "migrations": "current" if current_ok else f"at {sorted(current)}, need {sorted(heads)}",
    }


def _rollback() -> None:
    # The write probe must never be kept: its transaction ends here, not in the unit of work.
    try:
        db.session.rollback()
    except Exception:  # pragma: no cover - the connection is gone; the pool replaces it
        pass
