"""Shared API pieces: the id converter, the caller, pagination and small schemas."""

from __future__ import annotations

import marshmallow as ma
from werkzeug.routing import IntegerConverter

from app.affairs import categories
from app.security import current_actor

# Ids are 32-bit INTEGER columns on PostgreSQL and SQLite alike.
MAX_ID = 2**31 - 1


class IdConverter(IntegerConverter):
    """Positive ids within the column range only, so no database sees an out-of-range number."""

    def __init__(self, url_map):
        super().__init__(url_map, min=1, max=MAX_ID)


def error_response(description: str) -> dict:
    """An error answer for @blp.doc(responses=...): the JSON error envelope."""
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }


def actor():
    """The calling actor (person, proxy or kiosk device)."""
    return current_actor()


class PageArgsSchema(ma.Schema):
    """?page=&per_page=."""

    page = ma.fields.Integer(load_default=1, validate=ma.validate.Range(min=1, max=100000))
    per_page = ma.fields.Integer(load_default=50, validate=ma.validate.Range(min=1, max=200))


def page_schema(item_schema: type[ma.Schema], name: str) -> type[ma.Schema]:
    """A {items, total, page, pages} schema for a list of `item_schema`."""
    return type(
        name,
        (ma.Schema,),
        {
            "items": ma.fields.List(ma.fields.Nested(item_schema)),
            "total": ma.fields.Integer(),
            "page": ma.fields.Integer(),
            "pages": ma.fields.Integer(),
            "__doc__": f"A page of {item_schema.__name__.removesuffix('Schema')} records.",
        },
    )


def paged(page_obj, render=lambda item: item) -> dict:
    """Turn a Flask-SQLAlchemy Pagination into the page envelope."""
    return {
        "items": [render(item) for item in page_obj.items],
        "total": page_obj.total,
        "page": page_obj.page,
        "pages": page_obj.pages,
    }


def id_field(*, strict: bool = True, **kwargs) -> ma.fields.Integer:
    """A record id: a whole number in the database's range (strict=False for query strings)."""
    return ma.fields.Integer(strict=strict, validate=ma.validate.Range(min=1, max=MAX_ID), **kwargs)


# What app/infra/text.py's clean_text refuses, stated for the document (ECMA-262 and Python
# regular expressions alike): control characters (C0, DEL, C1), bidi embeddings, overrides and
# isolates; one-line text also no tab, line break or line/paragraph separator. (Lone surrogates
# are refused too; JSON Schema cannot name them.)
_BAD_IN_LINE = "\\u0000-\\u001f\\u007f-\\u009f\\u2028\\u2029\\u202a-\\u202e\\u2066-\\u2069"
_BAD_IN_LINES = (
    "\\u0000-\\u0008\\u000b-\\u001f\\u007f-\\u0084\\u0086-\\u009f\\u202a-\\u202e\\u2066-\\u2069"
)
# A name needs a character that draws something (clean_name); the document names the common
# scripts' letters and digits and ASCII/CJK punctuation (the service takes any visible one).
_VISIBLE = (
    "0-9A-Za-z!-/:-@\\[-`{-~\\u00c0-\\u024f\\u0370-\\u03ff\\u0400-\\u04ff"
    "\\u3001-\\u3003\\u3005-\\u3011\\u3040-\\u30ff\\u3400-\\u4dbf\\u4e00-\\u9fff"
    "\\uac00-\\ud7a3\\uff01-\\uff5e"
)
TEXT_RULES = {
    # any text without the refused characters, empty allowed
    "line": f"^[^{_BAD_IN_LINE}]*$",
    "lines": f"^[^{_BAD_IN_LINES}]*$",
    # ... and not only spaces (required text: trimmed, it may not be empty)
    "filled_line": f"^[^{_BAD_IN_LINE}]*[^{_BAD_IN_LINE}\\s][^{_BAD_IN_LINE}]*$",
    "filled_lines": f"^[^{_BAD_IN_LINES}]*[^{_BAD_IN_LINES}\\s][^{_BAD_IN_LINES}]*$",
    # ... and with at least one letter, digit or sign one can see (names)
    "name": f"^[^{_BAD_IN_LINE}]*[{_VISIBLE}][^{_BAD_IN_LINE}]*$",
}
_RULE_NOTES = {
    "line": "One line of text (no control characters).",
    "lines": "Text; line breaks allowed, no other control characters.",
    "filled_line": "One line of text, not blank (no control characters).",
    "filled_lines": "Text, not blank; line breaks allowed, no other control characters.",
    "name": "A name: one line with at least one letter or digit one can see.",
}


# Rules across fields, for a schema's OPENAPI_RULES (app/api/__init__.py adds them to its
# definition): what the services check between two fields, stated for clients and fuzzers.
def both_or_neither(first: str, second: str, kind: str) -> dict:
    """Both given (as `kind`), or neither (absent or null)."""
    return {
        "anyOf": [
            {
                "required": [first, second],
                "properties": {first: {"type": kind}, second: {"type": kind}},
            },
            {"properties": {first: {"enum": [None]}, second: {"enum": [None]}}},
        ]
    }


def not_both(first: str, second: str) -> dict:
    """At most one of the two has a value (the other absent or null)."""
    return {
        "anyOf": [
            {"properties": {first: {"enum": [None]}}},
            {"properties": {second: {"enum": [None]}}},
        ]
    }


def only_with(field: str, other: str, values: list) -> dict:
    """`field` has a value only when `other` is one of `values`."""
    return {
        "anyOf": [
            {"properties": {field: {"enum": [None]}}},
            {"required": [other], "properties": {other: {"enum": values}}},
        ]
    }


