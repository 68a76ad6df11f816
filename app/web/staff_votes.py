"""Staff console: consultations and votes (/staff/votes) — put a topic to the households, open
and close the voting, read the live counts, record the minutes and the decision (announced).
Rules live in app/participation/votes.py; these views only turn the forms into its arguments."""

from __future__ import annotations

from datetime import datetime

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import login_required

from app.infra.errors import DomainError, invalid_field
from app.participation import votes
from app.people import authz
from app.security import current_actor
from app.web.staff import flash_error, internal_communities, nav_item, pick_community

bp = Blueprint("staff_votes", __name__, url_prefix="/staff/votes")
nav_item("staff_votes.index", _l("Votes"), authz.works_internally)


@bp.get("")
@login_required
def index():
    """A community's consultations, newest first, with their live counts."""
    actor = current_actor()
    visible = internal_communities(actor)
    community = pick_community(visible)
    items = [
        votes.consultation_view(actor, c) for c in votes.list_for_community(actor, community.id)
    ]
    return render_template(
        "staff/votes/index.html",
        items=items,
        community=community,
        communities=visible,
        can_manage=authz.can_manage_community(actor, community.id),
    )


def _when(raw: str, field: str):
    raw = (raw or "").strip()
    if not raw:
        return None
    try:
        return datetime.fromisoformat(raw)
    except ValueError:
        raise invalid_field(field, _("Must be a date and time.")) from None


@bp.post("")
@login_required
def create():
    """Put a topic to the households (opens at once unless saved as a draft)."""
    form = request.form
    community_id = form.get("community_id", type=int)
    try:
        votes.create_consultation(
            current_actor(),
            community_id=community_id,
            title=form.get("title", ""),
            body=form.get("body", ""),
            options=[x for x in form.get("options", "").splitlines() if x.strip()] or None,
            scope=form.get("scope", "community"),
            building_id=form.get("building_id", type=int),
            grid_id=form.get("grid_id", type=int),
            closes_at=_when(form.get("closes_at", ""), "closes_at"),
            invited=form.getlist("invited"),
            draft=bool(form.get("draft")),
        )
        flash(_("Saved."), "ok")
    except DomainError as error:
        flash_error(error)
    return redirect(url_for("staff_votes.index", community_id=community_id))


def _act(consultation_id: int, verb, **kwargs):
    try:
        c = verb(current_actor(), consultation_id, **kwargs)
        flash(_("Saved."), "ok")
        community_id = c.community_id
    except DomainError as error:
        flash_error(error)
        community_id = request.form.get("community_id", type=int)
    return redirect(url_for("staff_votes.index", community_id=community_id))


@bp.post("/<id:consultation_id>/open")
@login_required
def open_vote(consultation_id):
    """Open a draft or a resident's proposal."""
    return _act(consultation_id, votes.open_consultation)


@bp.post("/<id:consultation_id>/close")
@login_required
def close_vote(consultation_id):
    """End the voting now."""
    return _act(consultation_id, votes.close_consultation)


@bp.post("/<id:consultation_id>/decision")
@login_required
def decide(consultation_id):
    """Record the minutes and the decision; it is announced to the households."""
    return _act(
        consultation_id,
        votes.record_decision,
        decision=request.form.get("decision", ""),
        minutes=request.form.get("minutes", ""),
    )
