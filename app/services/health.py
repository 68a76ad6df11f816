"""Readiness: the database answers and the schema is at the latest migration."""

from __future__ import annotations

from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask import current_app
from sqlalchemy import text

from app.extensions import db


def head_revisions() -> set[str]:
    """The migration heads shipped with this code."""
    config = current_app.extensions["migrate"].migrate.get_config()
    return set(ScriptDirectory.from_config(config).get_heads())


def readiness() -> dict:
    """{ready, database, migrations} — never raises."""
    try:
        with db.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
            current = set(MigrationContext.configure(conn).get_current_heads())
    except Exception as exc:  # any failure means not ready
        return {
            "ready": False,
            "database": f"unreachable: {type(exc).__name__}",
            "migrations": None,
        }
    heads = head_revisions()
    current_ok = current == heads
    return {
        "ready": current_ok,
        "database": "ok",
        "migrations": "current" if current_ok else f"at {sorted(current)}, need {sorted(heads)}",
    }
