"""The JSON API under /api/v1 (flask-smorest). Each subpackage's routes.py exposes `blp`."""

from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path

import flask_smorest
from apispec import BasePlugin
from flask import Flask, current_app, request
from flask_login import current_user

from app.extensions import api, csrf
from app.jsonbody import Parser
from app.security import _bearer, token_in_use

SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
# Every API blueprint reads JSON bodies through the bounded parser (app/jsonbody.py). Set
# here, in the package every routes module is imported through, before any @blp.arguments.
flask_smorest.Blueprint.ARGUMENTS_PARSER = Parser()


def _resource_blueprints():
    for info in sorted(pkgutil.iter_modules([str(Path(__file__).parent)]), key=lambda m: m.name):
        if not info.ispkg:
            continue
        try:
            module = importlib.import_module(f"app.api.{info.name}.routes")
        except ModuleNotFoundError as exc:
            if exc.name == f"app.api.{info.name}.routes":
                continue
            raise
        yield module.blp


# How a caller signs in, as the document states it: a bearer token (people and lobby screens,
# POST /api/v1/auth/token), or the cookie session of easy mode and the staff console, which must
# send its CSRF token in a header on every call that changes something.
SECURITY_SCHEMES = {
    "bearerToken": {
        "type": "http",
        "scheme": "bearer",
        "description": "A token from POST /api/v1/auth/token (a person) or a paired lobby "
        "screen's token: `Authorization: Bearer <token>`.",
    },
    "cookieSession": {
        "type": "apiKey",
        "in": "cookie",
        "name": "session",
        "description": "The session cookie of a page sign-in (easy mode, staff console).",
    },
    "csrfToken": {
        "type": "apiKey",
        "in": "header",
        "name": "X-CSRFToken",
        "description": "With a cookie session, every call other than GET/HEAD/OPTIONS sends "
        "the page's CSRF token. Bearer-token calls need none.",
    },
}
SIGNED_IN_READ = [{"bearerToken": []}, {"cookieSession": []}]
SIGNED_IN_WRITE = [{"bearerToken": []}, {"cookieSession": [], "csrfToken": []}]
# An operation anyone may call says so with @blp.doc(security=PUBLIC).
PUBLIC: list = []


class LinliSpecPlugin(BasePlugin):
    """What the document states beyond the marshmallow fields.

    - Every operation that does not state its own `security` needs a signed-in caller.
    - A schema's `OPENAPI_RULES` (e.g. {"oneOf": [...]}: "a PIN or a password, not both") is
      added to its definition: rules across fields that fields alone cannot state.
    - A nullable nested object is "that object, or null": apispec writes it as anyOf with any
      object, which would let a client send fields the schema refuses.
    """

    def schema_helper(self, name, definition, **kwargs):
        schema = kwargs.get("schema")
        extra = dict(getattr(schema, "OPENAPI_RULES", None) or {})
        properties = definition.get("properties") or {}
        fixed = {}
        for key, prop in properties.items():
            branches = prop.get("anyOf") if isinstance(prop, dict) else None
            if (
                isinstance(branches, list)
                and len(branches) == 2
                and branches[0] == {"type": "object", "nullable": True}
                and set(branches[1]) == {"$ref"}
            ):
                fixed[key] = {
                    **{k: v for k, v in prop.items() if k != "anyOf"},
                    "allOf": [branches[1]],
                    "nullable": True,
                }
        if fixed:
            extra["properties"] = {**properties, **fixed}
        return extra or None

    def operation_helper(self, path=None, operations=None, **kwargs):
        for method, operation in (operations or {}).items():
            if method.upper() in SAFE_METHODS:
                operation.setdefault("security", SIGNED_IN_READ)
            else:
                operation.setdefault("security", SIGNED_IN_WRITE)


def register_api(app: Flask) -> None:
    """Register every resource blueprint, the CSRF rules and the voice errors' answer."""
    from app.api.common import IdConverter
    from app.api.voice import errors as voice_errors

    voice_errors.init_app(app)

    for name, scheme in SECURITY_SCHEMES.items():
        api.spec.components.security_scheme(name, scheme)
    api.spec.plugins.append(LinliSpecPlugin())

    app.url_map.converters["id"] = IdConverter
    api.register_converter(
        IdConverter, lambda c: {"type": "integer", "format": "int64", "minimum": 1}
    )
    names = set()
    for blp in _resource_blueprints():
        csrf.exempt(blp)
        api.register_blueprint(blp)
        names.add(blp.name)
    app.config["API_BLUEPRINTS"] = frozenset(names)
    # App-level hooks filtered by blueprint: blueprints are module singletons, and an app
    # factory may run more than once in a process (tests, tools). The commit on success is the
    # app's one unit of work (app/infra/uow.py).
    app.before_request(_csrf_for_cookie_sessions)


def _is_api_request() -> bool:
    return request.blueprint in current_app.config["API_BLUEPRINTS"]


def _csrf_for_cookie_sessions():
    # Bearer-token calls cannot be forged by another site; cookie-session calls can. Only a
    # call that really signed in with its token skips the check: a cookie session wins over a
    # token (Flask-Login tries the session first), so any "Authorization" header proves nothing.
    if not _is_api_request() or request.method in SAFE_METHODS:
        return None
    if _bearer() is not None:
        current_user._get_current_object()  # sign the caller in now, before deciding
        if token_in_use() is not None:
            return None
    cookies = (
        current_app.config["SESSION_COOKIE_NAME"],
        current_app.config.get("REMEMBER_COOKIE_NAME", "remember_token"),
    )
    if not any(name in request.cookies for name in cookies):
        return None
    csrf.protect()
    return None
