"""Family proxies (子女代办): a relative acts for an elderly resident once the link is confirmed."""

from __future__ import annotations

from sqlalchemy import select

from app.extensions import db
from app.models import Person, ProxyLink
from app.models.base import utcnow
from app.services import authz
from app.services.actors import Actor
from app.services.errors import Conflict, Forbidden, NotFound
from app.services.text import clean_text, normalize_phone


def request_link(actor: Actor, resident_phone: str, relation: str | None = None) -> ProxyLink:
    """A relative asks to act for the resident with this phone number; pending until confirmed."""
    authz.require_person(actor)
    phone = normalize_phone(resident_phone, "resident_phone")
    resident = db.session.scalar(select(Person).where(Person.phone == phone))
    if resident is None or resident.community_id is None or resident.id == actor.person.id:
        raise NotFound()
    existing = db.session.scalar(select(ProxyLink).where(
        ProxyLink.proxy_id == actor.person.id, ProxyLink.resident_id == resident.id))
    if existing is not None and existing.status != "revoked":
        raise Conflict()
    link = existing or ProxyLink(proxy=actor.person, resident=resident)
    link.status = "pending"
    link.relation = clean_text(relation or "", "relation", max_length=40, required=False) or None
    db.session.add(link)
    db.session.flush()
    return link


def get_link(actor: Actor, link_id: int) -> ProxyLink:
    """A link the actor is part of, or manages as staff."""
    authz.require_signed_in(actor)
    link = db.session.get(ProxyLink, link_id)
    if link is None:
        raise NotFound()
    me = actor.person_id
    if me in (link.proxy_id, link.resident_id):
        return link
    if authz.can_see_internal(actor, link.resident.community_id):
        return link
    raise NotFound()


def confirm_link(actor: Actor, link_id: int) -> ProxyLink:
    """The resident, or committee staff of their community, confirms a pending link."""
    link = get_link(actor, link_id)
    resident_ok = actor.person_id == link.resident_id and actor.on_behalf_of is None
    staff_ok = authz.can_manage_community(actor, link.resident.community_id)
    if not (resident_ok or staff_ok):
        raise Forbidden()
    if link.status != "pending":
        raise Conflict()
    link.status = "confirmed"
    link.confirmed_by_id = actor.person_id
    link.confirmed_at = utcnow()
    db.session.flush()
    return link


def revoke_link(actor: Actor, link_id: int) -> ProxyLink:
    """Either side, or staff, ends a link."""
    link = get_link(actor, link_id)
    if not (actor.person_id in (link.proxy_id, link.resident_id)
            or authz.can_manage_community(actor, link.resident.community_id)):
        raise Forbidden()
    link.status = "revoked"
    db.session.flush()
    return link


def links_of(actor: Actor) -> list[ProxyLink]:
    """Links where the actor is the proxy or the resident."""
    authz.require_person(actor)
    me = actor.person.id
    return list(db.session.scalars(select(ProxyLink).where(
        (ProxyLink.proxy_id == me) | (ProxyLink.resident_id == me)).order_by(ProxyLink.id)))


def acting_for(proxy: Person, resident_id: int) -> Person:
    """The resident a proxy may act for, or Forbidden if there is no confirmed link."""
    link = db.session.scalar(select(ProxyLink).where(
        ProxyLink.proxy_id == proxy.id, ProxyLink.resident_id == resident_id,
        ProxyLink.status == "confirmed"))
    if link is None:
        raise Forbidden()
    return link.resident
