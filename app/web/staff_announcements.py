"""Staff console: compose, preview, publish, edit, withdraw announcements; follow up urgent ones.

(The schedule is fired by the job "announcement_boundaries": `flask jobs run`, app/infra/jobs.py.)
"""

from __future__ import annotations

from datetime import datetime

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import lazy_gettext as _l
from flask_login import login_required

from app.infra.errors import DomainError, invalid_field
from app.infra.text import ascii_number
from app.models.announcement import CATEGORIES, CHANNELS
from app.models.base import utcnow
from app.notices import acknowledgements, announcements, audience, pictures
from app.notices import common as notices
from app.notices import policy as notice_policy
from app.people import authz
from app.security import current_actor
from app.web.staff import flash_error as _fail
from app.web.staff import internal_communities, managed_communities, nav_item, pick_community

bp = Blueprint("staff_announcements", __name__, url_prefix="/staff/announcements")
nav_item("staff_announcements.index", _l("Announcements"), authz.works_internally)

WEEKDAYS = (
    (1, _l("Mon")),
    (2, _l("Tue")),
    (3, _l("Wed")),
    (4, _l("Thu")),
    (5, _l("Fri")),
    (6, _l("Sat")),
    (7, _l("Sun")),
)


def _when(form, field: str) -> datetime | None:
    """A datetime-local field (community local time), or None when empty."""
    value = (form.get(field) or "").strip()
    if not value:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise invalid_field(field, _l("Must be a date and time.")) from None


def _ints(form, name: str) -> list[int]:
    return [n for n in (ascii_number(v, 9) for v in form.getlist(name)) if n is not None]


def _form_data(form) -> dict:
    """The compose form as service arguments. Its choices are taken as made: no channel ticked
    is refused (not "every channel"), and "only these" with none ticked is not the whole
    community."""

    def ints(name):
        return _ints(form, name)

    window = None
    days = ints("window_days")
    start, end = form.get("window_start") or None, form.get("window_end") or None
    if days or start or end:
        window = {"days": days or None, "start": start, "end": end}
    audience_all = form.get("audience") != "some"
    if not audience_all and not (ints("grid_ids") or ints("building_ids")):
        raise invalid_field("audience", _l("Choose at least one grid or building."))
    return {
        "title": form.get("title", ""),
        "body": form.get("body", ""),
        "category": form.get("category", "notice"),
        "priority": form.get("priority", "normal"),
        "grid_ids": [] if audience_all else ints("grid_ids"),
        "building_ids": [] if audience_all else ints("building_ids"),
        "channels": form.getlist("channels"),
        "publish_at": _when(form, "publish_at"),
        "expire_at": _when(form, "expire_at"),
        "window": window,
    }


def _local_input(value) -> str:
    """A UTC datetime as a datetime-local value in the community's zone."""
    if value is None:
        return ""
    return value.astimezone(notices.local_zone()).strftime("%Y-%m-%dT%H:%M")


def _choices(item, values) -> dict:
    """The ticked boxes: as sent when the form comes back after an error, else the item's (a
    new one: the whole community, every channel)."""
    if values:
        return {
            "some": values.get("audience") == "some",
            "grid_ids": set(_ints(values, "grid_ids")),
            "building_ids": set(_ints(values, "building_ids")),
            "channels": set(values.getlist("channels")),
            "window_days": set(_ints(values, "window_days")),
        }
    return {
        "some": bool(item and not item.whole_community),
        "grid_ids": set(item.grid_ids or []) if item else set(),
        "building_ids": set(item.building_ids or []) if item else set(),
        "channels": set(item.channels) if item else set(CHANNELS),
        "window_days": set(item.window_days or []) if item else set(),
    }


def _form_page(actor, *, item=None, community=None, values=None, status=200):
    community = community or (item.community if item else None)
    return render_template(
        "staff/announcements/form.html",
        item=item,
        community=community,
        values=values or {},
        picked=_choices(item, values),
        categories=CATEGORIES,
        category_labels=notices.CATEGORY_LABELS,
        channels=CHANNELS,
        channel_labels=notices.CHANNEL_LABELS,
        weekdays=WEEKDAYS,
        local_input=_local_input,
        spoken=notices.spoken_text(item) if item else None,
        managed=managed_communities(actor),
    ), status


