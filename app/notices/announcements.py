"""Announcements: compose, publish, edit, withdraw, expire; who sees them; acknowledgements.

Status is stored (draft, scheduled, published, withdrawn, expired) and also derived from the
clock on every read (`effective_status`), so a late tick never shows a stale state. `tick()`
moves stored statuses across schedule boundaries and rings the screens' doorbell.

Every change the screens should show says `events.changed("feed", community_id)`; the screens'
feed (app/screens/feed.py) follows that topic and bumps its version (create_app wires them).

Screens show an item only inside its optional weekday/time-of-day window; the app and the voice
line list it for as long as it is published.
"""

from __future__ import annotations

import hashlib
import io
import math
import os
import re
import tempfile
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from flask import current_app
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from app.demo import seed_hook
from app.extensions import db
from app.infra import audit, events, images
from app.infra.errors import Conflict, DomainError, Forbidden, NotFound, invalid_field
from app.infra.text import check_time_span, clean_text, mask_phone
from app.models import Building, Grid, Household, Person
from app.models.announcement import (
    CATEGORIES,
    CHANNELS,
    PRIORITIES,
    Announcement,
    AnnouncementAck,
    AnnouncementRevision,
)
from app.models.base import utcnow
from app.people import authz
from app.people.actors import Actor

TITLE_MAX = 120
BODY_MAX = 4000
LIVE = ("scheduled", "published")
# Fields an edit may change, in the order the history shows them.
EDITABLE = ("title", "body", "category", "priority", "grid_ids", "building_ids", "channels",
            "publish_at", "expire_at", "window")
MAX_IMAGE_PIXELS = 40_000_000
IMAGE_MAX_SIDE = 1920

CATEGORY_LABELS = {
    "notice": _l("Notice"),
    "outage": _l("Outage"),
    "activity": _l("Activity"),
    "policy": _l("Policy"),
    "safety": _l("Safety"),
}
STATUS_LABELS = {
    "draft": _l("Draft"),
    "scheduled": _l("Scheduled"),
    "published": _l("Published"),
    "withdrawn": _l("Withdrawn"),
    "expired": _l("Expired"),
}


# --- the clock ---------------------------------------------------------------------------------
def local_zone() -> ZoneInfo:
    """The community time zone (Asia/Shanghai by default)."""
    return ZoneInfo(current_app.config["TIMEZONE"])


def effective_status(a: Announcement, now: datetime | None = None) -> str:
    """The status at `now`, whatever the stored status says (a tick may not have run yet)."""
    now = now or utcnow()
    if a.status in ("draft", "withdrawn", "expired"):
        return a.status
    if a.expire_at is not None and a.expire_at <= now:
        return "expired"
    if a.publish_at is not None and a.publish_at > now:
        return "scheduled"
    return "published"


def _minutes(hhmm: str) -> int:
    h, m = hhmm.split(":")
    return int(h) * 60 + int(m)


def in_window(a: Announcement, now: datetime | None = None) -> bool:
    """True when `now` is inside the item's weekday/time-of-day display window (if any)."""
    if not a.window_days and not (a.window_start and a.window_end):
        return True
    local = (now or utcnow()).astimezone(local_zone())
    if a.window_days and local.isoweekday() not in a.window_days:
        return False
    if a.window_start and a.window_end:
        t = local.hour * 60 + local.minute
        start, end = _minutes(a.window_start), _minutes(a.window_end)
        # A window like 22:00–06:00 runs over midnight.
        return start <= t < end if start < end else (t >= start or t < end)
    return True


def _window_edges(a: Announcement, now: datetime) -> list[datetime]:
    if not a.window_days and not (a.window_start and a.window_end):
        return []
    zone = local_zone()
    today = now.astimezone(zone).date()
    marks = {"00:00"} | {m for m in (a.window_start, a.window_end) if m}
    edges = []
    for offset in range(9):
        day: date = today + timedelta(days=offset)
        for mark in marks:
            h, m = (int(x) for x in mark.split(":"))
            edges.append(datetime.combine(day, time(h, m), tzinfo=zone))
    return [e for e in edges if e > now]


