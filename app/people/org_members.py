"""Social organizations manage their own members (社会组织自我管理), community by community.

A membership is an `org_member` RoleAssignment of an organization, usually scoped to one
community (`community_id`); one without a community (given by an administrator or `flask
create-user`) reaches every community the organization serves (Actor.organization_reach). A
membership flagged `leads_organization` makes its holder the organization's lead (负责人) in the
communities it reaches.

Who may do what, always for one organization O in one community C that O serves:

- committee staff managing C (authz.can_manage_community) and administrators: list O's members
  in C, add a resident of C, remove memberships scoped to C, appoint or remove leads of them;
  administrators also memberships without a community (they reach further than C);
- a lead of O whose reach includes C: list O's members in C, add a resident of C as a plain
  member (scoped to C), remove plain memberships scoped to C; nothing else;
- anyone else: nothing. Outsiders of C (and unknown ids) get NotFound, insiders Forbidden.

Committee staff and administrators see members' full phone numbers, a lead sees them masked;
every listing is an audited read. Every change is audited by the flush hook (app/infra/audit.py:
the actor is staff-side) and the member gets a notice.

Rights end at once: the actor's roles are loaded per request (app/security.current_actor), so
a removed member's sign-ins and tokens lose the organization on their next request.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import or_, select

from app.extensions import db
from app.infra import audit
from app.infra.errors import Conflict, Forbidden, NotFound
from app.infra.text import mask_phone, normalize_phone
from app.models import Community, Organization, Person, RoleAssignment
from app.models.person import COMMITTEE_STAFF, ORG_MEMBER, STREET_OFFICIAL
from app.people import authz, notifications
from app.people.actors import Actor


@dataclass(frozen=True)
class Scope:
    """An organization in a community, and what the actor may do with its members there."""

    organization: Organization
    community: Community
    manager: bool  # committee staff of the community, an official with write access, an admin
    lead: bool  # the organization's lead there

    @property
    def full_phones(self) -> bool:
        """Committee staff see members' numbers; a lead sees them masked."""
        return self.manager


def may_open_register(actor: Actor) -> bool:
    """The committee's list of organizations (no query: from the loaded roles alone)."""
    return actor.is_admin or any(
        r.role == COMMITTEE_STAFF or (r.role == STREET_OFFICIAL and r.can_write)
        for r in actor.roles
    )


def scope(actor: Actor, organization_id: int, community_id: int) -> Scope:
    """Check that the actor may manage O's members in C: NotFound for outsiders of C, unknown
    ids and an organization not serving C; Forbidden for insiders without the right."""
    authz.ensure_readable(actor, community_id)
    organization = db.session.get(Organization, organization_id)
    served = {c.id for c in organization.communities} if organization is not None else set()
    if community_id not in served:
        raise NotFound()
    authz.require_person(actor)
    manager = authz.can_manage_community(actor, community_id)
    lead = actor.leads(organization_id, community_id)
    if not (manager or lead):
        raise Forbidden()
    return Scope(organization, db.session.get(Community, community_id), manager, lead)


def _members_query(organization_id: int, community_id: int):
    # Memberships for this community, and those without one (they reach it too).
    return (
        select(RoleAssignment)
        .where(
            RoleAssignment.role == ORG_MEMBER,
            RoleAssignment.organization_id == organization_id,
            or_(
                RoleAssignment.community_id == community_id,
                RoleAssignment.community_id.is_(None),
            ),
        )
        .order_by(RoleAssignment.id)
    )


def _may_remove(actor: Actor, where: Scope, membership: RoleAssignment) -> bool:
    if actor.is_admin:
        return True
    if membership.community_id != where.community.id:
        return False  # reaches further than this community: administrators only
    return where.manager or not membership.leads_organization


def _may_appoint(actor: Actor, where: Scope, membership: RoleAssignment) -> bool:
    if actor.is_admin:
        return True
    return where.manager and membership.community_id == where.community.id


def member_view(actor: Actor, where: Scope, membership: RoleAssignment) -> dict:
    """One member as the actor may see them (the phone masked for a lead)."""
    person = membership.person
    own = actor.person_id == person.id
    return {
        "id": membership.id,
        "person_id": person.id,
        "display_name": person.display_name,
        "phone": person.phone if where.full_phones or own else mask_phone(person.phone),
        "community_id": membership.community_id,
        "is_lead": membership.leads_organization,
        "is_active": person.is_active,
        "since": membership.created_at,
        "can_remove": _may_remove(actor, where, membership),
        "can_appoint": _may_appoint(actor, where, membership),
    }


def list_members(actor: Actor, organization_id: int, community_id: int) -> list[dict]:
    """The organization's members in the community (an audited read: names and numbers)."""
    return members_in(actor, scope(actor, organization_id, community_id))


def members_in(actor: Actor, where: Scope) -> list[dict]:
    """`list_members` for a scope already checked (the console page shows the scope too)."""
    organization_id, community_id = where.organization.id, where.community.id
    found = db.session.scalars(_members_query(organization_id, community_id)).all()
    views = [member_view(actor, where, m) for m in found]
    audit.record(
        actor,
        "read",
        "organization",
        organization_id,
        community_id,
        {
            "fields": ["members", "phone" if where.full_phones else "phone_masked"],
            "person_ids": [v["person_id"] for v in views],
        },
    )
    return views


