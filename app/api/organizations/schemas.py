"""Schemas for organizations."""

import marshmallow as ma

from app.api.common import id_field, mobile_phone, name_text, text
from app.models import ORG_KINDS


class OrganizationSchema(ma.Schema):
    """A social organization or provider."""

    id = ma.fields.Integer(dump_only=True)
    name = name_text(120, required=True)
    kind = ma.fields.String(required=True, validate=ma.validate.OneOf(ORG_KINDS))
    phone = text(40, allow_none=True)
    community_ids = ma.fields.Function(lambda o: [c.id for c in o.communities], dump_only=True)


class OrgMemberArgsSchema(ma.Schema):
    """?community_id=: the community whose members are meant (the organization must serve it)."""

    community_id = id_field(strict=False, required=True)


class OrgMemberCreateSchema(ma.Schema):
    """Add a resident of the community as a member, by their mobile number."""

    phone = mobile_phone(required=True)


class OrgMemberSchema(ma.Schema):
    """A member of an organization in a community (the phone masked for an organization's lead)."""

    id = ma.fields.Integer(metadata={"description": "The membership (role assignment) id."})
    person_id = ma.fields.Integer()
    display_name = ma.fields.String()
    phone = ma.fields.String(allow_none=True)
    community_id = ma.fields.Integer(
        allow_none=True,
        metadata={"description": "null: a membership for every community the organization serves"},
    )
    is_lead = ma.fields.Boolean(metadata={"description": "The organization's lead (负责人)."})
    is_active = ma.fields.Boolean()
    since = ma.fields.DateTime()
    can_remove = ma.fields.Boolean(metadata={"description": "The caller may end this membership."})
    can_appoint = ma.fields.Boolean(
        metadata={"description": "The caller may appoint or stand down this member as lead."}
    )
