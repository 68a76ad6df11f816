"""Staff console: activities (publish, the sign-up list with tick-to-check-in, the door's QR code,
volunteer hours and their certification) and points (a resident's balance, 积分兑换, rules).

The committee manages every activity of its community; a social organization's member manages
their organization's activities in the communities they work in (app/participation/activities)."""

from __future__ import annotations

import re
from datetime import datetime

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from flask_babel import lazy_gettext as _l
from flask_login import login_required

from app.infra.errors import DomainError, invalid_field
from app.infra.text import ascii_number
from app.participation import activities, points
from app.people import authz, communities, organizations
from app.security import current_actor
from app.urls import public_base_url
from app.web.staff import flash_error as _fail
from app.web.staff import nav_item, pick_community

bp = Blueprint("staff_activities", __name__, url_prefix="/staff/activities")


def _places(actor) -> list:
    return [
        c for c in communities.list_communities(actor) if activities.may_publish_in(actor, c.id)
    ]


def _may_open(actor) -> bool:
    """In the menu only for those who organize somewhere (no link that answers 403): the same
    people as a non-empty `_places`, decided from the actor's roles without a query (it runs on
    every staff page)."""
    return authz.manages_somewhere(actor) or bool(actor.organization_community_ids)


nav_item("staff_activities.index", _l("Activities and points"), _may_open)


def _organizers(actor, community) -> list[tuple[int | None, str]]:
    """Who the actor may publish for here: the committee and/or their organizations."""
    choices: list[tuple[int | None, str]] = []
    manager = authz.can_manage_community(actor, community.id)
    if manager:
        choices.append((None, str(_l("Residents' committee"))))
    for org in organizations.list_organizations(actor, community.id):
        if manager or actor.works_for(org.id, community.id):
            choices.append((org.id, org.name))
    return choices


def _when(name: str) -> datetime | None:
    value = (request.form.get(name) or "").strip()
    if not value:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise invalid_field(name, _l("Give a date and a time.")) from None


def _int(name: str) -> int | None:
    value = (request.form.get(name) or "").strip()
    return ascii_number(value, 9)


@bp.get("")
@login_required
def index():
    """The community's activities the actor manages, and the publish form."""
    actor = current_actor()
    places = _places(actor)
    community = pick_community(places)
    found = activities.list_activities(actor, community.id, include_past=True, managed_only=True)
    return render_template(
        "staff/activities/index.html",
        community=community,
        communities=places,
        items=[activities.activity_view(actor, a) for a in reversed(found)],
        organizers=_organizers(actor, community),
        can_manage=authz.can_manage_community(actor, community.id),
    )


@bp.post("/new")
@login_required
def publish():
    """Publish an activity."""
    actor = current_actor()
    community_id = _int("community_id") or 0
    try:
        activity = activities.publish(
            actor,
            community_id,
            title=request.form.get("title", ""),
            place=request.form.get("place", ""),
            description=request.form.get("description", ""),
            starts_at=_when("starts_at"),
            ends_at=_when("ends_at"),
            capacity=_int("capacity") or 0,
            organization_id=_int("organization_id"),
        )
    except DomainError as error:
        _fail(error)
        return redirect(url_for(".index", community_id=community_id or None))
    flash(str(_l("Published: %(title)s", title=activity.title)), "ok")
    return redirect(url_for(".detail", activity_id=activity.id))


@bp.get("/<id:activity_id>")
@login_required
def detail(activity_id: int):
    """The sign-up list: tick who came, record and certify hours; the door's QR code."""
    actor = current_actor()
    activity = activities.get_activity(actor, activity_id)
    rows = activities.roster(actor, activity_id)
    token = activities.checkin_token(actor, activity_id)
    return render_template(
        "staff/activities/detail.html",
        a=activities.activity_view(actor, activity),
        rows=rows,
        checkin_url=f"{public_base_url()}{url_for('easy.check_in_page', token=token)}",
    )


