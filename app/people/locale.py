"""Texts in a person's own language, wherever the code runs (request, CLI, scheduler)."""

from __future__ import annotations

from flask import g, has_app_context
from flask_babel import force_locale

from app.extensions import db
from app.models import Person


def in_locale_of(person_id: int):
    """A context manager that renders gettext strings in the person's chosen language."""
    person = db.session.get(Person, person_id)
    if has_app_context() and not g:
        # Flask-Babel ignores an empty g (CLI, scheduler) and would fall back to English.
        g.linli_babel = True
    return force_locale((person.locale if person is not None else None) or "zh_CN")
