"""Outbound deliveries: one row per notice sent (or to be sent) to a person by SMS or e-mail."""

from __future__ import annotations

from app.extensions import db
from app.models.base import TimestampMixin, UTCDateTime, utcnow

QUEUED = "queued"
SENDING = "sending"  # claimed by one worker (app/people/delivery.py), outcome not yet known
SENT = "sent"
FAILED = "failed"
SKIPPED = "skipped"
DELIVERY_STATUSES = (QUEUED, SENDING, SENT, FAILED, SKIPPED)

# What a person chose for notices outside the app (Person.notify_channel).
NOTIFY_NONE = "none"
NOTIFY_SMS = "sms"
NOTIFY_EMAIL = "email"
NOTIFY_CHANNELS = (NOTIFY_NONE, NOTIFY_SMS, NOTIFY_EMAIL)


class DeliveryRecord(TimestampMixin, db.Model):
    """One notice on one outside channel: its state, tries and last error. The address itself
    is read from the person when sending; only its masked form is kept here."""

    __tablename__ = "delivery_record"
    __table_args__ = (db.Index("ix_delivery_record_due", "status", "next_attempt_at"),)

    id = db.Column(db.Integer, primary_key=True)
    person_id = db.Column(db.Integer, db.ForeignKey("person.id"), nullable=False, index=True)
    notification_id = db.Column(db.Integer, db.ForeignKey("notification.id"), index=True)
    channel = db.Column(db.String(10), nullable=False)
    kind = db.Column(db.String(40), nullable=False)
    address_masked = db.Column(db.String(80))
    status = db.Column(db.String(10), nullable=False, default=QUEUED)
    attempts = db.Column(db.Integer, nullable=False, default=0)
    last_error = db.Column(db.String(300))
    next_attempt_at = db.Column(UTCDateTime(), nullable=False, default=utcnow)
    claimed_at = db.Column(UTCDateTime())
    claim_token = db.Column(db.String(32))
    sent_at = db.Column(UTCDateTime())
    provider_ref = db.Column(db.String(120))


__all__ = [
    "DELIVERY_STATUSES",
    "NOTIFY_CHANNELS",
    "DeliveryRecord",
]
