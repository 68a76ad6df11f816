"""Schemas for 督办 (supervision) of escalated cases."""

import marshmallow as ma

from app.api.common import lines_text
from app.models.supervision import SUPERVISION_STATUSES


class SupervisionCreateSchema(ma.Schema):
    """督办: what the handler must do (internal: residents never see it) and by when."""

    instruction = lines_text(1000, filled=True, required=True)
    due_at = ma.fields.AwareDateTime(
        required=True,
        metadata={"description": "With its time zone; in the future, within a year."},
    )


class SupervisionFulfilSchema(ma.Schema):
    """The reply to a 督办: what was done."""

    note = lines_text(2000, filled=True, required=True)


class SupervisionSchema(ma.Schema):
    """One 督办 on a case, open or answered; `overdue`: open past its deadline; `late`: answered
    after it."""

    id = ma.fields.Integer()
    case_id = ma.fields.Integer()
    reference = ma.fields.String()
    community_id = ma.fields.Integer()
    instruction = ma.fields.String()
    due_at = ma.fields.DateTime()
    status = ma.fields.String(validate=ma.validate.OneOf(SUPERVISION_STATUSES))
    status_label = ma.fields.String()
    open = ma.fields.Boolean()
    overdue = ma.fields.Boolean()
    late = ma.fields.Boolean()
    issued_by = ma.fields.String()
    issued_at = ma.fields.DateTime()
    fulfilled_at = ma.fields.DateTime(allow_none=True)
    fulfilled_by = ma.fields.String(allow_none=True)
    fulfilment_note = ma.fields.String(allow_none=True)
