"""Who is calling: Flask-Login sessions for pages, bearer tokens for the API, proxy acting.

A cookie session names a sign-in (a `web_session` row) by its random key, never the person: the
Flask session and the remember cookie both carry "s:<key>", so the server can end a sign-in
(sign-out, new PIN or password, account turned off) and a copied cookie stops working.
"""

from __future__ import annotations

from flask import current_app, flash, g, redirect, request, session, url_for
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_user, logout_user

from app.extensions import login_manager
from app.infra import audit
from app.models import Device, Person
from app.models.person import STAFF_SIDE_ROLES
from app.people.actors import Actor


def _bearer() -> str | None:
    header = request.headers.get("Authorization", "")
    if header[:7].lower() == "bearer ":
        return header[7:].strip()
    return None


SESSION_PREFIX = "s:"


@login_manager.user_loader
def _load_user(user_id: str):
    # Only a live sign-in counts: a bare person id ("p:1", what Flask-Login signed before) does
    # not, so the sessions and remember cookies made before sign-ins were recorded end once.
    from app.people.auth import resolve_session, touch_session

    if request.path.startswith("/kiosk/") and _bearer() is not None:
        # The lobby screen calls with its own token, never a sign-in: someone signed in in the
        # same browser (a screen in the committee's office) is not the screen. Their sign-in is
        # left as it is, for their own pages.
        return None
    row = None
    if isinstance(user_id, str) and user_id.startswith(SESSION_PREFIX):
        row = resolve_session(user_id[len(SESSION_PREFIX) :])
    if row is None:
        # A dead sign-in: forget it and clear its remember cookie (which carries the same key),
        # so the request may still sign in by a bearer token.
        session.pop("_user_id", None)
        session["_remember"] = "clear"
        return None
    g.web_session = row
    touch_session(row)  # last_seen_at, committed with a successful request
    return row.person


def sign_in(person: Person, kind: str, *, remember: bool) -> None:
    """Start a recorded sign-in for a page channel (easy mode, staff console) and set its
    cookies; committed with the request."""
    from app.people.auth import session_lifetime, start_session

    key, row = start_session(person, kind, user_agent=request.headers.get("User-Agent"))
    person.session_key = SESSION_PREFIX + key
    login_user(person, remember=remember, duration=session_lifetime(kind) if remember else None)
    g.web_session = row


def current_session():
    """The recorded sign-in this request came with (None for bearer tokens and anonymous)."""
    current_user._get_current_object()  # make Flask-Login load the caller first
    return g.get("web_session")


def own_sign_in() -> dict:
    """This request's own sign-in (cookie session or bearer token), to keep when the caller
    changes their own PIN or password: {"keep_session_id", "keep_token_id"}."""
    row = current_session()
    token = g.get("api_token")
    return {
        "keep_session_id": row.id if row is not None else None,
        "keep_token_id": token.id if token is not None else None,
    }


def sign_out() -> None:
    """End this request's sign-in on the server, then clear its cookies."""
    from app.people.auth import end_session

    row = current_session()
    if row is not None:
        end_session(row)  # committed with the request
    logout_user()
    g.pop("web_session", None)


@login_manager.request_loader
def _load_from_token(req):
    from app.people.auth import resolve_token

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
    from app.people.proxies import act_for_id, acting_for

    user = current_user._get_current_object() if current_user else None
    if isinstance(user, Person):
        act_for = request.headers.get("X-Act-For") or g.get("session_act_for")
        on_behalf = None
        if act_for:
            on_behalf = acting_for(user, act_for_id(act_for, "X-Act-For"))
        signed_in = g.get("web_session")
        actor = Actor.for_person(
            user, on_behalf_of=on_behalf, sign_in=signed_in.kind if signed_in else None
        )
        g.person_locale = user.locale
    elif isinstance(user, Device):
        actor = Actor.for_device(user)
    else:
        actor = Actor.anonymous()
    g.actor = actor
    audit.bind_actor(actor)
    return actor


_REQUEST_KEYS = (
    "actor",
    "_login_user",
    "api_token",
    "bad_token",
    "person_locale",
    "session_act_for",
    "linli_actor",
    "_flask_babel",
    "web_session",
    "linli_client_ip",
)


# Scripts only from this site's files (no inline script, no eval, no javascript: URLs), which is
# what stops injected markup from running. Inline styles are allowed: the offline page and the
# API docs (Redoc) carry <style> blocks, a few elements a style attribute, and styles cannot run
# script; all text people write is escaped anyway. frame-ancestors 'self': the staff compose page
# frames /kiosk/preview. blob: for photo previews, recordings and Redoc's search worker; data:
# for inline icons; 'self' in connect-src covers the voice WebSocket on this host.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data: blob:",
        "media-src 'self' blob:",
        "font-src 'self' data:",
        "connect-src 'self'",
        "worker-src 'self' blob:",
        "frame-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'self'",
    ]
)


def _security_headers(response):
    headers = response.headers
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "same-origin")
    headers.setdefault("X-Frame-Options", "SAMEORIGIN")
    headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    if current_app.config["LINLI_ENV"] == "production":
        headers.setdefault("Strict-Transport-Security", "max-age=31536000")
    return response


def _fresh_request_state() -> None:
    # g belongs to the app context, which a request reuses when one is already pushed (tests,
    # CLI-driven calls): never let one request's caller leak into the next.
    for key in _REQUEST_KEYS:
        g.pop(key, None)
    # Flask-Babel treats an empty g as "no context" and would fall back to English.
    g.linli_request = True
    audit.bind_client(request.remote_addr)  # the audit log's address, from the channel


_CONSOLE_OPEN = ("staff.login", "staff.logout", "static")


def _console_needs_its_sign_in():
    # The staff console works with its own sign-in, which lasts a shift. An easy-mode sign-in
    # (kept for a year) acts as a resident only (current_actor), so its pages ask for that one.
    if not request.path.startswith("/staff/") or request.endpoint in _CONSOLE_OPEN:
        return None
    signed_in = current_session()
    if signed_in is None or signed_in.kind == "staff":
        return None
    if not any(r.role in STAFF_SIDE_ROLES for r in signed_in.person.roles):
        return None  # a resident: the pages answer 403 as to anyone without a role there
    flash(login_manager.login_message, login_manager.login_message_category)
    return redirect(url_for("staff.login", next=request.full_path.rstrip("?")))


def init_app(app) -> None:
    """Login manager settings and per-request state."""
    login_manager.session_protection = "basic"
    login_manager.login_view = "staff.login"
    # Flask-Login's own English default would show untranslated in the Chinese console.
    login_manager.login_message = _l("Please sign in to open this page.")
    login_manager.login_message_category = "info"
    login_manager.id_attribute = "get_session_id"
    app.before_request(_fresh_request_state)
    app.before_request(_console_needs_its_sign_in)
    app.after_request(_security_headers)
