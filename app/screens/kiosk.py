"""Lobby screens (社区大屏): feed versions, the snapshot, stream tickets, pairing, heartbeats.

Every change a screen should show bumps its community's feed version (`touch_feed`, in the same
transaction) and rings the bus after commit. Screens hold a stream that carries only versions,
re-fetch `snapshot()` (ETag) on each, and poll slowly as a backstop. The feed itself (versions,
doorbells, schedule boundaries, each process's watcher) is app/screens/feed.py.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import secrets
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from flask import current_app
from flask_babel import lazy_gettext as _l
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import delete, func, select

from app.extensions import db
from app.infra import uow
from app.infra.errors import (
    DomainError,
    Forbidden,
    Locked,
    NotFound,
    TooManyRequests,
    invalid_field,
)
from app.infra.text import clean_text, half_width
from app.models import ApiToken, Device, LoginThrottle
from app.models.base import utcnow
from app.models.kiosk import DeviceState, PairingCode
from app.notices import audience, pictures
from app.notices import common as notices
from app.participation import activities as participation_activities
from app.participation import points as participation_points
from app.people import authz
from app.people.actors import Actor
from app.people.auth import issue_token
from app.screens import devices, feed, policy
from app.urls import public_base_url

log = logging.getLogger("linli.kiosk")

PAIRING_CODE_DIGITS = 6


class PairingGone(DomainError):
    """The pairing code expired or was already used (410)."""

    status_code = 410
    default_message = _l("This pairing code has expired or was already used.")


# --- the snapshot --------------------------------------------------------------------------------
def require_device(actor: Actor) -> Device:
    """The calling screen; people (even staff) are refused."""
    authz.require_signed_in(actor)
    if actor.device is None or not actor.device.is_active:
        raise Forbidden()
    return actor.device


def _iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    return (
        value.astimezone(ZoneInfo("UTC")).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    )


def item_view(a) -> dict:
    """An announcement as a screen sees it: the text and its schedule, nobody's name."""
    return {
        "id": a.id,
        "revision": a.revision,
        "title": a.title,
        "paragraphs": notices.paragraphs(a.body),
        "category": a.category,
        "priority": a.priority,
        "publish_at": _iso(a.publish_at),
        "expire_at": _iso(a.expire_at),
        "window": (
            {"days": a.window_days, "start": a.window_start, "end": a.window_end}
            if (a.window_days or a.window_start)
            else None
        ),
        "image_url": pictures.image_url(a),
        "speech_url": a.speech_url,
    }


_FIGURE_KEYS = ("received", "resolved", "avg_rating")


def community_figures(actor: Actor, community_id: int) -> dict | None:
    """Affairs this month (received / resolved / average rating), or None while unavailable."""
    try:
        from app.affairs.queries import community_figures as figures
    except ImportError:
        return None
    try:
        raw = figures(actor, community_id)
    except Exception:  # the affairs module is not ready, or refuses: the screen shows no figures
        log.info("community figures unavailable", exc_info=True)
        uow.rollback()  # the snapshot only reads: clear the failed query, go on without
        return None
    if not isinstance(raw, dict):
        return None
    out = {}
    for key in _FIGURE_KEYS:  # numbers only: nothing personal reaches a public screen
        value = raw.get(key)
        if isinstance(value, bool) or not isinstance(value, int | float):
            out[key] = None
        else:
            out[key] = round(float(value), 1) if key == "avg_rating" else int(value)
    return out


def snapshot(actor: Actor) -> dict:
    """Everything a screen shows, with the feed version and the server's clock."""
    device = require_device(actor)
    now = utcnow()
    state = db.session.get(DeviceState, device.id)
    community = device.community
    zone = ZoneInfo(current_app.config["TIMEZONE"])
    items = [item_view(a) for a in audience.for_device(device, now)]
    body = {
        "version": feed.feed_version(device.community_id),
        "server_time": _iso(now),
        "timezone": current_app.config["TIMEZONE"],
        "utc_offset_minutes": int(now.astimezone(zone).utcoffset().total_seconds() // 60),
        "device": {
            "id": device.id,
            "name": device.name,
            "location": device.location,
            "orientation": device.orientation,
            "quiet_hours": (
                {"start": state.quiet_start, "end": state.quiet_end}
                if state and state.quiet_start and state.quiet_end
                else None
            ),
        },
        "community": {
            "name": community.name,
            "phone": community.phone,
            "office_hours": community.office_hours,
        },
        "items": items,
        "figures": community_figures(actor, community.id),
        # 社区活动 and 争做社区治理第一人 (no resident's full name on a public screen)
        "activities": participation_activities.for_screen(community.id, now),
        "leaderboard": participation_points.for_screen(community.id),
        "easy_url": easy_url(),
        "poll_seconds": current_app.config["KIOSK_POLL_SECONDS"],
    }
    return body


def etag(body: dict) -> str:
    """Strong validator of a snapshot: the same content (ignoring the clock) has the same tag."""
    content = {k: v for k, v in body.items() if k != "server_time"}
    digest = hashlib.sha256(
        json.dumps(content, sort_keys=True, ensure_ascii=False, default=str).encode()
    ).hexdigest()[:20]
    return f"{body['version']}-{digest}"


def easy_url() -> str:
    """Where the QR code on the screen leads: the easy-mode (长辈版) client."""
    return public_base_url() + "/easy"


# --- stream tickets ------------------------------------------------------------------------------
def _ticket_serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="linli-kiosk-stream")


