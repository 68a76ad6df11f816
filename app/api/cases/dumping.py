"""What a marshmallow schema's `dump` gives for plain view dicts, without marshmallow's
per-field machinery: the schema's fields are read once into a small function per schema, which
keeps the same keys (declared fields only, in their order; missing keys left out), the same
values (numbers as int/float, text as str, datetimes in ISO 8601) and falls back to the schema
itself for anything else (custom fields, defaults, hooks). A create answers with it while it
holds SQLite's write lock; tests/affairs/test_query_count.py compares it with `dump`.
"""

from __future__ import annotations

from collections.abc import Callable

import marshmallow as ma
from marshmallow import fields

_MISSING = ma.missing


def _iso(value):
    return None if value is None else value.isoformat()


def _text(value):
    return None if value is None else str(value)


def _int(value):
    return None if value is None else int(value)


def _float(value):
    return None if value is None else float(value)


def _same(value):
    return value


def _mapping(value):
    return None if value is None else dict(value)


_SCALARS = {
    fields.Integer: _int,
    fields.Float: _float,
    fields.String: _text,
    fields.Boolean: _same,
}


def _field(field: fields.Field) -> Callable | None:
    """The converter of one field's value, or None when only marshmallow knows it."""
    kind = type(field)
    if field.dump_default is not _MISSING or getattr(field, "as_string", False):
        return None
    if kind in _SCALARS:
        return _SCALARS[kind]
    if kind is fields.DateTime and (field.format or "iso") in ("iso", "iso8601"):
        return _iso
    if kind is fields.Dict and field.key_field is None and field.value_field is None:
        return _mapping
    if kind is fields.Nested:
        inner = dumper(field.schema)
        if inner is None or field.many:
            return None
        return lambda value: None if value is None else inner(value)
    if kind is fields.List:
        inner = _field(field.inner)
        if inner is None:
            return None
        return lambda value: None if value is None else [inner(item) for item in value]
    return None


_DUMPERS: dict = {}


def dumper(schema: ma.Schema) -> Callable[[dict], dict] | None:
    """A function giving `schema.dump(view)` for a view dict, or None when the schema has
    something it does not know (then call `schema.dump`)."""
    key = (type(schema), schema.only, tuple(schema.exclude), schema.many)
    if key in _DUMPERS:
        return _DUMPERS[key]
    made = None
    if not schema.many and not any(schema._hooks.values()):
        plan = []
        for name, field in schema.dump_fields.items():
            convert = _field(field)
            if convert is None or field.attribute not in (None, name):
                plan = None
                break
            plan.append((name, field.data_key or name, convert))
        if plan is not None:

            def made(view: dict, plan=tuple(plan)) -> dict:
                out = {}
                for name, out_key, convert in plan:
                    value = view.get(name, _MISSING)
                    if value is not _MISSING:
                        out[out_key] = convert(value)
                return out

    _DUMPERS[key] = made
    return made


def dump(schema: ma.Schema, view: dict) -> dict:
    """`schema.dump(view)`, the quick way when the schema allows it."""
    quick = dumper(schema)
    return quick(view) if quick is not None else schema.dump(view)
