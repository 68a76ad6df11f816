"""Organizations: social organizations and providers serving communities."""

from __future__ import annotations

from sqlalchemy import select

from app.extensions import db
from app.infra.errors import Conflict, NotFound, invalid_field
from app.infra.text import clean_name, clean_text
from app.models import ORG_KINDS, Community, Organization
from app.people import authz
from app.people.actors import Actor


def list_organizations(actor: Actor, community_id: int) -> list[Organization]:
    """Organizations serving a community."""
    authz.ensure_readable(actor, community_id)
    return list(
        db.session.scalars(
            select(Organization)
            .where(Organization.communities.any(Community.id == community_id))
            .order_by(Organization.id)
        )
    )


def get_organization(actor: Actor, organization_id: int) -> Organization:
    """An organization serving a community the actor can see."""
    authz.require_signed_in(actor)
    org = db.session.get(Organization, organization_id)
    if org is None:
        raise NotFound()
    if actor.is_admin or org.id in actor.organization_ids:
        return org
    if any(authz.can_read_community(actor, c.id) for c in org.communities):
        return org
    raise NotFound()


def create_organization(
    actor: Actor, community_id: int, *, name: str, kind: str, phone: str | None = None
) -> Organization:
    """Committee staff add an organization serving their community (or link an existing one)."""
    authz.ensure_manager(actor, community_id)
    if kind not in ORG_KINDS:
        raise invalid_field("kind", f"allowed: {', '.join(ORG_KINDS)}")
    name = clean_name(name, "name", max_length=120)
    community = db.session.get(Community, community_id)
    org = db.session.scalar(select(Organization).where(Organization.name == name))
    if org is not None:
        if community in org.communities:
            raise Conflict(errors={"name": ["exists"]})
        org.communities.append(community)
    else:
        org = Organization(
            name=name,
            kind=kind,
            phone=clean_text(phone or "", "phone", max_length=40, required=False) or None,
        )
        org.communities.append(community)
        db.session.add(org)
    db.session.flush()
    return org