def stream_ticket(actor: Actor, token_id: int | None) -> dict:
    """A short-lived signed ticket that opens the event stream (EventSource cannot send headers)."""
    device = require_device(actor)
    if token_id is None:
        raise Forbidden()
    ttl = current_app.config["KIOSK_TICKET_SECONDS"]
    return {
        "ticket": _ticket_serializer().dumps({"d": device.id, "t": token_id}),
        "expires_in": ttl,
    }


def device_for_ticket(ticket: str | None) -> Device | None:
    """The screen a valid, unexpired ticket was issued to (its token still live), else None."""
    if not ticket or len(ticket) > 300:
        return None
    try:
        data = _ticket_serializer().loads(
            ticket, max_age=current_app.config["KIOSK_TICKET_SECONDS"]
        )
    except BadSignature:
        return None
    if not isinstance(data, dict):
        return None
    row = db.session.get(ApiToken, data.get("t"))
    now = utcnow()
    if (
        row is None
        or row.device_id != data.get("d")
        or row.revoked_at is not None
        or (row.expires_at is not None and row.expires_at <= now)
    ):
        return None
    device = row.device
    return device if device is not None and device.is_active else None


# --- pairing -------------------------------------------------------------------------------------
def _hmac(value: str, purpose: str) -> str:
    key = current_app.config["SECRET_KEY"].encode()
    return hmac.new(key, f"{purpose}:{value}".encode(), hashlib.sha256).hexdigest()


