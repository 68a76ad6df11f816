"""Organizations serving communities."""

from flask.views import MethodView
from flask_smorest import Blueprint

from app.api.common import actor
from app.api.organizations.schemas import (
    OrganizationSchema,
    OrgMemberArgsSchema,
    OrgMemberCreateSchema,
    OrgMemberSchema,
)
from app.people import org_members, organizations

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


@blp.route("/organizations/<id:organization_id>/members")
class OrgMembers(MethodView):
    """An organization's members in one community (社会组织自我管理)."""

    @blp.arguments(OrgMemberArgsSchema, location="query")
    @blp.response(200, OrgMemberSchema(many=True))
    def get(self, args, organization_id):
        """List the members in the community (its committee staff; the organization's lead,
        with phones masked). An audited read."""
        return org_members.list_members(actor(), organization_id, args["community_id"])

    @blp.arguments(OrgMemberArgsSchema, location="query")
    @blp.arguments(OrgMemberCreateSchema)
    @blp.response(201, OrgMemberSchema)
    def post(self, args, data, organization_id):
        """Add a resident of the community as a member, by mobile number (committee staff, the
        organization's lead there)."""
        return org_members.add_member(actor(), organization_id, args["community_id"], data["phone"])


@blp.route("/organizations/<id:organization_id>/members/<id:assignment_id>")
class OrgMemberById(MethodView):
    """One membership."""

    @blp.arguments(OrgMemberArgsSchema, location="query")
    @blp.response(204)
    def delete(self, args, organization_id, assignment_id):
        """End a membership (committee staff; the lead: plain memberships of the community)."""
        org_members.remove_member(actor(), organization_id, args["community_id"], assignment_id)


@blp.route("/organizations/<id:organization_id>/members/<id:assignment_id>/lead")
class OrgMemberLead(MethodView):
    """A member's lead (负责人) role."""

    @blp.arguments(OrgMemberArgsSchema, location="query")
    @blp.response(200, OrgMemberSchema)
    def put(self, args, organization_id, assignment_id):
        """Appoint the member as the organization's lead in the community (committee staff)."""
        return org_members.set_lead(
            actor(), organization_id, args["community_id"], assignment_id, True
        )

    @blp.arguments(OrgMemberArgsSchema, location="query")
    @blp.response(200, OrgMemberSchema)
    def delete(self, args, organization_id, assignment_id):
        """Stand the lead down; they stay a member (committee staff)."""
        return org_members.set_lead(
            actor(), organization_id, args["community_id"], assignment_id, False
        )
