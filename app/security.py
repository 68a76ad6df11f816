"""Who is calling: Flask-Login sessions for pages, bearer tokens for the API, proxy acting."""

from __future__ import annotations

from flask import g, request
from flask_login import current_user

from app.extensions import db, login_manager
from app.models import Device, Person
from app.services import audit
from app.services.actors import Actor


def _bearer() -> str | None:
    header = request.headers.get("Authorization", "")
    if header[:7].lower() == "bearer ":
        return header[7:].strip()
    return None


@login_manager.user_loader
def _load_user(user_id: str):
    kind, _, raw = (user_id or "").partition(":")
    if not raw.isdigit():
        return None
    if kind == "p":
        person = db.session.get(Person, int(raw))
        return person if person is not None and person.is_active else None
    if kind == "d":
        device = db.session.get(Device, int(raw))
        return device if device is not None and device.is_active else None
    return None


@login_manager.request_loader
def _load_from_token(req):
    from app.services.auth import resolve_token

    token = _bearer()
    if token is None:
        return None
    row = resolve_token(token)
    if row is None:
        g.bad_token = True
        return None
    g.api_token = row
    return row.person or row.device


def token_in_use() -> str | None:
    """The bearer token of this request, if it authenticated."""
    return _bearer() if g.get("api_token") is not None else None


def current_actor() -> Actor:
    """The actor for this request, built once; a family proxy acts for a resident via X-Act-For."""
    if "actor" in g:
        return g.actor
    from app.services.proxies import acting_for

    user = current_user._get_current_object() if current_user else None
    if isinstance(user, Person):
        act_for = request.headers.get("X-Act-For") or g.get("session_act_for")
        on_behalf = None
        if act_for:
            if not str(act_for).isdigit() or len(str(act_for)) > 18:
                from app.services.errors import Invalid

                raise Invalid(errors={"X-Act-For": ["must be a resident id"]})
            on_behalf = acting_for(user, int(act_for))
        actor = Actor.for_person(user, on_behalf_of=on_behalf)
        g.person_locale = user.locale
    elif isinstance(user, Device):
        actor = Actor.for_device(user)
    else:
        actor = Actor.anonymous()
    g.actor = actor
    audit.bind_actor(actor)
    return actor


_REQUEST_KEYS = ("actor", "_login_user", "api_token", "bad_token", "person_locale",
                 "session_act_for", "linli_actor", "_flask_babel")


def _fresh_request_state() -> None:
    # g belongs to the app context, which a request reuses when one is already pushed (tests,
    # CLI-driven calls): never let one request's caller leak into the next.
    for key in _REQUEST_KEYS:
        g.pop(key, None)
    # Flask-Babel treats an empty g as "no context" and would fall back to English.
    g.linli_request = True


def init_app(app) -> None:
    """Login manager settings and per-request state."""
    login_manager.session_protection = "basic"
    login_manager.login_view = "staff.login"
    app.before_request(_fresh_request_state)
