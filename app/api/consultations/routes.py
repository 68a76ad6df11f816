"""Consultations and votes (议事协商): residents vote (a family proxy too, with X-Act-For),
the committee opens, closes and records the decision; live results as counts only."""

from flask.views import MethodView
from flask_smorest import Blueprint

from app.api.common import actor
from app.api.consultations.schemas import (
    CommentCreateSchema,
    CommentSchema,
    ConsultationCreateSchema,
    ConsultationQueryArgsSchema,
    ConsultationSchema,
    DecisionSchema,
    ProposalSchema,
    ResultsSchema,
    VoteResultSchema,
    VoteSchema,
)
from app.participation import votes

blp = Blueprint(
    "consultations",
    __name__,
    url_prefix="/api/v1",
    description="Consultations and votes: one vote per household, changeable until the close",
)


@blp.route("/consultations")
class Consultations(MethodView):
    """Consultations the caller may see."""

    @blp.arguments(ConsultationQueryArgsSchema, location="query")
    @blp.response(200, ConsultationSchema(many=True))
    def get(self, args):
        """List consultations (residents: their household's; workers: a community's)."""
        who = actor()
        return [votes.consultation_view(who, c) for c in votes.list_consultations(who, **args)]

    @blp.arguments(ConsultationCreateSchema)
    @blp.response(201, ConsultationSchema)
    def post(self, data):
        """Put a topic to the households (committee staff); it opens unless a draft."""
        who = actor()
        return votes.consultation_view(who, votes.create_consultation(who, **data))


@blp.route("/consultations/proposals")
class Proposals(MethodView):
    """Residents' proposals."""

    @blp.arguments(ProposalSchema)
    @blp.response(201, ConsultationSchema)
    def post(self, data):
        """Propose a topic; it opens once enough households second it."""
        who = actor()
        return votes.consultation_view(who, votes.propose(who, **data))


@blp.route("/consultations/<id:consultation_id>")
class ConsultationById(MethodView):
    """One consultation."""

    @blp.response(200, ConsultationSchema)
    def get(self, consultation_id):
        """Get a consultation, with the household's own vote and the live counts."""
        who = actor()
        return votes.consultation_view(who, votes.get(who, consultation_id))


@blp.route("/consultations/<id:consultation_id>/votes")
class ConsultationVotes(MethodView):
    """The household's vote."""

    @blp.arguments(VoteSchema)
    @blp.response(200, VoteResultSchema)
    def post(self, data, consultation_id):
        """Vote or change the household's vote (until the close)."""
        who = actor()
        _, replaced = votes.cast_vote(who, consultation_id, **data)
        view = votes.consultation_view(who, votes.get(who, consultation_id))
        return {"replaced": replaced, "rule": view["rule"], "consultation": view}


@blp.route("/consultations/<id:consultation_id>/results")
class ConsultationResults(MethodView):
    """Live results."""

    @blp.response(200, ResultsSchema)
    def get(self, consultation_id):
        """Counts per option (households), never who voted."""
        return votes.results(actor(), consultation_id)


@blp.route("/consultations/<id:consultation_id>/seconds")
class ConsultationSeconds(MethodView):
    """Support for a resident's proposal."""

    @blp.response(200, ConsultationSchema)
    def post(self, consultation_id):
        """Second a proposal (once per household)."""
        who = actor()
        return votes.consultation_view(who, votes.second(who, consultation_id))


@blp.route("/consultations/<id:consultation_id>/open")
class ConsultationOpen(MethodView):
    """Opening."""

    @blp.response(200, ConsultationSchema)
    def post(self, consultation_id):
        """Open a draft or a proposal for voting (committee staff)."""
        who = actor()
        return votes.consultation_view(who, votes.open_consultation(who, consultation_id))


@blp.route("/consultations/<id:consultation_id>/close")
class ConsultationClose(MethodView):
    """Closing."""

    @blp.response(200, ConsultationSchema)
    def post(self, consultation_id):
        """Close the voting now (committee staff)."""
        who = actor()
        return votes.consultation_view(who, votes.close_consultation(who, consultation_id))


@blp.route("/consultations/<id:consultation_id>/decision")
class ConsultationDecision(MethodView):
    """Minutes and decision."""

    @blp.arguments(DecisionSchema)
    @blp.response(200, ConsultationSchema)
    def put(self, data, consultation_id):
        """Record the minutes and the decision, and announce it (committee staff)."""
        who = actor()
        return votes.consultation_view(who, votes.record_decision(who, consultation_id, **data))


@blp.route("/consultations/<id:consultation_id>/comments")
class ConsultationComments(MethodView):
    """Comments of the committee and the invited parties."""

    @blp.response(200, CommentSchema(many=True))
    def get(self, consultation_id):
        """List the comments."""
        return votes.comments(actor(), consultation_id)

    @blp.arguments(CommentCreateSchema)
    @blp.response(201, CommentSchema)
    def post(self, data, consultation_id):
        """Comment (the committee and the invited parties)."""
        return votes.add_comment(actor(), consultation_id, data["body"])