@bp.get("/<id:activity_id>/qr.svg")
@login_required
def qr(activity_id: int):
    """The door's QR code, to print."""
    import qrcode
    import qrcode.image.svg

    token = activities.checkin_token(current_actor(), activity_id)
    url = f"{public_base_url()}{url_for('easy.check_in_page', token=token)}"
    image = qrcode.make(url, image_factory=qrcode.image.svg.SvgPathImage, box_size=10, border=2)
    svg = re.sub(r"<\?xml[^>]*\?>", "", image.to_string(encoding="unicode"))
    return Response(svg, mimetype="image/svg+xml", headers={"Cache-Control": "private"})


@bp.post("/<id:activity_id>/attendance/<id:signup_id>")
@login_required
def attendance(activity_id: int, signup_id: int):
    """Tick (or untick) someone as present."""
    try:
        activities.set_attendance(
            current_actor(), activity_id, signup_id, request.form.get("attended") == "1"
        )
    except DomainError as error:
        _fail(error)
    return redirect(url_for(".detail", activity_id=activity_id) + f"#s-{signup_id}")


@bp.post("/<id:activity_id>/hours/<id:person_id>")
@login_required
def hours(activity_id: int, person_id: int):
    """Record volunteer hours."""
    try:
        value = float((request.form.get("hours") or "").strip()[:6])
    except ValueError:
        value = None
    try:
        if value is None:
            raise invalid_field("hours", _l("Hours are between 0.5 and 24."))
        activities.record_hours(current_actor(), activity_id, person_id, value)
    except DomainError as error:
        _fail(error)
    return redirect(url_for(".detail", activity_id=activity_id))


@bp.post("/<id:activity_id>/hours/<id:hours_id>/certify")
@login_required
def certify(activity_id: int, hours_id: int):
    """Certify recorded hours (they earn points)."""
    try:
        activities.certify_hours(current_actor(), hours_id)
    except DomainError as error:
        _fail(error)
    return redirect(url_for(".detail", activity_id=activity_id))


@bp.post("/<id:activity_id>/cancel")
@login_required
def cancel(activity_id: int):
    """Call the activity off."""
    try:
        activities.cancel_activity(current_actor(), activity_id)
    except DomainError as error:
        _fail(error)
    return redirect(url_for(".detail", activity_id=activity_id))


# --- points --------------------------------------------------------------------------------
def _points_places(actor) -> list:
    return [
        c for c in communities.list_communities(actor) if authz.can_manage_community(actor, c.id)
    ]


@bp.get("/points")
@login_required
def points_page():
    """Find a resident (name or phone): balance, history, record an exchange; the rules."""
    from app.people import people

    actor = current_actor()
    places = _points_places(actor)
    community = pick_community(places)
    q = (request.args.get("q") or "").strip()[:40]
    person_id = request.args.get("person_id", type=int)
    found = []
    if q:
        try:
            found = people.list_people(actor, community.id, q=q, per_page=20).items
        except DomainError as error:
            _fail(error)
    chosen = None
    if person_id:
        chosen = points.person_points(actor, person_id)
    return render_template(
        "staff/activities/points.html",
        community=community,
        communities=places,
        q=q,
        found=found,
        chosen=chosen,
        rules=points.rules(actor, community.id),
        board=points.leaderboard(actor, community.id),
        kinds=KIND_LABELS,
    )


KIND_LABELS = {
    "activity_attended": _l("Took part in an activity"),
    "volunteer_hours": _l("Volunteer service (per hour)"),
    "vote_cast": _l("Voted on a community matter"),
    "case_confirmed": _l("Confirmed a resolved request"),
}


@bp.post("/points/<id:person_id>/redeem")
@login_required
def redeem(person_id: int):
    """Record 积分兑换."""
    try:
        points.redeem(current_actor(), person_id, _int("points") or 0, request.form.get("item", ""))
        flash(str(_l("The exchange is recorded.")), "ok")
    except DomainError as error:
        _fail(error)
    return redirect(url_for(".points_page", person_id=person_id, community_id=_int("community_id")))


@bp.post("/points/rules")
@login_required
def set_rule():
    """Change how many points a kind of taking part earns."""
    community_id = _int("community_id") or 0
    try:
        points.set_rule(
            current_actor(),
            community_id,
            request.form.get("source_kind", ""),
            _int("points") if _int("points") is not None else -1,
        )
        flash(str(_l("Saved.")), "ok")
    except DomainError as error:
        _fail(error)
    return redirect(url_for(".points_page", community_id=community_id or None))
