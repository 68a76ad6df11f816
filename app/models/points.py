"""Points (积分): an append-only ledger, per-community rules and redemptions."""

from __future__ import annotations

from app.extensions import db
from app.models.base import TimestampMixin, UTCDateTime, utcnow

# What earns points (PointEntry.source_kind), and what spends them.
SOURCE_KINDS = ("activity_attended", "volunteer_hours", "vote_cast", "case_confirmed")
REDEMPTION = "redemption"


class PointEntry(db.Model):
    """One line of the ledger; never changed or deleted. A reversal is a new negative line that
    names the line it undoes. (source_kind, source_id, person_id, kind) is unique, so a retried
    credit finds the line it already wrote instead of crediting twice."""

    __tablename__ = "point_entry"

    id = db.Column(db.Integer, primary_key=True)
    person_id = db.Column(db.Integer, db.ForeignKey("person.id"), nullable=False, index=True)
    household_id = db.Column(db.Integer, db.ForeignKey("household.id"), index=True)
    community_id = db.Column(db.Integer, db.ForeignKey("community.id"), nullable=False, index=True)
    delta = db.Column(db.Integer, nullable=False)
    reason = db.Column(db.String(200), nullable=False)
    source_kind = db.Column(db.String(30), nullable=False)
    source_id = db.Column(db.Integer, nullable=False)
    # credit, reversal, redemption; a source credited again after a reversal: credit.2, …
    kind = db.Column(db.String(20), nullable=False)
    reverses_id = db.Column(db.Integer, db.ForeignKey("point_entry.id"))
    created_by_id = db.Column(db.Integer, db.ForeignKey("person.id"))
    created_at = db.Column(UTCDateTime(), nullable=False, default=utcnow)

    __table_args__ = (
        db.UniqueConstraint(
            "source_kind", "source_id", "person_id", "kind", name="uq_point_entry_source"
        ),
    )


class PointRule(TimestampMixin, db.Model):
    """How many points one source kind earns in one community (else the default)."""

    __tablename__ = "point_rule"

    id = db.Column(db.Integer, primary_key=True)
    community_id = db.Column(db.Integer, db.ForeignKey("community.id"), nullable=False)
    source_kind = db.Column(db.String(30), nullable=False)
    points = db.Column(db.Integer, nullable=False)

    __table_args__ = (
        db.UniqueConstraint("community_id", "source_kind", name="uq_point_rule_kind"),
        db.CheckConstraint("points >= 0 AND points <= 1000", name="points"),
    )


class Redemption(TimestampMixin, db.Model):
    """Points exchanged for something (积分兑换), recorded by staff."""

    __tablename__ = "point_redemption"

    id = db.Column(db.Integer, primary_key=True)
    person_id = db.Column(db.Integer, db.ForeignKey("person.id"), nullable=False, index=True)
    community_id = db.Column(db.Integer, db.ForeignKey("community.id"), nullable=False, index=True)
    points = db.Column(db.Integer, nullable=False)
    item = db.Column(db.String(120), nullable=False)
    recorded_by_id = db.Column(db.Integer, db.ForeignKey("person.id"))

    __table_args__ = (db.CheckConstraint("points > 0", name="points"),)
