"""督办 (supervision): the street official's deadline and instruction on an escalated case, and
the committee's or handler's reply."""

from flask.views import MethodView
from flask_smorest import Blueprint

from app.affairs import supervision
from app.api.common import actor
from app.api.supervisions.schemas import (
    SupervisionCreateSchema,
    SupervisionFulfilSchema,
    SupervisionSchema,
)

blp = Blueprint(
    "supervisions",
    __name__,
    url_prefix="/api/v1",
    description="督办: the street office supervises escalated cases",
)


@blp.route("/cases/<id:case_id>/supervisions")
class CaseSupervisions(MethodView):
    """A case's 督办."""

    @blp.response(200, SupervisionSchema(many=True))
    def get(self, case_id):
        """List a case's 督办, open ones first (the case's workers and handler)."""
        return supervision.list_supervisions(actor(), case_id)

    @blp.arguments(SupervisionCreateSchema)
    @blp.response(201, SupervisionSchema)
    def post(self, data, case_id):
        """Supervise an escalated case: deadline and instruction (street official)."""
        item = supervision.supervise_case(actor(), case_id, **data)
        return supervision.supervision_row(item)


@blp.route("/cases/<id:case_id>/supervisions/<id:supervision_id>/fulfilment")
class SupervisionFulfilment(MethodView):
    """The reply to a 督办."""

    @blp.arguments(SupervisionFulfilSchema)
    @blp.response(200, SupervisionSchema)
    def post(self, data, case_id, supervision_id):
        """Record what was done about a 督办 (committee staff or the case's handler)."""
        item = supervision.fulfil_supervision(actor(), case_id, supervision_id, note=data["note"])
        return supervision.supervision_row(item)
