"""Stored responses of requests sent with an Idempotency-Key, so a retry gets the same answer."""

from __future__ import annotations

from app.extensions import db
from app.models.base import UTCDateTime, utcnow


class IdempotencyKey(db.Model):
    """A caller's key and the response it produced.

    Only an HMAC of (caller, key) is kept, never the caller's id: an anonymous report made with
    a key leaves no link back to the person who sent it.
    """

    __tablename__ = "idempotency_key"

    id = db.Column(db.Integer, primary_key=True)
    key_hash = db.Column(db.String(64), nullable=False, unique=True)
    # SHA-256 of method, path and body: the same key with another request is refused.
    fingerprint = db.Column(db.String(64), nullable=False)
    status_code = db.Column(db.Integer)
    content_type = db.Column(db.String(100))
    body = db.Column(db.Text)
    headers = db.Column(db.JSON, nullable=False, default=dict)
    created_at = db.Column(UTCDateTime(), nullable=False, default=utcnow, index=True)


__all__ = ["IdempotencyKey"]
