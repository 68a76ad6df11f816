"""Schemas for sign-in, tokens, joining and the caller's own profile."""

import marshmallow as ma

from app.api.common import PIN_PATTERN, mobile_phone, name_text, new_pin_field, pin_field, text

# What normalize_email (app/infra/text.py) takes, a little stricter so the document can say it
# without look-aheads: dot-atoms before the @ (at most 63 characters), then a domain name.
_ATOM = "[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]"
_LABEL = "[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
EMAIL_PATTERN = f"^{_ATOM}{{1,32}}(?:\\.{_ATOM}{{1,30}})?@(?:{_LABEL}\\.)+{_LABEL}$"


class TokenRequestSchema(ma.Schema):
    """Phone or username, with a 6-digit PIN (residents) or a password (staff)."""

    OPENAPI_RULES = {"oneOf": [{"required": ["pin"]}, {"required": ["password"]}]}

    login = text(80, required=True)
    pin = pin_field()
    password = text(200)
    label = text(80)


class PersonSchema(ma.Schema):
    """A person as the caller may see them (phone masked unless allowed)."""

    id = ma.fields.Integer()
    display_name = ma.fields.String()
    phone = ma.fields.String(allow_none=True)
    community_id = ma.fields.Integer(allow_none=True)
    household_id = ma.fields.Integer(allow_none=True)
    household = ma.fields.String(allow_none=True)
    birth_year = ma.fields.Integer(
        allow_none=True, strict=True, validate=ma.validate.Range(min=1900, max=2100)
    )
    care_flags = ma.fields.List(ma.fields.String(), allow_none=True)
    roles = ma.fields.List(ma.fields.String())


class TokenSchema(ma.Schema):
    """A new bearer token (shown once)."""

    token = ma.fields.String()
    token_type = ma.fields.String()
    expires_at = ma.fields.DateTime(allow_none=True)
    person = ma.fields.Nested(PersonSchema)


class JoinSchema(ma.Schema):
    """Join with an invitation code from the residents' committee."""

    code = text(20, required=True)
    display_name = name_text(80, required=True)
    phone = mobile_phone(required=True)
    pin = new_pin_field(required=True)


class ProxyLinkBriefSchema(ma.Schema):
    """A family-proxy link, seen from either side."""

    id = ma.fields.Integer()
    proxy_id = ma.fields.Integer()
    resident_id = ma.fields.Integer(
        allow_none=True,
        metadata={
            "description": "Only once the resident agreed (for the "
            "relative; always for the resident and staff)."
        },
    )
    resident_name = ma.fields.String(
        allow_none=True,
        metadata={
            "description": "Only once the resident agreed (for the "
            "relative; always for the resident and staff)."
        },
    )
    resident_phone = ma.fields.String(
        allow_none=True, metadata={"description": "The number asked with, masked."}
    )
    proxy_name = ma.fields.String()
    relation = ma.fields.String(allow_none=True)
    status = ma.fields.String()


class DeviceIdentitySchema(ma.Schema):
    """A lobby screen calling with its own token."""

    id = ma.fields.Integer()
    name = ma.fields.String()
    community_id = ma.fields.Integer()
    building_id = ma.fields.Integer(allow_none=True)
    orientation = ma.fields.String()


class MeSchema(PersonSchema):
    """The caller's own profile, preferences and proxy links."""

    locale = ma.fields.String(allow_none=True)
    text_size = ma.fields.String()
    speech_rate = ma.fields.String()
    notify_channel = ma.fields.String(
        metadata={"description": "Notices also sent by sms or email, or none."}
    )
    email = ma.fields.String(allow_none=True, metadata={"description": "One's own address."})
    acting_for = ma.fields.Nested(PersonSchema, allow_none=True)
    proxy_links = ma.fields.List(ma.fields.Nested(ProxyLinkBriefSchema))
    device = ma.fields.Nested(DeviceIdentitySchema, allow_none=True)


class MeUpdateSchema(ma.Schema):
    """What people may change about themselves."""

    display_name = name_text(80)
    locale = ma.fields.String(validate=ma.validate.OneOf(["zh_CN", "en"]))
    text_size = ma.fields.String(validate=ma.validate.OneOf(["large", "xlarge"]))
    speech_rate = ma.fields.String(validate=ma.validate.OneOf(["slow", "normal", "fast"]))
    notify_channel = ma.fields.String(
        validate=ma.validate.OneOf(["none", "sms", "email"]),
        metadata={
            "description": "Also send notices by SMS (to one's phone) or e-mail (to `email`, "
            "given here or before); 422 on this field when that address is missing."
        },
    )
    email = ma.fields.String(
        allow_none=True,
        validate=ma.validate.Length(max=254),
        metadata={
            "pattern": EMAIL_PATTERN,
            "description": "Where e-mail notices go; null removes it.",
            "example": "wang.fang@example.com",
        },
    )


class PinSchema(ma.Schema):
    """A new 6-digit PIN (and the current one, when it is one's own)."""

    pin = new_pin_field(required=True)
    current_pin = ma.fields.String(
        validate=ma.validate.Regexp(PIN_PATTERN.replace("$", "\\Z")),
        metadata={
            "pattern": PIN_PATTERN,
            "description": "The current PIN (6 digits): needed to change one's own PIN, "
            "not for a reset by the committee or a family member.",
        },
    )
