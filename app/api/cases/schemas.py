"""Schemas for community affairs (cases), their timeline, attachments and Open311 keys."""

import marshmallow as ma
from flask_smorest.fields import Upload

from app.affairs.rules import ACTIONS
from app.api.common import (
    TEXT_RULES,
    PageArgsSchema,
    all_rules,
    both_or_neither,
    category_code_field,
    id_field,
    lines_text,
    mobile_phone,
    name_text,
    only_with,
    reference_field,
    text,
)
from app.models.case import CASE_STATUSES, CHANNELS

_STATUS_FILTER = ("open", "all", *CASE_STATUSES)


class CategoryRefSchema(ma.Schema):
    """The category of a case."""

    id = ma.fields.Integer()
    code = ma.fields.String()
    name = ma.fields.String()
    icon = ma.fields.String()


class AssigneeSchema(ma.Schema):
    """Who handles a case: an organization or a worker."""

    kind = ma.fields.String()
    id = ma.fields.Integer(allow_none=True)
    name = ma.fields.String()


class LocationSchema(ma.Schema):
    """Where: building-level for the public, the flat or free address for others."""

    building_id = ma.fields.Integer(allow_none=True)
    building = ma.fields.String(allow_none=True)
    household_id = ma.fields.Integer(allow_none=True)
    place = ma.fields.String(allow_none=True)
    address = ma.fields.String(allow_none=True)
    latitude = ma.fields.Float(allow_none=True)
    longitude = ma.fields.Float(allow_none=True)


class TimelineEventSchema(ma.Schema):
    """One step of a case's timeline."""

    id = ma.fields.Integer()
    at = ma.fields.DateTime()
    kind = ma.fields.String()
    label = ma.fields.String()
    from_status = ma.fields.String(allow_none=True)
    to_status = ma.fields.String(allow_none=True)
    note = ma.fields.String(allow_none=True)
    public = ma.fields.Boolean()
    actor = ma.fields.String()
    data = ma.fields.Dict()


class NamedPersonSchema(ma.Schema):
    """A person by id and the name shown."""

    id = ma.fields.Integer()
    name = ma.fields.String()


class SuggestedAssigneeSchema(ma.Schema):
    """The category's default handler for this case: an organization or a grid worker."""

    organization_id = ma.fields.Integer()
    person_id = ma.fields.Integer()
    name = ma.fields.String()


class AssignablePersonSchema(ma.Schema):
    """A worker a case can be dispatched to."""

    id = ma.fields.Integer()
    name = ma.fields.String()
    role = ma.fields.String(validate=ma.validate.OneOf(["grid_worker", "committee_staff"]))


class AssignableOrganizationSchema(ma.Schema):
    """An organization serving the community."""

    id = ma.fields.Integer()
    name = ma.fields.String()
    kind = ma.fields.String()


class AttachmentSchema(ma.Schema):
    """A photo or recording of a case."""

    id = ma.fields.Integer()
    kind = ma.fields.String()
    mime = ma.fields.String()
    size = ma.fields.Integer()
    width = ma.fields.Integer(allow_none=True)
    height = ma.fields.Integer(allow_none=True)
    public = ma.fields.Boolean()
    created_at = ma.fields.DateTime()
    url = ma.fields.String()


class ReporterSchema(ma.Schema):
    """The reporter as a worker may see them (phone masked unless allowed; audited)."""

    id = ma.fields.Integer(allow_none=True)
    name = ma.fields.String(allow_none=True)
    phone = ma.fields.String(allow_none=True)
    email = ma.fields.String(allow_none=True)
    household = ma.fields.String(allow_none=True)
    self_declared = ma.fields.Boolean()
    proxy = ma.fields.Nested(NamedPersonSchema)


class CaseSummarySchema(ma.Schema):
    """A case in a list (never the reporter; public rows carry no description)."""

    id = ma.fields.Integer()
    reference = ma.fields.String()
    status = ma.fields.String()
    status_label = ma.fields.String()
    community_id = ma.fields.Integer()
    created_at = ma.fields.DateTime()
    updated_at = ma.fields.DateTime()
    support_count = ma.fields.Integer()
    is_public = ma.fields.Boolean()
    category = ma.fields.Nested(CategoryRefSchema)
    building = ma.fields.String(allow_none=True)
    description = ma.fields.String()
    channel = ma.fields.String()
    place = ma.fields.String(allow_none=True)
    grid_id = ma.fields.Integer(allow_none=True)
    due_at = ma.fields.DateTime(allow_none=True)
    overdue = ma.fields.Boolean()
    escalated = ma.fields.Boolean()
    assignee = ma.fields.Nested(AssigneeSchema, allow_none=True)


