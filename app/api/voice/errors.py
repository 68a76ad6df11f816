"""Voice library errors as answers: the JSON envelope over HTTP, an error message on the socket.

The words come from the voice service (`ERROR_MESSAGES`, `ERROR_FIELDS`); the shape of the
answer is the channel's.
"""

from __future__ import annotations

import logging

from flask import Flask

import voice
from app.assistant import conversations

log = logging.getLogger("linli.voice")


def describe(error: voice.VoiceError) -> tuple[int, str, dict]:
    """(status, message in the request's language, field errors) of a voice library error."""
    from app.errors import HTTP_MESSAGES

    message = conversations.ERROR_MESSAGES.get(error.code)
    if message is None:
        message = HTTP_MESSAGES.get(error.status, HTTP_MESSAGES[500])
    field = conversations.ERROR_FIELDS.get(error.code, "audio")
    return error.status, message, {field: [error.code]}


def error_response(error: voice.VoiceError):
    """A voice library error as the JSON envelope (the unit of work rolls the request back)."""
    from app.errors import envelope

    status, message, errors = describe(error)
    if error.status >= 500 and error.code not in conversations.ERROR_FIELDS:
        log.warning("voice error %s: %s", error.code, error.message)
    return envelope(status, message, errors)


def init_app(app: Flask) -> None:
    """Answer voice errors from any view with the envelope."""
    app.register_error_handler(voice.VoiceError, error_response)