def next_boundary(community_id: int, now: datetime | None = None,
                  lookahead: timedelta | None = None) -> datetime | None:
    """When the screens of a community next need to change without anyone editing."""
    now = now or utcnow()
    lookahead = lookahead if lookahead is not None else snapshot_lookahead()
    rows = db.session.scalars(select(Announcement).where(
        Announcement.community_id == community_id, Announcement.status.in_(LIVE)))
    candidates: list[datetime] = []
    for a in rows:
        candidates += [t for t in (a.publish_at, a.expire_at) if t is not None and t > now]
        if "kiosk" in (a.channels or []):
            # Screens also change when an item enters their snapshot or its display window.
            if a.publish_at is not None and a.publish_at - lookahead > now:
                candidates.append(a.publish_at - lookahead)
            candidates += _window_edges(a, now)
    return min(candidates) if candidates else None


def snapshot_lookahead() -> timedelta:
    """Scheduled items this close to starting already travel in the screens' snapshot."""
    return timedelta(hours=6)


# --- validation ----------------------------------------------------------------------------------
def _choice(value, allowed, field):
    if value not in allowed:
        raise invalid_field(field, _l("Choose one of: %(options)s", options=", ".join(allowed)))
    return value


def _aware(value, field) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, datetime):
        raise invalid_field(field, _l("Must be a date and time."))
    if value.tzinfo is None:
        # Times typed without a zone are the community's local time.
        value = value.replace(tzinfo=local_zone())
    return value.astimezone(ZoneInfo("UTC"))


def _channels(value) -> list[str]:
    if value is None:
        return list(CHANNELS)
    if not isinstance(value, list | tuple) or not value:
        raise invalid_field("channels", _l("Choose at least one channel."))
    for c in value:
        _choice(c, CHANNELS, "channels")
    return [c for c in CHANNELS if c in value]


def _audience(community_id: int, grid_ids, building_ids) -> tuple[list[int], list[int]]:
    grid_ids = sorted(set(grid_ids or []))
    building_ids = sorted(set(building_ids or []))
    if grid_ids:
        found = set(db.session.scalars(select(Grid.id).where(
            Grid.id.in_(grid_ids), Grid.community_id == community_id)))
        if found != set(grid_ids):
            raise invalid_field("grid_ids", _l("Unknown grid."))
    if building_ids:
        found = set(db.session.scalars(select(Building.id).where(
            Building.id.in_(building_ids), Building.community_id == community_id)))
        if found != set(building_ids):
            raise invalid_field("building_ids", _l("Unknown building."))
    return grid_ids, building_ids


def _window(value) -> tuple[list[int] | None, str | None, str | None]:
    if not value:
        return None, None, None
    if not isinstance(value, dict):
        raise invalid_field("window", _l("Not a valid time window."))
    days = value.get("days") or None
    start, end = value.get("start") or None, value.get("end") or None
    if days is not None:
        if not isinstance(days, list | tuple) or any(
                not isinstance(d, int) or not 1 <= d <= 7 for d in days):
            raise invalid_field("window", _l("Weekdays are numbers from 1 (Monday) to 7."))
        days = sorted(set(days))
    check_time_span(start, end, "window")
    return days, start, end


def _schedule(publish_at, expire_at, priority, now) -> tuple[datetime, datetime]:
    publish_at = publish_at or now
    if expire_at is None:
        cfg = current_app.config
        expire_at = publish_at + (timedelta(hours=cfg["ANNOUNCEMENT_URGENT_HOURS"])
                                  if priority == "urgent"
                                  else timedelta(days=cfg["ANNOUNCEMENT_DEFAULT_DAYS"]))
    if expire_at <= publish_at:
        raise invalid_field("expire_at", _l("The end must come after the start."))
    if expire_at <= now:
        raise invalid_field("expire_at", _l("The end is already past."))
    return publish_at, expire_at


def _resolve_community(actor: Actor, community_id: int | None) -> int:
    if community_id is not None:
        authz.ensure_readable(actor, community_id)  # another community's id: 404 first
        authz.require_person(actor)
        authz.ensure_manager(actor, community_id)
        return community_id
    authz.require_person(actor)
    mine = actor.staff_community_ids | actor.official_write_community_ids
    if len(mine) == 1:
        return next(iter(mine))
    if not mine and not actor.is_admin:
        raise Forbidden()
    raise invalid_field("community_id", _l("You work in several communities: choose one."))


# --- writing -------------------------------------------------------------------------------------
def _history(a: Announcement, actor: Actor | None, action: str, changes: dict | None = None):
    db.session.add(AnnouncementRevision(
        announcement=a, revision=a.revision, action=action,
        editor_id=actor.person_id if actor else None, changes=changes or {}))