def _sha(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def request_pairing(address: str | None) -> dict:
    """An unpaired screen asks for a one-time code to show; rate-limited per address."""
    cfg = current_app.config
    now = utcnow()
    ip_hash = _hmac(address or "-", "pairing-ip")
    window = now - timedelta(minutes=10)
    db.session.execute(delete(PairingCode).where(PairingCode.expires_at < now - timedelta(days=1)))
    recent = db.session.scalar(
        select(func.count())
        .select_from(PairingCode)
        .where(PairingCode.ip_hash == ip_hash, PairingCode.created_at > window)
    )
    if recent >= cfg["KIOSK_PAIRING_PER_ADDRESS"]:
        raise TooManyRequests(headers={"Retry-After": "600"})
    for _attempt in range(20):
        code = f"{secrets.randbelow(10**PAIRING_CODE_DIGITS):0{PAIRING_CODE_DIGITS}d}"
        code_hash = _hmac(code, "pairing-code")
        clash = db.session.scalar(
            select(PairingCode.id).where(
                PairingCode.code_hash == code_hash,
                PairingCode.expires_at > now,
                PairingCode.claimed_at.is_(None),
            )
        )
        if clash is None:
            break
    else:  # pragma: no cover - a million codes in use at once
        raise TooManyRequests()
    poll_secret = secrets.token_urlsafe(32)
    expires = now + timedelta(minutes=cfg["KIOSK_PAIRING_MINUTES"])
    db.session.add(
        PairingCode(
            code_hash=code_hash,
            poll_hash=_sha(poll_secret),
            ip_hash=ip_hash,
            created_at=now,
            expires_at=expires,
        )
    )
    db.session.flush()
    return {
        "code": code,
        "poll_secret": poll_secret,
        "expires_at": expires,
        "expires_in": int((expires - now).total_seconds()),
    }


def _pairing_throttle(actor: Actor) -> LoginThrottle:
    key = f"pairing:{actor.person_id}"
    row = db.session.get(LoginThrottle, key)
    if row is None:
        row = LoginThrottle(login=key, failures=0)
        db.session.add(row)
    if row.locked_until and row.locked_until > utcnow():
        seconds = int((row.locked_until - utcnow()).total_seconds()) + 1
        raise Locked(
            _l(
                "Too many wrong codes. Please wait %(m)d minutes and try again.",
                m=max(1, (seconds + 59) // 60),
            ),
            headers={"Retry-After": str(seconds)},
        )
    return row


def claim_pairing(actor: Actor, device_id: int, code: str) -> Device:
    """Staff type the code a screen shows; the screen then picks up its device token once.

    Wrong codes count against the staff account: after a few, it must wait (brute force).
    """
    device = devices.get_device(actor, device_id)
    policy.ensure(actor, "manage", device)
    if device.revoked_at is not None:
        raise invalid_field("device", _l("This screen was revoked. Register a new one."))
    throttle = _pairing_throttle(actor)
    # Full-width digits from an input method are the same code; nothing else is a digit here.
    digits = "".join(ch for ch in half_width(str(code or "")) if ch.isascii() and ch.isdigit())
    now = utcnow()
    pairing = None
    if len(digits) == PAIRING_CODE_DIGITS:
        pairing = db.session.scalar(
            select(PairingCode).where(
                PairingCode.code_hash == _hmac(digits, "pairing-code"),
                PairingCode.expires_at > now,
                PairingCode.claimed_at.is_(None),
            )
        )
    if pairing is None:
        throttle.failures += 1
        throttle.last_failure_at = now
        if throttle.failures >= current_app.config["KIOSK_PAIRING_MAX_FAILURES"]:
            throttle.locked_until = now + timedelta(minutes=15)
            throttle.failures = 0
        db.session.flush()
        error = invalid_field(
            "code", _l("This code is not right or has expired. Check the code on the screen.")
        )
        error.persist = True  # keep the failure count although the request fails
        raise error
    throttle.failures = 0
    pairing.device = device
    pairing.claimed_by_id = actor.person_id
    pairing.claimed_at = now
    state = devices.device_state(device)
    state.paired_at = now
    db.session.flush()
    return device


def poll_pairing(poll_secret: str) -> dict:
    """The screen asks whether staff entered its code; the token is handed over exactly once."""
    if not isinstance(poll_secret, str) or not 20 <= len(poll_secret) <= 100:
        raise NotFound()
    pairing = db.session.scalar(
        select(PairingCode).where(PairingCode.poll_hash == _sha(poll_secret))
    )
    if pairing is None:
        raise NotFound()
    now = utcnow()
    if pairing.delivered_at is not None:
        raise PairingGone()
    if pairing.claimed_at is None:
        if pairing.expires_at <= now:
            raise PairingGone()
        return {"status": "waiting", "expires_in": int((pairing.expires_at - now).total_seconds())}
    device = pairing.device
    if device is None or not device.is_active:
        raise PairingGone()
    token, _row = issue_token(device=device, label="kiosk pairing", days=0)
    pairing.delivered_at = now
    db.session.flush()
    return {"status": "paired", "token": token, "device": {"id": device.id, "name": device.name}}


# --- heartbeats and status -----------------------------------------------------------------------
SOUND_STATES = ("ok", "blocked", "unknown")


def heartbeat(
    actor: Actor,
    *,
    version: int | None = None,
    client_version: str | None = None,
    showing: str | None = None,
    stream: bool | None = None,
    sound: str | None = None,
) -> dict:
    """A screen says it is alive, which version it shows, what is on it and whether it can
    make sound by itself (ok / blocked by the browser / unknown)."""
    device = require_device(actor)
    state = devices.device_state(device)
    state.last_seen_at = utcnow()
    if version is not None:
        state.seen_version = max(0, int(version))
    if client_version is not None:
        state.client_version = (
            clean_text(client_version, "client_version", max_length=40, required=False) or None
        )
    if showing is not None:
        state.showing = clean_text(showing[:200], "showing", max_length=200, required=False) or None
    if stream is not None:
        state.online_stream = bool(stream)
    if sound is not None:
        if sound not in SOUND_STATES:
            raise invalid_field("sound", _l("Must be ok, blocked or unknown."))
        state.sound = sound
    db.session.flush()
    return {"version": feed.feed_version(device.community_id), "server_time": _iso(utcnow())}


def is_online(state: DeviceState | None, now: datetime | None = None) -> bool:
    """Online: a heartbeat within KIOSK_OFFLINE_AFTER_SECONDS."""
    if state is None or state.last_seen_at is None:
        return False
    limit = timedelta(seconds=current_app.config["KIOSK_OFFLINE_AFTER_SECONDS"])
    return (now or utcnow()) - state.last_seen_at < limit


def device_status(
    device: Device, state: DeviceState | None, version: int, now: datetime | None = None
) -> dict:
    """What the console shows about one screen."""
    seen = state.seen_version if state is not None else None
    return {
        "online": device.is_active and is_online(state, now),
        "last_seen_at": state.last_seen_at if state else None,
        "seen_version": seen,
        "current_version": version,
        "versions_behind": None if seen is None else max(0, version - seen),
        "showing": state.showing if state else None,
        "sound": (state.sound if state else None) or "unknown",
        "client_version": state.client_version if state else None,
        "quiet_start": state.quiet_start if state else None,
        "quiet_end": state.quiet_end if state else None,
        "paired_at": state.paired_at if state else None,
    }


def status_of(device: Device) -> dict:
    """The live status of one screen."""
    return device_status(
        device, db.session.get(DeviceState, device.id), feed.feed_version(device.community_id)
    )


def device_statuses(actor: Actor, community_id: int) -> list[dict]:
    """Every screen of a community with its live status."""
    rows = devices.list_devices(actor, community_id)
    states = (
        {
            s.device_id: s
            for s in db.session.scalars(
                select(DeviceState).where(DeviceState.device_id.in_([d.id for d in rows]))
            )
        }
        if rows
        else {}
    )
    version = feed.feed_version(community_id)
    now = utcnow()
    return [{"device": d, **device_status(d, states.get(d.id), version, now)} for d in rows]
