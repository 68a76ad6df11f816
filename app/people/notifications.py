"""The per-person notice inbox: any feature calls `notify`; the API reads from it, and
app/people/delivery.py sends it on by SMS or e-mail (after commit) when the person chose so."""

from __future__ import annotations

from sqlalchemy import func, select, update

from app.extensions import db
from app.infra.errors import NotFound
from app.models import Person
from app.models.base import utcnow
from app.models.notification import Notification
from app.people import authz, delivery
from app.people.actors import Actor
from app.people.locale import in_locale_of  # noqa: F401  (callers use notifications.in_locale_of)


def notify(
    person_id: int, kind: str, title: str, body: str, link: str | None = None
) -> Notification:
    """Put a notice in one person's inbox (texts already in their language; see `in_locale_of`)."""
    note = Notification(
        person_id=person_id,
        kind=kind[:40],
        title=str(title)[:200],
        body=str(body or "")[:2000],
        link=link[:300] if link else None,
    )
    db.session.add(note)
    db.session.flush()
    delivery.queue_notice(note)  # also by SMS or e-mail, when the person chose one
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
