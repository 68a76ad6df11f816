"""Social organizations (社会组织) and providers (物业, vendors) that serve communities."""

from __future__ import annotations

from app.extensions import db
from app.models.base import TimestampMixin

ORG_KINDS = ("social_org", "property", "vendor")

organization_community = db.Table(
    "organization_community",
    db.Column("organization_id", db.Integer, db.ForeignKey("organization.id"), primary_key=True),
    db.Column("community_id", db.Integer, db.ForeignKey("community.id"), primary_key=True),
)


class Organization(TimestampMixin, db.Model):
    """A party that takes on community work: a social organization or a provider."""

    __tablename__ = "organization"

    id = db.Column(db.Integer, primary_key=True)
    name = db.Column(db.String(120), nullable=False, unique=True)
    kind = db.Column(db.String(20), nullable=False)
    phone = db.Column(db.String(40))

    communities = db.relationship("Community", secondary=organization_community)
