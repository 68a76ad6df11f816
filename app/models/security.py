"""Credentials and accountability: API tokens, kiosk devices, login throttling, the audit log."""

from __future__ import annotations

from app.extensions import db
from app.models.base import TimestampMixin, UTCDateTime, utcnow


class Device(TimestampMixin, db.Model):
    """A lobby screen (社区大屏): a device account that signs in with a revocable token."""

    __tablename__ = "device"

    id = db.Column(db.Integer, primary_key=True)
    community_id = db.Column(db.Integer, db.ForeignKey("community.id"), nullable=False, index=True)
    building_id = db.Column(db.Integer, db.ForeignKey("building.id"))
    name = db.Column(db.String(80), nullable=False)
    location = db.Column(db.String(120))
    orientation = db.Column(db.String(12), nullable=False, default="landscape")
    revoked_at = db.Column(UTCDateTime())

    community = db.relationship("Community")
    building = db.relationship("Building")

    @property
    def is_active(self) -> bool:
        """A revoked device can no longer sign in."""
        return self.revoked_at is None

    @property
    def is_authenticated(self) -> bool:
        """Always true for a loaded device."""
        return True

    @property
    def is_anonymous(self) -> bool:
        """Never anonymous."""
        return False

    def get_id(self) -> str:
        """Session id, prefixed so device and person ids never collide."""
        return f"d:{self.id}"


class ApiToken(db.Model):
    """A bearer token; only its SHA-256 is stored."""

    __tablename__ = "api_token"

    id = db.Column(db.Integer, primary_key=True)
    token_hash = db.Column(db.String(64), nullable=False, unique=True, index=True)
    person_id = db.Column(db.Integer, db.ForeignKey("person.id"), index=True)
    device_id = db.Column(db.Integer, db.ForeignKey("device.id"), index=True)
    label = db.Column(db.String(80))
    created_at = db.Column(UTCDateTime(), nullable=False, default=utcnow)
    expires_at = db.Column(UTCDateTime())
    last_used_at = db.Column(UTCDateTime())
    revoked_at = db.Column(UTCDateTime())

    person = db.relationship("Person")
    device = db.relationship("Device")


class WebSession(db.Model):
    """One sign-in to the staff console or easy mode (a cookie session). The cookies carry a
    random key and only its SHA-256 is kept, so a sign-out, a new PIN or password, or turning
    the account off ends it on the server and a copied cookie stops working."""

    __tablename__ = "web_session"

    id = db.Column(db.Integer, primary_key=True)
    key_hash = db.Column(db.String(64), nullable=False, unique=True, index=True)
    person_id = db.Column(db.Integer, db.ForeignKey("person.id"), nullable=False, index=True)
    kind = db.Column(db.String(12), nullable=False)  # easy | staff
    created_at = db.Column(UTCDateTime(), nullable=False, default=utcnow)
    last_seen_at = db.Column(UTCDateTime(), nullable=False, default=utcnow)
    expires_at = db.Column(UTCDateTime(), nullable=False)
    revoked_at = db.Column(UTCDateTime())
    user_agent = db.Column(db.String(200))

    person = db.relationship("Person")


class LoginThrottle(db.Model):
    """Failed sign-in attempts per login, for lockout (short at first, longer each time)."""

    __tablename__ = "login_throttle"

    login = db.Column(db.String(80), primary_key=True)
    failures = db.Column(db.Integer, nullable=False, default=0)
    last_failure_at = db.Column(UTCDateTime())
    locked_until = db.Column(UTCDateTime())
    # Locks since the last successful sign-in: each lock lasts twice as long as the one before.
    lock_count = db.Column(db.Integer, nullable=False, default=0, server_default="0")


class RateLimit(db.Model):
    """A fixed-window counter: sign-in failures per address, cases per person, new speech…

    `key` names what is counted and for whom (e.g. "login-ip:<hmac>", "case:p:12");
    `hits` counts events until `expires_at`, when the window starts again.
    """

    __tablename__ = "rate_limit"

    key = db.Column(db.String(100), primary_key=True)
    hits = db.Column(db.Integer, nullable=False, default=0)
    expires_at = db.Column(UTCDateTime(), nullable=False, index=True)


class AuditLog(db.Model):
    """Who did or saw what, when: staff-side changes and sensitive reads."""

    __tablename__ = "audit_log"

    id = db.Column(db.Integer, primary_key=True)
    at = db.Column(UTCDateTime(), nullable=False, default=utcnow, index=True)
    actor_person_id = db.Column(db.Integer, db.ForeignKey("person.id"), index=True)
    actor_device_id = db.Column(db.Integer, db.ForeignKey("device.id"))
    on_behalf_of_id = db.Column(db.Integer, db.ForeignKey("person.id"))
    action = db.Column(db.String(60), nullable=False)  # e.g. create, update, delete, read
    target_type = db.Column(db.String(60), nullable=False)
    target_id = db.Column(db.String(40))
    community_id = db.Column(db.Integer, index=True)
    detail = db.Column(db.JSON, nullable=False, default=dict)
    ip = db.Column(db.String(64))


__all__ = [
    "ApiToken",
    "AuditLog",
    "Device",
    "LoginThrottle",
    "RateLimit",
    "TimestampMixin",
    "WebSession",
]
