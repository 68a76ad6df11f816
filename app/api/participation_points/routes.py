"""Points (积分): my balance and history, the leaderboard, rules, redemptions by staff."""

from flask.views import MethodView
from flask_smorest import Blueprint

from app.api.common import actor
from app.api.participation_points.schemas import (
    LeaderboardOptInSchema,
    LeaderboardSchema,
    MyPointsSchema,
    PersonPointsSchema,
    PointRuleSchema,
    PointRuleUpdateSchema,
    RedemptionCreateSchema,
)
from app.participation import points

blp = Blueprint(
    "points", __name__, url_prefix="/api/v1", description="Points for taking part (积分)"
)


@blp.route("/points/me")
class MyPoints(MethodView):
    """The caller's points."""

    @blp.response(200, MyPointsSchema)
    def get(self):
        """My balance, my household's, and my latest lines (a proxy: the elder's)."""
        return points.my_points(actor())


@blp.route("/points/me/leaderboard")
class MyLeaderboardChoice(MethodView):
    """Whether my name shows on the leaderboard."""

    @blp.arguments(LeaderboardOptInSchema)
    @blp.response(200, MyPointsSchema)
    def put(self, data):
        """Show (true) or hide (false) my name on the leaderboard; hidden by default."""
        return points.set_leaderboard_opt_in(actor(), data["show"])


@blp.route("/communities/<id:community_id>/points/leaderboard")
class Leaderboard(MethodView):
    """争做社区治理第一人."""

    @blp.response(200, LeaderboardSchema)
    def get(self, community_id):
        """The community's leaderboard: names only of people who agreed."""
        return points.leaderboard(actor(), community_id)


@blp.route("/communities/<id:community_id>/points/rules")
class PointRules(MethodView):
    """The community's points rules."""

    @blp.response(200, PointRuleSchema(many=True))
    def get(self, community_id):
        """Points each kind of taking part earns here."""
        return points.rules(actor(), community_id)

    @blp.arguments(PointRuleUpdateSchema)
    @blp.response(200, PointRuleSchema(many=True))
    def put(self, data, community_id):
        """Set the points of one kind (committee staff)."""
        return points.set_rule(actor(), community_id, data["source_kind"], data["points"])


@blp.route("/people/<id:person_id>/points")
class PersonPoints(MethodView):
    """A resident's points."""

    @blp.response(200, PersonPointsSchema)
    def get(self, person_id):
        """A resident's balance and history (committee staff)."""
        return points.person_points(actor(), person_id)


@blp.route("/people/<id:person_id>/points/redemptions")
class Redemptions(MethodView):
    """积分兑换."""

    @blp.arguments(RedemptionCreateSchema)
    @blp.response(201, PersonPointsSchema)
    def post(self, data, person_id):
        """Record an exchange (committee staff); never more than the balance (409)."""
        return points.redeem(actor(), person_id, data["points"], data["item"])
