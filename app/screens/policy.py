"""Who may do what to a lobby screen (Device): `may(actor, action, device)` and `ensure`,
which raises what the channels answer (see app/people/authz.py for the community rules).

Actions:
- read: the screen itself, or the workers of its community (outsiders: not found; residents
  and partners of the community: forbidden);
- manage: change it, pair it, give it a token, revoke it (committee staff, admins, officials
  with write access; outsiders: not found; other insiders: forbidden).
"""

from __future__ import annotations

from app.infra.errors import DomainError
from app.models import Device
from app.people import authz
from app.people.actors import Actor

DEVICE_ACTIONS = ("read", "manage")


def may(actor: Actor, action: str, device: Device) -> bool:
    """Whether the actor may do `action` to the screen."""
    try:
        ensure(actor, action, device)
    except DomainError:
        return False
    return True


def ensure(actor: Actor, action: str, device: Device) -> None:
    """Raise Unauthorized, NotFound or Forbidden as the channels answer (see the module)."""
    if action not in DEVICE_ACTIONS:
        raise ValueError(f"unknown device action {action!r}")
    authz.require_signed_in(actor)
    if action == "read":
        if actor.device is not None and actor.device.id == device.id:
            return
        authz.ensure_internal(actor, device.community_id)
    else:
        authz.ensure_manager(actor, device.community_id)
