"""Schemas for points (积分)."""

import marshmallow as ma

from app.api.common import text
from app.models.points import SOURCE_KINDS


class PointEntrySchema(ma.Schema):
    """One line of the ledger."""

    id = ma.fields.Integer()
    delta = ma.fields.Integer()
    reason = ma.fields.String()
    source_kind = ma.fields.String()
    kind = ma.fields.String(validate=ma.validate.OneOf(["credit", "reversal", "redemption"]))
    created_at = ma.fields.DateTime()


class MyPointsSchema(ma.Schema):
    """The caller's (or the represented elder's) points."""

    balance = ma.fields.Integer()
    household_balance = ma.fields.Integer()
    show_on_leaderboard = ma.fields.Boolean()
    entries = ma.fields.List(ma.fields.Nested(PointEntrySchema))


class PersonPointsSchema(ma.Schema):
    """A resident's points, for the committee."""

    person_id = ma.fields.Integer()
    name = ma.fields.String()
    balance = ma.fields.Integer()
    household_balance = ma.fields.Integer()
    entries = ma.fields.List(ma.fields.Nested(PointEntrySchema))


class LeaderboardOptInSchema(ma.Schema):
    """Show my name on the leaderboard (or not)."""

    show = ma.fields.Boolean(required=True)


class LeaderboardItemSchema(ma.Schema):
    """A named place on the leaderboard."""

    rank = ma.fields.Integer()
    name = ma.fields.String()
    points = ma.fields.Integer()
    is_me = ma.fields.Boolean()


class LeaderboardSchema(ma.Schema):
    """争做社区治理第一人: only people who agreed are named; the others are only counted."""

    community_id = ma.fields.Integer()
    items = ma.fields.List(ma.fields.Nested(LeaderboardItemSchema))
    participants = ma.fields.Integer()
    not_shown = ma.fields.Integer()


class PointRuleSchema(ma.Schema):
    """Points a kind of taking part earns in the community (volunteer hours: per hour)."""

    source_kind = ma.fields.String(validate=ma.validate.OneOf(SOURCE_KINDS))
    points = ma.fields.Integer()
    default = ma.fields.Integer()


class PointRuleUpdateSchema(ma.Schema):
    """Set the points of one kind."""

    source_kind = ma.fields.String(required=True, validate=ma.validate.OneOf(SOURCE_KINDS))
    points = ma.fields.Integer(strict=True, required=True, validate=ma.validate.Range(0, 1000))


class RedemptionCreateSchema(ma.Schema):
    """Points exchanged for something (no more than the balance)."""

    points = ma.fields.Integer(strict=True, required=True, validate=ma.validate.Range(1, 100000))
    item = text(120, required=True)
