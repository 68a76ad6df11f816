"""Error handling: one JSON envelope for the API, kind pages for people; never a stack trace."""

from __future__ import annotations

import logging

from flask import Flask, g, jsonify, render_template, request
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from werkzeug.exceptions import HTTPException, InternalServerError

from app.extensions import db
from app.infra import uow
from app.infra.errors import DomainError

log = logging.getLogger("linli")

# Seconds a client waits before trying again after a 503 of the database (gone, locked, or
# every pooled connection busy).
RETRY_AFTER_SECONDS = 5

# Messages for HTTP errors, in the request's locale.
HTTP_MESSAGES = {
    400: _l("The request was not understood. Please check what was sent."),
    401: _l("Please sign in first."),
    403: _l("You do not have permission to do this."),
    404: _l("We could not find what you asked for."),
    405: _l("This action is not supported here."),
    406: _l("This format is not available."),
    408: _l("What you sent took too long to arrive. Please try again."),
    409: _l("This conflicts with the current state. Please refresh and try again."),
    413: _l("What you sent is too large."),
    415: _l("This type of file or content is not supported."),
    422: _l("Some of the information is not valid. Please check and try again."),
    423: _l("Too many wrong attempts. Please wait and try again later."),
    429: _l("Too many requests. Please wait a moment and try again."),
    500: _l("Something went wrong on our side. Please try again later."),
    503: _l("This service is not available right now."),
}

# Path prefixes answered in JSON; blueprints with their own format (Open311) register handlers
# in ERROR_FORMATTERS keyed by prefix.
JSON_PREFIXES = ("/api/", "/kiosk/snapshot", "/kiosk/stream", "/kiosk/api", "/healthz", "/readyz")
ERROR_FORMATTERS: dict = {}


def wants_json() -> bool:
    """True for API paths and for clients that asked for JSON."""
    if request.path.startswith(JSON_PREFIXES):
        return True
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json"


def _flatten(messages) -> dict:
    """webargs nests errors under the location (json/query/…); clients want them per field."""
    if not isinstance(messages, dict):
        return {"_request": messages if isinstance(messages, list) else [str(messages)]}
    flat: dict = {}
    for location, errors in messages.items():
        if isinstance(errors, dict):
            flat.update(errors)
        else:
            flat[f"_{location}"] = errors if isinstance(errors, list) else [str(errors)]
    return flat


# At most this many entries are listed per level of `errors` (a body with thousands of unknown
# fields must not get an answer thousands of lines long); the rest are counted.
MAX_LISTED_ERRORS = 10


def trim_errors(errors):
    """Cap every level of an errors mapping at MAX_LISTED_ERRORS entries, counting the rest
    under "_more"."""
    if isinstance(errors, dict):
        items = list(errors.items())
        kept = {key: trim_errors(value) for key, value in items[:MAX_LISTED_ERRORS]}
        if len(items) > MAX_LISTED_ERRORS:
            more = len(items) - MAX_LISTED_ERRORS
            kept["_more"] = [str(_l("And %(n)d more not listed.", n=more))]
        return kept
    if isinstance(errors, list) and len(errors) > MAX_LISTED_ERRORS:
        more = len(errors) - MAX_LISTED_ERRORS
        return errors[:MAX_LISTED_ERRORS] + [str(_l("And %(n)d more not listed.", n=more))]
    return errors


def envelope(code: int, message, errors: dict | None = None, headers: dict | None = None):
    """The one error format: {code, status, message, errors}."""
    from http import HTTPStatus

    try:
        status = HTTPStatus(code).phrase
    except ValueError:
        status = "Error"
    body = {"code": code, "status": status, "message": str(message)}
    if errors:
        body["errors"] = trim_errors(errors)
    response = jsonify(body)
    response.status_code = code
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


def _back_link() -> str | None:
    """The page the person came from on this site (a plain link: the security policy allows
    no javascript: URLs), or None."""
    from urllib.parse import urlsplit

    from app.web import is_local_path

    referrer = urlsplit(request.referrer or "")
    if referrer.netloc != request.host:
        return None
    target = referrer.path + (f"?{referrer.query}" if referrer.query else "")
    return target if is_local_path(target) and target != request.full_path.rstrip("?") else None


def _render(code: int, message, errors=None, headers=None):
    for prefix, formatter in ERROR_FORMATTERS.items():
        if request.path.startswith(prefix):
            return formatter(code, message, errors, headers)
    if wants_json():
        return envelope(code, message, errors, headers)
    try:
        body = render_template("error.html", code=code, message=str(message), back=_back_link())
    except Exception:  # never let the error page itself fail
        log.exception("error page failed")
        body = f"<!doctype html><title>{code}</title><h1>{code}</h1>"
    return body, code, headers or {}


