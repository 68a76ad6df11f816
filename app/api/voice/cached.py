"""A fast path for rendered speech already on disk (GET /api/v1/voice/speech/<id>).

Screens and phones fetch every reply and announcement; most are cache hits. A WSGI middleware
answers those before Flask (no request context, hooks, session or database), with the same
headers as the Flask view: ETag and 304, a single byte range (media elements ask for
"bytes=0-"), immutable caching, Vary: Accept. Anything else — a miss that must be rendered,
a bad format, an unknown id, a conditional range — falls through to the Flask view, which
stays the documented route.
"""

from __future__ import annotations

import os
import re
from email.utils import formatdate
from urllib.parse import parse_qs

from werkzeug.datastructures import MIMEAccept
from werkzeug.http import parse_accept_header

PREFIX = "/api/v1/voice/speech/"
_ID = re.compile(r"^[0-9a-f]{32}$")
_RANGE = re.compile(r"^bytes=(\d+)-(\d*)$")
_TYPES = {"audio/wav": "wav", "audio/ogg": "ogg", "audio/mpeg": "mp3"}
_CHUNK = 64 * 1024


class CachedSpeech:
    """WSGI middleware in front of the app: serves cached speech files directly."""

    def __init__(self, wsgi_app, flask_app) -> None:
        self.wsgi_app = wsgi_app
        self.flask_app = flask_app

    def __call__(self, environ, start_response):
        method = environ.get("REQUEST_METHOD")
        path = environ.get("PATH_INFO", "")
        if method in ("GET", "HEAD") and path.startswith(PREFIX):
            served = self._serve(environ, start_response, path[len(PREFIX) :], method)
            if served is not None:
                return served
        return self.wsgi_app(environ, start_response)

    def _format(self, environ) -> str | None:
        query = environ.get("QUERY_STRING")
        if query:
            args = parse_qs(query)
            if set(args) - {"format"}:
                return None
            fmt = args.get("format", [None])[-1]
            return fmt if fmt in ("wav", "ogg", "mp3") else None
        accept = parse_accept_header(environ.get("HTTP_ACCEPT"), MIMEAccept)
        return _TYPES[accept.best_match(tuple(_TYPES), default="audio/wav")]

    def _serve(self, environ, start_response, speech_id: str, method: str):
        if not _ID.fullmatch(speech_id) or "HTTP_IF_RANGE" in environ:
            return None
        fmt = self._format(environ)
        runtime = self.flask_app.extensions.get("linli_voice")
        if fmt is None or runtime is None:
            return None
        speech = runtime.cached_speech(speech_id, fmt)
        if speech is None:
            return None  # Flask renders it (or answers 404)
        headers = [
            ("ETag", f'"{speech.etag}"'),
            ("Cache-Control", "public, max-age=31536000, immutable"),
            ("Vary", "Accept"),
            ("X-Content-Type-Options", "nosniff"),
        ]
        if _matches(environ.get("HTTP_IF_NONE_MATCH"), speech.etag):
            start_response("304 NOT MODIFIED", headers)
            return []
        try:
            handle = open(speech.path, "rb")  # noqa: SIM115 - handed to the server to close
            size = os.fstat(handle.fileno()).st_size
            mtime = os.fstat(handle.fileno()).st_mtime
        except OSError:
            return None
        start, end, status = 0, size - 1, "200 OK"
        wanted = environ.get("HTTP_RANGE")
        if wanted:
            match = _RANGE.match(wanted.strip())
            if (
                match is None
                or int(match.group(1)) >= size
                or (match.group(2) and int(match.group(2)) < int(match.group(1)))
            ):
                handle.close()
                return None  # Flask answers odd ranges (416, multiple ranges)
            start = int(match.group(1))
            end = min(int(match.group(2)), size - 1) if match.group(2) else size - 1
            status = "206 PARTIAL CONTENT"
            headers.append(("Content-Range", f"bytes {start}-{end}/{size}"))
        length = end - start + 1
        headers += [
            ("Content-Type", speech.mime),
            ("Content-Length", str(length)),
            ("Accept-Ranges", "bytes"),
            ("Last-Modified", formatdate(mtime, usegmt=True)),
        ]
        start_response(status, headers)
        if method == "HEAD":
            handle.close()
            return []
        if start == 0 and length == size and "wsgi.file_wrapper" in environ:
            return environ["wsgi.file_wrapper"](handle, _CHUNK)
        handle.seek(start)
        return _read(handle, length)


def _matches(header: str | None, etag: str) -> bool:
    if not header:
        return False
    if header.strip() == "*":
        return True
    tags = [t.strip() for t in header.split(",")]
    return any(t.removeprefix("W/").strip('"') == etag for t in tags)


def _read(handle, length: int):
    try:
        while length > 0:
            chunk = handle.read(min(_CHUNK, length))
            if not chunk:
                break
            length -= len(chunk)
            yield chunk
    finally:
        handle.close()
