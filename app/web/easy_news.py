"""Easy mode: 听公告 (announcements for the resident's building) and 活动 (activities)."""

from __future__ import annotations

from flask import current_app, flash, redirect, render_template, request
from flask_babel import gettext as _

from app.infra.errors import DomainError
from app.notices import acknowledgements
from app.residents import easy
from app.security import current_actor
from app.web import easy_common as base


@base.bp.get("/announcements")
@base.resident_required
def announcements_page():
    """Announcements, urgent and newest first; each read aloud on tap; urgent ones ask 我知道了."""
    return _list(None)


@base.bp.get("/activities")
@base.resident_required
def activities():
    """Activities: the announcements of category "activity"."""
    return _list("activity")


def _list(category: str | None):
    items = easy.announcements_for(current_actor(), category=category)
    return render_template(
        "easy/announcements.html",
        items=items,
        category=category,
        poll_seconds=current_app.config.get("EASY_POLL_SECONDS", 60),
    )


@base.bp.post("/announcements/<id:announcement_id>/ack")
@base.resident_required
def acknowledge(announcement_id):
    """One tap: 我知道了 (recorded for the resident, by the proxy when one acts for them)."""
    try:
        acknowledgements.acknowledge(current_actor(), announcement_id)
    except DomainError as error:
        base.settle(error)
        raise
    flash(_("Thank you. We know you have read it."), "ok")
    back = base.safe_next(request.form.get("next"), "easy.announcements_page")
    return redirect(f"{back.split('#')[0]}#a-{announcement_id}")
