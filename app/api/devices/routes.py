"""Kiosk devices (device accounts with revocable tokens)."""

from flask.views import MethodView
from flask_smorest import Blueprint

from app.api.common import actor
from app.api.devices.schemas import (
    DeviceSchema,
    DeviceStatusSchema,
    DeviceTokenSchema,
    DeviceUpdateSchema,
    PairingClaimSchema,
)
from app.screens import devices, kiosk

blp = Blueprint("devices", __name__, url_prefix="/api/v1", description="Kiosk devices")


@blp.route("/communities/<id:community_id>/devices")
class Devices(MethodView):
    """Screens of a community."""

    @blp.response(200, DeviceSchema(many=True))
    def get(self, community_id):
        """List screens (community workers)."""
        return devices.list_devices(actor(), community_id)

    @blp.arguments(DeviceSchema)
    @blp.response(201, DeviceSchema)
    def post(self, data, community_id):
        """Register a screen (committee staff)."""
        return devices.register_device(actor(), community_id, **data)


@blp.route("/communities/<id:community_id>/devices/status")
class DeviceStatuses(MethodView):
    """Screens of a community with their live status."""

    @blp.response(200, DeviceStatusSchema(many=True))
    def get(self, community_id):
        """Online/offline, last seen, versions behind, what each screen shows."""
        return kiosk.device_statuses(actor(), community_id)


@blp.route("/devices/<id:device_id>")
class DeviceById(MethodView):
    """One screen."""

    @blp.response(200, DeviceSchema)
    def get(self, device_id):
        """Get a screen."""
        return devices.get_device(actor(), device_id)

    @blp.arguments(DeviceUpdateSchema)
    @blp.response(200, DeviceSchema)
    def patch(self, data, device_id):
        """Rename, move or turn a screen, or set its quiet hours (committee staff)."""
        return devices.update_device(actor(), device_id, data)

    @blp.response(200, DeviceSchema)
    def delete(self, device_id):
        """Revoke a screen and its tokens (committee staff)."""
        return devices.revoke_device(actor(), device_id)


@blp.route("/devices/<id:device_id>/token")
class DeviceToken(MethodView):
    """Device tokens."""

    @blp.response(201, DeviceTokenSchema)
    def post(self, device_id):
        """Issue a new token for a screen (shown once)."""
        return {"token": devices.issue_device_token(actor(), device_id)}


@blp.route("/devices/<id:device_id>/pairing")
class DevicePairing(MethodView):
    """Pairing a screen by the code it shows."""

    @blp.arguments(PairingClaimSchema)
    @blp.response(200, DeviceSchema)
    def post(self, data, device_id):
        """Enter the code an unpaired screen shows; the screen then receives its token."""
        return kiosk.claim_pairing(actor(), device_id, data["code"])
