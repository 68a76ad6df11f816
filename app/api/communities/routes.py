"""Communities, grids, buildings and households."""

from flask.views import MethodView
from flask_smorest import Blueprint

from app.api.common import actor
from app.api.communities.schemas import (
    BuildingSchema,
    CommunitySchema,
    CommunityUpdateSchema,
    GridSchema,
    HouseholdSchema,
)
from app.people import communities

blp = Blueprint("communities", __name__, url_prefix="/api/v1", description="Communities register")


@blp.route("/communities")
class Communities(MethodView):
    """Communities."""

    @blp.response(200, CommunitySchema(many=True))
    def get(self):
        """List the communities the caller can see."""
        return communities.list_communities(actor())


@blp.route("/communities/<id:community_id>")
class CommunityById(MethodView):
    """One community."""

    @blp.response(200, CommunitySchema)
    def get(self, community_id):
        """Get a community."""
        return communities.get_community(actor(), community_id)

    @blp.arguments(CommunityUpdateSchema)
    @blp.response(200, CommunitySchema)
    def patch(self, data, community_id):
        """Change a community's contact details (committee staff)."""
        return communities.update_community(actor(), community_id, data)


@blp.route("/communities/<id:community_id>/grids")
class Grids(MethodView):
    """Grids of a community."""

    @blp.response(200, GridSchema(many=True))
    def get(self, community_id):
        """List grids."""
        return communities.list_grids(actor(), community_id)

    @blp.arguments(GridSchema)
    @blp.response(201, GridSchema)
    def post(self, data, community_id):
        """Add a grid (committee staff)."""
        return communities.create_grid(actor(), community_id, data["name"])


@blp.route("/communities/<id:community_id>/buildings")
class Buildings(MethodView):
    """Buildings of a community."""

    @blp.response(200, BuildingSchema(many=True))
    def get(self, community_id):
        """List buildings."""
        return communities.list_buildings(actor(), community_id)

    @blp.arguments(BuildingSchema)
    @blp.response(201, BuildingSchema)
    def post(self, data, community_id):
        """Add a building (committee staff)."""
        return communities.create_building(actor(), community_id, **data)


@blp.route("/buildings/<id:building_id>/households")
class Households(MethodView):
    """Households of a building."""

    @blp.response(200, HouseholdSchema(many=True))
    def get(self, building_id):
        """List households (community workers)."""
        return communities.list_households(actor(), building_id)

    @blp.arguments(HouseholdSchema)
    @blp.response(201, HouseholdSchema)
    def post(self, data, building_id):
        """Add a household (committee staff)."""
        return communities.create_household(actor(), building_id, data["room"], data["unit"])
