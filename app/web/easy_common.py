"""Easy mode's blueprint and the helpers its pages share (easy.py, easy_news.py, easy_affairs.py,
easy_family.py import this module, never each other)."""

from __future__ import annotations

from functools import wraps

from flask import Blueprint, redirect, request, url_for
from flask_babel import gettext as _

from app.infra import uow
from app.infra.errors import DomainError, Invalid
from app.models import Person
from app.security import current_actor
from app.web import is_local_path

bp = Blueprint("easy", __name__, url_prefix="/easy")

ACT_FOR = "easy_act_for"  # session key: the resident a family proxy is acting for


def person_required(view):
    """Pages for a signed-in person; anyone else goes to the sign-in page (and comes back)."""

    @wraps(view)
    def wrapper(*args, **kwargs):
        if not isinstance(current_actor().person, Person):
            return redirect(url_for("easy.login", next=request.full_path.rstrip("?")))
        return view(*args, **kwargs)

    return wrapper


def resident_required(view):
    """Pages about a community: the resident's own, or the one of the resident acted for."""

    @wraps(view)
    @person_required
    def wrapper(*args, **kwargs):
        if current_actor().subject.community_id is None:
            return redirect(url_for("easy.home"))
        return view(*args, **kwargs)

    return wrapper


def safe_next(target: str | None, default: str = "easy.home") -> str:
    """Only a path inside easy mode: never redirect someone to another site."""
    if is_local_path(target, "/easy") and "//" not in target:
        return target
    return url_for(default)


def settle(error: DomainError) -> None:
    """After a service error in a page view: keep failed sign-ins counted, undo the rest."""
    uow.undo(error)


def error_lines(error: DomainError) -> list[str]:
    """What went wrong, in the words the service chose: its field messages, else its message."""
    lines = [
        str(m)
        for messages in (error.errors or {}).values()
        for m in (messages if isinstance(messages, list) else [messages])
    ]
    return lines or [str(error.message)]


def pin_twice() -> str:
    """The new PIN of a form that asks for it twice (pin, pin_again); Invalid when they differ."""
    pin, again = request.form.get("pin", "")[:40], request.form.get("pin_again", "")[:40]
    if pin != again:
        raise Invalid(
            errors={
                "pin_again": [
                    _("The two PINs are not the same. Please type the same 6 digits twice.")
                ]
            }
        )
    return pin