def _go_live(a: Announcement, now: datetime) -> None:
    a.publish_at, a.expire_at = _schedule(a.publish_at, a.expire_at, a.priority, now)
    if a.publish_at > now:
        a.status = "scheduled"
    else:
        a.status = "published"
        a.published_at = a.published_at or now


def _ring(a: Announcement) -> None:
    """Tell the community's screens (after commit) that what they show may have changed."""
    events.changed("feed", a.community_id)


def create_announcement(actor: Actor, *, title: str, body: str = "", priority: str = "normal",
                        category: str = "notice", community_id: int | None = None,
                        grid_ids=None, building_ids=None, channels=None, publish_at=None,
                        expire_at=None, window=None, draft: bool = False) -> Announcement:
    """Compose an announcement; unless it is a draft it goes out at once (or at publish_at)."""
    community_id = _resolve_community(actor, community_id)
    now = utcnow()
    grids, buildings = _audience(community_id, grid_ids, building_ids)
    days, start, end = _window(window)
    a = Announcement(
        community_id=community_id,
        title=clean_text(title, "title", max_length=TITLE_MAX),
        body=clean_text(body or "", "body", max_length=BODY_MAX, multiline=True, required=False),
        priority=_choice(priority, PRIORITIES, "priority"),
        category=_choice(category, CATEGORIES, "category"),
        grid_ids=grids, building_ids=buildings, channels=_channels(channels),
        publish_at=_aware(publish_at, "publish_at"), expire_at=_aware(expire_at, "expire_at"),
        window_days=days, window_start=start, window_end=end,
        status="draft", revision=1, created_by_id=actor.person_id, updated_by_id=actor.person_id,
    )
    db.session.add(a)
    if not draft:
        _go_live(a, now)
    elif a.publish_at and a.expire_at and a.expire_at <= a.publish_at:
        raise invalid_field("expire_at", _l("The end must come after the start."))
    db.session.flush()
    _history(a, actor, "create")
    if not draft:
        _history(a, actor, "publish")
        _ring(a)
    db.session.flush()
    return a


def get_for_edit(actor: Actor, announcement_id: int) -> Announcement:
    """An announcement the actor may change (404 for outsiders and residents, 403 for others)."""
    return _for_manager(actor, announcement_id)


def _for_manager(actor: Actor, announcement_id: int) -> Announcement:
    a = db.session.get(Announcement, announcement_id)
    if a is None:
        raise NotFound()
    ensure(actor, "manage", a)
    return a


def _plain(value):
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def update_announcement(actor: Actor, announcement_id: int, changes: dict,
                        expected_revision: int | None = None) -> Announcement:
    """Edit an announcement (not once withdrawn or expired); every edit is kept in the history."""
    a = _for_manager(actor, announcement_id)
    now = utcnow()
    state = effective_status(a, now)
    if state in ("withdrawn", "expired"):
        raise Conflict(_l("A withdrawn or expired announcement cannot be edited."))
    if expected_revision is not None and expected_revision != a.revision:
        raise Conflict(_l("Someone else changed this announcement. Please reload it."))
    before = {f: _plain(_get(a, f)) for f in EDITABLE}
    if "title" in changes:
        a.title = clean_text(changes["title"], "title", max_length=TITLE_MAX)
    if "body" in changes:
        a.body = clean_text(changes["body"] or "", "body", max_length=BODY_MAX, multiline=True,
                            required=False)
    if "category" in changes:
        a.category = _choice(changes["category"], CATEGORIES, "category")
    if "priority" in changes:
        a.priority = _choice(changes["priority"], PRIORITIES, "priority")
    if "grid_ids" in changes or "building_ids" in changes:
        a.grid_ids, a.building_ids = _audience(
            a.community_id, changes.get("grid_ids", a.grid_ids),
            changes.get("building_ids", a.building_ids))
    if "channels" in changes:
        a.channels = _channels(changes["channels"])
    if "window" in changes:
        a.window_days, a.window_start, a.window_end = _window(changes["window"])
    if "publish_at" in changes:
        a.publish_at = _aware(changes["publish_at"], "publish_at")
    if "expire_at" in changes:
        a.expire_at = _aware(changes["expire_at"], "expire_at")
    diff = {f: [before[f], _plain(_get(a, f))] for f in EDITABLE
            if before[f] != _plain(_get(a, f))}
    if not diff:
        return a
    if state in LIVE:
        _go_live(a, now)
    elif a.publish_at and a.expire_at and a.expire_at <= a.publish_at:
        raise invalid_field("expire_at", _l("The end must come after the start."))
    if {"title", "body", "priority", "category"} & diff.keys():
        a.speech_url = None  # the old recording no longer says what spoken_text() says
    a.revision += 1
    a.updated_by_id = actor.person_id
    _history(a, actor, "edit", diff)
    if state in LIVE:
        _ring(a)
    db.session.flush()
    return a


