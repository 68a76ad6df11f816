"""Request JSON read within bounds, so one hostile body cannot stall a worker or cause a 500.

Every JSON request body (the API through webargs, `request.get_json()` in the kiosk, the
voice stream's messages, idempotency fingerprints) is parsed by `loads`:

- the body may be at most JSON_MAX_BYTES (the request's `max_content_length` for JSON bodies,
  so a larger one gets 413 before anything is read);
- before parsing, a scan at C speed counts the values and the nesting depth (strings taken
  out): more than JSON_MAX_ITEMS values → 413, more than JSON_MAX_DEPTH levels → 400;
- the text must be UTF-8 and the parsed strings Unicode (no lone surrogates such as
  "\\ud800"); numbers are finite and short (no NaN/Infinity, no 5000-digit integers); an
  object names each key once → otherwise 400.

Errors are werkzeug HTTP exceptions carrying `messages` in the webargs shape, so app/errors.py
renders them in the one envelope with `errors: {"_json": [...]}`.

Answers are written by `JSONProvider` (`app.json`): orjson, with Flask's rules.
"""

from __future__ import annotations

import json
import math
import re
from datetime import date
from itertools import accumulate

import flask
import marshmallow as ma
import orjson
from flask import current_app, has_app_context
from flask.json.provider import DefaultJSONProvider
from flask_babel import lazy_gettext as _l
from webargs import core
from webargs.flaskparser import FlaskParser
from werkzeug.exceptions import BadRequest, RequestEntityTooLarge

# Defaults when no app is bound (the voice library, scripts); app/config.py has the settings.
DEFAULT_MAX_BYTES = 256 * 1024
DEFAULT_MAX_ITEMS = 10_000
DEFAULT_MAX_DEPTH = 32
# A number written with more characters than this is not a quantity anyone means.
MAX_NUMBER_CHARS = 40

# A string runs to its closing quote or, unterminated, to the end: every match succeeds, so
# the scan stays linear whatever the body (the parser reports the bad JSON afterwards).
_STRING = re.compile(r'"(?:[^"\\]++|\\.)*+(?:"|\\?\Z)', re.S)
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
_STEP = {"[": 1, "{": 1, "]": -1, "}": -1}
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")


def _refuse(message, too_large: bool = False):
    cls = RequestEntityTooLarge if too_large else BadRequest
    error = cls()
    error.data = {"messages": {"json": [str(message)]}}
    return error


def _limit(name: str, default: int) -> int:
    if has_app_context():
        return int(current_app.config.get(name) or default)
    return default


def _object(pairs):
    result = dict(pairs)
    if len(result) != len(pairs):
        seen = set()
        for key, _value in pairs:
            if key in seen:
                # Not echoed: a key may hold characters no page can show.
                raise _refuse(_l("A key appears more than once in an object."))
            seen.add(key)
    return result


def _number_text(text: str) -> None:
    if len(text) > MAX_NUMBER_CHARS:
        raise _refuse(_l("A number is too long."))


def _int(text: str) -> int:
    _number_text(text)
    return int(text)


def _float(text: str) -> float:
    _number_text(text)
    value = float(text)
    if not math.isfinite(value):
        raise _refuse(_l("Numbers must be finite."))
    return value


def _constant(_name: str):
    raise _refuse(_l("Numbers must be finite."))


def decode(data: bytes | str) -> str:
    """The body as text: UTF-8 (a byte-order mark is ignored), else 400."""
    if isinstance(data, str):
        return data
    try:
        return bytes(data).decode("utf-8-sig")
    except UnicodeDecodeError:
        raise _refuse(_l("The body is not UTF-8 text.")) from None