def _rollback(persist: bool = False) -> None:
    # Clear the failed transaction before the error page is rendered (it may read); work that
    # must persist (a failure count) is kept for the unit of work's commit instead.
    if persist:
        uow.keep()
        return
    try:
        db.session.rollback()
    except Exception:  # the connection itself may be gone
        log.exception("rollback failed")
        db.session.rollback()


def handle_domain_error(error: DomainError):
    """Service errors → their status and message."""
    _rollback(persist=getattr(error, "persist", False))
    errors = {k: [str(m) for m in v] if isinstance(v, list) else v for k, v in error.errors.items()}
    return _render(error.status_code, error.message, errors, error.headers)


def handle_http_exception(error: HTTPException):
    """Werkzeug/webargs errors → the envelope, with field errors from validation."""
    _rollback()
    data = getattr(error, "data", None) or {}
    errors = None
    if "errors" in data:
        errors = _flatten(data["errors"])
    elif "messages" in data:
        errors = _flatten(data["messages"])
    code = error.code or 500
    message = HTTP_MESSAGES.get(code, error.description)
    headers = data.get("headers") or {}
    if code == 405 and error.valid_methods:
        headers = {**headers, "Allow": ", ".join(error.valid_methods)}
    return _render(code, message, errors, headers)


def handle_csrf(error: CSRFError):
    """A form or unsafe call without a valid CSRF token."""
    _rollback()
    return _render(
        400,
        _l("This page has expired. Please go back, refresh and try again."),
        {"csrf_token": [error.description]},
    )


def answer_failed_commit(error: Exception):
    """The answer when the unit of work's commit fails (app/infra/uow.py): what the same error
    raised inside a view would get."""
    if isinstance(error, IntegrityError):
        return handle_integrity(error)
    if isinstance(error, DBAPIError):
        return handle_db_error(error)
    return handle_db_unavailable(error)


def handle_integrity(error: IntegrityError):
    """A unique or foreign-key rule hit at the database: a conflict, not a crash."""
    _rollback()
    log.info("integrity error: %s", error.orig)
    return _render(409, HTTP_MESSAGES[409])


def handle_db_error(error: DBAPIError):
    """Data the database refuses (out-of-range numbers…) is the caller's error (400); any other
    database failure (unreachable, locked, out of connections) is ours: 503, try again soon."""
    if isinstance(error, DataError):
        _rollback()
        log.warning("database refused input: %s", error.orig)
        return _render(400, HTTP_MESSAGES[400])
    return handle_db_unavailable(error)


def handle_db_unavailable(error: Exception):
    """The database cannot serve now (or the pool has no free connection): 503 + Retry-After."""
    _rollback()
    # Outages are logged in a line; anything else (a query the database finds wrong) is
    # probably a bug, so with its trace — still not the client's fault, and still no trace out.
    outage = isinstance(error, (OperationalError, InterfaceError, PoolTimeout))
    log.log(
        logging.WARNING if outage else logging.ERROR,
        "database unavailable on %s %s: %s: %s",
        request.method,
        request.path,
        type(error).__name__,
        str(getattr(error, "orig", None) or error)[:300],
        exc_info=not outage,
    )
    return _render(503, HTTP_MESSAGES[503], headers={"Retry-After": str(RETRY_AFTER_SECONDS)})


def handle_overflow(error: OverflowError):
    """A number too large for the database, from input no schema caught: the caller's error."""
    _rollback()
    log.warning("number out of range: %s", error)
    return _render(400, HTTP_MESSAGES[400])


def handle_unexpected(error: Exception):
    """Anything else: logged with its trace, answered without one."""
    original = getattr(error, "original_exception", None)
    if isinstance(original, DBAPIError) and not isinstance(original, IntegrityError):
        return handle_db_error(original)  # raised where no handler runs (after_request)
    if isinstance(original, PoolTimeout):
        return handle_db_unavailable(original)
    if isinstance(error, HTTPException):
        return handle_http_exception(error)
    _rollback()
    log.exception("unhandled error on %s %s", request.method, request.path)
    return _render(500, HTTP_MESSAGES[500])


def init_app(app: Flask) -> None:
    """Register the handlers (after flask-smorest, so these replace its default)."""
    app.register_error_handler(DomainError, handle_domain_error)
    app.register_error_handler(CSRFError, handle_csrf)
    app.register_error_handler(HTTPException, handle_http_exception)
    app.register_error_handler(IntegrityError, handle_integrity)
    app.register_error_handler(DBAPIError, handle_db_error)
    app.register_error_handler(PoolTimeout, handle_db_unavailable)
    app.register_error_handler(OverflowError, handle_overflow)
    app.register_error_handler(InternalServerError, handle_unexpected)
    app.register_error_handler(Exception, handle_unexpected)

    @app.teardown_request
    def _cleanup(exc):  # pragma: no cover - trivial
        g.pop("actor", None)
