"""Idempotency-Key: a kiosk or phone on a flaky network retries a create, and it happens once.

How it stays correct under concurrent retries, on SQLite and PostgreSQL alike: the first thing
a keyed request writes is its key row (unique on an HMAC of caller + key). A concurrent retry's
insert of the same row waits on the first transaction (PostgreSQL: the unique index; SQLite: the
database write lock) and then fails with an IntegrityError; it rolls back and answers with the
response the first one stored in the same transaction. A request that fails stores nothing, so
it can be retried with the same key. The same key with a different request is refused (422).

This module is the HTTP-free part (keys, fingerprints, the stored answers); the decorator that
reads the header and replays a stored response is the channels' `app.http_idempotency`
(`@idempotent()` on a view). The unit of work (app/infra/uow.py) commits the key row with the
request's work, once, on success.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import bindparam, event, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.extensions import db
from app.infra import uow
from app.infra.errors import Conflict, Invalid
from app.models.base import utcnow
from app.models.idempotency import IdempotencyKey

HEADER = "Idempotency-Key"
KEY = re.compile(r"^[\x21-\x7e]{1,200}$")
# A form's one-time token (`one_time_token()`), as pages send it.
ONE_TIME = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
# Response headers worth replaying.
KEEP_HEADERS = ("Location",)


@dataclass(frozen=True)
class StoredAnswer:
    """The answer the first request with a key gave, for its retries."""

    status_code: int
    content_type: str | None
    body: str
    headers: dict


def actor_scope(actor) -> str | None:
    """Whose keys these are: a device, or a person (acting for someone, or not)."""
    if actor.device is not None:
        return f"d:{actor.device.id}"
    if actor.person is not None:
        behalf = f":{actor.on_behalf_of.id}" if actor.on_behalf_of is not None else ""
        return f"p:{actor.person.id}{behalf}"
    return None


def one_time_token() -> str:
    """A fresh token for a page's form that must take effect once, however often it is sent."""
    return secrets.token_urlsafe(18)


def key_hash(scope: str, key: str) -> str:
    """HMAC of caller scope and key: the stored row never names the caller."""
    secret = current_app.config["SECRET_KEY"].encode()
    return hmac.new(secret, f"{scope}\0{key}".encode(), hashlib.sha256).hexdigest()


def check_key(key: str) -> None:
    """A key is 1 to 200 visible ASCII characters."""
    if not KEY.fullmatch(key):
        raise Invalid(errors={HEADER: [str(_l("1 to 200 visible ASCII characters."))]})


def fingerprint(
    method: str,
    path: str,
    *,
    form: Iterable[tuple[str, str]] | None = None,
    files: Iterable[tuple[str, bytes]] | None = None,
    raw: bytes = b"",
    canonical: str | None = None,
) -> str:
    """SHA-256 of method, path and body: a form's fields and files by content (`form` given),
    else the JSON body canonicalised by the channel (`canonical`), else the raw bytes."""
    digest = hashlib.sha256(f"{method} {path}\0".encode())
    if form is not None:
        for name, value in sorted(form):
            digest.update(f"f\0{name}\0{value}\0".encode())
        for name, data in sorted(files or (), key=lambda kv: kv[0]):
            digest.update(f"u\0{name}\0".encode() + hashlib.sha256(data).digest())
    elif canonical is not None:
        digest.update(canonical.encode())
    else:
        digest.update(raw)
    return digest.hexdigest()


# Built once (every keyed request runs it), the hash bound at execution.
_LOOKUP = select(IdempotencyKey).where(IdempotencyKey.key_hash == bindparam("k_hash"))


def _lookup(hashed: str) -> IdempotencyKey | None:
    row = db.session.scalar(_LOOKUP, {"k_hash": hashed})
    if row is None:
        return None
    ttl = timedelta(hours=current_app.config["IDEMPOTENCY_TTL_HOURS"])
    if row.created_at < utcnow() - ttl:
        db.session.delete(row)
        db.session.flush()
        return None
    return row


def stored_answer(row: IdempotencyKey, fingerprint: str) -> StoredAnswer:
    """What a retry gets: the first request's answer (the same request only, else 422)."""
    if not hmac.compare_digest(row.fingerprint, fingerprint):
        raise Invalid(
            _l("This Idempotency-Key was already used for a different request."),
            errors={HEADER: [str(_l("Use a new key for a new request."))]},
        )
    if row.status_code is None:  # pragma: no cover - rows are written with their response
        raise Conflict()
    return StoredAnswer(row.status_code, row.content_type, row.body or "", dict(row.headers or {}))


def claim(who: str, key: str, fingerprint: str) -> tuple[IdempotencyKey, bool]:
    """Take `key` for the caller `who`: ``(row, True)`` when this request is the first with it
    (the row is written first, so it must be the transaction's first write), else the earlier
    request's row and False. Callers that go on store their answer with `remember`."""
    hashed = key_hash(who, key)
    row = _lookup(hashed)
    if row is not None:
        return row, False
    row = IdempotencyKey(key_hash=hashed, fingerprint=fingerprint)
    db.session.add(row)
    try:
        db.session.flush()
    except IntegrityError:
        # A concurrent retry with this key committed first: answer as it did. The key row is
        # the transaction's first write, so ending the failed transaction loses nothing.
        uow.rollback()
        row = _lookup(hashed)
        if row is None:
            raise Conflict() from None
        return row, False
    return row, True


