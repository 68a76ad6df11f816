"""The per-person notice inbox: any feature calls `notify`; the API and the staff console's
alert centre read from it, and app/people/delivery.py sends it on by SMS or e-mail (after commit)
when the person chose so.

Each new notice rings the person's doorbell channel (`alert_channel`) after commit. Streams held
by another worker of the same host hear it without Redis through `doorbells_job`: each process's
feed watcher (app/screens/feed.py) runs it every round, one `max(id)` query per process while
someone there is listening."""

from __future__ import annotations

import os
from datetime import datetime

from flask import current_app
from sqlalchemy import and_, case, func, select, update

from app.extensions import db
from app.infra import events, uow
from app.infra.errors import NotFound
from app.models import Person
from app.models.base import utcnow
from app.models.notification import HelpAlert, Notification
from app.people import authz, delivery
from app.people.actors import Actor
from app.people.locale import in_locale_of  # noqa: F401  (callers use notifications.in_locale_of)


def alert_channel(person_id: int) -> str:
    """The bus channel of one person's alert centre (their open console pages)."""
    return f"alerts:{person_id}"


def ring(person_id: int, newest_id: int | None = None) -> None:
    """Ring a person's open console pages after commit (they re-fetch their alerts)."""
    events.publish_after_commit(
        alert_channel(person_id), {"type": "alerts", "person_id": person_id, "id": newest_id}
    )


def notify(
    person_id: int,
    kind: str,
    title: str,
    body: str,
    link: str | None = None,
    *,
    urgent: bool = False,
    alert_id: int | None = None,
) -> Notification:
    """Put a notice in one person's inbox (texts already in their language; see `in_locale_of`);
    `urgent` ones sound in the console and stay on top until acknowledged."""
    # Written at once by one plain INSERT (not a flush of the unit of work: a notice is sent
    # on most steps of a case); the caller's pending changes are flushed first, as before.
    db.session.flush()
    note = uow.insert_loaded(
        Notification,
        {
            "person_id": person_id,
            "kind": kind[:40],
            "title": str(title)[:200],
            "body": str(body or "")[:2000],
            "link": link[:300] if link else None,
            "urgent": bool(urgent),
            "alert_id": alert_id,
        },
    )
    delivery.queue_notice(note)  # also by SMS or e-mail, when the person chose one
    ring(person_id, note.id)
    return note


def _owner(actor: Actor) -> Person:
    # A family proxy acting for a resident reads the resident's inbox.
    authz.require_person(actor)
    return actor.subject


def list_notifications(actor: Actor, *, unread: bool = False, page: int = 1, per_page: int = 50):
    """The caller's notices, newest first."""
    owner = _owner(actor)
    query = select(Notification).where(Notification.person_id == owner.id)
    if unread:
        query = query.where(Notification.read_at.is_(None))
    return db.paginate(
        query.order_by(Notification.id.desc()), page=page, per_page=per_page, error_out=False
    )


def unread_count(actor: Actor) -> int:
    """How many notices the caller has not read yet."""
    owner = _owner(actor)
    return (
        db.session.scalar(
            select(func.count())
            .select_from(Notification)
            .where(Notification.person_id == owner.id, Notification.read_at.is_(None))
        )
        or 0
    )


def mark_read(actor: Actor, notification_id: int) -> Notification:
    """Mark one of the caller's notices read (someone else's is not found)."""
    owner = _owner(actor)
    note = db.session.get(Notification, notification_id)
    if note is None or note.person_id != owner.id:
        raise NotFound()
    if note.read_at is None:
        note.read_at = utcnow()
        db.session.flush()
    return note