def _get(a: Announcement, field: str):
    if field == "window":
        if not a.window_days and not a.window_start:
            return None
        return {"days": a.window_days, "start": a.window_start, "end": a.window_end}
    value = getattr(a, field)
    return list(value) if isinstance(value, list) else value


def publish_announcement(actor: Actor, announcement_id: int) -> Announcement:
    """Send a draft out now (or at its publish_at)."""
    a = _for_manager(actor, announcement_id)
    if a.status != "draft":
        raise Conflict(_l("Only a draft can be published."))
    now = utcnow()
    if a.publish_at is not None and a.publish_at < now:
        a.publish_at = now
    _go_live(a, now)
    a.revision += 1
    a.updated_by_id = actor.person_id
    _history(a, actor, "publish")
    _ring(a)
    db.session.flush()
    return a


def withdraw_announcement(actor: Actor, announcement_id: int) -> Announcement:
    """Take an announcement off every screen and out of the app."""
    a = _for_manager(actor, announcement_id)
    if effective_status(a) not in LIVE:
        raise Conflict(_l("Only a scheduled or published announcement can be withdrawn."))
    a.status = "withdrawn"
    a.withdrawn_at = utcnow()
    a.revision += 1
    a.updated_by_id = actor.person_id
    _history(a, actor, "withdraw")
    _ring(a)
    db.session.flush()
    return a


def set_speech_url(announcement_id: int, url: str | None, *, revision: int) -> bool:
    """Voice engine hook: attach server-made speech of `spoken_text` for that revision.

    Returns False (and changes nothing) when the text was edited since, so a slow synthesis
    never attaches old words to new text. Screens are told to re-fetch.
    """
    a = db.session.get(Announcement, announcement_id)
    if a is None or a.revision != revision:
        return False
    a.speech_url = url
    _ring(a)
    db.session.flush()
    return True


def spoken_text(a: Announcement) -> str:
    """What the screen or the voice line says for an item (read aloud as written, in order)."""
    lead = _("Urgent notice") if a.is_urgent else str(CATEGORY_LABELS[a.category])
    parts = [f"{lead}：{a.title}。"] + paragraphs(a.body)
    return "\n".join(parts)


def paragraphs(body: str) -> list[str]:
    """Paragraphs of a plain-text body (blank lines separate them)."""
    return [p.strip() for p in re.split(r"\n\s*\n", body or "") if p.strip()]


# --- the clock ticking ---------------------------------------------------------------------------
def tick(now: datetime | None = None, community_id: int | None = None) -> int:
    """Move stored statuses across their schedule boundaries; ring the screens that changed.

    Safe to run from several processes at once (cron, every worker): the transitions are
    idempotent and a doubled doorbell only makes screens re-fetch. Returns how many changed.
    """
    now = now or utcnow()
    query = select(Announcement).where(Announcement.status.in_(LIVE))
    if community_id is not None:
        query = query.where(Announcement.community_id == community_id)
    changed = 0
    touched: set[int] = set()
    for a in db.session.scalars(query).all():
        state = effective_status(a, now)
        if state == a.status:
            continue
        a.status = state
        if state == "published":
            a.published_at = a.published_at or now
            _history(a, None, "publish")
        elif state == "expired":
            _history(a, None, "expire")
        touched.add(a.community_id)
        changed += 1
    db.session.flush()
    for cid in touched:
        events.changed("feed", cid)
    return changed


# --- reading -------------------------------------------------------------------------------------
@dataclass
class Page:
    """A page of results (the shape api.common.paged expects)."""

    items: list
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        """How many pages."""
        return max(1, math.ceil(self.total / self.per_page)) if self.total else 0


def _subject_place(actor: Actor) -> tuple[int | None, int | None, int | None]:
    """(community, building, grid) of the resident the actor is (or acts for)."""
    subject = actor.subject
    if subject is None:
        return None, None, None
    household = subject.household
    if household is None:
        return subject.community_id, None, None
    return subject.community_id, household.building_id, household.building.grid_id


