"""Consultations (议事协商): a topic with options, a voting window and who may vote; one vote per
household (the database refuses a second row), comments from invited parties, minutes and the
decision."""

from __future__ import annotations

from app.extensions import db
from app.models.base import TimestampMixin, UTCDateTime, utcnow

# proposed (a resident's proposal waiting for seconds) → open; draft → open → closed → decided.
STATUSES = ("proposed", "draft", "open", "closed", "decided")
# Who may vote: every household of the community, of one building, or of one grid.
SCOPES = ("community", "building", "grid")
# Parties a consultation may invite to comment, besides the committee.
PARTIES = ("property", "social_org", "street_office")


class Consultation(TimestampMixin, db.Model):
    """One topic put to the households of a community (or of a building or a grid)."""

    __tablename__ = "consultation"
    __table_args__ = (db.Index("ix_consultation_community_status", "community_id", "status"),)

    id = db.Column(db.Integer, primary_key=True)
    community_id = db.Column(db.Integer, db.ForeignKey("community.id"), nullable=False, index=True)
    title = db.Column(db.String(120), nullable=False)
    body = db.Column(db.Text, nullable=False, default="")
    scope = db.Column(db.String(12), nullable=False, default="community")
    building_id = db.Column(db.Integer, db.ForeignKey("building.id"))
    grid_id = db.Column(db.Integer, db.ForeignKey("grid.id"))
    status = db.Column(db.String(12), nullable=False, default="draft")
    opens_at = db.Column(UTCDateTime())
    closes_at = db.Column(UTCDateTime())
    # A resident's proposal opens once this many households (the proposer's included) second it.
    seconds_needed = db.Column(db.Integer, nullable=False, default=0)
    # Kinds of party invited to comment (PARTIES).
    invited = db.Column(db.JSON, nullable=False, default=list)
    minutes = db.Column(db.Text)
    decision = db.Column(db.Text)
    decided_at = db.Column(UTCDateTime())
    closed_at = db.Column(UTCDateTime())
    announcement_id = db.Column(db.Integer, db.ForeignKey("announcement.id"))
    created_by_id = db.Column(db.Integer, db.ForeignKey("person.id"))
    proposed_by_household_id = db.Column(db.Integer, db.ForeignKey("household.id"))

    community = db.relationship("Community")
    building = db.relationship("Building")
    grid = db.relationship("Grid")
    options = db.relationship(
        "ConsultationOption",
        back_populates="consultation",
        order_by="ConsultationOption.position",
        cascade="all, delete-orphan",
    )


class ConsultationOption(db.Model):
    """One choice of a consultation, shown in `position` order (1, 2, 3…)."""

    __tablename__ = "consultation_option"
    __table_args__ = (
        db.UniqueConstraint("consultation_id", "position", name="uq_consultation_option_position"),
    )

    id = db.Column(db.Integer, primary_key=True)
    consultation_id = db.Column(
        db.Integer, db.ForeignKey("consultation.id"), nullable=False, index=True
    )
    position = db.Column(db.Integer, nullable=False)
    label = db.Column(db.String(80), nullable=False)

    consultation = db.relationship("Consultation", back_populates="options")


class ConsultationVote(TimestampMixin, db.Model):
    """A household's vote: one row per (consultation, household), replaced by a later vote.

    Who cast it is kept for the record and never shown with the results."""

    __tablename__ = "consultation_vote"
    __table_args__ = (
        db.UniqueConstraint(
            "consultation_id", "household_id", name="uq_consultation_vote_household"
        ),
    )

    id = db.Column(db.Integer, primary_key=True)
    consultation_id = db.Column(
        db.Integer, db.ForeignKey("consultation.id"), nullable=False, index=True
    )
    household_id = db.Column(db.Integer, db.ForeignKey("household.id"), nullable=False)
    option_id = db.Column(
        db.Integer, db.ForeignKey("consultation_option.id"), nullable=False, index=True
    )
    person_id = db.Column(db.Integer, db.ForeignKey("person.id"), nullable=False)
    # The family proxy who cast it for the resident, if any.
    cast_by_id = db.Column(db.Integer, db.ForeignKey("person.id"))


class ConsultationSecond(db.Model):
    """A household seconding a resident's proposal (附议): once per household."""

    __tablename__ = "consultation_second"
    __table_args__ = (
        db.UniqueConstraint(
            "consultation_id", "household_id", name="uq_consultation_second_household"
        ),
    )

    id = db.Column(db.Integer, primary_key=True)
    consultation_id = db.Column(
        db.Integer, db.ForeignKey("consultation.id"), nullable=False, index=True
    )
    household_id = db.Column(db.Integer, db.ForeignKey("household.id"), nullable=False)
    person_id = db.Column(db.Integer, db.ForeignKey("person.id"), nullable=False)
    created_at = db.Column(UTCDateTime(), nullable=False, default=utcnow)


class ConsultationComment(db.Model):
    """A comment by the committee or an invited party (property, social organization, street)."""

    __tablename__ = "consultation_comment"

    id = db.Column(db.Integer, primary_key=True)
    consultation_id = db.Column(
        db.Integer, db.ForeignKey("consultation.id"), nullable=False, index=True
    )
    author_id = db.Column(db.Integer, db.ForeignKey("person.id"), nullable=False)
    # committee | property | social_org | street_office
    party = db.Column(db.String(20), nullable=False)
    organization_id = db.Column(db.Integer, db.ForeignKey("organization.id"))
    body = db.Column(db.Text, nullable=False)
    created_at = db.Column(UTCDateTime(), nullable=False, default=utcnow)

    organization = db.relationship("Organization")
