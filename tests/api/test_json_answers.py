"""Answers written by app.jsonbody.JSONProvider (orjson): the same JSON values Flask's own
provider gives, for every kind of value the app hands it, and json.dumps where orjson refuses."""

from __future__ import annotations

import dataclasses
import json
import uuid
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from flask.json.provider import DefaultJSONProvider
from flask_babel import lazy_gettext
from markupsafe import Markup

from app.jsonbody import JSONProvider


@dataclasses.dataclass
class _Point:
    x: int
    at: date


VALUES = {
    "nested text and numbers": {"b": [1, 2.5, None, True], "a": {"z": "邻里", "y": "x"}},
    "datetimes and dates (HTTP dates)": {
        "at": datetime(2026, 12, 4, 8, 30, 15, 250, tzinfo=UTC),
        "day": date(2026, 12, 4),
    },
    "decimal, uuid, markup, dataclass": {
        "d": Decimal("12.50"),
        "u": uuid.UUID("12345678-1234-5678-1234-567812345678"),
        "m": Markup("<b>好</b>"),
        "p": _Point(3, date(2026, 1, 2)),
    },
    "integer keys": {1: "one", 2: "two"},
    "tuple": (1, "二"),
    "line separators": {"t": "a\u2028b\u2029c\n\t\"'<>&"},
}


@pytest.mark.parametrize("name", list(VALUES))
def test_same_values_as_flask(app, name):
    value = VALUES[name]
    with app.test_request_context():
        ours = JSONProvider(app).dumps(value)
        flasks = DefaultJSONProvider(app).dumps(value)
    assert json.loads(ours) == json.loads(flasks)


def test_keys_sorted_compact_and_utf8(app):
    with app.test_request_context():
        response = app.json.response({"b": 1, "a": "邻里"})
    assert isinstance(app.json, JSONProvider)
    assert response.mimetype == "application/json"
    assert response.get_data() == '{"a":"邻里","b":1}\n'.encode()


def test_debug_answers_are_indented(app):
    provider = JSONProvider(app)
    provider.compact = False
    with app.test_request_context():
        text = provider.response({"b": [1], "a": 2}).get_data(as_text=True)
    assert text == json.dumps({"a": 2, "b": [1]}, indent=2, sort_keys=True) + "\n"


def test_lazy_text_is_translated(app):
    with app.test_request_context(headers={"Accept-Language": "zh-CN"}):
        assert json.loads(app.json.dumps({"t": lazy_gettext("Submitted")})) == {"t": "已提交"}


@pytest.mark.parametrize("value", ["bad \ud800 half", 2**70])
def test_what_orjson_refuses_goes_through_json_dumps(app, value):
    # A lone surrogate or a 70-bit integer: orjson raises; the answer is still written, with
    # json.dumps' ASCII escapes (so it is valid UTF-8).
    with app.test_request_context():
        body = app.json.response({"v": value}).get_data()
        text = app.json.dumps({"v": value})
    assert json.loads(body) == {"v": value}
    assert json.loads(text) == {"v": value}


def test_unknown_types_still_raise(app):
    with app.test_request_context(), pytest.raises(TypeError):
        app.json.dumps({"v": object()})


@pytest.mark.parametrize(
    "options", [{"indent": 4}, {"separators": (", ", ": ")}, {"ensure_ascii": True}]
)
def test_json_dumps_options_orjson_lacks(app, options):
    value = {"b": 1, "a": "邻"}
    with app.test_request_context():
        text = app.json.dumps(value, **options)
    assert text == json.dumps(value, **{"ensure_ascii": True, "sort_keys": True, **options})


def test_api_answers_write_iso_datetimes(app):
    at = datetime(2026, 12, 4, 8, 30, 15, 250, tzinfo=UTC)
    with app.test_request_context():
        body = app.json.api_response({"at": at, "n": "东门"}).get_data(as_text=True)
        day = date(2026, 12, 4)
        written = app.json.api_response({"at": at, "day": day}).get_json()
        refused = app.json.api_response({"at": at, "day": day, "v": 2**70}).get_json()
    assert json.loads(body) == {"at": at.isoformat(), "n": "东门"}
    assert written == {"at": at.isoformat(), "day": "2026-12-04"}
    assert refused == {**written, "v": 2**70}  # the same, written by json.dumps


def test_session_cookie_round_trip(client):
    # Flask's cookie session is written by app.json: sign-in through the console still works.
    with client.session_transaction() as session:
        session["probe"] = {"at": datetime(2026, 1, 1, tzinfo=UTC), "t": ("邻", 1)}
    with client.session_transaction() as session:
        assert session["probe"] == {"at": datetime(2026, 1, 1, tzinfo=UTC), "t": ("邻", 1)}
