"""查进度 routes of the lobby screen (bearer device token): a lookup by the last digits of a
request's number, or by the resident's phone number and PIN. The rules, the privacy and the
limits live in app/affairs/kiosk_progress.py; the page's side is static/progress.js."""

from __future__ import annotations

import marshmallow as ma
from flask import jsonify, request
from flask_babel import gettext as _

from app.affairs import kiosk_progress
from app.security import current_actor
from kiosk.views import _load, bp


class ProgressDigitsSchema(ma.Schema):
    """The last digits of a request's number, typed on the screen's keypad."""

    digits = ma.fields.String(required=True, validate=ma.validate.Length(max=20))


class ProgressMineSchema(ma.Schema):
    """A resident's own sign-in: phone number and PIN."""

    phone = ma.fields.String(required=True, validate=ma.validate.Length(max=40))
    pin = ma.fields.String(required=True, validate=ma.validate.Length(max=40))


# After an answer the screen goes back to its rotation: never sooner than this (the countdown is
# shown all along; the kiosk promises at least 20 s), so the next person does not see it.
RESET_SECONDS = 30


@bp.context_processor
def _progress_context() -> dict:
    return {"progress_config": progress_config}


def progress_config() -> dict:
    """What progress.js needs: its words in the page's language and its timings."""
    digits = kiosk_progress.DIGITS_MIN
    return {
        "resetSeconds": RESET_SECONDS,
        "digitsMin": digits,
        "digitsMax": kiosk_progress.DIGITS_MAX,
        "texts": {
            "digits_label": _("Type the last %(n)d digits of your request's number", n=digits),
            "digits_help": _(
                "The number is on your slip or in the message you got, e.g. "
                "2026-001234: type %(example)s.",
                example="1234",
            ),
            "more_label": _(
                "Type the last %(n)d digits of the number", n=kiosk_progress.DIGITS_MAX
            ),
            "phone_label": _("Type your phone number"),
            "phone_help": _(
                "Then your 6-digit PIN: the one you use for the easy mode. "
                "Your requests are shown without your name or number."
            ),
            "pin_label": _("Type your 6-digit PIN"),
            "looking": _("Looking it up…"),
            "status": _("Status"),
            "handler": _("Handled by"),
            "next": _("Next step"),
            "reference": _("Request {ref}"),
            "reported_on": _("Reported on {date}"),
            "overdue": _("It is taking longer than planned: the committee is chasing it."),
            "countdown": _("Back to the start in {n} seconds"),
            "error": _("Something went wrong. Please try again, or call the residents' committee."),
            "offline": _(
                "The screen cannot reach the server now. Please call the residents' committee."
            ),
        },
    }


def _reply(data: dict):
    # The lookup's count (and any automatic step that fell due) is committed with the request.
    response = jsonify(data)
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.post("/api/progress/digits")
def progress_by_digits():
    """Where a request of this screen's community stands, by its number's last 4–6 digits."""
    args = _load(ProgressDigitsSchema())
    return _reply(kiosk_progress.lookup_by_digits(current_actor(), args["digits"]))


@bp.post("/api/progress/mine")
def progress_mine():
    """A resident's own open requests, after their phone number and PIN."""
    args = _load(ProgressMineSchema())
    return _reply(
        kiosk_progress.lookup_mine(current_actor(), args["phone"], args["pin"], request.remote_addr)
    )
