"""Sign-in: argon2 hashes, PINs and passwords, bearer tokens, throttling of wrong attempts.

Throttling has two parts. An address (the client IP, which the channel passes in) that sent
LOGIN_IP_MAX_FAILURES wrong secrets within LOGIN_IP_WINDOW_MINUTES gets 429 for every login
until its window ends, before anything is checked, so one attacker stops long before they can
keep someone else's account locked. An account locks (423) after LOGIN_MAX_FAILURES wrong
secrets in a row: LOGIN_LOCKOUT_FIRST_MINUTES at first, twice as long at each further lock up
to LOGIN_LOCKOUT_MINUTES; a successful sign-in starts it over. Failures are counted with one
atomic statement per attempt, so concurrent wrong PINs are all counted.

argon2 is CPU-bound C code: under gevent workers it runs in the hub's thread pool (at most
PASSWORD_HASH_THREADS at once per process), so the worker's other requests go on meanwhile.
"""

from __future__ import annotations

import functools
import hashlib
import secrets
import threading
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import bindparam, delete, select, update
from sqlalchemy.orm import joinedload

from app.extensions import db
from app.infra import audit, offload, ratelimit
from app.infra.errors import Invalid, Locked, NotFound, TooManyRequests, Unauthorized
from app.infra.text import half_width, is_clean, looks_like_phone, normalize_phone
from app.models import ApiToken, Device, LoginThrottle, Person, WebSession
from app.models.base import utcnow
from app.people.actors import Actor

_hashers: dict[str, PasswordHasher] = {}
_slots: dict[int, threading.BoundedSemaphore] = {}


def _hasher() -> PasswordHasher:
    # Tests use cheap parameters; everything else uses argon2-cffi's defaults (RFC 9106 low-memory).
    profile = current_app.config.get("ARGON2_PROFILE", "default")
    if profile not in _hashers:
        _hashers[profile] = (
            PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
            if profile == "fast"
            else PasswordHasher()
        )
    return _hashers[profile]


def off_loop(fn, *args):
    """Run CPU-bound `fn(*args)` off a gevent worker's event loop (app/infra/offload.py),
    at most PASSWORD_HASH_THREADS at once: each default argon2 hash takes 64 MiB."""
    # The semaphore (patched, cooperative) is made per process, after the fork.
    limit = max(1, int(current_app.config.get("PASSWORD_HASH_THREADS", 2)))
    slots = _slots.get(limit)
    if slots is None:
        slots = _slots.setdefault(limit, threading.BoundedSemaphore(limit))
    return offload.off_loop(fn, *args, slots=slots)


def hash_secret(secret: str) -> str:
    """Argon2id hash of a password or PIN."""
    return off_loop(_hasher().hash, secret)


def _verify(hasher: PasswordHasher, hashed: str, secret: str) -> bool:
    try:
        return hasher.verify(hashed, secret)
    except (VerificationError, InvalidHashError):
        return False


def verify_secret(hashed: str | None, secret: str) -> bool:
    """Constant-time check of a secret against its argon2 hash."""
    if not hashed:
        # Spend the same effort so unknown logins are not faster to reject.
        hash_secret(secret)
        return False
    return off_loop(_verify, _hasher(), hashed, secret)


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _login_key(login: str) -> str:
    if looks_like_phone(login):
        return normalize_phone(login)
    name = login.strip().lower()[:78]
    # Other counters in the table have keys like "pairing:<id>": a typed login never hits one.
    return f"u:{name}" if ":" in name else name


def find_person_by_login(login: str) -> Person | None:
    """A person by phone number (any format) or username."""
    if looks_like_phone(login):
        return db.session.scalar(select(Person).where(Person.phone == normalize_phone(login)))
    return db.session.scalar(select(Person).where(Person.username == login.strip().lower()))


