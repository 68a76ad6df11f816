"""Staff console: 我的组织 — for an organization's lead (负责人), the organizations and
communities they lead, each opening its members page (app/web/staff_organizations.py)."""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, url_for
from flask_babel import lazy_gettext as _l
from flask_login import login_required

from app.people import org_members
from app.security import current_actor
from app.web.staff import nav_item

bp = Blueprint("staff_our_organization", __name__, url_prefix="/staff/our-organization")


def _leads(actor) -> bool:
    # The menu asks on every page: the loaded roles alone, no query.
    return actor.leads_any_organization


nav_item("staff_our_organization.index", _l("Our organization"), _leads)


@bp.get("")
@login_required
def index():
    """The organizations the account leads and where; with just one, its members page."""
    places = org_members.led_places(current_actor())
    if len(places) == 1:
        org, community = places[0]
        return redirect(
            url_for(
                "staff_organizations.members", organization_id=org.id, community_id=community.id
            )
        )
    return render_template("staff/organizations/mine.html", places=places)
