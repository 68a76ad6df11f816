"""Family proxies (子女代办): a relative acts for an elderly resident once the link is confirmed."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from sqlalchemy import or_, select

from app.extensions import db
from app.infra.errors import Conflict, Forbidden, Invalid, NotFound, invalid_field
from app.infra.text import ascii_number, clean_text, mask_phone, normalize_phone
from app.models import Person, ProxyLink
from app.models.base import utcnow
from app.people import authz
from app.people.actors import Actor
from app.people.people import manages_account


def request_link(actor: Actor, resident_phone: str, relation: str | None = None) -> ProxyLink:
    """A relative asks to act for the resident with this phone number; pending until confirmed.

    The answer is the same whether or not a resident uses the number, in whichever community:
    the relative learns who it is only when the resident (or their committee) agrees."""
    authz.require_person(actor)
    phone = normalize_phone(resident_phone, "resident_phone")
    if phone == actor.person.phone:
        raise invalid_field(
            "resident_phone",
            _l(
                "This is your own number. Please type the "
                "number of the family member you want to help."
            ),
        )
    resident = db.session.scalar(select(Person).where(Person.phone == phone))
    if resident is not None and resident.community_id is None:
        resident = None  # not a resident (a staff-side account): treated as nobody
    mine = ProxyLink.phone == phone
    if resident is not None:
        mine = or_(mine, ProxyLink.resident_id == resident.id)
    existing = db.session.scalars(
        select(ProxyLink).where(ProxyLink.proxy_id == actor.person.id, mine).order_by(ProxyLink.id)
    ).first()
    if existing is not None and existing.status != "revoked":
        raise Conflict()
    link = existing or ProxyLink(proxy=actor.person)
    link.phone = phone
    link.resident = resident
    link.status = "pending"
    link.confirmed_by_id = link.confirmed_at = None
    link.relation = clean_text(relation or "", "relation", max_length=40, required=False) or None
    db.session.add(link)
    db.session.flush()
    return link


def link_view(actor: Actor, link: ProxyLink) -> dict:
    """A link as the actor may see it: the relative sees the resident's name only once the
    resident agreed; before, only the number they typed (masked)."""
    known = link.resident is not None and (
        link.status == "confirmed" or actor.person_id != link.proxy_id
    )
    number = link.phone or (link.resident.phone if link.resident is not None else None)
    return {
        "id": link.id,
        "proxy_id": link.proxy_id,
        "resident_id": link.resident_id if known else None,
        "resident_name": link.resident.display_name if known else None,
        "resident_phone": mask_phone(number),
        "proxy_name": link.proxy.display_name,
        "relation": link.relation,
        "status": link.status,
        "confirmed_at": link.confirmed_at,
    }


def get_link(actor: Actor, link_id: int) -> ProxyLink:
    """A link the actor is part of, or manages as staff."""
    authz.require_signed_in(actor)
    link = db.session.get(ProxyLink, link_id)
    if link is None:
        raise NotFound()
    me = actor.person_id
    if me is not None and me in (link.proxy_id, link.resident_id):
        return link
    if link.resident is not None and authz.can_see_internal(actor, link.resident.community_id):
        return link
    raise NotFound()


def confirm_link(actor: Actor, link_id: int) -> ProxyLink:
    """The resident, or committee staff of their community, confirms a pending link."""
    link = get_link(actor, link_id)
    if link.resident is None:  # only its relative sees a request naming nobody
        raise Forbidden()
    resident_ok = actor.person_id == link.resident_id and actor.on_behalf_of is None
    # Staff confirm for a resident they look after, never a request of their own (a link lets
    # its relative reset the resident's PIN).
    staff_ok = actor.person_id != link.proxy_id and manages_account(actor, link.resident)
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
    if not (
        actor.person_id in (link.proxy_id, link.resident_id)
        or (
            link.resident is not None
            and authz.can_manage_community(actor, link.resident.community_id)
        )
    ):
        raise Forbidden()
    link.status = "revoked"
    db.session.flush()
    return link


def links_of(actor: Actor) -> list[ProxyLink]:
    """Links where the actor is the proxy or the resident."""
    authz.require_person(actor)
    me = actor.person.id
    return list(
        db.session.scalars(
            select(ProxyLink)
            .where((ProxyLink.proxy_id == me) | (ProxyLink.resident_id == me))
            .order_by(ProxyLink.id)
        )
    )


# A resident id as a caller names it (X-Act-For, the session, the voice stream's act_for): digits
# only, at most this many (any database id fits; longer ones are refused before a query).
ACT_FOR_MAX_DIGITS = 18


def act_for_id(value, field: str = "act_for") -> int:
    """The resident id a caller asks to act for; Invalid (on `field`) unless it is one."""
    number = ascii_number(str(value), ACT_FOR_MAX_DIGITS)
    if number is None:
        raise Invalid(errors={field: ["must be a resident id"]})
    return number


def _confirmed(proxy_id: int, resident_id: int) -> ProxyLink | None:
    return db.session.scalar(
        select(ProxyLink).where(
            ProxyLink.proxy_id == proxy_id,
            ProxyLink.resident_id == resident_id,
            ProxyLink.status == "confirmed",
        )
    )


def still_helps(proxy_id: int, resident_id: int) -> bool:
    """True while the relative's link to the resident stands (not revoked)."""
    return _confirmed(proxy_id, resident_id) is not None


def acting_for(proxy: Person, resident_id: int) -> Person:
    """The resident a proxy may act for, or Forbidden if there is no confirmed link."""
    link = _confirmed(proxy.id, resident_id)
    if link is None:
        raise Forbidden()
    return link.resident