class CaseSchema(CaseSummarySchema):
    """A case as the caller may see it: public view, the reporter's, or a worker's."""

    reference_digits = ma.fields.String()
    level = ma.fields.String()
    merged_into = ma.fields.String(allow_none=True)
    closed_reason = ma.fields.String(allow_none=True)
    location = ma.fields.Nested(LocationSchema)
    transcript = ma.fields.String(allow_none=True)
    anonymous = ma.fields.Boolean()
    attributes = ma.fields.Dict()
    resolved_at = ma.fields.DateTime(allow_none=True)
    closed_at = ma.fields.DateTime(allow_none=True)
    reject_reason = ma.fields.String(allow_none=True)
    rating = ma.fields.Integer(allow_none=True)
    rating_comment = ma.fields.String(allow_none=True)
    category_notice = ma.fields.String(allow_none=True)
    supported_by_me = ma.fields.Boolean()
    timeline = ma.fields.List(ma.fields.Nested(TimelineEventSchema))
    attachments = ma.fields.List(ma.fields.Nested(AttachmentSchema))
    actions = ma.fields.List(ma.fields.String())
    reporter = ma.fields.Nested(ReporterSchema, allow_none=True)
    suggested_assignee = ma.fields.Nested(SuggestedAssigneeSchema, allow_none=True)


class CaseCreatedSchema(CaseSchema):
    """A new case; with with_similar=true, also the open cases nearby that may be the same
    matter."""

    similar = ma.fields.List(ma.fields.Nested(CaseSummarySchema))


class CasePageSchema(ma.Schema):
    """A page of cases; workers also get the counts per status."""

    items = ma.fields.List(ma.fields.Nested(CaseSummarySchema))
    total = ma.fields.Integer()
    page = ma.fields.Integer()
    pages = ma.fields.Integer()
    counts = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Integer())


# Open311 requests come only through /open311.
_INTAKE_CHANNELS = [c for c in CHANNELS if c != "open311"]


class CaseCreateSchema(ma.Schema):
    """Raise a case (send an Idempotency-Key header so retries create it once)."""

    OPENAPI_RULES = all_rules(
        {"anyOf": [{"required": ["category_id"]}, {"required": ["category_code"]}]},
        both_or_neither("latitude", "longitude", "number"),
        # What the matter is: the description, or without one the transcript (then it is the
        # description, so it keeps to the description's length).
        {
            "anyOf": [
                {"required": ["description"]},
                {
                    "required": ["transcript"],
                    "properties": {
                        "transcript": {
                            "type": "string",
                            "pattern": TEXT_RULES["filled_lines"],
                            "maxLength": 2000,
                        }
                    },
                },
            ]
        },
    )

    community_id = id_field()
    category_id = id_field()
    category_code = category_code_field()
    description = lines_text(
        2000,
        filled=True,
        metadata={"description": "What the matter is; may be left out when transcript is given."},
    )
    channel = ma.fields.String(
        validate=ma.validate.OneOf(_INTAKE_CHANNELS),
        metadata={
            "description": "How the matter reached us; which ones depend on the caller: "
            "a resident app, voice or kiosk; a family member proxy, voice "
            "or kiosk; staff recording a call or visit phone, counter, "
            "patrol or voice; a lobby screen kiosk or voice. Default: the "
            "caller's usual one."
        },
    )
    building_id = id_field(allow_none=True)
    household_id = id_field(allow_none=True)
    address = text(200, allow_none=True)
    latitude = ma.fields.Float(
        allow_none=True, allow_nan=False, validate=ma.validate.Range(min=-90, max=90)
    )
    longitude = ma.fields.Float(
        allow_none=True, allow_nan=False, validate=ma.validate.Range(min=-180, max=180)
    )
    anonymous = ma.fields.Boolean()
    is_public = ma.fields.Boolean(allow_none=True)
    reporter_id = id_field(allow_none=True)
    contact_name = name_text(80, allow_none=True)
    contact_phone = mobile_phone(allow_none=True)
    transcript = lines_text(4000, allow_none=True)
    attributes = ma.fields.Dict(
        keys=ma.fields.String(validate=ma.validate.Length(max=40)),
        validate=ma.validate.Length(max=20),
    )
    with_similar = ma.fields.Boolean(
        load_default=False,
        metadata={
            "description": "true: the answer also lists, under similar, the open cases like "
            "it (same category, same building or nearby). Default false: no similar key "
            "(GET /cases/similar gives them before submitting)."
        },
    )


