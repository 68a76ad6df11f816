"""Community affairs (诉求): categories, cases, their timeline, attachments, "me too" support.

A case belongs to one community. Its lifecycle lives in app/affairs (rules.py, workflow.py); the
columns here only record where it stands and who touched it.
"""

from __future__ import annotations

from app.extensions import db
from app.models.base import TimestampMixin, UTCDateTime, utcnow

# submitted → accepted → assigned → in_progress → resolved → closed, plus rejected and reopened.
SUBMITTED = "submitted"
ACCEPTED = "accepted"
ASSIGNED = "assigned"
IN_PROGRESS = "in_progress"
RESOLVED = "resolved"
CLOSED = "closed"
REJECTED = "rejected"
REOPENED = "reopened"
CASE_STATUSES = (SUBMITTED, ACCEPTED, ASSIGNED, IN_PROGRESS, RESOLVED, CLOSED, REJECTED, REOPENED)
# Statuses where the deadline clock runs and the case counts as open.
OPEN_STATUSES = (SUBMITTED, ACCEPTED, ASSIGNED, IN_PROGRESS, REOPENED)

# Where a case came from.
CHANNELS = ("app", "proxy", "phone", "counter", "kiosk", "voice", "patrol", "open311")

# How a category is handled by default: an organization, or a role in the community.
HANDLER_ROLES = ("committee_staff", "grid_worker")


class CaseCategory(TimestampMixin, db.Model):
    """A kind of affair a community handles (报修, 环境卫生…), with its deadline and rules."""

    __tablename__ = "case_category"
    __table_args__ = (
        db.UniqueConstraint("community_id", "code", name="uq_case_category_community_code"),
    )

    id = db.Column(db.Integer, primary_key=True)
    community_id = db.Column(db.Integer, db.ForeignKey("community.id"), nullable=False, index=True)
    # Stable code: Open311 service_code, and what easy-mode picture buttons are keyed by.
    code = db.Column(db.String(40), nullable=False)
    name = db.Column(db.String(80), nullable=False)
    description = db.Column(db.String(500))
    # Key of the picture shown on big buttons (e.g. "repair", "trash", "help").
    icon = db.Column(db.String(40), nullable=False, default="other")
    handler_organization_id = db.Column(db.Integer, db.ForeignKey("organization.id"))
    handler_role = db.Column(db.String(30))
    deadline_hours = db.Column(db.Integer, nullable=False, default=72)
    allow_anonymous = db.Column(db.Boolean, nullable=False, default=False)
    # Cases of a public category are visible to neighbours (public view); disputes and help
    # requests are not.
    is_public = db.Column(db.Boolean, nullable=False, default=True)
    # Shown before submitting, e.g. 燃气泄漏请立即离开并拨打燃气抢修电话.
    notice = db.Column(db.String(500))
    # Open311 service-definition attributes: [{code, description, datatype, required, values}].
    attributes = db.Column(db.JSON, nullable=False, default=list)
    sort_order = db.Column(db.Integer, nullable=False, default=0)
    active = db.Column(db.Boolean, nullable=False, default=True)

    community = db.relationship("Community")
    handler_organization = db.relationship("Organization")


# The deadline sweeps, one partial index per step, disjoint, so that each holds only cases that
# step may still take and a planner cannot mistake one for the other (the sweep writes the same
# IN list as literals): open cases whose overdue notice has not gone out yet, and notified
# open cases not escalated yet.
_NOTICE_WHERE = db.text(
    "overdue_notified_at IS NULL AND escalated_at IS NULL AND status IN "
    "('submitted', 'accepted', 'assigned', 'in_progress', 'reopened')"
)
_ESCALATION_WHERE = db.text(
    "overdue_notified_at IS NOT NULL AND escalated_at IS NULL AND "
    "status IN ('submitted', 'accepted', 'assigned', 'in_progress', "
    "'reopened')"
)
# Open cases with a handler still waiting for their due-soon reminder (and no overdue notice):
# a subset of the notice index's cases, but with a longer condition that only the reminder's
# sweep writes in full, so no other query can use it.
_DUE_SOON_WHERE = db.text(
    "due_soon_notified_at IS NULL AND overdue_notified_at IS NULL AND escalated_at IS NULL AND "
    "status IN ('submitted', 'accepted', 'assigned', 'in_progress', 'reopened')"
)
_RESOLVED_WHERE = db.text("status = 'resolved'")
# Open cases by deadline: the staff list's overdue page walks them in deadline order and stops
# after a page, where the (community, status, deadline) index must read and sort every open
# overdue case of the community (PostgreSQL, 6,000 of them on the bench: 16 ms -> 0.6 ms).
_OPEN_WHERE = db.text("status IN ('submitted', 'accepted', 'assigned', 'in_progress', 'reopened')")


