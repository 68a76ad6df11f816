"""What every announcement module shares: limits and labels, the clock (the status at a moment,
display windows, the next boundary a screen must follow), and the text an announcement is spoken
as.

Status is stored (draft, scheduled, published, withdrawn, expired) and also derived from the
clock on every read (`effective_status`), so a late tick never shows a stale state. Screens show
an item only inside its optional weekday/time-of-day window; the app and the voice line list it
for as long as it is published.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from flask import current_app
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from app.extensions import db
from app.infra.errors import invalid_field
from app.models.announcement import Announcement
from app.models.base import utcnow

TITLE_MAX = 120
BODY_MAX = 4000
LIVE = ("scheduled", "published")
# Fields an edit may change, in the order the history shows them.
EDITABLE = (
    "title",
    "body",
    "category",
    "priority",
    "grid_ids",
    "building_ids",
    "channels",
    "publish_at",
    "expire_at",
    "window",
)
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
# What the history calls each recorded action, each channel and each changed field.
ACTION_LABELS = {
    "create": _l("Created"),
    "edit": _l("Edited"),
    "publish": _l("Published"),
    "withdraw": _l("Withdrawn"),
    "expire": _l("Expired"),
}
CHANNEL_LABELS = {
    "kiosk": _l("Lobby screens"),
    "app": _l("App"),
    "voice": _l("Voice line"),
}
FIELD_LABELS = {
    "title": _l("Title"),
    "body": _l("Text"),
    "category": _l("Category"),
    "priority": _l("Priority"),
    "grid_ids": _l("Grids"),
    "building_ids": _l("Buildings"),
    "channels": _l("Channels"),
    "publish_at": _l("Starts"),
    "expire_at": _l("Ends"),
    "window": _l("Display window"),
    "image": _l("Picture"),
}
HISTORY_WORDS = {"actions": ACTION_LABELS, "channels": CHANNEL_LABELS, "fields": FIELD_LABELS}


# --- the clock -----------------------------------------------------------------------------------
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


def next_boundary(
    community_id: int, now: datetime | None = None, lookahead: timedelta | None = None
) -> datetime | None:
    """When the screens of a community next need to change without anyone editing."""
    now = now or utcnow()
    lookahead = lookahead if lookahead is not None else snapshot_lookahead()
    rows = db.session.scalars(
        select(Announcement).where(
            Announcement.community_id == community_id, Announcement.status.in_(LIVE)
        )
    )
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


# --- shared by writing and reading ---------------------------------------------------------------
def _choice(value, allowed, field):
    if value not in allowed:
        raise invalid_field(field, _l("Choose one of: %(options)s", options=", ".join(allowed)))
    return value


def _get(a: Announcement, field: str):
    if field == "window":
        if not a.window_days and not a.window_start:
            return None
        return {"days": a.window_days, "start": a.window_start, "end": a.window_end}
    value = getattr(a, field)
    return list(value) if isinstance(value, list) else value


def spoken_text(a: Announcement) -> str:
    """What the screen or the voice line says for an item (read aloud as written, in order)."""
    lead = _("Urgent notice") if a.is_urgent else str(CATEGORY_LABELS[a.category])
    parts = [_("%(lead)s: %(title)s.", lead=lead, title=a.title)] + paragraphs(a.body)
    return "\n".join(parts)


def paragraphs(body: str) -> list[str]:
    """Paragraphs of a plain-text body (blank lines separate them)."""
    return [p.strip() for p in re.split(r"\n\s*\n", body or "") if p.strip()]
