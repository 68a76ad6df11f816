"""Kiosk devices: registration, changes, revocable device tokens (pairing: services.kiosk)."""

from __future__ import annotations

from sqlalchemy import select

from app.extensions import db
from app.infra.errors import Conflict, NotFound, invalid_field
from app.infra.text import check_time_span, clean_name, clean_text
from app.models import Building, Device
from app.models.base import utcnow
from app.models.kiosk import DeviceState
from app.people import authz
from app.people.actors import Actor
from app.people.auth import issue_token, revoke_tokens_for
from app.screens import feed, policy

ORIENTATIONS = ("landscape", "portrait")


def register_device(
    actor: Actor,
    community_id: int,
    *,
    name: str,
    location: str | None = None,
    building_id: int | None = None,
    orientation: str = "landscape",
) -> Device:
    """Staff register a lobby screen."""
    authz.ensure_manager(actor, community_id)
    if orientation not in ORIENTATIONS:
        raise invalid_field("orientation", "landscape or portrait")
    building = None
    if building_id is not None:
        building = db.session.get(Building, building_id)
        if building is None or building.community_id != community_id:
            raise invalid_field("building_id", "unknown building")
    device = Device(
        community_id=community_id,
        building=building,
        name=clean_name(name, "name", max_length=80),
        location=clean_text(location or "", "location", max_length=120, required=False) or None,
        orientation=orientation,
    )
    db.session.add(device)
    db.session.flush()
    return device


def get_device(actor: Actor, device_id: int) -> Device:
    """A device, for staff of its community (or the device itself)."""
    authz.require_signed_in(actor)
    device = db.session.get(Device, device_id)
    if device is None:
        raise NotFound()
    policy.ensure(actor, "read", device)
    return device


def list_devices(actor: Actor, community_id: int) -> list[Device]:
    """The community's screens."""
    authz.ensure_internal(actor, community_id)
    return list(
        db.session.scalars(
            select(Device).where(Device.community_id == community_id).order_by(Device.id)
        )
    )


def device_state(device: Device) -> DeviceState:
    """The screen's live state row (created on first use)."""
    state = db.session.get(DeviceState, device.id)
    if state is None:
        state = DeviceState(device_id=device.id)
        db.session.add(state)
    return state


def set_quiet_hours(device: Device, start: str | None, end: str | None) -> DeviceState:
    """Quiet hours of a screen (both or neither, HH:MM local)."""
    check_time_span(start, end, "quiet_start")
    state = device_state(device)
    state.quiet_start, state.quiet_end = start, end
    return state


def update_device(actor: Actor, device_id: int, changes: dict) -> Device:
    """Rename or move a screen, turn it, or set its quiet hours (committee staff)."""
    device = get_device(actor, device_id)
    policy.ensure(actor, "manage", device)
    if device.revoked_at is not None:
        raise Conflict()
    if "name" in changes:
        device.name = clean_name(changes["name"], "name", max_length=80)
    if "location" in changes:
        device.location = (
            clean_text(changes["location"] or "", "location", max_length=120, required=False)
            or None
        )
    if "orientation" in changes:
        if changes["orientation"] not in ORIENTATIONS:
            raise invalid_field("orientation", "landscape or portrait")
        device.orientation = changes["orientation"]
    if "building_id" in changes:
        building_id = changes["building_id"]
        building = None
        if building_id is not None:
            building = db.session.get(Building, building_id)
            if building is None or building.community_id != device.community_id:
                raise invalid_field("building_id", "unknown building")
        device.building = building
    if "quiet_start" in changes or "quiet_end" in changes:
        set_quiet_hours(device, changes.get("quiet_start"), changes.get("quiet_end"))
    db.session.flush()
    feed.touch_feed(device.community_id)
    return device


def issue_device_token(actor: Actor, device_id: int) -> str:
    """A new token for a device (pairing); the plain token is shown once."""
    device = get_device(actor, device_id)
    policy.ensure(actor, "manage", device)
    if device.revoked_at is not None:
        raise Conflict()
    token, _ = issue_token(device=device, label="kiosk", days=0)
    return token


def revoke_device(actor: Actor, device_id: int) -> Device:
    """Revoke a device and all its tokens."""
    device = get_device(actor, device_id)
    policy.ensure(actor, "manage", device)
    device.revoked_at = utcnow()
    revoke_tokens_for(device=device)
    db.session.flush()
    # Its open stream ends and the screen returns to the pairing page.
    feed.notify_device(device.id, "revoked")
    feed.touch_feed(device.community_id)
    return device
