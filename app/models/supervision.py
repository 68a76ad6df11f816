"""督办: a street official's instruction with a deadline on an escalated case, and its fulfilment.

Internal to the street office, the committee and the case's handler: residents never see it
(app/affairs/supervision.py says who reads and writes it).
"""

from __future__ import annotations

from app.extensions import db
from app.models.base import TimestampMixin, UTCDateTime

# open → fulfilled (the handler or the committee replied that it is done, with a note).
SUPERVISION_OPEN = "open"
SUPERVISION_FULFILLED = "fulfilled"
SUPERVISION_STATUSES = (SUPERVISION_OPEN, SUPERVISION_FULFILLED)


class CaseSupervision(TimestampMixin, db.Model):
    """One 督办 on a case: who issued it, what to do by when, and how it was fulfilled."""

    __tablename__ = "case_supervision"
    __table_args__ = (
        # Open supervisions of a community (the committee's and the office's lists), by deadline.
        db.Index("ix_case_supervision_open", "community_id", "status", "due_at"),
    )

    id = db.Column(db.Integer, primary_key=True)
    case_id = db.Column(db.Integer, db.ForeignKey("case_record.id"), nullable=False, index=True)
    community_id = db.Column(db.Integer, db.ForeignKey("community.id"), nullable=False)
    issued_by_id = db.Column(db.Integer, db.ForeignKey("person.id"), nullable=False)
    instruction = db.Column(db.Text, nullable=False)
    due_at = db.Column(UTCDateTime(), nullable=False)
    status = db.Column(db.String(20), nullable=False, default=SUPERVISION_OPEN)
    fulfilled_at = db.Column(UTCDateTime())
    fulfilled_by_id = db.Column(db.Integer, db.ForeignKey("person.id"))
    fulfilment_note = db.Column(db.Text)

    case = db.relationship("Case")
    issued_by = db.relationship("Person", foreign_keys=[issued_by_id])
    fulfilled_by = db.relationship("Person", foreign_keys=[fulfilled_by_id])


__all__ = [
    "SUPERVISION_FULFILLED",
    "SUPERVISION_OPEN",
    "SUPERVISION_STATUSES",
    "CaseSupervision",
]
