"""A per-person inbox of notices (status changes, new work, deadlines); channels read from it."""

from __future__ import annotations

from app.extensions import db
from app.models.base import UTCDateTime, utcnow


class Notification(db.Model):
    """One notice for one person; read_at is set when they have seen it."""

    __tablename__ = "notification"
    __table_args__ = (db.Index("ix_notification_person_read", "person_id", "read_at", "id"),)

    id = db.Column(db.Integer, primary_key=True)
    person_id = db.Column(db.Integer, db.ForeignKey("person.id"), nullable=False)
    kind = db.Column(db.String(40), nullable=False)
    title = db.Column(db.String(200), nullable=False)
    body = db.Column(db.String(2000), nullable=False, default="")
    link = db.Column(db.String(300))
    created_at = db.Column(UTCDateTime(), nullable=False, default=utcnow)
    read_at = db.Column(UTCDateTime())


__all__ = ["Notification"]
