"""Schemas for announcements."""

import marshmallow as ma

from app.api.common import (
    PageArgsSchema,
    both_or_neither,
    id_field,
    lines_text,
    page_schema,
    text,
    time_of_day,
)
from app.models.announcement import CATEGORIES, CHANNELS, PRIORITIES, STATUSES


class WindowSchema(ma.Schema):
    """When screens show it: ISO weekdays (1 = Monday) and local HH:MM bounds (both or
    neither; different times, an end before the start runs past midnight)."""

    OPENAPI_RULES = both_or_neither("start", "end", "string")

    days = ma.fields.List(
        ma.fields.Integer(validate=ma.validate.Range(min=1, max=7)),
        allow_none=True,
        validate=ma.validate.Length(max=7),
    )
    start = time_of_day(allow_none=True)
    end = time_of_day(allow_none=True)


class AudienceSchema(ma.Schema):
    """Who it is for: the whole community, or residents of some grids or buildings."""

    whole_community = ma.fields.Boolean()
    grid_ids = ma.fields.List(ma.fields.Integer())
    building_ids = ma.fields.List(ma.fields.Integer())


class AnnouncementSchema(ma.Schema):
    """An announcement."""

    id = ma.fields.Integer()
    community_id = ma.fields.Integer()
    title = ma.fields.String()
    body = ma.fields.String()
    paragraphs = ma.fields.List(ma.fields.String())
    category = ma.fields.String()
    priority = ma.fields.String()
    status = ma.fields.String()
    channels = ma.fields.List(ma.fields.String())
    audience = ma.fields.Nested(AudienceSchema)
    publish_at = ma.fields.DateTime(allow_none=True)
    expire_at = ma.fields.DateTime(allow_none=True)
    window = ma.fields.Nested(WindowSchema, allow_none=True)
    revision = ma.fields.Integer()
    image_url = ma.fields.String(allow_none=True)
    speech_url = ma.fields.String(allow_none=True)
    published_at = ma.fields.DateTime(allow_none=True)
    withdrawn_at = ma.fields.DateTime(allow_none=True)
    updated_at = ma.fields.DateTime()
    acknowledged = ma.fields.Boolean()
    created_by_id = ma.fields.Integer(allow_none=True)


AnnouncementPageSchema = page_schema(AnnouncementSchema, "AnnouncementPageSchema")


class _AnnouncementFields(ma.Schema):
    body = lines_text(4000)
    priority = ma.fields.String(validate=ma.validate.OneOf(PRIORITIES))
    category = ma.fields.String(validate=ma.validate.OneOf(CATEGORIES))
    grid_ids = ma.fields.List(id_field(), validate=ma.validate.Length(max=200))
    building_ids = ma.fields.List(id_field(), validate=ma.validate.Length(max=500))
    channels = ma.fields.List(
        ma.fields.String(validate=ma.validate.OneOf(CHANNELS)),
        validate=ma.validate.Length(min=1, max=3),
    )
    publish_at = ma.fields.DateTime(allow_none=True)
    expire_at = ma.fields.DateTime(allow_none=True)
    window = ma.fields.Nested(WindowSchema, allow_none=True)


class AnnouncementCreateSchema(_AnnouncementFields):
    """Compose an announcement; without `draft` it goes out at once (or at publish_at)."""

    title = text(120, required=True, rule="filled_line")
    community_id = id_field()
    draft = ma.fields.Boolean(load_default=False)


class AnnouncementUpdateSchema(_AnnouncementFields):
    """Edit an announcement; `revision` (the one you edited) guards against lost updates."""

    title = text(120, rule="filled_line")
    revision = ma.fields.Integer(validate=ma.validate.Range(min=1, max=2**31))


class AnnouncementQueryArgsSchema(PageArgsSchema):
    """Filters."""

    community_id = id_field(strict=False)
    status = ma.fields.String(validate=ma.validate.OneOf(STATUSES))
    category = ma.fields.String(validate=ma.validate.OneOf(CATEGORIES))


class RevisionSchema(ma.Schema):
    """One entry of the edit history."""

    revision = ma.fields.Integer()
    action = ma.fields.String()
    editor_id = ma.fields.Integer(allow_none=True)
    at = ma.fields.DateTime()
    changes = ma.fields.Dict()


class AckSchema(ma.Schema):
    """An acknowledgement."""

    announcement_id = ma.fields.Integer()
    person_id = ma.fields.Integer()
    acked_at = ma.fields.DateTime()


class FollowUpPersonSchema(ma.Schema):
    """A resident who has not acknowledged yet (contact per the usual rules)."""

    person_id = ma.fields.Integer()
    display_name = ma.fields.String()
    household = ma.fields.String(allow_none=True)
    phone = ma.fields.String(allow_none=True)
    birth_year = ma.fields.Integer(allow_none=True)
    care_flags = ma.fields.List(ma.fields.String(), allow_none=True)
    lives_alone = ma.fields.Boolean(allow_none=True)


class FollowUpSchema(ma.Schema):
    """Who still has to be visited or called."""

    announcement_id = ma.fields.Integer()
    audience = ma.fields.Integer()
    acknowledged = ma.fields.Integer()
    pending = ma.fields.List(ma.fields.Nested(FollowUpPersonSchema))


class ImageUploadSchema(ma.Schema):
    """A picture (JPEG, PNG, GIF or WebP; re-encoded, metadata removed)."""

    image = ma.fields.Raw(required=True, metadata={"type": "string", "format": "binary"})
