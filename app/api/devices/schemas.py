"""Schemas for kiosk devices."""

import marshmallow as ma

from app.api.common import both_or_neither, id_field, name_text, text, time_of_day


class DeviceSchema(ma.Schema):
    """A lobby screen."""

    id = ma.fields.Integer(dump_only=True)
    community_id = ma.fields.Integer(dump_only=True)
    name = name_text(80, required=True)
    location = text(120, allow_none=True)
    building_id = id_field(allow_none=True)
    orientation = ma.fields.String(validate=ma.validate.OneOf(["landscape", "portrait"]))
    revoked_at = ma.fields.DateTime(dump_only=True, allow_none=True)


class DeviceTokenSchema(ma.Schema):
    """A device token, shown once."""

    token = ma.fields.String()


class DeviceUpdateSchema(ma.Schema):
    """Rename, move or turn a screen; set its quiet hours (HH:MM, both or neither, and
    different: an end before the start runs past midnight)."""

    OPENAPI_RULES = both_or_neither("quiet_start", "quiet_end", "string")

    name = name_text(80)
    location = text(120, allow_none=True)
    building_id = id_field(allow_none=True)
    orientation = ma.fields.String(validate=ma.validate.OneOf(["landscape", "portrait"]))
    quiet_start = time_of_day(allow_none=True)
    quiet_end = time_of_day(allow_none=True)


class DeviceStatusSchema(ma.Schema):
    """A screen and how it is doing."""

    device = ma.fields.Nested(DeviceSchema)
    online = ma.fields.Boolean()
    last_seen_at = ma.fields.DateTime(allow_none=True)
    seen_version = ma.fields.Integer(allow_none=True)
    current_version = ma.fields.Integer()
    versions_behind = ma.fields.Integer(allow_none=True)
    showing = ma.fields.String(allow_none=True)
    sound = ma.fields.String(
        metadata={
            "description": "Can the screen make sound by itself: ok, blocked (by the browser's "
            "autoplay policy, until someone taps it) or unknown",
            "enum": ["ok", "blocked", "unknown"],
        }
    )
    client_version = ma.fields.String(allow_none=True)
    quiet_start = ma.fields.String(allow_none=True)
    quiet_end = ma.fields.String(allow_none=True)
    paired_at = ma.fields.DateTime(allow_none=True)


class PairingClaimSchema(ma.Schema):
    """The one-time code shown on an unpaired screen."""

    code = text(20, required=True)
