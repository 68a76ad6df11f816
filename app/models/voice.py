"""Conversations with the voice assistant kept in the database (no REDIS_URL), so every worker
of the host can take a conversation's next turn."""

from __future__ import annotations

from app.extensions import db
from app.models.base import TimestampMixin, UTCDateTime


class VoiceConversation(TimestampMixin, db.Model):
    """One conversation's dialog state (JSON, as voice.dialog keeps it) until `expires_at`.

    `owner` is whom it belongs to, as `app.assistant.services.owner_of` writes it ("device:3",
    "person:5", "person:5>7" for a relative acting for resident 7); `person_id` / `device_id`
    name the same caller, so a conversation goes when its person or screen does. `version`
    grows with every write: a write that read an older version is refused (compare-and-swap).
    """

    __tablename__ = "voice_conversation"

    id = db.Column(db.String(64), primary_key=True)
    owner = db.Column(db.String(64), nullable=False)
    person_id = db.Column(db.Integer, db.ForeignKey("person.id", ondelete="CASCADE"), index=True)
    device_id = db.Column(db.Integer, db.ForeignKey("device.id", ondelete="CASCADE"), index=True)
    state = db.Column(db.JSON, nullable=False)
    version = db.Column(db.Integer, nullable=False, default=1)
    expires_at = db.Column(UTCDateTime(), nullable=False, index=True)


__all__ = ["VoiceConversation"]
