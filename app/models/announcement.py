"""Announcements (公告): what staff post once for the app, the lobby screens and the voice line."""

from __future__ import annotations

from app.extensions import db
from app.models.base import TimestampMixin, UTCDateTime, utcnow

CATEGORIES = ("notice", "outage", "activity", "policy", "safety")
PRIORITIES = ("normal", "urgent")
CHANNELS = ("kiosk", "app", "voice")
# draft → scheduled → published → expired; scheduled/published → withdrawn.
STATUSES = ("draft", "scheduled", "published", "withdrawn", "expired")


class Announcement(TimestampMixin, db.Model):
    """One announcement of a community, with its audience, channels and schedule."""

    __tablename__ = "announcement"
    __table_args__ = (db.Index("ix_announcement_community_status", "community_id", "status"),)

    id = db.Column(db.Integer, primary_key=True)
    community_id = db.Column(db.Integer, db.ForeignKey("community.id"), nullable=False, index=True)
    title = db.Column(db.String(120), nullable=False)
    # Plain text; paragraphs are separated by blank lines.
    body = db.Column(db.Text, nullable=False, default="")
    category = db.Column(db.String(20), nullable=False, default="notice")
    priority = db.Column(db.String(10), nullable=False, default="normal")
    # Both empty: the whole community. Otherwise residents of these grids or buildings.
    grid_ids = db.Column(db.JSON, nullable=False, default=list)
    building_ids = db.Column(db.JSON, nullable=False, default=list)
    channels = db.Column(db.JSON, nullable=False, default=lambda: list(CHANNELS))
    publish_at = db.Column(UTCDateTime())
    expire_at = db.Column(UTCDateTime())
    # Optional display window on screens: ISO weekdays (1 = Monday) and local HH:MM bounds.
    window_days = db.Column(db.JSON)
    window_start = db.Column(db.String(5))
    window_end = db.Column(db.String(5))
    # The stored status; services also derive it from the clock (see effective_status).
    status = db.Column(db.String(12), nullable=False, default="draft")
    published_at = db.Column(UTCDateTime())
    withdrawn_at = db.Column(UTCDateTime())
    revision = db.Column(db.Integer, nullable=False, default=1)
    # A re-encoded JPEG in UPLOAD_FOLDER/announcements/<image_key>.jpg (key: its SHA-256).
    image_key = db.Column(db.String(64))
    image_width = db.Column(db.Integer)
    image_height = db.Column(db.Integer)
    # Server-made speech of spoken_text(); the voice engine fills it, an edit clears it.
    speech_url = db.Column(db.String(300))
    created_by_id = db.Column(db.Integer, db.ForeignKey("person.id"))
    updated_by_id = db.Column(db.Integer, db.ForeignKey("person.id"))

    community = db.relationship("Community")
    created_by = db.relationship("Person", foreign_keys=[created_by_id])
    revisions = db.relationship(
        "AnnouncementRevision",
        back_populates="announcement",
        order_by="AnnouncementRevision.id",
        cascade="all, delete-orphan",
    )

    @property
    def is_urgent(self) -> bool:
        """Urgent items interrupt the screens and ask residents to acknowledge."""
        return self.priority == "urgent"

    @property
    def whole_community(self) -> bool:
        """True when no grid or building was chosen."""
        return not (self.grid_ids or self.building_ids)


class AnnouncementRevision(db.Model):
    """Edit history: who changed what in an announcement, and when."""

    __tablename__ = "announcement_revision"

    id = db.Column(db.Integer, primary_key=True)
    announcement_id = db.Column(
        db.Integer, db.ForeignKey("announcement.id"), nullable=False, index=True
    )
    revision = db.Column(db.Integer, nullable=False)
    action = db.Column(db.String(20), nullable=False)  # create, edit, publish, withdraw, expire
    editor_id = db.Column(db.Integer, db.ForeignKey("person.id"))
    at = db.Column(UTCDateTime(), nullable=False, default=utcnow)
    # {field: [old, new]} for edits; empty for state changes.
    changes = db.Column(db.JSON, nullable=False, default=dict)

    announcement = db.relationship("Announcement", back_populates="revisions")
    editor = db.relationship("Person")

    @property
    def community_id(self) -> int | None:
        """The announcement's community (for the audit log)."""
        return self.announcement.community_id if self.announcement else None


class AnnouncementAck(db.Model):
    """A resident's one-tap "I have read it" for an (urgent) announcement."""

    __tablename__ = "announcement_ack"
    __table_args__ = (
        db.UniqueConstraint("announcement_id", "person_id", name="uq_announcement_ack_pair"),
    )

    id = db.Column(db.Integer, primary_key=True)
    announcement_id = db.Column(
        db.Integer, db.ForeignKey("announcement.id"), nullable=False, index=True
    )
    person_id = db.Column(db.Integer, db.ForeignKey("person.id"), nullable=False, index=True)
    # A family proxy may acknowledge for the resident: then this is the proxy.
    acked_by_id = db.Column(db.Integer, db.ForeignKey("person.id"))
    acked_at = db.Column(UTCDateTime(), nullable=False, default=utcnow)


__all__ = [
    "CATEGORIES",
    "CHANNELS",
    "PRIORITIES",
    "STATUSES",
    "Announcement",
    "AnnouncementAck",
    "AnnouncementRevision",
]
