"""Staff console: lobby screens — register, pair by code, see who is alive, rename, move, revoke."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import lazy_gettext as _l
from flask_login import login_required

from app.infra.errors import DomainError
from app.people import authz, communities
from app.screens import devices, kiosk, policy
from app.security import current_actor
from app.web.staff import flash_error as _fail
from app.web.staff import internal_communities, nav_item, pick_community

bp = Blueprint("staff_devices", __name__, url_prefix="/staff/devices")
nav_item("staff_devices.index", _l("Screens"), authz.works_internally)


def _device(actor, device_id: int):
    # A refusal (403/404) becomes the error page through app/errors.py's DomainError handler.
    device = devices.get_device(actor, device_id)
    policy.ensure(actor, "manage", device)
    return device


@bp.get("")
@login_required
def index():
    """Every screen with its status: online or not, last seen, versions behind, what it shows."""
    actor = current_actor()
    visible = internal_communities(actor)
    community = pick_community(visible)
    rows = kiosk.device_statuses(actor, community.id)
    return render_template(
        "staff/devices/index.html",
        rows=rows,
        community=community,
        communities=visible,
        can_manage=authz.can_manage_community(actor, community.id),
    )


@bp.post("")
@login_required
def register():
    """Register a screen, then pair it with the code it shows."""
    actor = current_actor()
    community_id = request.form.get("community_id", type=int)
    if community_id is None:
        abort(400)
    try:
        device = devices.register_device(
            actor,
            community_id,
            name=request.form.get("name", ""),
            location=request.form.get("location") or None,
            building_id=request.form.get("building_id", type=int),
            orientation=request.form.get("orientation", "landscape"),
        )
    except DomainError as error:
        _fail(error)
        if error.status_code in (403, 404):
            abort(error.status_code)
        return redirect(url_for(".index", community_id=community_id))
    flash(str(_l("Screen registered. Now enter the code it shows.")), "info")
    return redirect(url_for(".pair", device_id=device.id))


@bp.route("/<id:device_id>/pair", methods=["GET", "POST"])
@login_required
def pair(device_id: int):
    """Enter the one-time code the screen shows."""
    actor = current_actor()
    device = _device(actor, device_id)
    if request.method == "POST":
        try:
            kiosk.claim_pairing(actor, device.id, request.form.get("code", ""))
        except DomainError as error:
            _fail(error)
            return render_template("staff/devices/pair.html", device=device), error.status_code
        flash(str(_l("Paired. The screen will start in a few seconds.")), "info")
        return redirect(url_for(".index", community_id=device.community_id))
    return render_template("staff/devices/pair.html", device=device)


@bp.route("/<id:device_id>/edit", methods=["GET", "POST"])
@login_required
def edit(device_id: int):
    """Rename, move, turn a screen; set its quiet hours."""
    actor = current_actor()
    device = _device(actor, device_id)
    status = kiosk.status_of(device)
    buildings = communities.list_buildings(actor, device.community_id)
    if request.method == "POST":
        form = request.form
        changes = {
            "name": form.get("name", ""),
            "location": form.get("location") or None,
            "building_id": form.get("building_id", type=int),
            "orientation": form.get("orientation", device.orientation),
            "quiet_start": form.get("quiet_start") or None,
            "quiet_end": form.get("quiet_end") or None,
        }
        try:
            devices.update_device(actor, device.id, changes)
        except DomainError as error:
            _fail(error)
            return render_template(
                "staff/devices/form.html", device=device, status=status, buildings=buildings
            ), error.status_code
        flash(str(_l("Saved.")), "info")
        return redirect(url_for(".index", community_id=device.community_id))
    return render_template(
        "staff/devices/form.html", device=device, status=status, buildings=buildings
    )


@bp.post("/<id:device_id>/revoke")
@login_required
def revoke(device_id: int):
    """Revoke a screen: its tokens stop working and it goes back to the pairing page."""
    actor = current_actor()
    device = _device(actor, device_id)
    try:
        devices.revoke_device(actor, device.id)
    except DomainError as error:
        _fail(error)
    else:
        flash(str(_l("Screen revoked.")), "info")
    return redirect(url_for(".index", community_id=device.community_id))