@bp.get("")
@login_required
def index():
    """Announcements of the communities this account works in."""
    actor = current_actor()
    visible = internal_communities(actor)
    if not visible:
        abort(403)
    community_id = request.args.get("community_id", type=int) or visible[0].id
    status = request.args.get("status") or None
    try:
        page = audience.list_announcements(
            actor,
            community_id=community_id,
            status=status,
            page=request.args.get("page", 1, type=int),
            per_page=30,
        )
    except DomainError as error:
        _fail(error)
        return redirect(url_for(".index"))
    now = utcnow()
    return render_template(
        "staff/announcements/index.html",
        page=page,
        communities=visible,
        community_id=community_id,
        status=status,
        now=now,
        effective=notices.effective_status,
        labels=notices.STATUS_LABELS,
        category_labels=notices.CATEGORY_LABELS,
        can_manage=authz.can_manage_community(actor, community_id),
    )


@bp.route("/new", methods=["GET", "POST"])
@login_required
def new():
    """Compose an announcement with a live preview of the screen."""
    actor = current_actor()
    community = pick_community(managed_communities(actor))
    if request.method == "GET":
        return _form_page(actor, community=community)
    try:
        data = _form_data(request.form)
        item = announcements.create_announcement(
            actor, community_id=community.id, draft=request.form.get("action") == "draft", **data
        )
        upload = request.files.get("image")
        if upload and upload.filename:
            pictures.set_image(actor, item.id, upload.read())
    except DomainError as error:
        _fail(error)
        return _form_page(actor, community=community, values=request.form, status=422)
    flash(str(_l("Saved as a draft.") if item.status == "draft" else _l("Published.")), "info")
    return redirect(url_for(".detail", announcement_id=item.id))


@bp.get("/<id:announcement_id>")
@login_required
def detail(announcement_id: int):
    """One announcement: how it looks and sounds, its history, and who still needs a visit."""
    actor = current_actor()
    try:
        item = audience.get_announcement(actor, announcement_id)
        if not notice_policy.may(actor, "read_internal", item):
            abort(404)
        history = audience.history(actor, item.id)
        follow = (
            acknowledgements.follow_up(actor, item.id)
            if item.is_urgent and item.status != "draft"
            else None
        )
    except DomainError as error:
        abort(error.status_code)
    return render_template(
        "staff/announcements/detail.html",
        item=item,
        history=history,
        follow=follow,
        status=notices.effective_status(item),
        labels=notices.STATUS_LABELS,
        category_labels=notices.CATEGORY_LABELS,
        words=notices.HISTORY_WORDS,
        spoken=notices.spoken_text(item),
        image_url=pictures.image_url(item),
        can_manage=notice_policy.may(actor, "manage", item),
    )


@bp.route("/<id:announcement_id>/edit", methods=["GET", "POST"])
@login_required
def edit(announcement_id: int):
    """Edit: screens change at once, the rotation keeps going."""
    actor = current_actor()
    item = announcements.get_for_edit(actor, announcement_id)
    if request.method == "GET":
        return _form_page(actor, item=item)
    try:
        data = _form_data(request.form)
        expected = request.form.get("revision", type=int)
        announcements.update_announcement(actor, item.id, data, expected)
        upload = request.files.get("image")
        if upload and upload.filename:
            pictures.set_image(actor, item.id, upload.read())
        elif request.form.get("remove_image"):
            pictures.remove_image(actor, item.id)
    except DomainError as error:
        _fail(error)
        item = announcements.get_for_edit(actor, announcement_id)
        return _form_page(actor, item=item, values=request.form, status=error.status_code)
    flash(str(_l("Saved.")), "info")
    return redirect(url_for(".detail", announcement_id=item.id))


@bp.post("/<id:announcement_id>/publish")
@login_required
def publish(announcement_id: int):
    """Publish a draft."""
    return _transition(announcement_id, announcements.publish_announcement, _l("Published."))


@bp.post("/<id:announcement_id>/withdraw")
@login_required
def withdraw(announcement_id: int):
    """Withdraw from every screen and the app."""
    return _transition(announcement_id, announcements.withdraw_announcement, _l("Withdrawn."))


def _transition(announcement_id: int, action, message):
    actor = current_actor()
    try:
        action(actor, announcement_id)
        flash(str(message), "info")
    except DomainError as error:
        _fail(error)
        if error.status_code in (403, 404):
            abort(error.status_code)
    return redirect(url_for(".detail", announcement_id=announcement_id))
