"""Who is at the lobby screen: a resident types phone number and PIN on the big keypad (the easy
mode's sign-in with its throttle and PIN lock; no session is kept). Shared by the screen's
议事投票 (votes.kiosk_vote) and 活动报名 (activities.kiosk_sign_up)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

from app.infra.errors import Forbidden, Unauthorized, invalid_field
from app.models import Device, Person
from app.people import auth, authz
from app.people.actors import Actor


def screen_device(actor: Actor) -> Device:
    """The paired screen making the call (people, even staff, do not use the screen's routes)."""
    authz.require_signed_in(actor)
    if actor.device is None:
        raise Forbidden()
    return actor.device


def identify(phone, pin, *, ip: str | None) -> Person:
    """The resident with this phone number and PIN; a wrong PIN is a field error (401 would
    tell a screen it is not paired) and still counts towards the lock."""
    phone = phone.strip() if isinstance(phone, str) else ""
    pin = pin.strip() if isinstance(pin, str) else ""
    if not phone.isdigit() or len(phone) != 11:
        raise invalid_field("phone", _l("Please type your 11-digit phone number."))
    if not pin.isdigit() or len(pin) != 6:
        raise invalid_field("pin", _l("Please type your 6-digit PIN."))
    try:
        return auth.authenticate(phone, pin=pin, ip=ip)
    except Unauthorized:
        error = invalid_field("pin", _l("The phone number or PIN is not right."))
        error.persist = True
        raise error from None