def all_rules(*rules: dict) -> dict:
    return rules[0] if len(rules) == 1 else {"allOf": list(rules)}


def text(max_length: int, *, rule: str | None = None, **kwargs) -> ma.fields.String:
    """A string field with a length limit (services do the deeper cleaning).

    `rule` states in the document what the service's cleaning refuses (TEXT_RULES): by default
    "filled_line" for a required field and "line" otherwise; None-able fields take null too.
    """
    if rule is None:
        rule = "filled_line" if kwargs.get("required") else "line"
    metadata = dict(kwargs.pop("metadata", {}))
    if rule != "any":
        metadata.setdefault("pattern", TEXT_RULES[rule])
        if rule.startswith("filled") or rule == "name":
            metadata.setdefault("minLength", 1)
        note = _RULE_NOTES[rule]
        metadata["description"] = (
            f"{metadata['description']} {note}" if "description" in metadata else note
        )
    return ma.fields.String(
        validate=ma.validate.Length(max=max_length), metadata=metadata, **kwargs
    )


def name_text(max_length: int, **kwargs) -> ma.fields.String:
    """A name people see (a person's, a screen's, a group's): clean_name's rules."""
    return text(max_length, rule="name", **kwargs)


def lines_text(max_length: int, *, filled: bool = False, **kwargs) -> ma.fields.String:
    """Multi-line text (a description, a note, an announcement's body)."""
    return text(max_length, rule="filled_lines" if filled else "lines", **kwargs)


# The rules below are checked by the services (one place, every channel); these fields only
# state them in the OpenAPI document, from the services' own patterns.

# The usual ways of writing a mainland mobile number, all of which normalize_phone takes: 11
# digits 1[3-9]…, grouped 3-4-4 by spaces or dashes or not, optionally after +86 or 0086, digits
# full-width or not. (It takes more: brackets and separators anywhere.)
_D = "[0-9\\uff10-\\uff19]"
PHONE_PATTERN = (
    f"^(?:(?:[+\\uff0b]|00)86[ -]?)?[1\\uff11][3-9\\uff13-\\uff19]{_D}(?:[ -]?{_D}{{4}}){{2}}$"
)


def mobile_phone(**kwargs) -> ma.fields.String:
    """A mainland mobile number, as residents type it."""
    return text(
        20,
        rule="any",
        metadata={
            "pattern": PHONE_PATTERN,
            "description": "Mainland mobile number: 11 digits starting 13–19. Spaces, dashes, "
            "brackets and a +86 prefix are accepted and removed.",
            "example": "13912345678",
        },
        **kwargs,
    )


PIN_PATTERN = "^[0-9\\uff10-\\uff19]{6}$"


def pin_field(**kwargs) -> ma.fields.String:
    """A resident's 6-digit PIN."""
    # Full-width digits (typed by a Chinese input method) are taken as digits.
    return text(
        6,
        rule="any",
        metadata={
            "pattern": PIN_PATTERN,
            "description": "6 digits (full-width digits are accepted). A new PIN may not be one "
            "digit repeated or a run such as 123456.",
            "example": "135790",
        },
        **kwargs,
    )


# check_pin's rule for a new PIN: 6 digits, not one digit repeated, not 123456 and the like.
_SAME_DIGIT = "|".join(f"[{d}\\u{0xFF10 + d:04x}]{{6}}" for d in range(10))
NEW_PIN_PATTERN = f"^(?!(?:{_SAME_DIGIT}|123456|654321|012345|543210)$)[0-9\\uff10-\\uff19]{{6}}$"


def new_pin_field(**kwargs) -> ma.fields.String:
    """A PIN being set: pin_field, and not one check_pin finds too easy to guess."""
    return text(
        6,
        rule="any",
        metadata={
            "pattern": NEW_PIN_PATTERN,
            "description": "6 digits (full-width digits are accepted), not one digit repeated "
            "and not a run such as 123456.",
            "example": "135790",
        },
        **kwargs,
    )


HHMM_PATTERN = "^(?:[01][0-9]|2[0-3]):[0-5][0-9]$"


def time_of_day(**kwargs) -> ma.fields.String:
    """A local time of day, HH:MM (check_time_span)."""
    return text(
        5,
        rule="any",
        metadata={
            "pattern": HHMM_PATTERN,
            "description": "Local time, HH:MM (24-hour).",
            "example": "08:30",
        },
        **kwargs,
    )


# normalize_reference's rule: a year and a serial (2026-000123, 2026 123, 2026000123).
REFERENCE_PATTERN = "^\\s*[0-9]{4}\\s*[-\\uff0d\\u2014\\u2013_ ]?\\s*[0-9]{1,9}\\s*$"


def reference_field(*, optional_blank: bool = False, **kwargs) -> ma.fields.String:
    """A case reference as people write it."""
    pattern = REFERENCE_PATTERN
    if optional_blank:
        pattern = f"^(?:{REFERENCE_PATTERN[1:-1]})?$"
    return text(
        40,
        rule="any",
        metadata={
            "pattern": pattern,
            "example": "2026-000123",
            "description": "A case reference: the year and the number (2026-000123; spaces or no "
            "dash are accepted).",
        },
        **kwargs,
    )


def category_code_field(**kwargs) -> ma.fields.String:
    """A category's (or a question's) stable short code."""
    return text(
        40,
        metadata={
            "pattern": categories.CODE.pattern,
            "description": "Lowercase letters, digits, - and _; starts with a letter or digit.",
        },
        **kwargs,
    )