def reaches(a: Announcement, building_id: int | None, grid_id: int | None) -> bool:
    """True when the audience of `a` includes that building (or its grid)."""
    if a.whole_community:
        return True
    return (building_id is not None and building_id in (a.building_ids or [])) or (
        grid_id is not None and grid_id in (a.grid_ids or []))


def _visible_to(actor: Actor, a: Announcement, now: datetime, channel: str = "app") -> bool:
    """Residents: published items for their building/grid on that channel; workers: all."""
    if not authz.can_read_community(actor, a.community_id):
        return False
    if authz.can_see_internal(actor, a.community_id):
        return True
    if effective_status(a, now) != "published" or channel not in (a.channels or []):
        return False
    community, building, grid = _subject_place(actor)
    if community == a.community_id:
        return reaches(a, building, grid)
    if actor.device is not None and actor.device.community_id == a.community_id:
        device = actor.device
        return device.building_id is None or reaches(
            a, device.building_id, device.building.grid_id if device.building else None)
    # Partners (organizations serving the community) read what the community was told.
    return a.community_id in actor.organization_community_ids and a.whole_community


def get_announcement(actor: Actor, announcement_id: int) -> Announcement:
    """One announcement the actor may see (otherwise 404, whatever the reason)."""
    authz.require_signed_in(actor)
    a = db.session.get(Announcement, announcement_id)
    if a is None:
        raise NotFound()
    ensure(actor, "read", a)
    return a


def list_announcements(actor: Actor, *, community_id: int | None = None,
                       status: str | None = None, category: str | None = None,
                       channel: str = "app", page: int = 1, per_page: int = 50) -> Page:
    """Announcements for the caller, newest first (residents: for their building, live only)."""
    authz.require_signed_in(actor)
    if community_id is not None:
        authz.ensure_readable(actor, community_id)
        ids = {community_id}
    else:
        readable = authz.readable_community_ids(actor)
        ids = None if readable is None else set(readable)
    if status is not None:
        _choice(status, tuple(STATUS_LABELS), "status")
    if category is not None:
        _choice(category, CATEGORIES, "category")
    query = select(Announcement).order_by(Announcement.publish_at.desc().nullsfirst(),
                                          Announcement.id.desc())
    if ids is not None:
        if not ids:
            return Page([], 0, page, per_page)
        query = query.where(Announcement.community_id.in_(ids))
    if category is not None:
        query = query.where(Announcement.category == category)
    now = utcnow()
    internal = {cid for cid in (ids or ()) if authz.can_see_internal(actor, cid)}
    if ids is not None and not internal:
        # Only live rows can be visible to residents: let the database drop the rest.
        query = query.where(Announcement.status.in_(LIVE))
    rows = [a for a in db.session.scalars(query.limit(2000))
            if _visible_to(actor, a, now, channel)
            and (status is None or effective_status(a, now) == status)]
    start = (page - 1) * per_page
    return Page(rows[start:start + per_page], len(rows), page, per_page)


def for_device(device, now: datetime | None = None) -> list[Announcement]:
    """What a screen may show soon: live kiosk items for its place, urgent first then newest."""
    now = now or utcnow()
    horizon = now + snapshot_lookahead()
    rows = db.session.scalars(select(Announcement).where(
        Announcement.community_id == device.community_id,
        Announcement.status.in_(LIVE)))
    building = device.building
    items = []
    for a in rows:
        if "kiosk" not in (a.channels or []):
            continue
        if a.expire_at is not None and a.expire_at <= now:
            continue
        if a.publish_at is not None and a.publish_at > horizon:
            continue
        # A screen without a building (the committee office) shows the whole community's items.
        if building is not None and not reaches(a, building.id, building.grid_id):
            continue
        items.append(a)
    items.sort(key=lambda a: (not a.is_urgent, -(a.publish_at or now).timestamp(), -a.id))
    return items[:40]


def current_for(actor: Actor, channel: str = "voice") -> list[Announcement]:
    """Published items for the caller on one channel (the voice line uses channel='voice')."""
    _choice(channel, CHANNELS, "channel")
    now = utcnow()
    if actor.device is not None:
        return [a for a in for_device(actor.device, now)
                if effective_status(a, now) == "published" and channel in a.channels]
    return list_announcements(actor, channel=channel, status="published", per_page=50).items


