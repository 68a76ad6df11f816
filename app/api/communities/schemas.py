"""Schemas for the territory register."""

import marshmallow as ma

from app.api.common import id_field, name_text, text


class CommunitySchema(ma.Schema):
    """A community (社区)."""

    id = ma.fields.Integer()
    code = ma.fields.String()
    name = ma.fields.String()
    street_office_id = ma.fields.Integer()
    street_office = ma.fields.Function(lambda c: c.street_office.name)
    address = ma.fields.String(allow_none=True)
    phone = ma.fields.String(allow_none=True)
    office_hours = ma.fields.String(allow_none=True)


class CommunityUpdateSchema(ma.Schema):
    """Contact details staff may change."""

    name = name_text(120)
    address = text(255, allow_none=True)
    phone = text(40, allow_none=True)
    office_hours = text(120, allow_none=True)


class GridSchema(ma.Schema):
    """A grid (网格)."""

    id = ma.fields.Integer(dump_only=True)
    community_id = ma.fields.Integer(dump_only=True)
    name = name_text(80, required=True)


class BuildingSchema(ma.Schema):
    """A building (楼栋)."""

    id = ma.fields.Integer(dump_only=True)
    community_id = ma.fields.Integer(dump_only=True)
    grid_id = id_field(allow_none=True)
    name = name_text(80, required=True)
    latitude = ma.fields.Float(allow_none=True, validate=ma.validate.Range(min=-90, max=90))
    longitude = ma.fields.Float(allow_none=True, validate=ma.validate.Range(min=-180, max=180))


class HouseholdSchema(ma.Schema):
    """A household (户)."""

    id = ma.fields.Integer(dump_only=True)
    building_id = ma.fields.Integer(dump_only=True)
    unit = text(20, load_default="")
    room = text(20, required=True)
    label = ma.fields.String(dump_only=True)
