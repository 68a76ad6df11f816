"""Invitation codes for residents to join."""

import marshmallow as ma
from flask.views import MethodView
from flask_smorest import Blueprint

from app.api.common import actor, id_field
from app.people import invitations

blp = Blueprint("invitations", __name__, url_prefix="/api/v1", description="Invitations")


class InvitationCreateSchema(ma.Schema):
    """A new invitation."""

    household_id = id_field(allow_none=True)
    days = ma.fields.Integer(load_default=14, validate=ma.validate.Range(min=1, max=90))
    max_uses = ma.fields.Integer(load_default=1, validate=ma.validate.Range(min=1, max=500))


class InvitationSchema(ma.Schema):
    """An invitation code."""

    id = ma.fields.Integer()
    code = ma.fields.String()
    community_id = ma.fields.Integer()
    household_id = ma.fields.Integer(allow_none=True)
    expires_at = ma.fields.DateTime()
    max_uses = ma.fields.Integer()
    uses = ma.fields.Integer()


@blp.route("/communities/<id:community_id>/invitations")
class Invitations(MethodView):
    """Invitations of a community."""

    @blp.arguments(InvitationCreateSchema)
    @blp.response(201, InvitationSchema)
    def post(self, data, community_id):
        """Make an invitation code (committee staff)."""
        return invitations.create_invitation(actor(), community_id, **data)
