"""Fixed-window counters in the database (table rate_limit): sign-in failures per address,
cases per person or screen, new speech per caller.

Counting is one statement (INSERT … ON CONFLICT DO UPDATE … RETURNING) on SQLite and
PostgreSQL alike, so concurrent requests are counted exactly: PostgreSQL locks the row until
the transaction ends, SQLite takes its write lock. A count belongs to the request's
transaction: a request that fails and rolls back did not count.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import bindparam, case, delete, or_, select

from app.extensions import db
from app.infra.errors import TooManyRequests
from app.models import RateLimit
from app.models.base import utcnow

_table = RateLimit.__table__


def upsert(table):
    """The INSERT construct with ON CONFLICT of the session's database (SQLite or PostgreSQL)."""
    if db.session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert(table)


def address_key(kind: str, ip: str | None) -> str | None:
    """A counter key for a client address: HMAC'd (the table never names an address); an
    IPv6 address counts as its /64, which one household or attacker usually holds whole."""
    if not ip:
        return None
    try:
        address = ipaddress.ip_address(ip.strip())
    except ValueError:
        return None
    if address.version == 6 and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if address.version == 6:
        text = str(ipaddress.ip_network(f"{address}/64", strict=False))
    else:
        text = str(address)
    secret = str(current_app.config["SECRET_KEY"]).encode()
    digest = hmac.new(secret, f"{kind}\0{text}".encode(), hashlib.sha256).hexdigest()[:40]
    return f"{kind}:{digest}"


def retry_after(expires_at: datetime | None, now: datetime | None = None) -> dict:
    """The Retry-After header (whole seconds, at least 1) for a window ending at expires_at."""
    now = now or utcnow()
    seconds = 1 if expires_at is None else int((expires_at - now).total_seconds()) + 1
    return {"Retry-After": str(max(1, seconds))}


def _count_statement(dialect: str, limited: bool):
    """The counting upsert, built once per database kind (with or without a limit): its
    values are bound at execution, so SQLAlchemy reuses the statement and its compiled form."""
    key = (dialect, limited)
    stmt = _COUNTS.get(key)
    if stmt is not None:
        return stmt
    at = _table.c.expires_at.type
    now = bindparam("rl_now", type_=at)
    expired = _table.c.expires_at <= now
    stmt = upsert(_table).values(
        key=bindparam("rl_key", type_=_table.c.key.type),
        hits=1,
        expires_at=bindparam("rl_until", type_=at),
    )
    where = or_(expired, _table.c.hits < bindparam("rl_limit")) if limited else None
    stmt = stmt.on_conflict_do_update(
        index_elements=[_table.c.key],
        set_={
            "hits": case((expired, 1), else_=_table.c.hits + 1),
            "expires_at": case((expired, stmt.excluded.expires_at), else_=_table.c.expires_at),
        },
        where=where,
    ).returning(_table.c.hits)
    _COUNTS[key] = stmt
    return stmt


_COUNTS: dict = {}


def _count(key: str, window: timedelta, now: datetime, limit: int | None) -> int | None:
    stmt = _count_statement(db.session.get_bind().dialect.name, limit is not None)
    params = {"rl_key": key, "rl_now": now, "rl_until": now + window}
    if limit is not None:
        params["rl_limit"] = limit
    return db.session.execute(stmt, params).scalar()


def hit(
    key: str, *, limit: int, window: timedelta, now: datetime | None = None, message=None
) -> int:
    """Count one event under `key`: at most `limit` per window, else TooManyRequests (429 with
    Retry-After; the refused event is not counted). Returns the count in this window."""
    now = now or utcnow()
    got = _count(key, window, now, limit)
    if got is None:
        raise TooManyRequests(message, headers=retry_after(expires_at(key), now))
    return got


def add(key: str, *, window: timedelta, now: datetime | None = None) -> int:
    """Count one event under `key` without a limit (check it with `over`); the new count."""
    return _count(key, window, now or utcnow(), None)


def expires_at(key: str) -> datetime | None:
    """When the current window of `key` ends."""
    return db.session.scalar(select(RateLimit.expires_at).where(RateLimit.key == key))


def over(key: str, limit: int, *, now: datetime | None = None) -> datetime | None:
    """If `key` has reached `limit` in its current window: when the window ends, else None."""
    now = now or utcnow()
    row = db.session.execute(
        select(RateLimit.hits, RateLimit.expires_at).where(RateLimit.key == key)
    ).first()
    if row is None or row.expires_at <= now or row.hits < limit:
        return None
    return row.expires_at


def purge_expired(now: datetime | None = None) -> int:
    """Delete the counters whose window has ended; returns how many."""
    result = db.session.execute(delete(RateLimit).where(RateLimit.expires_at <= (now or utcnow())))
    return result.rowcount or 0
