"""Easy mode: 议事投票 — the household's open votes, big option buttons, a confirmation step,
"您已投票，可在截止前修改", and the live counts (refreshed in place while the page is open). The
rules are in app.participation.votes."""

from __future__ import annotations

from flask import current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from app.infra.errors import DomainError, invalid_field
from app.infra.text import ascii_number
from app.participation import votes
from app.security import current_actor
from app.web import easy_common as base


@base.bp.get("/votes")
@base.resident_required
def votes_page():
    """Open votes first (soonest closing), then the ones closed or decided."""
    who = current_actor()
    items = [votes.consultation_view(who, c) for c in votes.list_consultations(who)]
    items.sort(key=lambda v: (v["status"] != "open", -v["id"]))
    return render_template("easy/votes.html", items=items)


@base.bp.get("/votes/<id:consultation_id>")
@base.resident_required
def vote_page(consultation_id):
    """One vote: the question, the rule, big option buttons (or the results)."""
    who = current_actor()
    view = votes.consultation_view(who, votes.get(who, consultation_id))
    return render_template(
        "easy/vote.html",
        c=view,
        # the counts follow the votes while the page is open: a polite poll of the results API
        results_url=url_for("consultations.ConsultationResults", consultation_id=view["id"]),
        poll_seconds=current_app.config.get("EASY_VOTES_POLL_SECONDS", 20),
    )


@base.bp.get("/votes/<id:consultation_id>/confirm")
@base.resident_required
def vote_confirm(consultation_id):
    """ "您选择了…，确定吗?" — nothing is counted until the resident confirms."""
    who = current_actor()
    view = votes.consultation_view(who, votes.get(who, consultation_id, "vote"))
    option = _option(view, request.args.get("position", ""))
    return render_template("easy/vote_confirm.html", c=view, option=option)


@base.bp.post("/votes/<id:consultation_id>")
@base.resident_required
def vote_cast(consultation_id):
    """Count the confirmed choice (a later vote of the household replaces it)."""
    who = current_actor()
    try:
        position = _position(request.form.get("position", ""))
        replaced = votes.cast_vote(who, consultation_id, position=position)[1]
    except DomainError as error:
        base.settle(error)
        raise
    flash(
        _("Your vote has changed. You can change it until the vote closes.")
        if replaced
        else _("You have voted. You can change it until the vote closes."),
        "ok",
    )
    return redirect(url_for("easy.vote_page", consultation_id=consultation_id))


def _position(raw: str) -> int:
    number = ascii_number(raw, 1)
    if number is None or number < 1:
        raise invalid_field("position", _("Choose one of the options."))
    return number


def _option(view: dict, raw: str) -> dict:
    position = _position(raw)
    for option in view["options"]:
        if option["position"] == position:
            return option
    raise invalid_field("position", _("Choose one of the options."))
