"""Easy mode: 社区活动 (activities with sign-up, the waiting list and check-in at the door) and
我的积分 (points, history, the leaderboard and whether my name shows on it)."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from app.infra.errors import DomainError
from app.participation import activities, points
from app.security import current_actor
from app.web import easy_common as base


def _community_id() -> int:
    return current_actor().subject.community_id


@base.bp.get("/community-activities")
@base.resident_required
def activity_list():
    """Coming activities of the resident's community, with their place or place in line."""
    who = current_actor()
    items = [activities.activity_view(who, a) for a in activities.list_activities(who)]
    return render_template("easy/activities.html", items=items)


@base.bp.get("/activities/<id:activity_id>")
@base.resident_required
def activity_page(activity_id):
    """One activity: time, place, places left, 报名 / 取消报名."""
    who = current_actor()
    activity = activities.get_activity(who, activity_id)
    return render_template("easy/activity.html", a=activities.activity_view(who, activity))


def _act(activity_id, action, done):
    try:
        signup = action(current_actor(), activity_id)
    except DomainError as error:
        base.settle(error)
        for line in base.error_lines(error):
            flash(line, "error")
        return redirect(url_for("easy.activity_page", activity_id=activity_id))
    flash(done(signup), "ok")
    return redirect(url_for("easy.activity_page", activity_id=activity_id))


def _signed_up_words(signup) -> str:
    if signup.status == "waitlisted":
        return _(
            "It is full, so you are on the waiting list: number %(n)d. We will tell you if a "
            "place comes free.",
            n=activities.waitlist_position(signup),
        )
    return _("You are signed up. We will remind you the day before.")


@base.bp.post("/activities/<id:activity_id>/signup")
@base.resident_required
def activity_sign_up(activity_id):
    """报名 (a family helper signs the elder up)."""
    return _act(activity_id, activities.sign_up, _signed_up_words)


@base.bp.post("/activities/<id:activity_id>/cancel")
@base.resident_required
def activity_cancel(activity_id):
    """取消报名."""
    return _act(activity_id, activities.cancel, lambda s: _("Your sign-up is cancelled."))


@base.bp.get("/activities/check-in/<token>")
@base.person_required
def check_in_page(token):
    """The door's QR code opens this: one big button, 我到了."""
    activity = activities.activity_for_token(current_actor(), token[:64])
    view = activities.activity_view(current_actor(), activity)
    return render_template("easy/checkin.html", a=view, token=token[:64])


@base.bp.post("/activities/check-in/<token>")
@base.person_required
def check_in(token):
    """Check in at the door."""
    try:
        signup = activities.check_in_by_token(current_actor(), token[:64])
    except DomainError as error:
        base.settle(error)
        for line in base.error_lines(error):
            flash(line, "error")
        return redirect(url_for("easy.check_in_page", token=token[:64]))
    flash(_("You are checked in. Welcome!"), "ok")
    return redirect(url_for("easy.activity_page", activity_id=signup.activity_id))


@base.bp.get("/points")
@base.resident_required
def my_points():
    """我的积分: balance, the household's, history, the leaderboard."""
    who = current_actor()
    return render_template(
        "easy/points.html",
        mine=points.my_points(who),
        board=points.leaderboard(who, _community_id()),
    )


@base.bp.post("/points/leaderboard")
@base.resident_required
def leaderboard_choice():
    """Show or hide my name on the leaderboard."""
    show = request.form.get("show") == "1"
    points.set_leaderboard_opt_in(current_actor(), show)
    flash(
        _("Your name now shows on the leaderboard.")
        if show
        else _("Your name is hidden from the leaderboard."),
        "ok",
    )
    return redirect(url_for("easy.my_points"))
