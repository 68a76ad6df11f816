"""The audit log (admins; committee staff for their community)."""

import marshmallow as ma
from flask.views import MethodView
from flask_smorest import Blueprint

from app.api.common import PageArgsSchema, actor, id_field, page_schema, paged
from app.people import audit_log

blp = Blueprint("audit", __name__, url_prefix="/api/v1", description="Audit log")


class AuditEntrySchema(ma.Schema):
    """Who did or saw what, when."""

    id = ma.fields.Integer()
    at = ma.fields.DateTime()
    actor_person_id = ma.fields.Integer(allow_none=True)
    actor_device_id = ma.fields.Integer(allow_none=True)
    on_behalf_of_id = ma.fields.Integer(allow_none=True)
    action = ma.fields.String()
    target_type = ma.fields.String()
    target_id = ma.fields.String(allow_none=True)
    community_id = ma.fields.Integer(allow_none=True)
    detail = ma.fields.Dict()


class AuditQueryArgsSchema(PageArgsSchema):
    """Filters."""

    community_id = id_field(strict=False)
    target_type = ma.fields.String(validate=ma.validate.Length(max=60))
    actor_person_id = id_field(strict=False)


AuditPageSchema = page_schema(AuditEntrySchema, "AuditPageSchema")


@blp.route("/audit-logs")
class AuditLogs(MethodView):
    """Audit entries."""

    @blp.arguments(AuditQueryArgsSchema, location="query")
    @blp.response(200, AuditPageSchema)
    def get(self, args):
        """List audit entries, newest first."""
        return paged(audit_log.list_entries(actor(), **args))
