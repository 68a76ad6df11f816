"""议事投票 at the lobby screen (bearer device token): the community's votes with live counts,
and a resident's touch vote after phone number and PIN. The rules live in
app/participation/votes.py."""

from __future__ import annotations

import marshmallow as ma
from flask import jsonify, request

from app.participation import votes
from app.security import current_actor
from kiosk.views import _load, bp


class KioskVoteSchema(ma.Schema):
    """The confirmed choice (its number) and the resident's phone number and PIN."""

    phone = ma.fields.String(required=True, validate=ma.validate.Length(max=40))
    pin = ma.fields.String(required=True, validate=ma.validate.Length(max=40))
    position = ma.fields.Integer(required=True, strict=True, validate=ma.validate.Range(1, 9))


def _reply(data):
    response = jsonify(data)
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/api/votes")
def screen_votes():
    """This screen's community's votes (open and decided) with live counts."""
    return _reply({"items": votes.screen_votes(current_actor())})


@bp.post("/api/votes/<id:consultation_id>")
def screen_vote(consultation_id):
    """A resident's vote at the screen, after phone number and PIN."""
    args = _load(KioskVoteSchema())
    return _reply(
        votes.kiosk_vote(current_actor(), consultation_id, ip=request.remote_addr, **args)
    )