def _for_worker(actor: Actor, announcement_id: int) -> Announcement:
    """For community workers; others get 404 unless they may see the announcement itself."""
    authz.require_signed_in(actor)
    a = db.session.get(Announcement, announcement_id)
    if a is None:
        raise NotFound()
    ensure(actor, "read_internal", a)
    return a


def history(actor: Actor, announcement_id: int) -> list[AnnouncementRevision]:
    """The edit history (community workers)."""
    return list(_for_worker(actor, announcement_id).revisions)


# --- policy: who may do what to an announcement --------------------------------------------------
ANNOUNCEMENT_ACTIONS = ("read", "read_internal", "manage", "acknowledge")


def may(actor: Actor, action: str, a: Announcement) -> bool:
    """Whether the actor may do `action` to the announcement (see `ensure`)."""
    try:
        ensure(actor, action, a)
    except DomainError:
        return False
    return True


def ensure(actor: Actor, action: str, a: Announcement) -> None:
    """Raise what the channels answer when the actor may not:
    - read: see it (otherwise not found, whatever the reason);
    - read_internal: drafts, history, authors, follow-up (the community's workers; others who
      see it: forbidden);
    - manage: change, publish, withdraw it (outsiders and residents: not found, so a draft's
      existence is not told; other workers: forbidden);
    - acknowledge: "I have read it" (a person it is addressed to, while it is published)."""
    if action not in ANNOUNCEMENT_ACTIONS:
        raise ValueError(f"unknown announcement action {action!r}")
    if action == "manage":
        authz.ensure_readable(actor, a.community_id)
        if not authz.can_see_internal(actor, a.community_id):
            raise NotFound()  # residents may not even learn that a draft exists
        authz.ensure_manager(actor, a.community_id)
        return
    authz.require_signed_in(actor)
    if action == "read_internal" and authz.can_see_internal(actor, a.community_id):
        return  # the community's workers see every announcement of it
    if not _visible_to(actor, a, utcnow()):
        raise NotFound()
    if action == "read_internal":
        raise Forbidden()
    if action == "acknowledge":
        authz.require_person(actor)
        community, building, grid = _subject_place(actor)
        if community != a.community_id or not reaches(a, building, grid):
            raise Forbidden(_l("This announcement is not addressed to you."))
        if effective_status(a) != "published":
            raise Conflict()


# --- acknowledgements and follow-up --------------------------------------------------------------
def acknowledge(actor: Actor, announcement_id: int) -> AnnouncementAck:
    """A resident (or their family proxy) taps "I have read it"; tapping again changes nothing."""
    a = get_announcement(actor, announcement_id)
    ensure(actor, "acknowledge", a)
    subject = actor.subject
    ack = db.session.scalar(select(AnnouncementAck).where(
        AnnouncementAck.announcement_id == a.id, AnnouncementAck.person_id == subject.id))
    if ack is None:
        ack = AnnouncementAck(announcement_id=a.id, person_id=subject.id,
                              acked_by_id=actor.person_id if actor.on_behalf_of else None)
        db.session.add(ack)
        db.session.flush()
    return ack


def acked_by(actor: Actor, announcement_ids: list[int]) -> set[int]:
    """Which of these announcements the caller (or the resident they act for) acknowledged."""
    subject = actor.subject
    if subject is None or not announcement_ids:
        return set()
    return set(db.session.scalars(select(AnnouncementAck.announcement_id).where(
        AnnouncementAck.person_id == subject.id,
        AnnouncementAck.announcement_id.in_(announcement_ids))))


def audience_residents(a: Announcement) -> list[Person]:
    """Active residents of the community whose home the announcement reaches."""
    rows = db.session.execute(
        select(Person, Building.id, Building.grid_id)
        .join(Household, Person.household_id == Household.id)
        .join(Building, Household.building_id == Building.id)
        .where(Person.community_id == a.community_id, Building.community_id == a.community_id,
               Person.is_active.is_(True)))
    return [p for p, building_id, grid_id in rows if reaches(a, building_id, grid_id)]


