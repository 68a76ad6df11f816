"""A deadline for reading request bodies (slowloris): a client that sends its headers and then
trickles the body must not hold a worker (a gthread thread, a gevent connection) for ever.

`BodyDeadline` wraps the WSGI app. For a request with a body it reads the whole body first,
before the app runs (what nginx's request buffering does), within
BODY_READ_TIMEOUT + length / BODY_MIN_RATE seconds:

- under gevent with `gevent.Timeout`, which interrupts the waiting greenlet;
- on a real socket otherwise (gunicorn's gthread/sync workers put it in `gunicorn.socket`),
  with socket timeouts that end every wait for data by the deadline;
- elsewhere (the test client, werkzeug's server) the body is read without a deadline.

A body that does not arrive in time is answered 408 by the app itself (so in the request's
error format: the JSON envelope, Open311, a page) and the connection is closed (gunicorn ignores
the app's `Connection: close`, but cannot read the rest of the body and closes). Bodies larger than
MAX_CONTENT_LENGTH (JSON bodies: JSON_MAX_BYTES) are not read at all: the app answers 413 as
before, and the connection closes.
"""

from __future__ import annotations

import io
import socket
import tempfile
import threading
import time

TIMED_OUT = "linli.body_timed_out"
BUFFER = "linli.body_buffer"
_CHUNK = 64 * 1024
# Bodies up to this size are kept in memory, larger ones in a temporary file.
_SPOOL = 1024 * 1024


class _Late(Exception):
    pass


def _gevent_timeout():
    try:
        from gevent import Timeout, monkey
    except ImportError:  # pragma: no cover - gevent is a dependency
        return None
    return Timeout if monkey.is_module_patched("socket") else None


class BodyDeadline:
    """WSGI middleware: read the body within a deadline, else let the app answer 408."""

    def __init__(self, app, flask_app):
        self.app = app
        self.config = flask_app.config

    def __call__(self, environ, start_response):
        length = _length(environ)
        if length == 0:
            return self.app(environ, start_response)
        limit = self.config.get("MAX_CONTENT_LENGTH")
        if _is_json(environ) and self.config.get("JSON_MAX_BYTES"):
            limit = min(limit or self.config["JSON_MAX_BYTES"], self.config["JSON_MAX_BYTES"])
        if length is not None and limit is not None and length > limit:
            # Not read: the app refuses it (413); the unread rest ends the connection.
            return self.app(environ, _closing(start_response))
        seconds = self.config["BODY_READ_TIMEOUT"] + (length or limit or 0) / max(
            1, self.config["BODY_MIN_RATE"]
        )
        body = tempfile.SpooledTemporaryFile(max_size=_SPOOL)
        try:
            complete = _read(environ, body, length, limit, seconds)
        except BaseException:
            body.close()
            raise
        body.seek(0)
        if not complete:
            body.close()
            environ[TIMED_OUT] = True
            environ["wsgi.input"] = io.BytesIO()
            environ["CONTENT_LENGTH"] = "0"
            start_response = _closing(start_response)
        else:
            environ["wsgi.input"] = environ[BUFFER] = body
            if length is None:  # chunked: now it has a length
                environ["CONTENT_LENGTH"] = str(body.seek(0, io.SEEK_END))
                body.seek(0)
        try:
            result = self.app(environ, start_response)
        except BaseException:
            body.close()
            raise
        return _ClosingIterable(result, body)


def _is_json(environ) -> bool:
    mimetype = environ.get("CONTENT_TYPE", "").split(";")[0].strip().lower()
    return mimetype == "application/json" or (
        mimetype.startswith("application/") and mimetype.endswith("+json")
    )


def _length(environ) -> int | None:
    """The declared length, 0 for no body, None for a chunked body of unknown length."""
    raw = environ.get("CONTENT_LENGTH") or ""
    raw = raw.strip()
    if raw.isascii() and raw.isdigit():  # isdigit() alone takes "²", which int() refuses
        return int(raw)
    if (
        environ.get("wsgi.input_terminated")
        and "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower()
    ):
        return None
    return 0


def _read(environ, body, length, limit, seconds) -> bool:
    """Copy the body into `body` within `seconds`; False when it did not all come in time (or,
    chunked, grew past `limit`: the app then sees more than it allows and answers 413)."""
    stream = environ["wsgi.input"]
    deadline = time.monotonic() + seconds
    sock = environ.get("gunicorn.socket")
    if not isinstance(sock, socket.socket) or _gevent_timeout() is not None:
        sock = None

    def copy():
        left = length
        while left is None or left > 0:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise _Late
            if sock is not None:
                # Each wait for data ends by the deadline (one read may wait several times:
                # the timer below shortens the later waits).
                sock.settimeout(remaining)
            chunk = stream.read(_CHUNK if left is None else min(_CHUNK, left))
            if not chunk:
                return left is None  # a short body is as good as a late one
            body.write(chunk)
            if left is not None:
                left -= len(chunk)
            elif limit is not None and body.tell() > limit:
                return True
        return True

    timeout = _gevent_timeout()
    if timeout is not None:
        try:
            with timeout(seconds, _Late):
                return copy()
        except _Late:
            return False
    if sock is None:
        try:
            return copy()
        except _Late:
            return False
    prior = sock.gettimeout()
    late = threading.Event()

    def cut():
        late.set()
        sock.settimeout(0.01)

    timer = threading.Timer(seconds, cut)
    timer.daemon = True
    timer.start()
    try:
        return copy() and not late.is_set()
    except (_Late, OSError):  # socket.timeout is an OSError
        return False
    finally:
        timer.cancel()
        try:
            sock.settimeout(prior)
        except OSError:
            pass


def _closing(start_response):
    def wrapped(status, headers, exc_info=None):
        headers = [(k, v) for k, v in headers if k.lower() != "connection"]
        headers.append(("Connection", "close"))
        return start_response(status, headers, exc_info)

    return wrapped


class _ClosingIterable:
    """The app's response, closing the buffered body when the server closes the response."""

    def __init__(self, result, body):
        self.result = result
        self.body = body

    def __iter__(self):
        return iter(self.result)

    def close(self):
        try:
            close = getattr(self.result, "close", None)
            if close is not None:
                close()
        finally:
            self.body.close()


def init_app(flask_app) -> None:
    """Wrap the app and answer 408 for a body that did not arrive in time."""
    from flask import abort, request

    flask_app.wsgi_app = BodyDeadline(flask_app.wsgi_app, flask_app)

    @flask_app.before_request
    def _late_body():
        if request.environ.get(TIMED_OUT):
            abort(408)

    @flask_app.teardown_request
    def _close_body(_exc):
        # Also closed with the response; here too, for servers (and the test client) that
        # leave a response unclosed.
        body = request.environ.get(BUFFER)
        if body is not None:
            body.close()
