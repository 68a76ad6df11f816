"""Community activities (社区活动), their sign-ups and volunteer hours (志愿服务时长)."""

from __future__ import annotations

from app.extensions import db
from app.models.base import TimestampMixin, UTCDateTime

SIGNED_UP = "signed_up"
WAITLISTED = "waitlisted"
CANCELLED = "cancelled"
ATTENDED = "attended"
SIGNUP_STATUSES = (SIGNED_UP, WAITLISTED, CANCELLED, ATTENDED)
# Who holds a place (counted against the capacity).
HOLDS_PLACE = (SIGNED_UP, ATTENDED)

ACTIVITY_STATUSES = ("published", "cancelled")


class Activity(TimestampMixin, db.Model):
    """An activity the committee (organization_id NULL) or a social organization publishes."""

    __tablename__ = "activity"

    id = db.Column(db.Integer, primary_key=True)
    community_id = db.Column(db.Integer, db.ForeignKey("community.id"), nullable=False, index=True)
    # NULL: the residents' committee organizes it.
    organization_id = db.Column(db.Integer, db.ForeignKey("organization.id"), index=True)
    title = db.Column(db.String(120), nullable=False)
    description = db.Column(db.Text, nullable=False, default="")
    place = db.Column(db.String(120), nullable=False)
    starts_at = db.Column(UTCDateTime(), nullable=False, index=True)
    ends_at = db.Column(UTCDateTime(), nullable=False)
    capacity = db.Column(db.Integer, nullable=False)
    signup_opens_at = db.Column(UTCDateTime())
    signup_closes_at = db.Column(UTCDateTime())
    status = db.Column(db.String(12), nullable=False, default="published")
    # The secret the door's QR code carries (/easy/activities/check-in/<token>).
    checkin_token = db.Column(db.String(64), nullable=False, unique=True)
    # Places held (signed up or attended): a counter changed only under the activity's lock.
    taken = db.Column(db.Integer, nullable=False, default=0)
    # The last sign-up's number, for first-come order on the waiting list.
    last_seq = db.Column(db.Integer, nullable=False, default=0)
    reminded_at = db.Column(UTCDateTime())
    created_by_id = db.Column(db.Integer, db.ForeignKey("person.id"))

    __table_args__ = (
        db.CheckConstraint("capacity > 0", name="capacity"),
        db.CheckConstraint("taken >= 0 AND taken <= capacity", name="taken"),
    )

    community = db.relationship("Community")
    organization = db.relationship("Organization")


class SignUp(TimestampMixin, db.Model):
    """One person's place (or place in line) for an activity; one row per person and activity."""

    __tablename__ = "activity_signup"

    id = db.Column(db.Integer, primary_key=True)
    activity_id = db.Column(db.Integer, db.ForeignKey("activity.id"), nullable=False, index=True)
    person_id = db.Column(db.Integer, db.ForeignKey("person.id"), nullable=False, index=True)
    # Who pressed the button: the person, their family proxy, or staff.
    signed_up_by_id = db.Column(db.Integer, db.ForeignKey("person.id"))
    status = db.Column(db.String(12), nullable=False, default=SIGNED_UP)
    # First come, first served: the order on the waiting list.
    seq = db.Column(db.Integer, nullable=False)
    checked_in_at = db.Column(UTCDateTime())
    checked_in_by_id = db.Column(db.Integer, db.ForeignKey("person.id"))

    __table_args__ = (
        db.UniqueConstraint("activity_id", "person_id", name="uq_activity_signup_person"),
    )

    activity = db.relationship("Activity")
    person = db.relationship("Person", foreign_keys=[person_id])


class VolunteerHours(TimestampMixin, db.Model):
    """Volunteer service time one person gave at an activity, certified by the organizer."""

    __tablename__ = "volunteer_hours"

    id = db.Column(db.Integer, primary_key=True)
    activity_id = db.Column(db.Integer, db.ForeignKey("activity.id"), nullable=False, index=True)
    person_id = db.Column(db.Integer, db.ForeignKey("person.id"), nullable=False, index=True)
    hours = db.Column(db.Numeric(5, 1, asdecimal=False), nullable=False)
    recorded_by_id = db.Column(db.Integer, db.ForeignKey("person.id"))
    certified_by_id = db.Column(db.Integer, db.ForeignKey("person.id"))
    certified_at = db.Column(UTCDateTime())

    __table_args__ = (
        db.UniqueConstraint("activity_id", "person_id", name="uq_volunteer_hours_person"),
        db.CheckConstraint("hours > 0 AND hours <= 24", name="hours"),
    )

    activity = db.relationship("Activity")
    person = db.relationship("Person", foreign_keys=[person_id])
