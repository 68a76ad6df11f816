"""Shared API pieces: the id converter, the caller, pagination and small schemas."""

from __future__ import annotations

import marshmallow as ma
from werkzeug.routing import IntegerConverter

from app.security import current_actor
from app.services import categories

# Ids are 32-bit INTEGER columns on PostgreSQL and SQLite alike.
MAX_ID = 2**31 - 1


class IdConverter(IntegerConverter):
    """Positive ids within the column range only, so no database sees an out-of-range number."""

    def __init__(self, url_map):
        super().__init__(url_map, min=1, max=MAX_ID)


def actor():
    """The calling actor (person, proxy or kiosk device)."""
    return current_actor()


class PageArgsSchema(ma.Schema):
    """?page=&per_page=."""

    page = ma.fields.Integer(load_default=1, validate=ma.validate.Range(min=1, max=100000))
    per_page = ma.fields.Integer(load_default=50, validate=ma.validate.Range(min=1, max=200))


def page_schema(item_schema: type[ma.Schema], name: str) -> type[ma.Schema]:
    """A {items, total, page, pages} schema for a list of `item_schema`."""
    return type(name, (ma.Schema,), {
        "items": ma.fields.List(ma.fields.Nested(item_schema)),
        "total": ma.fields.Integer(),
        "page": ma.fields.Integer(),
        "pages": ma.fields.Integer(),
        "__doc__": f"A page of {item_schema.__name__.removesuffix('Schema')} records.",
    })


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
    return ma.fields.Integer(strict=strict, validate=ma.validate.Range(min=1, max=MAX_ID),
                             **kwargs)


def text(max_length: int, **kwargs) -> ma.fields.String:
    """A string field with a length limit (services do the deeper cleaning)."""
    return ma.fields.String(validate=ma.validate.Length(max=max_length), **kwargs)


# The rules below are checked by the services (one place, every channel); these fields only
# state them in the OpenAPI document, from the services' own patterns.

def mobile_phone(**kwargs) -> ma.fields.String:
    """A mainland mobile number, as residents type it."""
    return text(20, metadata={
        "description": "Mainland mobile number: 11 digits starting 13–19. Spaces, dashes, "
                       "brackets and a +86 prefix are accepted and removed.",
        "example": "13912345678"}, **kwargs)


def pin_field(**kwargs) -> ma.fields.String:
    """A resident's 6-digit PIN."""
    # No "pattern": full-width digits (typed by a Chinese input method) are taken as digits.
    return text(6, metadata={
        "description": "6 digits (full-width digits are accepted). A new PIN may not be one "
                       "digit repeated or a run such as 123456.",
        "example": "135790"}, **kwargs)


def category_code_field(**kwargs) -> ma.fields.String:
    """A category's (or a question's) stable short code."""
    return text(40, metadata={
        "pattern": categories.CODE.pattern,
        "description": "Lowercase letters, digits, - and _; starts with a letter or digit."},
        **kwargs)
