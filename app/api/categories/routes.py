"""Case categories per community: what residents can raise, who handles it, how fast."""

from flask.views import MethodView
from flask_smorest import Blueprint

from app.affairs import categories
from app.api.categories.schemas import (
    CategoryCreateSchema,
    CategoryQueryArgsSchema,
    CategorySchema,
    CategoryUpdateSchema,
)
from app.api.common import actor
from app.people import authz

blp = Blueprint(
    "categories", __name__, url_prefix="/api/v1", description="Case categories (诉求分类)"
)


@blp.route("/communities/<id:community_id>/case-categories")
class Categories(MethodView):
    """A community's categories."""

    @blp.arguments(CategoryQueryArgsSchema, location="query")
    @blp.response(200, CategorySchema(many=True))
    def get(self, args, community_id):
        """List categories in display order (switched-off ones only for staff)."""
        who = actor()
        include = args["include_inactive"] and authz.can_see_internal(who, community_id)
        return categories.list_categories(who, community_id, include_inactive=include)

    @blp.arguments(CategoryCreateSchema)
    @blp.response(201, CategorySchema)
    def post(self, data, community_id):
        """Add a category (committee staff)."""
        return categories.create_category(actor(), community_id, **data)


@blp.route("/communities/<id:community_id>/case-categories/defaults")
class DefaultCategories(MethodView):
    """The standard set."""

    @blp.response(201, CategorySchema(many=True))
    def post(self, community_id):
        """Add the standard categories the community does not have yet (committee staff)."""
        return categories.install_defaults(actor(), community_id)


@blp.route("/case-categories/<id:category_id>")
class CategoryById(MethodView):
    """One category."""

    @blp.response(200, CategorySchema)
    def get(self, category_id):
        """Get a category."""
        return categories.get_category(actor(), category_id)

    @blp.arguments(CategoryUpdateSchema)
    @blp.response(200, CategorySchema)
    def patch(self, data, category_id):
        """Change a category (committee staff)."""
        return categories.update_category(actor(), category_id, data)