def follow_up(actor: Actor, announcement_id: int) -> dict:
    """Who in the audience has not acknowledged: elderly living alone first, then the oldest.

    Grid workers see the people of their grids; phones and care flags follow the usual rules
    and reading them is recorded in the audit log.
    """
    a = _for_worker(actor, announcement_id)
    everyone = audience_residents(a)
    limited_to_grids = not (actor.is_admin or a.community_id in actor.staff_community_ids
                            or a.community_id in actor.official_community_ids)
    if limited_to_grids:
        everyone = [p for p in everyone if authz.is_persons_grid_worker(actor, p)]
    acked = set(db.session.scalars(select(AnnouncementAck.person_id).where(
        AnnouncementAck.announcement_id == a.id)))
    pending = []
    shown: set[str] = set()
    for p in everyone:
        if p.id in acked:
            continue
        contact = authz.can_see_contact(actor, p)
        care = authz.can_see_care(actor, p)
        lives_alone = "lives_alone" in (p.care_flags or []) if care else None
        if contact:
            shown.add("phone")
        if care:
            shown.add("care_flags")
        pending.append({
            "person_id": p.id,
            "display_name": p.display_name,
            "household": p.household.label if p.household else None,
            "phone": p.phone if contact else mask_phone(p.phone),
            "birth_year": p.birth_year if contact else None,
            "care_flags": list(p.care_flags or []) if care else None,
            "lives_alone": lives_alone,
            # Sorting never uses what the reader may not see.
            "_key": (0 if lives_alone else 1,
                     (p.birth_year if contact and p.birth_year else 9999), p.id),
        })
    pending.sort(key=lambda row: row.pop("_key"))
    if shown:
        audit.record_read(actor, "announcement_follow_up", a.id, a.community_id, sorted(shown))
    return {"announcement_id": a.id, "audience": len(everyone),
            "acknowledged": len(everyone) - len(pending), "pending": pending}


# --- images --------------------------------------------------------------------------------------
def _reencode(data: bytes) -> tuple[bytes, int, int]:
    fmt = images.sniff(data)
    if fmt is None:
        raise invalid_field("image", _l("Please send a JPEG, PNG, GIF or WebP picture."))
    return images.decode(data, fmt, max_pixels=MAX_IMAGE_PIXELS, edge=IMAGE_MAX_SIDE,
                         too_large=_l("The picture is too large."),
                         broken=lambda: invalid_field("image",
                                                      _l("The picture could not be read.")),
                         finish=_as_jpeg)


def _as_jpeg(img) -> tuple[bytes, int, int]:
    """The decoded (upright) picture on white, as a fresh JPEG (runs off the event loop)."""
    from PIL import Image

    if img.mode in ("RGBA", "LA", "P", "PA"):
        img = img.convert("RGBA")
        flat = Image.new("RGB", img.size, (255, 255, 255))
        flat.paste(img, mask=img.getchannel("A"))
        img = flat
    else:
        img = img.convert("RGB")
    out = io.BytesIO()
    # A fresh encode carries no EXIF (GPS, camera), XMP or ICC data from the upload.
    img.save(out, "JPEG", quality=85, optimize=True, progressive=True)
    return out.getvalue(), img.width, img.height


def image_folder() -> Path:
    """Where announcement pictures are stored."""
    return Path(current_app.config["UPLOAD_FOLDER"]) / "announcements"


def set_image(actor: Actor, announcement_id: int, data: bytes) -> Announcement:
    """Attach a picture: type sniffed from the bytes, re-encoded as JPEG, metadata stripped."""
    a = _for_manager(actor, announcement_id)
    if effective_status(a) in ("withdrawn", "expired"):
        raise Conflict(_l("A withdrawn or expired announcement cannot be edited."))
    if not data:
        raise invalid_field("image", _l("This cannot be empty."))
    jpeg, width, height = _reencode(data)
    key = hashlib.sha256(jpeg).hexdigest()
    folder = image_folder()
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{key}.jpg"
    if not target.exists():
        fd, tmp = tempfile.mkstemp(dir=folder, suffix=".part")
        with os.fdopen(fd, "wb") as fh:
            fh.write(jpeg)
        os.replace(tmp, target)
    old = a.image_key
    a.image_key, a.image_width, a.image_height = key, width, height
    if old != key:
        a.revision += 1
        a.updated_by_id = actor.person_id
        _history(a, actor, "edit", {"image": [old, key]})
        if effective_status(a) in LIVE:
            _ring(a)
    db.session.flush()
    return a


def remove_image(actor: Actor, announcement_id: int) -> Announcement:
    """Take the picture off an announcement."""
    a = _for_manager(actor, announcement_id)
    if a.image_key is None:
        return a
    old = a.image_key
    a.image_key = a.image_width = a.image_height = None
    a.revision += 1
    _history(a, actor, "edit", {"image": [old, None]})
    if effective_status(a) in LIVE:
        _ring(a)
    db.session.flush()
    return a