class CaseUpdateSchema(ma.Schema):
    """Correct a case's category, location or visibility (committee staff). A new place
    replaces the whole location (building, flat, address, coordinates)."""

    OPENAPI_RULES = both_or_neither("latitude", "longitude", "number")

    category_id = id_field()
    building_id = id_field(allow_none=True)
    household_id = id_field(allow_none=True)
    address = text(200, allow_none=True)
    latitude = ma.fields.Float(
        allow_none=True, allow_nan=False, validate=ma.validate.Range(min=-90, max=90)
    )
    longitude = ma.fields.Float(
        allow_none=True, allow_nan=False, validate=ma.validate.Range(min=-180, max=180)
    )
    is_public = ma.fields.Boolean()


class CaseQueryArgsSchema(PageArgsSchema):
    """Filters: a community's cases, or mine=true for the caller's own. A resident's list of a
    community's public cases takes no filter on grid, channel, deadline or escalation (403)."""

    community_id = id_field(strict=False)
    mine = ma.fields.Boolean(load_default=False)
    status = ma.fields.String(validate=ma.validate.OneOf(_STATUS_FILTER))
    category_id = id_field(strict=False)
    grid_id = id_field(strict=False)
    overdue = ma.fields.Boolean(
        allow_none=True,
        metadata={
            "description": "true: open and past their deadline; false: not overdue "
            "(not on a resident's list of a community's public cases)."
        },
    )
    due = ma.fields.String(
        validate=ma.validate.OneOf(["today"]),
        metadata={
            "description": "today: open and due before the end of today (今日到期; "
            "not on a resident's list of a community's public cases)."
        },
    )
    escalated = ma.fields.Boolean(
        validate=ma.validate.Equal(True),
        metadata={
            "description": "true: open and escalated to the street office (已上报; not "
            "on a resident's list of a community's public cases)."
        },
    )
    assignee = ma.fields.String(
        validate=ma.validate.OneOf(["me"]),
        metadata={"description": "me: assigned to the caller by name (我的任务)."},
    )
    channel = ma.fields.String(validate=ma.validate.OneOf(CHANNELS))
    q = reference_field(optional_blank=True)
    after = id_field(
        strict=False,
        metadata={
            "description": "Keyset paging: the cases after this one (the last id of the page "
            "before) in the list's order, instead of counting `page`s from the start."
        },
    )


class InboxArgsSchema(PageArgsSchema):
    """Filters for the assignee inbox."""

    status = ma.fields.String(load_default="open", validate=ma.validate.OneOf(_STATUS_FILTER))
    after = id_field(
        strict=False,
        metadata={
            "description": "Keyset paging: the cases after this one (the last id of the page "
            "before) in the inbox's order, instead of counting `page`s from the start."
        },
    )


class SimilarArgsSchema(ma.Schema):
    """Where and what, to find open cases that may be the same matter."""

    community_id = id_field(strict=False)
    category_id = id_field(strict=False, required=True)
    building_id = id_field(strict=False)
    latitude = ma.fields.Float(allow_nan=False, validate=ma.validate.Range(min=-90, max=90))
    longitude = ma.fields.Float(allow_nan=False, validate=ma.validate.Range(min=-180, max=180))


class ReferenceArgsSchema(ma.Schema):
    """A case reference, e.g. 2026-000123."""

    reference = reference_field(required=True)


class StatusTextSchema(ma.Schema):
    """A plain sentence about a case's progress, for a screen or a voice."""

    reference = ma.fields.String()
    text = ma.fields.String()
    digits = ma.fields.String()
    spoken = ma.fields.String()


_MOVES = [a for a in ACTIONS if a not in ("assign", "merge")]


