"""Announcements: compose, publish, edit, withdraw, expire (the lifecycle), and the demo ones.

`tick()` moves stored statuses across schedule boundaries and rings the screens' doorbell
(the status read at any moment is `common.effective_status`).

Every change the screens should show says `events.changed("feed", community_id)`; the screens'
feed (app/screens/feed.py) follows that topic and bumps its version (create_app wires them).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from app.demo import seed_hook
from app.extensions import db
from app.infra import events, uow
from app.infra.errors import Conflict, Forbidden, NotFound, invalid_field
from app.infra.text import check_time_span, clean_text, utc_time
from app.models import Building, Grid
from app.models.announcement import (
    CATEGORIES,
    CHANNELS,
    PRIORITIES,
    Announcement,
    AnnouncementRevision,
)
from app.models.base import utcnow
from app.notices.common import (
    BODY_MAX,
    EDITABLE,
    LIVE,
    TITLE_MAX,
    _choice,
    _get,
    effective_status,
    local_zone,
)
from app.notices.policy import ensure
from app.people import authz
from app.people.actors import Actor


# --- validation ----------------------------------------------------------------------------------
def _aware(value, field) -> datetime | None:
    return utc_time(value, field, local_zone())


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
        found = set(
            db.session.scalars(
                select(Grid.id).where(Grid.id.in_(grid_ids), Grid.community_id == community_id)
            )
        )
        if found != set(grid_ids):
            raise invalid_field("grid_ids", _l("Unknown grid."))
    if building_ids:
        found = set(
            db.session.scalars(
                select(Building.id).where(
                    Building.id.in_(building_ids), Building.community_id == community_id
                )
            )
        )
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
            not isinstance(d, int) or not 1 <= d <= 7 for d in days
        ):
            raise invalid_field("window", _l("Weekdays are numbers from 1 (Monday) to 7."))
        days = sorted(set(days))
    check_time_span(start, end, "window")
    return days, start, end


def _schedule(publish_at, expire_at, priority, now) -> tuple[datetime, datetime]:
    publish_at = publish_at or now
    if expire_at is None:
        cfg = current_app.config
        expire_at = publish_at + (
            timedelta(hours=cfg["ANNOUNCEMENT_URGENT_HOURS"])
            if priority == "urgent"
            else timedelta(days=cfg["ANNOUNCEMENT_DEFAULT_DAYS"])
        )
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
    db.session.add(
        AnnouncementRevision(
            announcement=a,
            revision=a.revision,
            action=action,
            editor_id=actor.person_id if actor else None,
            changes=changes or {},
        )
    )


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


def create_announcement(
    actor: Actor,
    *,
    title: str,
    body: str = "",
    priority: str = "normal",
    category: str = "notice",
    community_id: int | None = None,
    grid_ids=None,
    building_ids=None,
    channels=None,
    publish_at=None,
    expire_at=None,
    window=None,
    draft: bool = False,
) -> Announcement:
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
        grid_ids=grids,
        building_ids=buildings,
        channels=_channels(channels),
        publish_at=_aware(publish_at, "publish_at"),
        expire_at=_aware(expire_at, "expire_at"),
        window_days=days,
        window_start=start,
        window_end=end,
        status="draft",
        revision=1,
        created_by_id=actor.person_id,
        updated_by_id=actor.person_id,
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


def _locked(actor: Actor, announcement_id: int) -> Announcement:
    """The announcement to change, re-read under its row lock (uow.lock_row): two edits of
    one announcement run one after another, so the second sees the first one's revision."""
    a = _for_manager(actor, announcement_id)
    uow.lock_row(Announcement, a.id)
    db.session.refresh(a)
    return a


def _plain(value):
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def update_announcement(
    actor: Actor, announcement_id: int, changes: dict, expected_revision: int | None = None
) -> Announcement:
    """Edit an announcement (not once withdrawn or expired); every edit is kept in the history."""
    a = _locked(actor, announcement_id)
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
        a.body = clean_text(
            changes["body"] or "", "body", max_length=BODY_MAX, multiline=True, required=False
        )
    if "category" in changes:
        a.category = _choice(changes["category"], CATEGORIES, "category")
    if "priority" in changes:
        a.priority = _choice(changes["priority"], PRIORITIES, "priority")
    if "grid_ids" in changes or "building_ids" in changes:
        a.grid_ids, a.building_ids = _audience(
            a.community_id,
            changes.get("grid_ids", a.grid_ids),
            changes.get("building_ids", a.building_ids),
        )
    if "channels" in changes:
        a.channels = _channels(changes["channels"])
    if "window" in changes:
        a.window_days, a.window_start, a.window_end = _window(changes["window"])
    if "publish_at" in changes:
        a.publish_at = _aware(changes["publish_at"], "publish_at")
    if "expire_at" in changes:
        a.expire_at = _aware(changes["expire_at"], "expire_at")
    diff = {f: [before[f], _plain(_get(a, f))] for f in EDITABLE if before[f] != _plain(_get(a, f))}
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


def publish_announcement(actor: Actor, announcement_id: int) -> Announcement:
    """Send a draft out now (or at its publish_at)."""
    a = _locked(actor, announcement_id)
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
    a = _locked(actor, announcement_id)
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


# --- demo ----------------------------------------------------------------------------------------
def _demo_specs(heping: dict) -> list[dict]:
    grid1 = heping["grids"][0].id
    return [
        {
            "title": "燃气管道安全检修",
            "priority": "urgent",
            "category": "safety",
            "body": "今天 9:00 至 17:00，燃气公司工作人员将逐户上门检修燃气管道，请家中留人。\n\n"
            "检修人员佩戴工作证上门，请先查验证件。如闻到燃气味，请立即开窗通风，"
            "不要开关电器，并拨打燃气抢修电话 96777。",
        },
        {
            "title": "停水通知",
            "category": "outage",
            "grid_ids": [grid1],
            "body": "因供水管道维修，1号楼至3号楼将于本周六 8:00 至 14:00 停水。\n\n"
            "请提前储水。行动不便的老人需要送水的，请联系居委会或网格员。",
        },
        {
            "title": "重阳节敬老联欢会",
            "category": "activity",
            "body": "本周五下午 2:30 在社区活动室举办重阳节敬老联欢会，"
            "有文艺演出、义诊和义务理发。\n\n"
            "欢迎老年朋友和家人一起参加。需要接送的老人请提前告诉网格员。",
        },
        {
            "title": "防诈骗提醒",
            "category": "safety",
            "body": "近期有人冒充社保、医保工作人员打电话，以“账户异常”“补贴发放”为由索要验证码"
            "或要求转账。\n\n请记住：政府部门不会通过电话要求转账。遇到可疑电话，先挂断，"
            "再打给子女或居委会核实。",
        },
        {
            "title": "垃圾分类新规",
            "category": "policy",
            "body": "下月起小区实行定时定点投放：每天早 7:00 至 9:00、晚 18:00 至 20:00。\n\n"
            "厨余垃圾请沥干水分后投放，大件垃圾请预约清运。",
        },
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
        live = db.session.scalar(
            select(Announcement.id).where(
                Announcement.community_id == community_id,
                Announcement.title == spec["title"],
                Announcement.status.in_(LIVE),
            )
        )
        if live is not None:
            continue
        create_announcement(actor, community_id=community_id, **spec)
        made += 1
    ctx["summary"]["announcements_created"] = made
