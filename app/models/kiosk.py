"""Lobby screens' live side: the community feed version, each screen's state, pairing codes.

Kept out of the `device` table on purpose: heartbeats rewrite this state every minute, and the
registry row (name, place, revocation) stays a quiet, audited record.
"""

from __future__ import annotations

from app.extensions import db
from app.models.base import TimestampMixin, UTCDateTime, utcnow


class KioskFeed(db.Model):
    """Per community: the version of what its screens show, and the next schedule boundary."""

    __tablename__ = "kiosk_feed"

    community_id = db.Column(
        db.Integer, db.ForeignKey("community.id"), primary_key=True, autoincrement=False
    )
    version = db.Column(db.BigInteger, nullable=False, default=0)
    # When an announcement of the community next starts, ends or enters/leaves its window.
    boundary_at = db.Column(UTCDateTime(), index=True)
    updated_at = db.Column(UTCDateTime(), nullable=False, default=utcnow, onupdate=utcnow)


class DeviceState(TimestampMixin, db.Model):
    """A screen's settings and what it last reported (heartbeat)."""

    __tablename__ = "device_state"

    device_id = db.Column(
        db.Integer, db.ForeignKey("device.id"), primary_key=True, autoincrement=False
    )
    last_seen_at = db.Column(UTCDateTime())
    seen_version = db.Column(db.BigInteger)
    client_version = db.Column(db.String(40))
    # What the screen is showing, e.g. "#12 停水通知" (never a resident's data).
    showing = db.Column(db.String(200))
    online_stream = db.Column(db.Boolean, nullable=False, default=False)
    # Whether the screen can make sound by itself: "ok", "blocked" (the browser's autoplay
    # policy holds it until someone taps) or "unknown"; NULL: it never said.
    sound = db.Column(db.String(8))
    # Quiet hours (local HH:MM): nothing is read aloud by itself between them.
    quiet_start = db.Column(db.String(5))
    quiet_end = db.Column(db.String(5))
    paired_at = db.Column(UTCDateTime())

    device = db.relationship("Device")

    @property
    def community_id(self) -> int | None:
        """The screen's community (for the audit log)."""
        return self.device.community_id if self.device else None


class PairingCode(db.Model):
    """A one-time code an unpaired screen shows; staff type it to give the screen a token."""

    __tablename__ = "pairing_code"

    id = db.Column(db.Integer, primary_key=True)
    # HMAC of the code (SECRET_KEY): the plain code is only on the screen.
    code_hash = db.Column(db.String(64), nullable=False, index=True)
    # SHA-256 of the secret the screen polls with.
    poll_hash = db.Column(db.String(64), nullable=False, unique=True)
    # HMAC of the requester's address, for rate limiting without keeping addresses.
    ip_hash = db.Column(db.String(64), nullable=False, index=True)
    created_at = db.Column(UTCDateTime(), nullable=False, default=utcnow, index=True)
    expires_at = db.Column(UTCDateTime(), nullable=False)
    device_id = db.Column(db.Integer, db.ForeignKey("device.id"))
    claimed_by_id = db.Column(db.Integer, db.ForeignKey("person.id"))
    claimed_at = db.Column(UTCDateTime())
    delivered_at = db.Column(UTCDateTime())

    device = db.relationship("Device")

    @property
    def community_id(self) -> int | None:
        """The community of the device it paired (for the audit log)."""
        return self.device.community_id if self.device else None


__all__ = ["DeviceState", "KioskFeed", "PairingCode"]