class TransitionSchema(ma.Schema):
    """Move a case: accept, reject (reason), start, resolve, confirm (rating), reopen, close."""

    OPENAPI_RULES = all_rules(
        only_with("rating", "action", ["confirm"]),
        # a rejection says why: in `reason`, or else in `note`
        {
            "anyOf": [
                {"properties": {"action": {"enum": [a for a in _MOVES if a != "reject"]}}},
                {
                    "required": ["reason"],
                    "properties": {
                        "reason": {"type": "string", "pattern": TEXT_RULES["filled_lines"]}
                    },
                },
                {
                    "required": ["note"],
                    "properties": {
                        "reason": {"enum": [None]},
                        "note": {
                            "type": "string",
                            "maxLength": 500,
                            "pattern": TEXT_RULES["filled_lines"],
                        },
                    },
                },
            ]
        },
    )

    action = ma.fields.String(required=True, validate=ma.validate.OneOf(_MOVES))
    note = lines_text(2000, allow_none=True)
    public = ma.fields.Boolean(allow_none=True)
    reason = lines_text(500, allow_none=True)
    rating = ma.fields.Integer(
        strict=True, allow_none=True, validate=ma.validate.Range(min=1, max=5)
    )
    comment = lines_text(500, allow_none=True)


class AssignSchema(ma.Schema):
    """Dispatch to one worker (person_id) or one organization, optionally with a deadline."""

    # Exactly one of the two is given (a number; the other absent or null).
    OPENAPI_RULES = {
        "oneOf": [
            {
                "required": ["person_id"],
                "properties": {
                    "person_id": {"type": "integer"},
                    "organization_id": {"enum": [None]},
                },
            },
            {
                "required": ["organization_id"],
                "properties": {
                    "organization_id": {"type": "integer"},
                    "person_id": {"enum": [None]},
                },
            },
        ]
    }

    person_id = id_field(allow_none=True)
    organization_id = id_field(allow_none=True)
    note = lines_text(2000, allow_none=True)
    due_at = ma.fields.AwareDateTime(allow_none=True)


class NoteSchema(ma.Schema):
    """A timeline note; workers choose public or internal."""

    text = lines_text(2000, required=True, filled=True)
    public = ma.fields.Boolean(load_default=False)


class NoteCreatedSchema(ma.Schema):
    """The note as added to the timeline."""

    id = ma.fields.Integer()
    at = ma.fields.DateTime()
    public = ma.fields.Boolean()
    note = ma.fields.String()


class MergeSchema(ma.Schema):
    """The case to merge into, by id or reference."""

    OPENAPI_RULES = {"anyOf": [{"required": ["into_id"]}, {"required": ["into_reference"]}]}

    into_id = id_field()
    into_reference = reference_field()
    note = lines_text(2000, allow_none=True)


class RatingSchema(ma.Schema):
    """1 to 5 stars and an optional comment."""

    rating = ma.fields.Integer(strict=True, required=True, validate=ma.validate.Range(min=1, max=5))
    comment = lines_text(500, allow_none=True)


class AttachmentFormSchema(ma.Schema):
    """Options sent with an upload (multipart form)."""

    public = ma.fields.Boolean(load_default=False)


class AttachmentFileSchema(ma.Schema):
    """The uploaded file: a JPEG/PNG/WebP photo or a WAV/Ogg/WebM/MP3/M4A recording."""

    file = Upload(required=True)


class AttachmentUpdateSchema(ma.Schema):
    """Show a photo in the public view, or hide it."""

    public = ma.fields.Boolean(required=True)


class CountsSchema(ma.Schema):
    """Cases per status in a community, with open and overdue totals."""

    counts = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Integer())


class FiguresSchema(ma.Schema):
    """This month in a community (Asia/Shanghai)."""

    received = ma.fields.Integer()
    resolved = ma.fields.Integer()
    avg_rating = ma.fields.Float(allow_none=True)


class AssigneeChoicesSchema(ma.Schema):
    """Workers and organizations a case can be dispatched to."""

    people = ma.fields.List(ma.fields.Nested(AssignablePersonSchema))
    organizations = ma.fields.List(ma.fields.Nested(AssignableOrganizationSchema))


class Open311KeySchema(ma.Schema):
    """An Open311 API key (the key itself is shown only when issued)."""

    id = ma.fields.Integer()
    community_id = ma.fields.Integer()
    name = ma.fields.String()
    prefix = ma.fields.String()
    created_at = ma.fields.DateTime()
    last_used_at = ma.fields.DateTime(allow_none=True)
    revoked_at = ma.fields.DateTime(allow_none=True)


class Open311KeyCreateSchema(ma.Schema):
    """Name the third-party system the key is for."""

    name = name_text(80, required=True)


class Open311KeyIssuedSchema(Open311KeySchema):
    """A new key, shown once."""

    api_key = ma.fields.String()
