"""One unit of work: the request's (or command's) database work is committed once, at the end.

Every channel (JSON API, Open311, staff console, easy mode, lobby screen) is served by the same
hook, registered once on the app by `init_app`: a request whose answer is a success (< 400) is
committed after the view returned; any other answer, and any request that failed with an
exception, is rolled back. Services only flush; they never commit.

- `keep()`: commit this request's work even though its answer is an error — a failed sign-in's
  count, a throttle that must stand (a `DomainError` with ``persist = True`` is kept by the error
  handler and by the page helpers through `undo`).
- `undo(error)`: a channel that answers a service error itself (a page re-shown with the
  message) drops the failed work now, or keeps it when the error says it must persist.
- `commit()`: the one explicit commit, for work outside a request's end: CLI commands,
  background jobs, and a WebSocket turn that must be saved before the socket waits again.
- `lock_row(model, id)`: requests that change one row (an activity's places, a person's
  points, a household's vote, an announcement's revision) take turns until each commits.

The hook runs when the view returns, before a streamed body is sent: so an event stream holds
no transaction while it waits, and a stream's body must not write.

Messages for live clients (`app.infra.events.publish_after_commit`) are sent by the session's
after-commit event, so they still go out only once the work is committed.
"""

from __future__ import annotations

import logging

from flask import Flask, current_app, g, has_request_context
from sqlalchemy import select, update
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm import make_transient_to_detached

from app.extensions import db
from app.infra import audit

log = logging.getLogger("linli.uow")

_KEEP = "uow_keep"
EXTENSION = "linli_uow"


def keep() -> None:
    """Commit this request's work even if the answer is an error (a failure count must stand)."""
    if has_request_context():
        setattr(g, _KEEP, True)


def undo(error: Exception | None = None) -> None:
    """After a service error the channel answers itself: roll the work back now — unless the
    error says its work must persist (``persist = True``), which is then kept for the commit."""
    if getattr(error, "persist", False):
        keep()
    else:
        db.session.rollback()


def commit() -> None:
    """Commit now: CLI commands, background jobs and WebSocket turns (no request end to wait
    for)."""
    db.session.commit()


def rollback() -> None:
    """Drop the work not yet committed."""
    db.session.rollback()


_INSERTS: dict = {}


def lock_row(model, row_id: int) -> None:
    """Hold a row until this transaction ends, so that requests changing it take turns and
    each reads what the one before committed. PostgreSQL locks the row (SELECT ... FOR
    UPDATE); SQLite has one write lock for the whole database, which a no-change UPDATE of the
    row takes (its updated_at kept as it is, not set by the column's onupdate)."""
    table = model.__table__
    if db.session.get_bind().dialect.name == "sqlite":
        same = {"id": table.c.id}
        if "updated_at" in table.c:
            same["updated_at"] = table.c.updated_at
        db.session.execute(
            update(table).where(table.c.id == row_id).values(**same),
            execution_options={"synchronize_session": False},
        )
    else:
        db.session.execute(select(table.c.id).where(table.c.id == row_id).with_for_update())


def _insert_of(model) -> tuple:
    # Per model, built once: the INSERT and, per attribute, its column's key and whether the
    # database fills it in when left out (a server default only).
    if model not in _INSERTS:
        table = model.__table__
        columns = []
        for prop in model.__mapper__.column_attrs:
            column = prop.columns[0]
            if column.primary_key:
                continue
            by_server = column.server_default is not None and column.default is None
            columns.append((prop.key, column.key, by_server))
        _INSERTS[model] = (table.insert(), tuple(columns))
    return _INSERTS[model]


def insert_loaded(model, values: dict):
    """A new row written by one plain INSERT, returned as the object it is, already loaded.

    For the hot writes of a request (a new case, its first step, a notice): the unit of work
    would work out what to write from every relationship of the model and its cascades (for a
    case, fifteen of them), where one row goes in with its related rows named by id. The object
    holds exactly what went in, Python-side column defaults included; a column only the
    database fills in is left unloaded and read if asked for. It is in the session as if loaded
    (relationships load on access as usual), and a staff-side caller's creation is on the audit
    record as the flush would put it. What else a flush would do for this model is the
    caller's (a case's status count: `counts.note_new_case`)."""
    statement, columns = _insert_of(model)
    result = db.session.execute(statement, values)
    written = result.last_inserted_params()
    loaded = {
        attr: written.get(key)
        for attr, key, by_server in columns
        if key in written or not by_server
    }
    obj = model(id=result.inserted_primary_key[0], **loaded)
    make_transient_to_detached(obj)
    db.session.add(obj)
    audit.created(obj)
    return obj


def _finish(response):
    """After the view: commit a success (or kept work), roll back anything else."""
    kept = g.pop(_KEEP, False)
    if response.status_code >= 400 and not kept:
        db.session.rollback()
        return response
    try:
        db.session.commit()
    except Exception as error:
        db.session.rollback()
        if response.status_code >= 400:  # kept work of a failed request: the answer stands
            log.exception("commit of kept work failed")
            return response
        return _failed_commit(error)
    g.pop("actor", None)
    return response


def _failed_commit(error: Exception):
    # The channels' error answers (409 for a conflict, 503 for an unavailable database, each in
    # its channel's format) are handed in by create_app: infra imports no channel.
    if not isinstance(error, IntegrityError | DBAPIError | PoolTimeout):
        raise error
    answer = current_app.extensions[EXTENSION](error)
    return current_app.make_response(answer)


def _teardown(exc: BaseException | None) -> None:
    # A request that failed with an exception nobody answered leaves nothing behind.
    g.pop(_KEEP, None)
    if exc is not None:
        db.session.rollback()


def init_app(app: Flask, answer_failed_commit) -> None:
    """Register the hook once for every blueprint; `answer_failed_commit(error)` gives the
    answer when the commit itself fails (a conflict, the database gone). Registered after the
    other app-level `after_request` hooks, so it runs before them (Flask runs them in reverse):
    headers are added to the answer it gives, even a replaced one."""
    app.extensions[EXTENSION] = answer_failed_commit
    app.after_request(_finish)
    app.teardown_request(_teardown)
