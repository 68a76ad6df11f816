"""Organizations serving communities."""

from flask.views import MethodView
from flask_smorest import Blueprint

from app.api.common import actor
from app.api.organizations.schemas import OrganizationSchema
from app.people import organizations

blp = Blueprint("organizations", __name__, url_prefix="/api/v1", description="Organizations")


@blp.route("/communities/<id:community_id>/organizations")
class Organizations(MethodView):
    """Organizations of a community."""

    @blp.response(200, OrganizationSchema(many=True))
    def get(self, community_id):
        """List organizations serving the community."""
        return organizations.list_organizations(actor(), community_id)

    @blp.arguments(OrganizationSchema)
    @blp.response(201, OrganizationSchema)
    def post(self, data, community_id):
        """Add an organization serving the community (committee staff)."""
        return organizations.create_organization(actor(), community_id, **data)


@blp.route("/organizations/<id:organization_id>")
class OrganizationById(MethodView):
    """One organization."""

    @blp.response(200, OrganizationSchema)
    def get(self, organization_id):
        """Get an organization."""
        return organizations.get_organization(actor(), organization_id)
