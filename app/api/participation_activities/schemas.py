"""Schemas for activities, sign-ups, check-in and volunteer hours."""

import marshmallow as ma

from app.api.common import id_field, lines_text, text
from app.models.activity import SIGNUP_STATUSES

TOKEN_PATTERN = "^[A-Za-z0-9_-]{10,64}$"


class ActivitySchema(ma.Schema):
    """An activity, with the caller's own place (or place in line)."""

    id = ma.fields.Integer()
    community_id = ma.fields.Integer()
    organization_id = ma.fields.Integer(allow_none=True)
    organizer = ma.fields.String()
    title = ma.fields.String()
    description = ma.fields.String()
    place = ma.fields.String()
    starts_at = ma.fields.DateTime()
    ends_at = ma.fields.DateTime()
    capacity = ma.fields.Integer()
    taken = ma.fields.Integer(metadata={"description": "Places held (signed up or attended)."})
    places_left = ma.fields.Integer()
    waiting = ma.fields.Integer(metadata={"description": "People on the waiting list."})
    status = ma.fields.String(validate=ma.validate.OneOf(["published", "cancelled"]))
    signup_open = ma.fields.Boolean()
    signup_opens_at = ma.fields.DateTime(allow_none=True)
    signup_closes_at = ma.fields.DateTime(allow_none=True)
    my_status = ma.fields.String(
        allow_none=True,
        validate=ma.validate.OneOf(SIGNUP_STATUSES),
        metadata={"description": "The caller's (or the represented elder's) sign-up, if any."},
    )
    my_waitlist_position = ma.fields.Integer(
        allow_none=True, metadata={"description": "1 = next in line; null when not waiting."}
    )
    can_manage = ma.fields.Boolean()


class ActivityQueryArgsSchema(ma.Schema):
    """?community_id= (default: the caller's own) &include_past= &managed="""

    community_id = id_field(strict=False)
    include_past = ma.fields.Boolean(load_default=False)
    managed = ma.fields.Boolean(
        load_default=False, metadata={"description": "Only activities the caller manages."}
    )


class ActivityCreateSchema(ma.Schema):
    """Publish an activity (committee staff; or a member of the organizing organization).

    Times: the start in the future, the end after it; sign-up (optional window) closes after it
    opens and before the start. A time without a zone is the community's local time."""

    community_id = id_field(required=True)
    organization_id = id_field(
        allow_none=True,
        metadata={
            "description": "The organizing organization (serving the community); null: "
            "the residents' committee."
        },
    )
    title = text(120, required=True)
    description = lines_text(4000)
    place = text(120, required=True)
    starts_at = ma.fields.DateTime(required=True)
    ends_at = ma.fields.DateTime(required=True)
    capacity = ma.fields.Integer(
        strict=True, required=True, validate=ma.validate.Range(min=1, max=10000)
    )
    signup_opens_at = ma.fields.DateTime(allow_none=True)
    signup_closes_at = ma.fields.DateTime(allow_none=True)


class SignUpSchema(ma.Schema):
    """A place (or a place in line) in an activity."""

    id = ma.fields.Integer()
    activity_id = ma.fields.Integer()
    person_id = ma.fields.Integer()
    status = ma.fields.String(validate=ma.validate.OneOf(SIGNUP_STATUSES))
    waitlist_position = ma.fields.Integer(allow_none=True)
    signed_up_by_id = ma.fields.Integer(allow_none=True)
    checked_in_at = ma.fields.DateTime(allow_none=True)


class CheckInSchema(ma.Schema):
    """The secret of the door's QR code."""

    token = ma.fields.String(
        required=True,
        validate=ma.validate.Regexp(TOKEN_PATTERN),
        metadata={"pattern": TOKEN_PATTERN, "example": "Zk3v0b1Q8m2cXyT4pL6rN9sWuA5eH7dJ"},
    )


class CheckInLinkSchema(ma.Schema):
    """The link the door's QR code carries (organizers only)."""

    token = ma.fields.String()
    url = ma.fields.String()


class RosterRowSchema(ma.Schema):
    """One person on an activity's sign-up list (phones masked unless the caller may see them)."""

    signup_id = ma.fields.Integer()
    person_id = ma.fields.Integer()
    name = ma.fields.String()
    phone = ma.fields.String(allow_none=True)
    status = ma.fields.String(validate=ma.validate.OneOf(SIGNUP_STATUSES))
    waitlist_position = ma.fields.Integer(allow_none=True)
    signed_up_by_proxy = ma.fields.Boolean()
    checked_in_at = ma.fields.DateTime(allow_none=True)
    hours_id = ma.fields.Integer(allow_none=True)
    hours = ma.fields.Float(allow_none=True)
    hours_certified = ma.fields.Boolean()


class AttendanceSchema(ma.Schema):
    """Tick (true) or untick (false) someone with a place as present."""

    attended = ma.fields.Boolean(required=True)


class HoursCreateSchema(ma.Schema):
    """Volunteer hours for someone who checked in (rounded to half hours)."""

    hours = ma.fields.Float(required=True, validate=ma.validate.Range(min=0.5, max=24))


class HoursSchema(ma.Schema):
    """Volunteer hours (志愿服务时长)."""

    id = ma.fields.Integer()
    activity_id = ma.fields.Integer()
    person_id = ma.fields.Integer()
    hours = ma.fields.Float()
    certified_at = ma.fields.DateTime(allow_none=True)
    certified_by_id = ma.fields.Integer(allow_none=True)
