"""Schemas for organizations."""

import marshmallow as ma

from app.api.common import name_text, text
from app.models import ORG_KINDS


class OrganizationSchema(ma.Schema):
    """A social organization or provider."""

    id = ma.fields.Integer(dump_only=True)
    name = name_text(120, required=True)
    kind = ma.fields.String(required=True, validate=ma.validate.OneOf(ORG_KINDS))
    phone = text(40, allow_none=True)
    community_ids = ma.fields.Function(lambda o: [c.id for c in o.communities], dump_only=True)
