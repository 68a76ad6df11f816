"""Schemas for kiosk devices."""

import marshmallow as ma

from app.api.common import id_field, text


class DeviceSchema(ma.Schema):
    """A lobby screen."""

    id = ma.fields.Integer(dump_only=True)
    community_id = ma.fields.Integer(dump_only=True)
    name = text(80, required=True)
    location = text(120, allow_none=True)
    building_id = id_field(allow_none=True)
    orientation = ma.fields.String(validate=ma.validate.OneOf(["landscape", "portrait"]))
    revoked_at = ma.fields.DateTime(dump_only=True, allow_none=True)


class DeviceTokenSchema(ma.Schema):
    """A device token, shown once."""

    token = ma.fields.String()
