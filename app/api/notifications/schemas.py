"""Schemas for the notification inbox."""

import marshmallow as ma

from app.api.common import PageArgsSchema, page_schema


class NotificationSchema(ma.Schema):
    """A notice for the caller."""

    id = ma.fields.Integer()
    kind = ma.fields.String()
    title = ma.fields.String()
    body = ma.fields.String()
    link = ma.fields.String(allow_none=True)
    created_at = ma.fields.DateTime()
    read_at = ma.fields.DateTime(allow_none=True)
    urgent = ma.fields.Boolean()
    acknowledged_at = ma.fields.DateTime(allow_none=True)
    acknowledged_by_id = ma.fields.Integer(allow_none=True)


NotificationPageSchema = page_schema(NotificationSchema, "NotificationPageSchema")


class NotificationQueryArgsSchema(PageArgsSchema):
    """unread=true for unread notices only."""

    unread = ma.fields.Boolean(load_default=False)


class UnreadCountSchema(ma.Schema):
    """How many notices are unread, not acknowledged, urgent and not acknowledged."""

    unread = ma.fields.Integer()
    unacknowledged = ma.fields.Integer()
    urgent = ma.fields.Integer()


class ReadAllSchema(ma.Schema):
    """How many notices were marked read."""

    marked = ma.fields.Integer()