def loads(data: bytes | str, *, max_items: int | None = None, max_depth: int | None = None):
    """Parse one JSON document within the limits above; HTTP 400/413 errors otherwise."""
    max_items = max_items or _limit("JSON_MAX_ITEMS", DEFAULT_MAX_ITEMS)
    max_depth = max_depth or _limit("JSON_MAX_DEPTH", DEFAULT_MAX_DEPTH)
    text = decode(data)
    # Structure first, at C speed: what is left without the strings is punctuation and
    # numbers, so the commas and brackets count the values and the levels.
    bare = _STRING.sub('""', text)
    opened = bare.count("[") + bare.count("{")
    if opened > max_depth:
        depth = max(accumulate(map(_STEP.__getitem__, _NOT_BRACKET.sub("", bare))), default=0)
        if depth > max_depth:
            raise _refuse(_l("Nested too deeply: at most %(n)d levels.", n=max_depth))
    if bare.count(",") + opened > max_items:
        raise _refuse(_l("Too many values: at most %(n)d.", n=max_items), too_large=True)
    try:
        value = json.loads(
            text,
            object_pairs_hook=_object,
            parse_int=_int,
            parse_float=_float,
            parse_constant=_constant,
        )
    except RecursionError:  # pragma: no cover - the depth check comes first
        raise _refuse(_l("Nested too deeply: at most %(n)d levels.", n=max_depth)) from None
    except ValueError:
        raise _refuse(_l("This is not valid JSON.")) from None
    if _SURROGATE_ESCAPE.search(text):
        # Escaped pairs were joined by the parser; a half left over is not Unicode text.
        try:
            json.dumps(value, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:
            raise _refuse(
                _l("The text contains an invalid character (a lone surrogate).")
            ) from None
    return value


class RequestJSON:
    """`request.json_module`: what `request.get_json()` parses with."""

    loads = staticmethod(loads)
    dumps = staticmethod(json.dumps)


class Request(flask.Request):
    """Flask's request with a bounded JSON body: JSON_MAX_BYTES instead of MAX_CONTENT_LENGTH
    (which stays for uploads) and the bounded parser."""

    @property
    def json_module(self):
        """The bounded parser. Flask assigns `app.json` here for every request; that provider
        stays unbounded for the app's own data (sessions, responses), so the assignment is
        ignored for request bodies."""
        return RequestJSON

    @json_module.setter
    def json_module(self, _value) -> None:
        pass

    @property
    def max_content_length(self) -> int | None:
        """JSON bodies: JSON_MAX_BYTES; everything else MAX_CONTENT_LENGTH."""
        limit = flask.Request.max_content_length.fget(self)
        if self._max_content_length is None and current_app and self.is_json:
            json_limit = current_app.config.get("JSON_MAX_BYTES")
            if json_limit:
                limit = json_limit if limit is None else min(limit, json_limit)
        return limit

    @max_content_length.setter
    def max_content_length(self, value: int | None) -> None:
        self._max_content_length = value


class Parser(FlaskParser):
    """webargs' Flask parser reading JSON through `request.get_json` (bounded, cached), with one
    instance per schema class: webargs builds the class given to @blp.arguments anew on every
    request, and marshmallow deep-copies its declared fields each time (0.1-0.2 ms a request,
    bench/PROFILE.md round 9). Loading keeps no state on the instance (marshmallow 4 has no
    schema context), so the threads and greenlets of a worker share it."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._instances: dict[type, ma.Schema] = {}

    def _get_schema(self, argmap, req) -> ma.Schema:
        if isinstance(argmap, type) and issubclass(argmap, ma.Schema):
            schema = self._instances.get(argmap)
            if schema is None:
                schema = self._instances.setdefault(argmap, argmap())
            return schema
        return super()._get_schema(argmap, req)

    def _raw_load_json(self, req):
        if not core.is_json(req.mimetype):
            return core.missing
        if not req.get_data(cache=True):
            return core.missing
        return req.get_json(cache=True)


class JSONProvider(DefaultJSONProvider):
    """Flask's JSON provider writing with orjson: a list page of 50 cases is encoded in about
    0.04 ms instead of 0.4 ms (bench/PROFILE.md round 8). The same JSON values as Flask's:
    keys sorted, compact (indented in debug), dates and datetimes through `default` (Flask's
    HTTP dates unless the caller passes its own), Decimal and UUID as text, `__html__`. Text
    is written as UTF-8 rather than \\u escapes. Anything orjson refuses (a lone surrogate,
    an integer beyond 64 bits, a type nobody knows), and a call asking for what orjson lacks
    (other separators, ASCII escapes, json.dumps' other options), goes through json.dumps as
    before (with ASCII escapes)."""

    ensure_ascii = False
    _KNOWN = frozenset({"default", "sort_keys", "indent", "separators", "ensure_ascii"})

    def dumps(self, obj, **kwargs) -> str:
        """`json.dumps(obj, **kwargs)` as Flask's provider would, in orjson where it can."""
        encoded = self._encode(obj, kwargs)
        return encoded.decode() if isinstance(encoded, bytes) else encoded

    def response(self, *args, **kwargs) -> flask.Response:
        """Flask's `jsonify`, without the bytes going through a str and back."""
        obj = self._prepare_response_obj(args, kwargs)
        pretty = (self.compact is None and self._app.debug) or self.compact is False
        encoded = self._encode(obj, {"indent": 2} if pretty else {"separators": (",", ":")})
        if isinstance(encoded, str):
            encoded = encoded.encode()
        return self._app.response_class(encoded + b"\n", mimetype=self.mimetype)

    def api_response(self, obj) -> flask.Response:
        """A compact JSON answer with datetimes in ISO 8601, as the API's schemas write them
        (for an answer built without marshmallow, like a list page)."""
        option = orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS
        try:
            encoded = orjson.dumps(obj, default=self.default, option=option)
        except orjson.JSONEncodeError:
            encoded = json.dumps(
                obj, default=_iso_default, sort_keys=True, separators=(",", ":")
            ).encode()
        return self._app.response_class(encoded + b"\n", mimetype=self.mimetype)

    def _encode(self, obj, kwargs: dict) -> bytes | str:
        indent = kwargs.get("indent")
        if (
            kwargs.keys() <= self._KNOWN
            and indent in (None, 2)
            and kwargs.get("separators") in (None, (",", ":"))
            and not kwargs.get("ensure_ascii")
        ):
            option = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_NON_STR_KEYS
            if kwargs.get("sort_keys", self.sort_keys):
                option |= orjson.OPT_SORT_KEYS
            if indent == 2:
                option |= orjson.OPT_INDENT_2
            try:
                return orjson.dumps(obj, default=kwargs.get("default", self.default), option=option)
            except orjson.JSONEncodeError:
                pass  # json.dumps writes it, or raises its own TypeError as before
        return super().dumps(obj, **{**kwargs, "ensure_ascii": True})


def _iso_default(value):
    if isinstance(value, date):  # datetimes too, as orjson writes them
        return value.isoformat()
    return current_app.json.default(value)


def init_app(app: flask.Flask) -> None:
    """Use the bounded request class and the orjson answer writer."""
    app.request_class = Request
    app.json = JSONProvider(app)
