"""Who sees announcements: a resident's building or grid, a screen's place, a channel; the lists,
one announcement, a screen's items, the voice line's, the history, and the API's views of them.

Screens show an item only inside its optional weekday/time-of-day window; the app and the voice
line list it for as long as it is published.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from app.extensions import db
from app.infra.errors import NotFound
from app.models.announcement import CATEGORIES, CHANNELS, Announcement, AnnouncementRevision
from app.models.base import utcnow
from app.notices.common import (
    LIVE,
    STATUS_LABELS,
    _choice,
    _get,
    effective_status,
    paragraphs,
    snapshot_lookahead,
)
from app.notices.pictures import image_url
from app.notices.policy import _visible_to, ensure, may, reaches
from app.people import authz
from app.people.actors import Actor


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


def get_announcement(actor: Actor, announcement_id: int) -> Announcement:
    """One announcement the actor may see (otherwise 404, whatever the reason)."""
    authz.require_signed_in(actor)
    a = db.session.get(Announcement, announcement_id)
    if a is None:
        raise NotFound()
    ensure(actor, "read", a)
    return a


def list_announcements(
    actor: Actor,
    *,
    community_id: int | None = None,
    status: str | None = None,
    category: str | None = None,
    channel: str = "app",
    page: int = 1,
    per_page: int = 50,
) -> Page:
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
    query = select(Announcement).order_by(
        Announcement.publish_at.desc().nullsfirst(), Announcement.id.desc()
    )
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
    rows = [
        a
        for a in db.session.scalars(query.limit(2000))
        if _visible_to(actor, a, now, channel)
        and (status is None or effective_status(a, now) == status)
    ]
    start = (page - 1) * per_page
    return Page(rows[start : start + per_page], len(rows), page, per_page)


def for_device(device, now: datetime | None = None) -> list[Announcement]:
    """What a screen may show soon: live kiosk items for its place, urgent first then newest."""
    now = now or utcnow()
    horizon = now + snapshot_lookahead()
    rows = db.session.scalars(
        select(Announcement).where(
            Announcement.community_id == device.community_id, Announcement.status.in_(LIVE)
        )
    )
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
        return [
            a
            for a in for_device(actor.device, now)
            if effective_status(a, now) == "published" and channel in a.channels
        ]
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


# --- views ---------------------------------------------------------------------------------------
def announcement_view(actor: Actor, a: Announcement, acked: set[int] | None = None) -> dict:
    """The API's picture of an announcement (no author names for residents)."""
    now = utcnow()
    internal = may(actor, "read_internal", a)
    view = {
        "id": a.id,
        "community_id": a.community_id,
        "title": a.title,
        "body": a.body,
        "paragraphs": paragraphs(a.body),
        "category": a.category,
        "priority": a.priority,
        "status": effective_status(a, now),
        "channels": list(a.channels or []),
        "audience": {
            "whole_community": a.whole_community,
            "grid_ids": list(a.grid_ids or []),
            "building_ids": list(a.building_ids or []),
        },
        "publish_at": a.publish_at,
        "expire_at": a.expire_at,
        "window": _get(a, "window"),
        "revision": a.revision,
        "image_url": image_url(a),
        "speech_url": a.speech_url,
        "published_at": a.published_at,
        "withdrawn_at": a.withdrawn_at,
        "updated_at": a.updated_at,
    }
    if acked is not None:
        view["acknowledged"] = a.id in acked
    if internal:
        view["created_by_id"] = a.created_by_id
    return view


def revision_view(r: AnnouncementRevision) -> dict:
    """One history entry."""
    return {
        "revision": r.revision,
        "action": r.action,
        "editor_id": r.editor_id,
        "at": r.at,
        "changes": r.changes or {},
    }
