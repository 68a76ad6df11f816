"""A per-person inbox of notices (status changes, new work, deadlines, urgent help) and the
urgent-help alerts that climb a chain of people until someone acknowledges them."""

from __future__ import annotations

from app.extensions import db
from app.models.base import UTCDateTime, utcnow


class Notification(db.Model):
    """One notice for one person; read_at is set when they have seen it, acknowledged_at when
    they (or, for urgent help, anyone told of the same alert) took it on."""

    __tablename__ = "notification"
    __table_args__ = (
        db.Index("ix_notification_person_read", "person_id", "read_at", "id"),
        db.Index("ix_notification_person_ack", "person_id", "acknowledged_at", "urgent"),
    )

    id = db.Column(db.Integer, primary_key=True)
    person_id = db.Column(db.Integer, db.ForeignKey("person.id"), nullable=False)
    kind = db.Column(db.String(40), nullable=False)
    title = db.Column(db.String(200), nullable=False)
    body = db.Column(db.String(2000), nullable=False, default="")
    link = db.Column(db.String(300))
    created_at = db.Column(UTCDateTime(), nullable=False, default=utcnow)
    read_at = db.Column(UTCDateTime())
    urgent = db.Column(db.Boolean, nullable=False, default=False, server_default=db.false())
    acknowledged_at = db.Column(UTCDateTime())
    acknowledged_by_id = db.Column(db.Integer, db.ForeignKey("person.id"))
    alert_id = db.Column(db.Integer, db.ForeignKey("help_alert.id"), index=True)

    acknowledged_by = db.relationship("Person", foreign_keys=[acknowledged_by_id])


class HelpAlert(db.Model):
    """One call for urgent help (救命 by voice) and where its chain stands: level 1 the grid
    worker, 2 the committee staff, 3 the street office; `next_at` is when it climbs unless
    acknowledged (None: acknowledged, or nobody above)."""

    __tablename__ = "help_alert"
    __table_args__ = (db.Index("ix_help_alert_next", "next_at"),)

    id = db.Column(db.Integer, primary_key=True)
    community_id = db.Column(db.Integer, db.ForeignKey("community.id"), nullable=False)
    person_id = db.Column(db.Integer, db.ForeignKey("person.id"))  # who called (a resident)
    device_id = db.Column(db.Integer, db.ForeignKey("device.id"))  # or the screen it came from
    building_id = db.Column(db.Integer, db.ForeignKey("building.id"))
    case_id = db.Column(db.Integer, db.ForeignKey("case_record.id"))
    said = db.Column(db.String(200), nullable=False, default="")
    level = db.Column(db.Integer, nullable=False, default=1)
    next_at = db.Column(UTCDateTime())
    created_at = db.Column(UTCDateTime(), nullable=False, default=utcnow)
    acknowledged_at = db.Column(UTCDateTime())
    acknowledged_by_id = db.Column(db.Integer, db.ForeignKey("person.id"))

    acknowledged_by = db.relationship("Person", foreign_keys=[acknowledged_by_id])


__all__ = ["HelpAlert", "Notification"]
