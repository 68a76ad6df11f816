"""Account use cases shared by the API and the web pages: sign in/out, join, my profile."""

from __future__ import annotations

from app.infra import audit
from app.infra.errors import Unauthorized
from app.infra.text import clean_text
from app.models import Person
from app.people import auth, invitations, people, proxies
from app.people.actors import Actor
from app.people.authz import require_person, require_signed_in


def _token_payload(person: Person, label: str | None) -> dict:
    label = clean_text(label or "", "label", max_length=80, required=False) or None
    token, row = auth.issue_token(person=person, label=label)
    actor = Actor.for_person(person)
    return {
        "token": token,
        "token_type": "Bearer",
        "expires_at": row.expires_at,
        "person": people.person_view(actor, person),
    }


def sign_in(
    login: str,
    *,
    pin: str | None = None,
    password: str | None = None,
    label: str | None = None,
    ip: str | None = None,
) -> dict:
    """Check credentials (throttled per login and per client address) and issue a token."""
    person = auth.authenticate(login, pin=pin, password=password, ip=ip)
    actor = Actor.for_person(person)
    audit.bind_actor(actor)
    if actor.is_staff_side:
        audit.record(actor, "sign_in", "person", person.id, person.community_id)
    return _token_payload(person, label)


def sign_out(actor: Actor, token: str | None) -> None:
    """Revoke the caller's current token."""
    require_signed_in(actor)
    if token is None:
        raise Unauthorized()
    auth.revoke_token(actor, token)


def join_and_sign_in(*, code: str, display_name: str, phone: str, pin: str) -> dict:
    """Join with an invitation code, then sign in."""
    person = invitations.join(code, display_name=display_name, phone=phone, pin=pin)
    return _token_payload(person, "join")


def me(actor: Actor) -> dict:
    """The caller's profile, or the kiosk device's identity."""
    require_signed_in(actor)
    if actor.device is not None:
        d = actor.device
        return {
            "id": None,
            "display_name": d.name,
            "roles": ["kiosk"],
            "device": {
                "id": d.id,
                "name": d.name,
                "community_id": d.community_id,
                "building_id": d.building_id,
                "orientation": d.orientation,
            },
            "proxy_links": [],
        }
    person = actor.person
    view = people.person_view(actor, person)
    view.update(
        locale=person.locale,
        text_size=person.text_size,
        speech_rate=person.speech_rate,
        notify_channel=person.notify_channel,
        email=person.email,
        acting_for=people.person_view(actor, actor.on_behalf_of) if actor.on_behalf_of else None,
        proxy_links=[
            proxies.link_view(Actor.for_person(person), link)
            for link in proxies.links_of(Actor.for_person(person))
        ],
        device=None,
    )
    return view


def update_me(actor: Actor, changes: dict) -> dict:
    """Update the caller's own name and preferences."""
    require_person(actor)
    people.update_person(Actor.for_person(actor.person), actor.person.id, changes)
    return me(actor)