# What a duplicate-suggestion walk reads after its equality columns: newest first (id), then
# every column it filters on or returns, so the table itself is never visited.
_PLACE_TAIL = (
    "id",
    "community_id",
    "created_at",
    "is_public",
    "merged_into_id",
    "latitude",
    "longitude",
)


class Case(TimestampMixin, db.Model):
    """One affair raised by a resident (or on their behalf), from submission to closure."""

    __tablename__ = "case_record"
    __table_args__ = (
        # The staff inbox: a community's cases by status, newest first, and counts per status.
        db.Index("ix_case_record_inbox", "community_id", "status", "id"),
        # The overdue filter and count.
        db.Index("ix_case_record_due", "community_id", "status", "due_at"),
        # The overdue page of open cases, in deadline order (PostgreSQL only: SQLite, without
        # statistics, would take it for the deadline sweeps' smaller indexes, and cannot use it
        # for the page, whose status list is bound as parameters).
        db.Index(
            "ix_case_record_open_due", "community_id", "due_at", "id", postgresql_where=_OPEN_WHERE
        ).ddl_if(dialect="postgresql"),
        # Deadline sweeps, by deadline: overdue notices, then escalations.
        db.Index(
            "ix_case_record_notice",
            "community_id",
            "due_at",
            sqlite_where=_NOTICE_WHERE,
            postgresql_where=_NOTICE_WHERE,
        ),
        db.Index(
            "ix_case_record_escalation",
            "community_id",
            "due_at",
            sqlite_where=_ESCALATION_WHERE,
            postgresql_where=_ESCALATION_WHERE,
        ),
        # Due-soon reminders (to the handlers, or the committee when nobody has it yet).
        db.Index(
            "ix_case_record_due_soon",
            "community_id",
            "due_at",
            sqlite_where=_DUE_SOON_WHERE,
            postgresql_where=_DUE_SOON_WHERE,
        ),
        # Auto-closing resolved cases nobody confirmed.
        db.Index(
            "ix_case_record_resolved",
            "community_id",
            "resolved_at",
            sqlite_where=_RESOLVED_WHERE,
            postgresql_where=_RESOLVED_WHERE,
        ),
        # The inbox filtered by channel.
        db.Index("ix_case_record_channel", "community_id", "channel", "status"),
        # Monthly figures for the lobby screen.
        db.Index("ix_case_record_community_created", "community_id", "created_at"),
        # Assignee inboxes.
        db.Index("ix_case_record_assignee_person", "assignee_person_id", "status"),
        db.Index("ix_case_record_assignee_org", "assignee_organization_id", "status"),
        # Duplicate suggestions (app/affairs/intake._similar_places walks each open status
        # newest first, reading only the index): open cases of a category in a building …
        db.Index("ix_case_record_similar", "category_id", "building_id", "status", *_PLACE_TAIL),
        # … and near a point.
        db.Index(
            "ix_case_record_nearby_open", "category_id", "status", *_PLACE_TAIL, "building_id"
        ),
    )

    id = db.Column(db.Integer, primary_key=True)
    # Public reference: year + per-year serial, e.g. 2026-000123.
    reference = db.Column(db.String(20), nullable=False, unique=True)
    community_id = db.Column(db.Integer, db.ForeignKey("community.id"), nullable=False)
    category_id = db.Column(db.Integer, db.ForeignKey("case_category.id"), nullable=False)
    # active_history: a status set without reading it first still tells what it was (the
    # counts per status in case_status_count follow every move).
    status = db.column_property(
        db.Column(db.String(20), nullable=False, default=SUBMITTED), active_history=True
    )
    channel = db.Column(db.String(20), nullable=False)
    description = db.Column(db.Text, nullable=False)
    # Voice reports: what the recognizer heard (the audio itself is an attachment).
    transcript = db.Column(db.Text)
    is_public = db.Column(db.Boolean, nullable=False, default=True)
    # Anonymous: no link to any person is kept (reporter, proxy and contact stay empty).
    anonymous = db.Column(db.Boolean, nullable=False, default=False)

    # Who: the resident it is for, the family proxy who filed it, the worker who took it down
    # (代办 or patrol), the kiosk it came from, the Open311 client that sent it.
    reporter_id = db.Column(db.Integer, db.ForeignKey("person.id"), index=True)
    proxy_id = db.Column(db.Integer, db.ForeignKey("person.id"))
    submitted_by_id = db.Column(db.Integer, db.ForeignKey("person.id"))
    device_id = db.Column(db.Integer, db.ForeignKey("device.id"))
    open311_key_id = db.Column(db.Integer, db.ForeignKey("open311_key.id"))
    # Self-declared contact (kiosk, phone call, Open311) when no account is linked.
    contact_name = db.Column(db.String(80))
    contact_phone = db.Column(db.String(20))
    contact_email = db.Column(db.String(254))

    # Where: a building/household of the register, or a free address; optional coordinates.
    building_id = db.Column(db.Integer, db.ForeignKey("building.id"))
    household_id = db.Column(db.Integer, db.ForeignKey("household.id"))
    grid_id = db.Column(db.Integer, db.ForeignKey("grid.id"), index=True)
    address = db.Column(db.String(200))
    latitude = db.Column(db.Float)
    longitude = db.Column(db.Float)

    attributes = db.Column(db.JSON, nullable=False, default=dict)
    media_url = db.Column(db.String(500))
    open311_token = db.Column(db.String(64), unique=True)

    # Dispatch and deadline.
    assignee_person_id = db.Column(db.Integer, db.ForeignKey("person.id"))
    assignee_organization_id = db.Column(db.Integer, db.ForeignKey("organization.id"))
    assigned_at = db.Column(UTCDateTime())
    due_at = db.Column(UTCDateTime())
    due_soon_notified_at = db.Column(UTCDateTime())
    overdue_notified_at = db.Column(UTCDateTime())
    escalated_at = db.Column(UTCDateTime())

    accepted_at = db.Column(UTCDateTime())
    resolved_at = db.Column(UTCDateTime())
    closed_at = db.Column(UTCDateTime())
    closed_reason = db.Column(db.String(20))  # confirmed | staff | auto | merged
    reject_reason = db.Column(db.String(500))
    merged_into_id = db.Column(db.Integer, db.ForeignKey("case_record.id"))
    support_count = db.Column(db.Integer, nullable=False, default=0)
    rating = db.Column(db.Integer)
    rating_comment = db.Column(db.String(500))
    rated_at = db.Column(UTCDateTime())

    community = db.relationship("Community")
    category = db.relationship("CaseCategory")
    reporter = db.relationship("Person", foreign_keys=[reporter_id])
    proxy = db.relationship("Person", foreign_keys=[proxy_id])
    submitted_by = db.relationship("Person", foreign_keys=[submitted_by_id])
    device = db.relationship("Device")
    building = db.relationship("Building")
    household = db.relationship("Household")
    grid = db.relationship("Grid")
    assignee_person = db.relationship("Person", foreign_keys=[assignee_person_id])
    assignee_organization = db.relationship("Organization")
    merged_into = db.relationship("Case", remote_side=[id])
    events = db.relationship(
        "CaseEvent", back_populates="case", order_by="CaseEvent.id", cascade="all, delete-orphan"
    )
    attachments = db.relationship(
        "CaseAttachment",
        back_populates="case",
        order_by="CaseAttachment.id",
        cascade="all, delete-orphan",
    )


