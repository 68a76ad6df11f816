"""Schemas for family-proxy links."""

import marshmallow as ma

from app.api.auth.schemas import ProxyLinkBriefSchema
from app.api.common import mobile_phone, text


class ProxyLinkSchema(ProxyLinkBriefSchema):
    """A family-proxy link."""

    confirmed_at = ma.fields.DateTime(allow_none=True)


class ProxyLinkCreateSchema(ma.Schema):
    """Ask to act for a resident (their phone number identifies them)."""

    resident_phone = mobile_phone(required=True)
    relation = text(40)