def image_url(a: Announcement) -> str | None:
    """Public URL of the picture (content-addressed, cached for ever)."""
    return f"/kiosk/media/{a.image_key}.jpg" if a.image_key else None


# --- views ---------------------------------------------------------------------------------------
def announcement_view(actor: Actor, a: Announcement, acked: set[int] | None = None) -> dict:
    """The API's picture of an announcement (no author names for residents)."""
    now = utcnow()
    internal = may(actor, "read_internal", a)
    view = {
        "id": a.id, "community_id": a.community_id, "title": a.title, "body": a.body,
        "paragraphs": paragraphs(a.body), "category": a.category, "priority": a.priority,
        "status": effective_status(a, now), "channels": list(a.channels or []),
        "audience": {"whole_community": a.whole_community, "grid_ids": list(a.grid_ids or []),
                     "building_ids": list(a.building_ids or [])},
        "publish_at": a.publish_at, "expire_at": a.expire_at,
        "window": _get(a, "window"), "revision": a.revision,
        "image_url": image_url(a), "speech_url": a.speech_url,
        "published_at": a.published_at, "withdrawn_at": a.withdrawn_at,
        "updated_at": a.updated_at,
    }
    if acked is not None:
        view["acknowledged"] = a.id in acked
    if internal:
        view["created_by_id"] = a.created_by_id
    return view


def revision_view(r: AnnouncementRevision) -> dict:
    """One history entry."""
    return {"revision": r.revision, "action": r.action, "editor_id": r.editor_id, "at": r.at,
            "changes": r.changes or {}}



# --- demo ----------------------------------------------------------------------------------------
def _demo_specs(heping: dict) -> list[dict]:
    grid1 = heping["grids"][0].id
    return [
        {"title": "燃气管道安全检修", "priority": "urgent", "category": "safety",
         "body": "今天 9:00 至 17:00，燃气公司工作人员将逐户上门检修燃气管道，请家中留人。\n\n"
                 "检修人员佩戴工作证上门，请先查验证件。如闻到燃气味，请立即开窗通风，"
                 "不要开关电器，并拨打燃气抢修电话 96777。"},
        {"title": "停水通知", "category": "outage", "grid_ids": [grid1],
         "body": "因供水管道维修，1号楼至3号楼将于本周六 8:00 至 14:00 停水。\n\n"
                 "请提前储水。行动不便的老人需要送水的，请联系居委会或网格员。"},
        {"title": "重阳节敬老联欢会", "category": "activity",
         "body": "本周五下午 2:30 在社区活动室举办重阳节敬老联欢会，"
                 "有文艺演出、义诊和义务理发。\n\n"
                 "欢迎老年朋友和家人一起参加。需要接送的老人请提前告诉网格员。"},
        {"title": "防诈骗提醒", "category": "safety",
         "body": "近期有人冒充社保、医保工作人员打电话，以“账户异常”“补贴发放”为由索要验证码"
                 "或要求转账。\n\n请记住：政府部门不会通过电话要求转账。遇到可疑电话，先挂断，"
                 "再打给子女或居委会核实。"},
        {"title": "垃圾分类新规", "category": "policy",
         "body": "下月起小区实行定时定点投放：每天早 7:00 至 9:00、晚 18:00 至 20:00。\n\n"
                 "厨余垃圾请沥干水分后投放，大件垃圾请预约清运。"},
    ]


@seed_hook
def _seed_demo(ctx: dict) -> None:
    """Demo announcements for 和平社区 (skips any that are already live)."""
    from sqlalchemy import inspect as sa_inspect

    if not sa_inspect(db.session.connection()).has_table(Announcement.__tablename__):
        # `flask db upgrade` has not created the announcement tables yet: seed the rest.
        ctx["summary"]["announcements_created"] = "skipped: run flask db upgrade first"
        return
    heping = ctx["communities"]["heping"]
    actor = Actor.for_person(heping["staff"])
    community_id = heping["community"].id
    made = 0
    for spec in _demo_specs(heping):
        live = db.session.scalar(select(Announcement.id).where(
            Announcement.community_id == community_id, Announcement.title == spec["title"],
            Announcement.status.in_(LIVE)))
        if live is not None:
            continue
        create_announcement(actor, community_id=community_id, **spec)
        made += 1
    ctx["summary"]["announcements_created"] = made
