"""Schemas for the people register."""

import marshmallow as ma

from app.api.auth.schemas import PersonSchema
from app.api.common import (
    PageArgsSchema,
    id_field,
    mobile_phone,
    name_text,
    new_pin_field,
    page_schema,
    text,
)
from app.models import CARE_FLAGS, ROLES

PersonPageSchema = page_schema(PersonSchema, "PersonPageSchema")


class PersonQueryArgsSchema(PageArgsSchema):
    """Filters for the register."""

    q = text(40)
    care_flag = ma.fields.String(validate=ma.validate.OneOf(CARE_FLAGS))


class PersonCreateSchema(ma.Schema):
    """Register a resident (committee staff)."""

    display_name = name_text(80, required=True)
    phone = mobile_phone(required=True)
    pin = new_pin_field(required=True)
    household_id = id_field(allow_none=True)
    birth_year = ma.fields.Integer(
        allow_none=True, strict=True, validate=ma.validate.Range(min=1900, max=2100)
    )
    care_flags = ma.fields.List(
        ma.fields.String(validate=ma.validate.OneOf(CARE_FLAGS)), validate=ma.validate.Length(max=3)
    )


class PersonUpdateSchema(ma.Schema):
    """Change a register entry."""

    display_name = name_text(80)
    phone = mobile_phone()
    household_id = id_field(allow_none=True)
    birth_year = ma.fields.Integer(
        allow_none=True, strict=True, validate=ma.validate.Range(min=1900, max=2100)
    )
    care_flags = ma.fields.List(
        ma.fields.String(validate=ma.validate.OneOf(CARE_FLAGS)), validate=ma.validate.Length(max=3)
    )
    is_active = ma.fields.Boolean()


class RoleGrantSchema(ma.Schema):
    """Give a person a scoped role."""

    role = ma.fields.String(required=True, validate=ma.validate.OneOf(ROLES))
    community_id = id_field(allow_none=True)
    grid_id = id_field(allow_none=True)
    organization_id = id_field(allow_none=True)


class RoleSchema(RoleGrantSchema):
    """A role assignment."""

    id = ma.fields.Integer()
    person_id = ma.fields.Integer()
    street_office_id = ma.fields.Integer(allow_none=True)
    can_write = ma.fields.Boolean()
