"""People and what they may do: accounts, scoped roles, family-proxy links, invitations."""

from __future__ import annotations

from app.extensions import db
from app.models.base import TimestampMixin, UTCDateTime, utcnow

# Care flags: visible only to committee staff and the person's grid worker.
CARE_FLAGS = ("lives_alone", "limited_mobility", "needs_help")

# Roles. Staff-side roles are every role but resident.
RESIDENT = "resident"
COMMITTEE_STAFF = "committee_staff"
GRID_WORKER = "grid_worker"
ORG_MEMBER = "org_member"
STREET_OFFICIAL = "street_official"
PLATFORM_ADMIN = "platform_admin"
ROLES = (RESIDENT, COMMITTEE_STAFF, GRID_WORKER, ORG_MEMBER, STREET_OFFICIAL, PLATFORM_ADMIN)
STAFF_SIDE_ROLES = frozenset(ROLES) - {RESIDENT}


class Person(TimestampMixin, db.Model):
    """Anyone who signs in: residents (phone + PIN), staff-side accounts (username + password)."""

    __tablename__ = "person"

    id = db.Column(db.Integer, primary_key=True)
    display_name = db.Column(db.String(80), nullable=False)
    # Normalised mainland mobile number, digits only (e.g. 13812345678).
    phone = db.Column(db.String(20), unique=True, index=True)
    username = db.Column(db.String(60), unique=True, index=True)
    password_hash = db.Column(db.String(255))
    pin_hash = db.Column(db.String(255))
    birth_year = db.Column(db.Integer)
    care_flags = db.Column(db.JSON, nullable=False, default=list)
    household_id = db.Column(db.Integer, db.ForeignKey("household.id"), index=True)
    # A resident's home community; staff-side scope comes from RoleAssignment.
    community_id = db.Column(db.Integer, db.ForeignKey("community.id"), index=True)
    locale = db.Column(db.String(10))
    text_size = db.Column(db.String(10), nullable=False, default="large")
    speech_rate = db.Column(db.String(10), nullable=False, default="slow")
    # Notices also go out by "sms" (to phone) or "email" (to email), or "none"
    # (app/people/delivery.py).
    notify_channel = db.Column(db.String(10), nullable=False, default="none", server_default="none")
    email = db.Column(db.String(254))
    is_active = db.Column(db.Boolean, nullable=False, default=True)
    # 积分榜: show my name on the leaderboard (off until the person turns it on).
    show_on_leaderboard = db.Column(
        db.Boolean, nullable=False, default=False, server_default=db.false()
    )

    household = db.relationship("Household", back_populates="members")
    community = db.relationship("Community")
    roles = db.relationship(
        "RoleAssignment",
        back_populates="person",
        foreign_keys="RoleAssignment.person_id",
        cascade="all, delete-orphan",
    )

    # Flask-Login protocol
    @property
    def is_authenticated(self) -> bool:
        """Always true for a loaded person."""
        return True

    @property
    def is_anonymous(self) -> bool:
        """Never anonymous."""
        return False

    def get_id(self) -> str:
        """Prefixed id: device and person ids never collide."""
        return f"p:{self.id}"

    def get_session_id(self) -> str | None:
        """What the session cookies carry (Flask-Login's id_attribute): the key of the sign-in
        just started (app.security.sign_in), never the person's id."""
        return getattr(self, "session_key", None)


class RoleAssignment(TimestampMixin, db.Model):
    """One scoped role: e.g. grid worker of grid 3, committee staff of community 1."""

    __tablename__ = "role_assignment"

    id = db.Column(db.Integer, primary_key=True)
    person_id = db.Column(db.Integer, db.ForeignKey("person.id"), nullable=False, index=True)
    role = db.Column(db.String(30), nullable=False)
    community_id = db.Column(db.Integer, db.ForeignKey("community.id"), index=True)
    grid_id = db.Column(db.Integer, db.ForeignKey("grid.id"), index=True)
    organization_id = db.Column(db.Integer, db.ForeignKey("organization.id"), index=True)
    street_office_id = db.Column(db.Integer, db.ForeignKey("street_office.id"), index=True)
    # A street-office official is read-only unless granted write access.
    can_write = db.Column(db.Boolean, nullable=False, default=False)
    # 负责人: this organization membership may manage the organization's members in the
    # communities the membership reaches (app/people/org_members.py).
    leads_organization = db.Column(
        db.Boolean, nullable=False, default=False, server_default=db.false()
    )
    granted_by_id = db.Column(db.Integer, db.ForeignKey("person.id"))

    person = db.relationship("Person", back_populates="roles", foreign_keys=[person_id])
    grid = db.relationship("Grid")
    organization = db.relationship("Organization")
    street_office = db.relationship("StreetOffice")
    community = db.relationship("Community")


class ProxyLink(TimestampMixin, db.Model):
    """子女代办: a relative acting for an elderly resident, once confirmed."""

    __tablename__ = "proxy_link"
    __table_args__ = (db.UniqueConstraint("proxy_id", "resident_id", name="uq_proxy_link_pair"),)

    id = db.Column(db.Integer, primary_key=True)
    proxy_id = db.Column(db.Integer, db.ForeignKey("person.id"), nullable=False, index=True)
    # None while nobody uses the number the relative typed: the request then looks exactly like
    # any other waiting one, so a request never tells whether (or where) a number is registered.
    resident_id = db.Column(db.Integer, db.ForeignKey("person.id"), index=True)
    # The number the relative asked with (normalised); links made before 0007 have none.
    phone = db.Column(db.String(20))
    relation = db.Column(db.String(40))
    status = db.Column(
        db.String(20), nullable=False, default="pending"
    )  # pending|confirmed|revoked
    confirmed_by_id = db.Column(db.Integer, db.ForeignKey("person.id"))
    confirmed_at = db.Column(UTCDateTime())

    proxy = db.relationship("Person", foreign_keys=[proxy_id])
    resident = db.relationship("Person", foreign_keys=[resident_id])


class Invitation(TimestampMixin, db.Model):
    """An invitation code (or QR) from the committee that lets a resident join."""

    __tablename__ = "invitation"

    id = db.Column(db.Integer, primary_key=True)
    code = db.Column(db.String(20), nullable=False, unique=True, index=True)
    community_id = db.Column(db.Integer, db.ForeignKey("community.id"), nullable=False, index=True)
    household_id = db.Column(db.Integer, db.ForeignKey("household.id"))
    created_by_id = db.Column(db.Integer, db.ForeignKey("person.id"))
    expires_at = db.Column(UTCDateTime(), nullable=False)
    max_uses = db.Column(db.Integer, nullable=False, default=1)
    uses = db.Column(db.Integer, nullable=False, default=0)

    community = db.relationship("Community")
    household = db.relationship("Household")


__all__ = [
    "CARE_FLAGS",
    "ROLES",
    "STAFF_SIDE_ROLES",
    "Invitation",
    "Person",
    "ProxyLink",
    "RoleAssignment",
    "utcnow",
]