class CaseEvent(db.Model):
    """One step of a case's timeline: a transition, a note, an assignment, a merge…"""

    __tablename__ = "case_event"

    id = db.Column(db.Integer, primary_key=True)
    case_id = db.Column(db.Integer, db.ForeignKey("case_record.id"), nullable=False, index=True)
    at = db.Column(UTCDateTime(), nullable=False, default=utcnow)
    kind = db.Column(db.String(30), nullable=False)
    from_status = db.Column(db.String(20))
    to_status = db.Column(db.String(20))
    note = db.Column(db.Text)
    # Public notes are shown to the reporter and the public view; internal ones only to workers.
    public = db.Column(db.Boolean, nullable=False, default=False)
    actor_person_id = db.Column(db.Integer, db.ForeignKey("person.id"))
    actor_device_id = db.Column(db.Integer, db.ForeignKey("device.id"))
    on_behalf_of_id = db.Column(db.Integer, db.ForeignKey("person.id"))
    # How the actor relates to the case (reporter, staff, assignee, device, system, open311):
    # what the public sees instead of a name.
    actor_role = db.Column(db.String(20), nullable=False, default="system")
    data = db.Column(db.JSON, nullable=False, default=dict)

    case = db.relationship("Case", back_populates="events")
    actor_person = db.relationship("Person", foreign_keys=[actor_person_id])