def _minutes(seconds: int) -> int:
    return max(1, (seconds + 59) // 60)


def _check_address(ip_key: str | None, now: datetime) -> None:
    if ip_key is None:
        return
    until = ratelimit.over(ip_key, current_app.config["LOGIN_IP_MAX_FAILURES"], now=now)
    if until is not None:
        headers = ratelimit.retry_after(until, now)
        raise TooManyRequests(
            _l(
                "Too many wrong attempts from this network. Please try again in %(m)d minutes.",
                m=_minutes(int(headers["Retry-After"])),
            ),
            headers=headers,
        )


def _locked(until: datetime, now: datetime) -> Locked:
    seconds = int((until - now).total_seconds()) + 1
    return Locked(
        _l(
            "Too many wrong attempts. Please try again in %(m)d minutes, or ask the "
            "residents' committee to reset it.",
            m=_minutes(seconds),
        ),
        headers={"Retry-After": str(seconds)},
    )


def _check_lock(key: str, now: datetime) -> None:
    until = db.session.scalar(select(LoginThrottle.locked_until).where(LoginThrottle.login == key))
    if until is not None and until > now:
        raise _locked(until, now)


def lock_minutes(locks_before: int) -> int:
    """How long the next lock lasts after `locks_before` earlier ones: doubling from
    LOGIN_LOCKOUT_FIRST_MINUTES up to LOGIN_LOCKOUT_MINUTES."""
    cfg = current_app.config
    longest = cfg["LOGIN_LOCKOUT_MINUTES"]
    first = min(cfg["LOGIN_LOCKOUT_FIRST_MINUTES"], longest)
    return longest if locks_before >= 30 else min(longest, first * 2**locks_before)


def _fail(key: str, now: datetime) -> None:
    """Count one wrong secret for the login, atomically; lock it at LOGIN_MAX_FAILURES."""
    table = LoginThrottle.__table__
    unlocked = (table.c.locked_until.is_(None)) | (table.c.locked_until <= now)
    stmt = ratelimit.upsert(table).values(login=key, failures=1, last_failure_at=now, lock_count=0)
    stmt = stmt.on_conflict_do_update(
        index_elements=[table.c.login],
        set_={"failures": table.c.failures + 1, "last_failure_at": now},
        # An attempt that raced with the one that locked the login is refused, not counted.
        where=unlocked,
    ).returning(table.c.failures, table.c.lock_count)
    row = db.session.execute(stmt).first()
    if row is None:
        until = db.session.scalar(
            select(LoginThrottle.locked_until).where(LoginThrottle.login == key)
        )
        error = _locked(until or now, now)
        error.persist = True  # the address's count stands
        raise error
    failures, locks = row
    if failures >= current_app.config["LOGIN_MAX_FAILURES"]:
        # This transaction holds the row (PostgreSQL row lock, SQLite write lock) until commit.
        db.session.execute(
            update(LoginThrottle)
            .where(LoginThrottle.login == key)
            .values(
                failures=0,
                lock_count=locks + 1,
                locked_until=now + timedelta(minutes=lock_minutes(locks)),
            )
        )


def _succeeded(key: str) -> None:
    counted = (
        LoginThrottle.login == key,
        (LoginThrottle.failures != 0)
        | (LoginThrottle.lock_count != 0)
        | LoginThrottle.locked_until.is_not(None),
    )
    # Read first: most sign-ins have nothing to reset, and then take no write lock (SQLite).
    if db.session.scalar(select(LoginThrottle.login).where(*counted)) is not None:
        db.session.execute(
            update(LoginThrottle)
            .where(*counted)
            .values(failures=0, lock_count=0, locked_until=None)
        )


def authenticate(
    login: str, *, pin: str | None = None, password: str | None = None, ip: str | None = None
) -> Person:
    """Check a phone/username with a PIN or password; throttle the address (`ip`, from the
    channel) and lock the login after repeated failures.

    A failed attempt raises with `persist=True` so the failure count is committed even though
    the request fails.
    """
    if (
        not isinstance(login, str)
        or not login.strip()
        or len(login) > 80
        or not is_clean(login)  # control characters, lone surrogates: no login holds them
    ):
        raise Invalid(errors={"login": [str(_l("Please enter your phone number or username."))]})
    if (pin is None) == (password is None):
        raise Invalid(errors={"pin": [str(_l("Give either a PIN or a password."))]})
    key = _login_key(login)
    ip_key = ratelimit.address_key("login-ip", ip)
    now = utcnow()
    _check_address(ip_key, now)
    _check_lock(key, now)
    person = find_person_by_login(login)
    typed = pin
    if isinstance(pin, str):
        pin = half_width(pin)  # full-width digits from an input method mean the same PIN
    secret = pin if pin is not None else password
    hashed = None
    if person is not None and person.is_active:
        hashed = person.pin_hash if pin is not None else person.password_hash
    ok = verify_secret(hashed, secret)
    # A PIN set in full-width digits before they were made plain: accept it, store it plain.
    stored_as_typed = not ok and typed != pin and verify_secret(hashed, typed)
    if not (ok or stored_as_typed):
        now = utcnow()
        if ip_key is not None:
            ratelimit.add(
                ip_key,
                now=now,
                window=timedelta(minutes=current_app.config["LOGIN_IP_WINDOW_MINUTES"]),
            )
        _fail(key, now)
        error = Unauthorized(_l("The phone number, username, PIN or password is not right."))
        error.persist = True
        raise error
    if stored_as_typed or _hasher().check_needs_rehash(hashed):
        if pin is not None:
            person.pin_hash = hash_secret(pin)
        else:
            person.password_hash = hash_secret(password)
    _succeeded(key)  # the first write: after the hashing, which may yield under gevent
    return person


def purge_throttles(now: datetime | None = None) -> int:
    """Forget logins that are not locked and had no failure for a day (unknown logins too);
    returns how many rows went."""
    now = now or utcnow()
    stale = now - timedelta(days=1)
    result = db.session.execute(
        delete(LoginThrottle).where(
            (LoginThrottle.locked_until.is_(None)) | (LoginThrottle.locked_until <= now),
            (LoginThrottle.last_failure_at.is_(None)) | (LoginThrottle.last_failure_at < stale),
        )
    )
    return result.rowcount or 0


def issue_token(
    *,
    person: Person | None = None,
    device: Device | None = None,
    label: str | None = None,
    days: int | None = None,
) -> tuple[str, ApiToken]:
    """Create a bearer token; the plain token is returned once and only its hash is kept."""
    token = secrets.token_urlsafe(32)
    days = current_app.config["API_TOKEN_DAYS"] if days is None else days
    row = ApiToken(
        token_hash=_token_hash(token),
        person=person,
        device=device,
        label=label,
        expires_at=utcnow() + timedelta(days=days) if days else None,
    )
    db.session.add(row)
    db.session.flush()
    return token, row


@functools.cache
def _token_query():
    # One statement: the token with its person and their roles (the actor needs them next) or
    # its device. Read on every request, so a revocation or a turned-off account counts at once.
    # Built once per process: only the hash changes.
    return (
        select(ApiToken)
        .where(ApiToken.token_hash == bindparam("token_hash"))
        .options(
            joinedload(ApiToken.person).joinedload(Person.roles),
            joinedload(ApiToken.device),
        )
    )


def resolve_token(token: str) -> ApiToken | None:
    """The live token row for a bearer token, or None (unknown, revoked, expired, inactive)."""
    if not token or len(token) > 200:
        return None
    row = (
        db.session.execute(_token_query(), {"token_hash": _token_hash(token)})
        .unique()
        .scalar_one_or_none()
    )
    if row is None or row.revoked_at is not None:
        return None
    if row.expires_at is not None and row.expires_at <= utcnow():
        return None
    if row.person is not None and not row.person.is_active:
        return None
    if row.device is not None and not row.device.is_active:
        return None
    return row


def revoke_token(actor: Actor, token: str) -> None:
    """Sign a token out (the caller's own token)."""
    row = resolve_token(token)
    if row is None:
        raise NotFound()
    row.revoked_at = utcnow()
    audit.record(actor, "revoke", "api_token", row.id)


def revoke_tokens_for(
    *, person: Person | None = None, device: Device | None = None, keep_id: int | None = None
) -> int:
    """Revoke every live token of a person or device (but the one `keep_id`); returns how many."""
    query = select(ApiToken).where(ApiToken.revoked_at.is_(None))
    if keep_id is not None:
        query = query.where(ApiToken.id != keep_id)
    if person is not None:
        query = query.where(ApiToken.person_id == person.id)
    elif device is not None:
        query = query.where(ApiToken.device_id == device.id)
    else:
        raise ValueError("person or device required")
    rows = db.session.scalars(query).all()
    for row in rows:
        row.revoked_at = utcnow()
    return len(rows)


# --- cookie sessions (staff console, easy mode) ---------------------------------------------------
SESSION_KINDS = ("easy", "staff")
# last_seen_at is written at most this often per sign-in (not on every page).
SESSION_TOUCH = timedelta(minutes=5)


def session_lifetime(kind: str) -> timedelta:
    """How long a sign-in lasts: easy mode until sign-out (a year), the staff console a shift."""
    cfg = current_app.config
    if kind == "easy":
        return timedelta(days=cfg["EASY_SESSION_DAYS"])
    return timedelta(hours=cfg["STAFF_SESSION_HOURS"])


def start_session(
    person: Person, kind: str, *, user_agent: str | None = None
) -> tuple[str, WebSession]:
    """Record a new sign-in; the random key is returned once and only its hash is kept."""
    if kind not in SESSION_KINDS:
        raise ValueError(f"unknown session kind {kind!r}")
    key = secrets.token_urlsafe(32)
    now = utcnow()
    row = WebSession(
        key_hash=_token_hash(key),
        person=person,
        kind=kind,
        created_at=now,
        last_seen_at=now,
        expires_at=now + session_lifetime(kind),
        user_agent=(user_agent or "")[:200] or None,
    )
    db.session.add(row)
    db.session.flush()
    return key, row


@functools.cache
def _session_query():
    # With the person and their roles in the same statement, as for a bearer token.
    return (
        select(WebSession)
        .where(WebSession.key_hash == bindparam("key_hash"))
        .options(joinedload(WebSession.person).joinedload(Person.roles))
    )


def resolve_session(key: str) -> WebSession | None:
    """The live sign-in for a session key, or None (unknown, ended, expired, account off)."""
    if not key or len(key) > 200:
        return None
    row = (
        db.session.execute(_session_query(), {"key_hash": _token_hash(key)})
        .unique()
        .scalar_one_or_none()
    )
    return row if row is not None and _live(row) else None


def _live(row: WebSession) -> bool:
    return row.revoked_at is None and row.expires_at > utcnow() and row.person.is_active


def live_session(session_id: int) -> WebSession | None:
    """A sign-in by its id, read afresh, if it is still live: for a connection that outlasts
    the request it began with (the voice stream checks it every turn)."""
    row = db.session.execute(
        select(WebSession)
        .where(WebSession.id == session_id)
        .execution_options(populate_existing=True)
    ).scalar_one_or_none()
    return row if row is not None and _live(row) else None


def touch_session(row: WebSession) -> bool:
    """Note that the sign-in is in use (at most every few minutes); True when changed."""
    now = utcnow()
    if row.last_seen_at is not None and now - row.last_seen_at < SESSION_TOUCH:
        return False
    row.last_seen_at = now
    return True


def end_session(row: WebSession) -> None:
    """Sign-out: the sign-in ends on the server, so a copy of its cookies no longer works."""
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        db.session.flush()


def end_sessions_for(person: Person, *, keep_id: int | None = None) -> int:
    """End every live sign-in of a person (but the one `keep_id`); returns how many."""
    query = select(WebSession).where(
        WebSession.person_id == person.id, WebSession.revoked_at.is_(None)
    )
    if keep_id is not None:
        query = query.where(WebSession.id != keep_id)
    rows = db.session.scalars(query).all()
    now = utcnow()
    for row in rows:
        row.revoked_at = now
    return len(rows)


def sign_out_everywhere(
    person: Person, *, keep_session_id: int | None = None, keep_token_id: int | None = None
) -> None:
    """After a new PIN or password, or when the account is turned off: every sign-in and
    bearer token of the person ends, except the caller's own current ones when given."""
    end_sessions_for(person, keep_id=keep_session_id)
    revoke_tokens_for(person=person, keep_id=keep_token_id)
    db.session.flush()


def check_current_pin(person: Person, pin: str | None) -> None:
    """Before one's own new PIN: the current one, counted (and locked) like a sign-in."""
    if not isinstance(pin, str) or not pin:
        raise Invalid(errors={"current_pin": [str(_l("Please type your current PIN."))]})
    key = _login_key(person.phone or person.username or f"id:{person.id}")
    now = utcnow()
    _check_lock(key, now)
    if not verify_secret(person.pin_hash, half_width(pin)):
        _fail(key, utcnow())
        error = Invalid(errors={"current_pin": [str(_l("The current PIN is not right."))]})
        error.persist = True
        raise error
    _succeeded(key)