# --- the late claim: the key row written just before the transaction's first write --------------
# `claim` writes the key row at once, so on SQLite the request holds the database's one write lock
# from then on, through all its reads and checks. `claim_late` only looks the key up and leaves
# the row pending; session hooks write it just before the first statement that is not a SELECT
# and before the first flush with changes, so it is still the transaction's first write (a
# concurrent retry waits on it and answers as the first did), only taken later.

_PENDING = "idempotency_pending"  # (key hash, fingerprint): the row to write before a write
_CLAIMED = "idempotency_claimed"  # the id of the row this request wrote
_TAKEN = "idempotency_taken"  # the key hash a concurrent request committed first


class KeyTaken(Exception):  # noqa: N818 - a signal to the channel, not a failure
    """A concurrent request with the same key committed first: roll back, answer as it did."""


def claim_late(who: str, key: str, fingerprint: str) -> IdempotencyKey | None:
    """Like `claim`, but the key row is written just before this transaction's first write:
    the earlier request's row (answer with `stored_answer`), or None when this request is the
    first so far — then run the work, catch `KeyTaken` (see `taken`), store the answer with
    `remember_late` and always call `forget_late` at the end."""
    hashed = key_hash(who, key)
    row = _lookup(hashed)
    if row is not None:
        return row
    info = db.session.info
    info.pop(_TAKEN, None)
    info.pop(_CLAIMED, None)
    info[_PENDING] = (hashed, fingerprint)
    return None


# The late claim's two statements, built once (values bound at execution: SQLAlchemy reuses
# them and their compiled form).
_KEYS = IdempotencyKey.__table__
_INSERT_KEY = _KEYS.insert().values(
    key_hash=bindparam("k_hash", type_=_KEYS.c.key_hash.type),
    fingerprint=bindparam("k_print", type_=_KEYS.c.fingerprint.type),
    headers=bindparam("k_headers", type_=_KEYS.c.headers.type),
    created_at=bindparam("k_at", type_=_KEYS.c.created_at.type),
)
_STORE_ANSWER = (
    _KEYS.update()
    .where(_KEYS.c.id == bindparam("k_id", type_=_KEYS.c.id.type))
    .values(
        status_code=bindparam("k_status", type_=_KEYS.c.status_code.type),
        content_type=bindparam("k_type", type_=_KEYS.c.content_type.type),
        body=bindparam("k_body", type_=_KEYS.c.body.type),
        headers=bindparam("k_headers", type_=_KEYS.c.headers.type),
    )
)


def _write_pending(session: Session) -> None:
    hashed, fingerprint = session.info.pop(_PENDING)
    params = {"k_hash": hashed, "k_print": fingerprint, "k_headers": {}, "k_at": utcnow()}
    try:
        result = session.execute(_INSERT_KEY, params)
    except IntegrityError:
        # Kept in the session too, in case some code swallows the signal: the channel checks.
        session.info[_TAKEN] = hashed
        raise KeyTaken() from None
    session.info[_CLAIMED] = result.inserted_primary_key[0]


def _before_statement(state) -> None:
    if _PENDING in state.session.info and not state.is_select:
        _write_pending(state.session)


def _before_flush(session: Session, _context, _instances) -> None:
    if _PENDING in session.info:
        _write_pending(session)


def taken() -> IdempotencyKey | None:
    """After `KeyTaken` (or any failure once it was signalled): roll back, then the row of the
    request that committed first (None when this request's key was not taken)."""
    hashed = db.session.info.pop(_TAKEN, None)
    if hashed is None:
        return None
    uow.rollback()
    row = _lookup(hashed)
    if row is None:
        raise Conflict()
    return row


def remember_late(
    status_code: int, content_type: str, body: str, headers: dict | None = None
) -> None:
    """Store the answer under the key `claim_late` left pending (writing the row now if the
    work wrote nothing)."""
    if _PENDING in db.session.info:
        _write_pending(db.session)
    db.session.execute(
        _STORE_ANSWER,
        {
            "k_id": db.session.info[_CLAIMED],
            "k_status": status_code,
            "k_type": content_type,
            "k_body": body,
            "k_headers": headers or {},
        },
    )


def forget_late() -> None:
    """The request is over: no key row is pending any more."""
    for name in (_PENDING, _CLAIMED, _TAKEN):
        db.session.info.pop(name, None)


def install() -> None:
    """Attach the session hooks of the late claim (idempotent)."""
    for name, fn in (("do_orm_execute", _before_statement), ("before_flush", _before_flush)):
        if not event.contains(Session, name, fn):
            event.listen(Session, name, fn)


install()


def remember(
    row: IdempotencyKey, status_code: int, content_type: str, body: str, headers: dict | None = None
) -> None:
    """Store the answer a retry with the row's key gets."""
    row.status_code = status_code
    row.content_type = content_type
    row.body = body
    row.headers = headers or {}
    db.session.flush()


def purge_expired() -> int:
    """Delete keys older than IDEMPOTENCY_TTL_HOURS; returns how many."""
    ttl = timedelta(hours=current_app.config["IDEMPOTENCY_TTL_HOURS"])
    result = db.session.execute(
        IdempotencyKey.__table__.delete().where(IdempotencyKey.created_at < utcnow() - ttl)
    )
    return result.rowcount or 0
