"""活动报名 at the lobby screen (bearer device token): the community's coming activities with
places left, and a resident's touch sign-up after phone number and PIN. The rules live in
app/participation/activities.py."""

from __future__ import annotations

import marshmallow as ma
from flask import request

from app.participation import activities
from app.security import current_actor
from kiosk.views import _load, bp
from kiosk.votes import _reply


class KioskSignUpSchema(ma.Schema):
    """The resident's phone number and PIN."""

    phone = ma.fields.String(required=True, validate=ma.validate.Length(max=40))
    pin = ma.fields.String(required=True, validate=ma.validate.Length(max=40))


@bp.get("/api/activities")
def screen_activities():
    """This screen's community's coming activities with places left (numbers only)."""
    return _reply({"items": activities.screen_activities(current_actor())})


@bp.post("/api/activities/<id:activity_id>")
def screen_sign_up(activity_id):
    """A resident's sign-up at the screen, after phone number and PIN."""
    args = _load(KioskSignUpSchema())
    return _reply(
        activities.kiosk_sign_up(current_actor(), activity_id, ip=request.remote_addr, **args)
    )
