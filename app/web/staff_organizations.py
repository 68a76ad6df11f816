"""Staff console: organizations serving a community (the committee's list), and one
organization's members in a community (社会组织自我管理): its committee staff and the
organization's lead (负责人) add residents by mobile number and remove members; the committee
appoints leads. The rules are app/people/org_members.py."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import lazy_gettext as _l
from flask_login import login_required

from app.infra.errors import DomainError, NotFound
from app.people import org_members, organizations
from app.security import current_actor
from app.web.staff import flash_error, managed_communities, nav_item, pick_community

bp = Blueprint("staff_organizations", __name__, url_prefix="/staff/organizations")

nav_item(
    "staff_organizations.index", _l("Organizations and members"), org_members.may_open_register
)

KIND_LABELS = {
    "social_org": _l("Social organization"),
    "property": _l("Property company"),
    "vendor": _l("Service provider"),
}


@bp.get("")
@login_required
def index():
    """Organizations serving one of the communities the account manages, each with its members."""
    actor = current_actor()
    places = managed_communities(actor)
    community = pick_community(places)
    return render_template(
        "staff/organizations/index.html",
        community=community,
        communities=places,
        items=organizations.list_organizations(actor, community.id),
        kinds=KIND_LABELS,
    )


def _community_id(organization_id: int) -> int:
    """?community_id= (or the form's), else the first community where the account may manage
    the organization's members; none: not found, as for an unknown organization."""
    asked = request.values.get("community_id", type=int)
    if asked:
        return asked
    places = org_members.communities_for(current_actor(), organization_id)
    if not places:
        raise NotFound()
    return places[0].id


def _back(organization_id: int, community_id: int):
    return redirect(url_for(".members", organization_id=organization_id, community_id=community_id))


@bp.get("/<id:organization_id>/members")
@login_required
def members(organization_id: int):
    """The organization's members in a community, the form to add one, and their actions."""
    actor = current_actor()
    where = org_members.scope(actor, organization_id, _community_id(organization_id))
    return render_template(
        "staff/organizations/members.html",
        where=where,
        communities=org_members.communities_for(actor, organization_id),
        rows=org_members.members_in(actor, where),
    )


@bp.post("/<id:organization_id>/members")
@login_required
def add(organization_id: int):
    """Add a resident of the community as a member, by mobile number."""
    community_id = _community_id(organization_id)
    try:
        added = org_members.add_member(
            current_actor(), organization_id, community_id, request.form.get("phone", "")
        )
        flash(str(_l("%(name)s is now a member.", name=added["display_name"])), "ok")
    except DomainError as error:
        flash_error(error)
    return _back(organization_id, community_id)


@bp.post("/<id:organization_id>/members/<id:assignment_id>/remove")
@login_required
def remove(organization_id: int, assignment_id: int):
    """End a membership."""
    community_id = _community_id(organization_id)
    try:
        org_members.remove_member(current_actor(), organization_id, community_id, assignment_id)
        flash(str(_l("The membership has ended.")), "ok")
    except DomainError as error:
        flash_error(error)
    return _back(organization_id, community_id)


@bp.post("/<id:organization_id>/members/<id:assignment_id>/lead")
@login_required
def lead(organization_id: int, assignment_id: int):
    """Appoint a member as the organization's lead here, or stand them down (committee)."""
    community_id = _community_id(organization_id)
    appoint = request.form.get("lead") == "1"
    try:
        org_members.set_lead(current_actor(), organization_id, community_id, assignment_id, appoint)
        flash(str(_l("Appointed as lead.") if appoint else _l("No longer the lead.")), "ok")
    except DomainError as error:
        flash_error(error)
    return _back(organization_id, community_id)