def mark_all_read(actor: Actor) -> int:
    """Mark every notice of the caller read; returns how many changed."""
    owner = _owner(actor)
    result = db.session.execute(
        update(Notification)
        .where(Notification.person_id == owner.id, Notification.read_at.is_(None))
        .values(read_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    return result.rowcount or 0


# --- the alert centre ----------------------------------------------------------------------------
def _pending(person_id: int):
    return and_(Notification.person_id == person_id, Notification.acknowledged_at.is_(None))


def list_alerts(actor: Actor, *, page: int = 1, per_page: int = 50):
    """The caller's notices for the alert centre: urgent ones not yet acknowledged on top, then
    the rest newest first."""
    owner = _owner(actor)
    waiting = case(
        (and_(Notification.urgent.is_(True), Notification.acknowledged_at.is_(None)), 0), else_=1
    )
    query = (
        select(Notification)
        .where(Notification.person_id == owner.id)
        .order_by(waiting, Notification.id.desc())
    )
    return db.paginate(query, page=page, per_page=per_page, error_out=False)


def count_unacknowledged(person_id: int, *, urgent_only: bool = False) -> int:
    """How many notices of one person nobody has acknowledged yet (`urgent_only`: urgent help
    only). For pages that already know whose overview they show."""
    query = select(func.count()).select_from(Notification).where(_pending(person_id))
    if urgent_only:
        query = query.where(Notification.urgent.is_(True))
    return db.session.scalar(query) or 0


def alert_counts(actor: Actor) -> dict:
    """The caller's badge: {"unacknowledged": n, "urgent": m, "newest_id": id or None,
    "newest_urgent_id": the newest urgent notice not yet acknowledged, or None}."""
    owner = _owner(actor)
    waiting_urgent = (Notification.acknowledged_at.is_(None), Notification.urgent.is_(True))
    row = db.session.execute(
        select(
            func.count(Notification.id).filter(Notification.acknowledged_at.is_(None)),
            func.count(Notification.id).filter(*waiting_urgent),
            func.max(Notification.id),
            func.max(Notification.id).filter(*waiting_urgent),
        ).where(Notification.person_id == owner.id)
    ).one()
    return {
        "unacknowledged": int(row[0] or 0),
        "urgent": int(row[1] or 0),
        "newest_id": row[2],
        "newest_urgent_id": row[3],
    }


def acknowledge(actor: Actor, notification_id: int) -> Notification:
    """The caller takes a notice on (someone else's is not found). For urgent help this
    acknowledges the whole alert: everyone told of it sees who took it, and it stops climbing
    (the affairs domain records the step on the case: `events.changed("help_acknowledged")`)."""
    owner = _owner(actor)
    note = db.session.get(Notification, notification_id)
    if note is None or note.person_id != owner.id:
        raise NotFound()
    if note.acknowledged_at is not None:
        return note
    now = utcnow()
    person_id = actor.person.id if actor.person is not None else owner.id
    note.acknowledged_at = now
    note.acknowledged_by_id = person_id
    note.read_at = note.read_at or now
    if note.alert_id is not None:
        alert = db.session.get(HelpAlert, note.alert_id)
        # One conditional UPDATE: two people acknowledging at once record one acknowledgement.
        taken = db.session.execute(
            update(HelpAlert)
            .where(HelpAlert.id == note.alert_id, HelpAlert.acknowledged_at.is_(None))
            .values(acknowledged_at=now, acknowledged_by_id=person_id, next_at=None)
            .execution_options(synchronize_session=False)
        ).rowcount
        others = list(
            db.session.scalars(
                select(Notification).where(
                    Notification.alert_id == note.alert_id,
                    Notification.acknowledged_at.is_(None),
                    Notification.id != note.id,
                )
            )
        )
        for other in others:
            other.acknowledged_at = now
            other.acknowledged_by_id = person_id
        db.session.flush()
        for pid in {o.person_id for o in others}:
            ring(pid)
        if taken:
            db.session.refresh(alert)
            events.changed("help_acknowledged", alert, actor)
    db.session.flush()
    ring(owner.id)
    return note


# --- doorbells across the workers of one host (no Redis) ------------------------------------------
_SEEN: dict[tuple[int, int], int] = {}


def doorbells_job(now: datetime | None, sweep: bool) -> dict:
    """The loop job "alert_doorbells": ring this process's open alert pages for notices written
    by another process (one max(id) query while someone here listens); returns how many rang."""
    if sweep:
        return {"rang": 0}  # cron has no listeners
    app = current_app._get_current_object()
    bus = events.get_bus(app)
    key = (id(app), os.getpid())
    listening = {int(c.split(":", 1)[1]) for c in bus.hub.channels() if c.startswith("alerts:")}
    newest = db.session.scalar(select(func.max(Notification.id))) or 0
    seen = _SEEN.get(key)
    _SEEN[key] = max(newest, seen or 0)
    if seen is None or newest <= seen or not listening:
        return {"rang": 0}
    rows = db.session.execute(
        select(Notification.person_id, func.max(Notification.id))
        .where(Notification.id > seen, Notification.person_id.in_(sorted(listening)))
        .group_by(Notification.person_id)
    ).all()
    for person_id, newest_id in rows:
        # Streams compare ids: a repeat of a doorbell this process already rang is harmless.
        bus.hub.deliver(
            alert_channel(person_id), {"type": "alerts", "person_id": person_id, "id": newest_id}
        )
    return {"rang": len(rows)}
