"""Schemas for case categories."""

import marshmallow as ma

from app.affairs.categories import DATATYPES, ICONS
from app.api.common import (
    category_code_field,
    id_field,
    lines_text,
    name_text,
    not_both,
    text,
)
from app.models.case import HANDLER_ROLES


class AttributeValueSchema(ma.Schema):
    """One choice of a list question."""

    key = text(40, required=True)
    name = text(80, required=True)


class AttributeSchema(ma.Schema):
    """An extra question asked when raising a case (an Open311 attribute)."""

    # A list question (…valuelist) offers at least one choice.
    OPENAPI_RULES = {
        "anyOf": [
            {
                "properties": {
                    "datatype": {"enum": [d for d in DATATYPES if not d.endswith("valuelist")]}
                }
            },
            {"required": ["values"], "properties": {"values": {"minItems": 1}}},
        ]
    }

    code = category_code_field(required=True)
    description = text(200, required=True)
    datatype = ma.fields.String(validate=ma.validate.OneOf(DATATYPES), load_default="string")
    required = ma.fields.Boolean(load_default=False)
    order = ma.fields.Integer(dump_only=True)
    values = ma.fields.List(
        ma.fields.Nested(AttributeValueSchema), validate=ma.validate.Length(max=50)
    )


class CategorySchema(ma.Schema):
    """A kind of matter the community handles."""

    id = ma.fields.Integer(dump_only=True)
    community_id = ma.fields.Integer(dump_only=True)
    code = ma.fields.String(dump_only=True)
    name = ma.fields.String(dump_only=True)
    description = ma.fields.String(allow_none=True, dump_only=True)
    icon = ma.fields.String(dump_only=True)
    handler_organization_id = ma.fields.Integer(allow_none=True, dump_only=True)
    handler_role = ma.fields.String(allow_none=True, dump_only=True)
    deadline_hours = ma.fields.Integer(dump_only=True)
    allow_anonymous = ma.fields.Boolean(dump_only=True)
    is_public = ma.fields.Boolean(dump_only=True)
    notice = ma.fields.String(allow_none=True, dump_only=True)
    attributes = ma.fields.List(ma.fields.Nested(AttributeSchema), dump_only=True)
    sort_order = ma.fields.Integer(dump_only=True)
    active = ma.fields.Boolean(dump_only=True)


class CategoryUpdateSchema(ma.Schema):
    """Change a category (its code stays). It is handled by an organization or by a role:
    naming one hands it over from the other."""

    OPENAPI_RULES = not_both("handler_role", "handler_organization_id")

    name = name_text(80)
    description = lines_text(500, allow_none=True)
    icon = ma.fields.String(validate=ma.validate.OneOf(ICONS))
    handler_organization_id = id_field(allow_none=True)
    handler_role = ma.fields.String(allow_none=True, validate=ma.validate.OneOf(HANDLER_ROLES))
    deadline_hours = ma.fields.Integer(strict=True, validate=ma.validate.Range(min=1, max=2160))
    allow_anonymous = ma.fields.Boolean()
    is_public = ma.fields.Boolean()
    notice = lines_text(500, allow_none=True)
    attributes = ma.fields.List(
        ma.fields.Nested(AttributeSchema), validate=ma.validate.Length(max=20)
    )
    sort_order = ma.fields.Integer(strict=True, validate=ma.validate.Range(min=-1000, max=1000))
    active = ma.fields.Boolean()


class CategoryCreateSchema(CategoryUpdateSchema):
    """A new category: a stable code (letters, digits, - and _) and a name."""

    code = category_code_field(required=True)
    name = name_text(80, required=True)


class CategoryQueryArgsSchema(ma.Schema):
    """Include switched-off categories (staff screens)."""

    include_inactive = ma.fields.Boolean(load_default=False)
