"""API keys that let third-party systems file cases through the Open311 GeoReport v2 API."""

from __future__ import annotations

from app.extensions import db
from app.models.base import TimestampMixin, UTCDateTime


class Open311Key(TimestampMixin, db.Model):
    """A revocable key scoped to one community; only its SHA-256 is stored."""

    __tablename__ = "open311_key"

    id = db.Column(db.Integer, primary_key=True)
    community_id = db.Column(db.Integer, db.ForeignKey("community.id"), nullable=False, index=True)
    name = db.Column(db.String(80), nullable=False)
    key_hash = db.Column(db.String(64), nullable=False, unique=True)
    # The first characters, so staff can tell keys apart without seeing them.
    prefix = db.Column(db.String(8), nullable=False)
    created_by_id = db.Column(db.Integer, db.ForeignKey("person.id"))
    last_used_at = db.Column(UTCDateTime())
    revoked_at = db.Column(UTCDateTime())

    community = db.relationship("Community")


__all__ = ["Open311Key"]
