"""Invitation codes / QR: how a resident joins without SMS."""

from __future__ import annotations

import secrets
from datetime import timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import select, update

from app.extensions import db
from app.infra.errors import Conflict, Invalid
from app.infra.text import check_pin, clean_name, clean_text, normalize_phone
from app.models import Invitation, Person, RoleAssignment
from app.models.base import utcnow
from app.models.person import RESIDENT
from app.people import authz
from app.people.actors import Actor
from app.people.auth import hash_secret
from app.people.people import _household_in, _phone_free

# No 0/O/1/I: codes are read out loud and typed by older residents.
_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"


def create_invitation(
    actor: Actor,
    community_id: int,
    *,
    household_id: int | None = None,
    days: int = 14,
    max_uses: int = 1,
) -> Invitation:
    """Committee staff make an invitation code for a household or the whole community."""
    authz.ensure_manager(actor, community_id)
    if not 1 <= days <= 90 or not 1 <= max_uses <= 500:
        raise Invalid(errors={"days": ["1-90"], "max_uses": ["1-500"]})
    code = "".join(secrets.choice(_ALPHABET) for _ in range(8))
    invitation = Invitation(
        code=code,
        community_id=community_id,
        household=_household_in(community_id, household_id),
        created_by_id=actor.person_id,
        expires_at=utcnow() + timedelta(days=days),
        max_uses=max_uses,
    )
    db.session.add(invitation)
    db.session.flush()
    return invitation


def join(code: str, *, display_name: str, phone: str, pin: str) -> Person:
    """A resident joins with an invitation code and chooses a 6-digit PIN."""
    code = clean_text(code, "code", max_length=20).upper().replace(" ", "").replace("-", "")
    invitation = db.session.scalar(select(Invitation).where(Invitation.code == code))
    if (
        invitation is None
        or invitation.expires_at <= utcnow()
        or invitation.uses >= invitation.max_uses
    ):
        message = _l(
            "This invitation code does not work. Please ask the residents' committee for a new one."
        )
        raise Invalid(errors={"code": [str(message)]})
    person = Person(
        display_name=clean_name(display_name, "display_name", max_length=80),
        phone=normalize_phone(phone),
        pin_hash=hash_secret(check_pin(pin)),
        community_id=invitation.community_id,
        household=invitation.household,
    )
    _phone_free(person.phone)
    # Count the use atomically so two people cannot both take a single-use code.
    taken = db.session.execute(
        update(Invitation)
        .where(Invitation.id == invitation.id, Invitation.uses < Invitation.max_uses)
        .values(uses=Invitation.uses + 1)
    ).rowcount
    if not taken:
        raise Conflict()
    person.roles.append(RoleAssignment(role=RESIDENT, community_id=invitation.community_id))
    db.session.add(person)
    db.session.flush()
    return person
