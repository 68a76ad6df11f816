"""Schemas for consultations and votes (议事协商)."""

import marshmallow as ma

from app.api.common import id_field, lines_text, not_both, text
from app.models.consultation import PARTIES, SCOPES


class OptionSchema(ma.Schema):
    """One choice, numbered from 1 (what a voice vote says: "第二个")."""

    id = ma.fields.Integer()
    position = ma.fields.Integer()
    label = ma.fields.String()


class OptionCountSchema(OptionSchema):
    """A choice and how many households chose it."""

    votes = ma.fields.Integer()


class ResultsSchema(ma.Schema):
    """Live counts per option: numbers only, never who voted."""

    consultation_id = ma.fields.Integer()
    status = ma.fields.String()
    options = ma.fields.List(ma.fields.Nested(OptionCountSchema))
    households_voted = ma.fields.Integer()
    households_eligible = ma.fields.Integer()


class MyVoteSchema(ma.Schema):
    """The caller's household's vote (by_me: cast by the caller, else by another member)."""

    option_id = ma.fields.Integer()
    position = ma.fields.Integer(allow_none=True)
    label = ma.fields.String(allow_none=True)
    by_me = ma.fields.Boolean()
    changeable = ma.fields.Boolean()
    updated_at = ma.fields.DateTime()


class ConsultationSchema(ma.Schema):
    """A consultation as the caller may see it."""

    id = ma.fields.Integer()
    community_id = ma.fields.Integer()
    title = ma.fields.String()
    body = ma.fields.String()
    scope = ma.fields.String()
    building_id = ma.fields.Integer(allow_none=True)
    grid_id = ma.fields.Integer(allow_none=True)
    place = ma.fields.String(allow_none=True)
    status = ma.fields.String(
        metadata={"description": "proposed, draft, upcoming, open, closed or decided"}
    )
    opens_at = ma.fields.DateTime(allow_none=True)
    closes_at = ma.fields.DateTime(allow_none=True)
    options = ma.fields.List(ma.fields.Nested(OptionSchema))
    invited = ma.fields.List(ma.fields.String())
    rule = ma.fields.String(metadata={"description": "The one-vote-per-household rule, in words"})
    my_vote = ma.fields.Nested(MyVoteSchema, allow_none=True)
    can_vote = ma.fields.Boolean()
    can_second = ma.fields.Boolean()
    can_manage = ma.fields.Boolean()
    seconds = ma.fields.Integer(allow_none=True)
    seconds_needed = ma.fields.Integer(allow_none=True)
    minutes = ma.fields.String(allow_none=True)
    decision = ma.fields.String(allow_none=True)
    decided_at = ma.fields.DateTime(allow_none=True)
    announcement_id = ma.fields.Integer(allow_none=True)
    results = ma.fields.Nested(ResultsSchema)


class ConsultationQueryArgsSchema(ma.Schema):
    """?community_id= (its workers: every consultation) or ?open_only= (residents)."""

    community_id = id_field(strict=False)
    open_only = ma.fields.Boolean(load_default=False)


_OPTIONS = ma.fields.List(
    text(80, required=True), validate=ma.validate.Length(min=2, max=9), load_default=None
)


class ConsultationCreateSchema(ma.Schema):
    """A topic put to the households (committee staff). Scope "building" needs building_id,
    "grid" needs grid_id; without options: 同意 / 不同意 / 弃权."""

    OPENAPI_RULES = not_both("building_id", "grid_id")

    title = text(120, required=True)
    body = lines_text(4000)
    options = _OPTIONS
    community_id = id_field()
    scope = ma.fields.String(validate=ma.validate.OneOf(SCOPES), load_default="community")
    building_id = id_field(allow_none=True)
    grid_id = id_field(allow_none=True)
    opens_at = ma.fields.DateTime(allow_none=True)
    closes_at = ma.fields.DateTime(allow_none=True)
    invited = ma.fields.List(
        ma.fields.String(validate=ma.validate.OneOf(PARTIES)), validate=ma.validate.Length(max=3)
    )
    draft = ma.fields.Boolean(load_default=False)


class ProposalSchema(ma.Schema):
    """A resident's proposal: it opens once enough households second it."""

    title = text(120, required=True)
    body = lines_text(4000)
    options = _OPTIONS
    scope = ma.fields.String(
        validate=ma.validate.OneOf(("community", "building")), load_default="community"
    )


class VoteSchema(ma.Schema):
    """The choice: its id, or its number (1, 2, 3…). One of the two."""

    OPENAPI_RULES = {
        "oneOf": [
            {"required": ["option_id"], "properties": {"position": {"enum": [None]}}},
            {"required": ["position"], "properties": {"option_id": {"enum": [None]}}},
        ]
    }

    option_id = id_field(allow_none=True)
    position = ma.fields.Integer(
        allow_none=True, strict=True, validate=ma.validate.Range(min=1, max=9)
    )

    @ma.validates_schema
    def _one(self, data, **kwargs):
        if (data.get("option_id") is None) == (data.get("position") is None):
            raise ma.ValidationError("Give option_id or position.", "option_id")


class VoteResultSchema(ma.Schema):
    """The vote taken: whether it replaced the household's earlier vote, and the rule."""

    replaced = ma.fields.Boolean()
    rule = ma.fields.String()
    consultation = ma.fields.Nested(ConsultationSchema)


class DecisionSchema(ma.Schema):
    """Minutes and decision of a closed vote; the decision is announced unless announce=false."""

    decision = lines_text(4000, filled=True, required=True)
    minutes = lines_text(16000)
    announce = ma.fields.Boolean(load_default=True)


class CommentCreateSchema(ma.Schema):
    """A comment by the committee or an invited party."""

    body = lines_text(1000, filled=True, required=True)


class CommentSchema(ma.Schema):
    """A comment: the party that made it, never the person's name."""

    id = ma.fields.Integer()
    party = ma.fields.String()
    organization_id = ma.fields.Integer(allow_none=True)
    body = ma.fields.String()
    created_at = ma.fields.DateTime()