class CaseAttachment(db.Model):
    """A photo (re-encoded, metadata stripped) or an audio recording (kept as uploaded)."""

    __tablename__ = "case_attachment"

    id = db.Column(db.Integer, primary_key=True)
    case_id = db.Column(db.Integer, db.ForeignKey("case_record.id"), nullable=False, index=True)
    kind = db.Column(db.String(10), nullable=False)  # photo | audio
    mime = db.Column(db.String(40), nullable=False)
    size = db.Column(db.Integer, nullable=False)
    width = db.Column(db.Integer)
    height = db.Column(db.Integer)
    # Random file name under UPLOAD_FOLDER; never derived from what the client sent.
    storage_name = db.Column(db.String(80), nullable=False, unique=True)
    sha256 = db.Column(db.String(64), nullable=False)
    # Photos are private until staff mark one public; audio is never public.
    public = db.Column(db.Boolean, nullable=False, default=False)
    uploaded_by_id = db.Column(db.Integer, db.ForeignKey("person.id"))
    device_id = db.Column(db.Integer, db.ForeignKey("device.id"))
    uploader_role = db.Column(db.String(20), nullable=False, default="reporter")
    created_at = db.Column(UTCDateTime(), nullable=False, default=utcnow)

    case = db.relationship("Case", back_populates="attachments")


class CaseSupport(db.Model):
    """ "Me too" (我也遇到): one per person per case."""

    __tablename__ = "case_support"
    __table_args__ = (
        db.UniqueConstraint("case_id", "person_id", name="uq_case_support_case_person"),
    )

    id = db.Column(db.Integer, primary_key=True)
    case_id = db.Column(db.Integer, db.ForeignKey("case_record.id"), nullable=False, index=True)
    person_id = db.Column(db.Integer, db.ForeignKey("person.id"), nullable=False, index=True)
    created_at = db.Column(UTCDateTime(), nullable=False, default=utcnow)


class CaseStatusCount(db.Model):
    """How many cases a community has in one status, so the staff inbox never counts the table.

    Kept in step by app/affairs/counts.py: each flush notes the status moves of the cases it
    wrote, and the session applies them just before it commits.
    """

    __tablename__ = "case_status_count"

    community_id = db.Column(
        db.Integer, db.ForeignKey("community.id"), primary_key=True, autoincrement=False
    )
    status = db.Column(db.String(20), primary_key=True)
    total = db.Column(db.Integer, nullable=False, default=0)


class CaseSerial(db.Model):
    """The last reference serial handed out in a year (one row per year, locked on use)."""

    __tablename__ = "case_serial"

    year = db.Column(db.Integer, primary_key=True, autoincrement=False)
    last_value = db.Column(db.Integer, nullable=False, default=0)


__all__ = [
    "CASE_STATUSES",
    "CHANNELS",
    "OPEN_STATUSES",
    "Case",
    "CaseAttachment",
    "CaseCategory",
    "CaseEvent",
    "CaseSerial",
    "CaseStatusCount",
    "CaseSupport",
]
