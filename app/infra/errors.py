"""Domain errors raised by services; one handler maps them to the JSON error envelope."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l


class DomainError(Exception):
    """Base class: an HTTP status, a message people can read, and per-field errors."""

    status_code = 400
    default_message = _l("The request could not be handled.")

    def __init__(self, message=None, errors: dict | None = None, headers: dict | None = None):
        # Worded when shown (str), not when raised: checks that try every action of a case for
        # its buttons raise and drop a dozen of these per request. (`message or …` would word a
        # lazy message at once: its truth is its length.)
        if message is None or (isinstance(message, str) and not message):
            message = self.default_message
        self.message = message
        super().__init__(self.message)
        self.errors = errors or {}
        self.headers = headers or {}

    def __str__(self) -> str:
        return str(self.message)


class Invalid(DomainError):
    """The input breaks a rule (422)."""

    status_code = 422
    default_message = _l("Some of the information is not valid. Please check and try again.")


class Unauthorized(DomainError):
    """Not signed in, or the credentials are wrong (401)."""

    status_code = 401
    default_message = _l("Please sign in first.")


class Forbidden(DomainError):
    """Signed in, but not allowed to do this (403)."""

    status_code = 403
    default_message = _l("You do not have permission to do this.")


class NotFound(DomainError):
    """No such record, or not one this actor may see (404)."""

    status_code = 404
    default_message = _l("We could not find what you asked for.")


class Conflict(DomainError):
    """The record is not in a state that allows this (409)."""

    status_code = 409
    default_message = _l("This conflicts with the current state. Please refresh and try again.")


class Locked(DomainError):
    """Too many failed sign-ins: the account is locked for a while (423)."""

    status_code = 423
    default_message = _l("Too many wrong attempts. Please wait and try again later.")


class TooManyRequests(DomainError):
    """Too many requests from one caller or place in a short time (429, with Retry-After)."""

    status_code = 429
    default_message = _l("Too many requests. Please wait a moment and try again.")


class Unavailable(DomainError):
    """A component this needs is not installed or not running (503)."""

    status_code = 503
    default_message = _l("This service is not available right now.")


def invalid_field(field: str, message) -> Invalid:
    """An Invalid error about one field."""
    return Invalid(errors={field: [str(message)]})