def _membership(where: Scope, assignment_id: int) -> RoleAssignment:
    """A membership of the organization that reaches the community; others are not found."""
    membership = db.session.get(RoleAssignment, assignment_id)
    if (
        membership is None
        or membership.role != ORG_MEMBER
        or membership.organization_id != where.organization.id
        or membership.community_id not in (where.community.id, None)
    ):
        raise NotFound()
    return membership


def add_member(actor: Actor, organization_id: int, community_id: int, phone) -> dict:
    """Add a resident of the community, named by their mobile number, as a plain member there;
    returns the member as the actor sees them."""
    where = scope(actor, organization_id, community_id)
    number = normalize_phone(phone)
    person = db.session.scalar(select(Person).where(Person.phone == number))
    if person is None or person.community_id != community_id or not person.is_active:
        # The same answer whether the number is unknown or belongs to another community's
        # resident: nothing is told about people elsewhere. Not found (not invalid): the number
        # itself is well formed, there is just nobody here with it.
        raise NotFound(_l("No resident of this community has this mobile number."))
    if db.session.scalar(
        _members_query(organization_id, community_id).where(RoleAssignment.person_id == person.id)
    ):
        raise Conflict(errors={"phone": [str(_l("This resident is already a member."))]})
    membership = RoleAssignment(
        role=ORG_MEMBER,
        organization_id=organization_id,
        community_id=community_id,
        granted_by_id=actor.person_id,
    )
    person.roles.append(membership)
    db.session.flush()
    _tell(
        person.id,
        "org_member_added",
        lambda: _("You have joined %(org)s", org=where.organization.name),
        lambda: _(
            "%(org)s has added you as a member in %(community)s. Thank you for helping "
            "your neighbours. If this is a mistake, please tell the residents' committee.",
            org=where.organization.name,
            community=where.community.name,
        ),
    )
    _record(actor, "org_member_added", where, membership)
    return member_view(actor, where, membership)


def remove_member(actor: Actor, organization_id: int, community_id: int, assignment_id: int):
    """End a membership: committee staff any scoped to the community, a lead a plain one."""
    where = scope(actor, organization_id, community_id)
    membership = _membership(where, assignment_id)
    if not _may_remove(actor, where, membership):
        raise Forbidden()
    person = membership.person
    _record(actor, "org_member_removed", where, membership)
    # Deleted explicitly, not left to the delete-orphan cascade: plainer to read (the audit
    # hook records either way).
    person.roles.remove(membership)
    db.session.delete(membership)
    db.session.flush()
    _tell(
        person.id,
        "org_member_removed",
        lambda: _("You are no longer a member of %(org)s", org=where.organization.name),
        lambda: _(
            "Your membership of %(org)s in %(community)s has ended. Thank you for all you "
            "have done. If you have questions, please ask the residents' committee.",
            org=where.organization.name,
            community=where.community.name,
        ),
    )


def set_lead(
    actor: Actor, organization_id: int, community_id: int, assignment_id: int, lead: bool
) -> dict:
    """Appoint (or stand down) a member as the organization's lead in the community: committee
    staff for memberships of their community, administrators for any. Returns the member."""
    where = scope(actor, organization_id, community_id)
    if not where.manager:
        raise Forbidden()
    membership = _membership(where, assignment_id)
    if not _may_appoint(actor, where, membership):
        raise Forbidden()
    if membership.leads_organization == bool(lead):
        return member_view(actor, where, membership)
    membership.leads_organization = bool(lead)
    db.session.flush()
    _record(actor, "org_lead_appointed" if lead else "org_lead_stood_down", where, membership)
    org, community = where.organization.name, where.community.name
    if lead:
        title = lambda: _("You now lead %(org)s", org=org)  # noqa: E731
        body = lambda: _(  # noqa: E731
            "You are now a lead of %(org)s in %(community)s: you can add and remove the "
            "organization's members there in the staff console.",
            org=org,
            community=community,
        )
    else:
        title = lambda: _("You no longer lead %(org)s", org=org)  # noqa: E731
        body = lambda: _(  # noqa: E731
            "You are still a member of %(org)s in %(community)s, but no longer its lead.",
            org=org,
            community=community,
        )
    _tell(membership.person_id, "org_lead_changed", title, body)
    return member_view(actor, where, membership)


def _record(actor: Actor, action: str, where: Scope, membership: RoleAssignment) -> None:
    """Say in the audit log whom a change was about (the flush hook records the row itself,
    which a removal deletes)."""
    audit.record(
        actor,
        action,
        "organization",
        where.organization.id,
        where.community.id,
        {"person_id": membership.person_id, "assignment_id": membership.id},
    )


def _tell(person_id: int, kind: str, title, body) -> None:
    """A notice in the person's own language (texts rendered inside their locale)."""
    with notifications.in_locale_of(person_id):
        notifications.notify(person_id, kind, title(), body())


def led_places(actor: Actor) -> list[tuple[Organization, Community]]:
    """The (organization, community) pairs the actor leads, for the console's 我的组织."""
    return [
        (db.session.get(Organization, org_id), db.session.get(Community, community_id))
        for org_id, ids in sorted(actor.led_organization_reach.items())
        for community_id in sorted(ids)
    ]


def communities_for(actor: Actor, organization_id: int) -> list[Community]:
    """The communities where the actor may manage this organization's members, by id."""
    authz.require_signed_in(actor)
    organization = db.session.get(Organization, organization_id)
    if organization is None:
        return []
    return sorted(
        (
            c
            for c in organization.communities
            if actor.leads(organization_id, c.id) or authz.can_manage_community(actor, c.id)
        ),
        key=lambda c: c.id,
    )
