"""Staff console: affairs categories (/staff/categories) — list, add, change, switch off and on,
install the standard set. Rules live in app/affairs/categories.py; these views only turn the
forms into its arguments."""

from __future__ import annotations

import re

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import lazy_gettext as _l
from flask_login import login_required

from app.affairs import categories
from app.infra import uow
from app.infra.errors import DomainError
from app.models.case import HANDLER_ROLES
from app.people import authz, organizations
from app.security import current_actor
from app.web.staff import (
    flash_error,
    internal_communities,
    managed_communities,
    nav_item,
    pick_community,
)

bp = Blueprint("staff_categories", __name__, url_prefix="/staff/categories")
nav_item("staff_categories.index", _l("Categories"), authz.works_internally)

_WHOLE = re.compile(r"^\s*-?[0-9]{1,9}\s*$")
_ID = re.compile(r"^[0-9]{1,9}$")  # fits the integer column on every database


@bp.app_template_filter("category_text")
def category_text(category, field: str = "name"):
    """A category's name, description or notice in the reader's language when it is a built-in
    category's seeded wording (app.affairs.categories.shown)."""
    return categories.shown(category, field)


def _form_data(form) -> dict:
    """The category form as service arguments (the service judges the values)."""
    hours = form.get("deadline_hours", "")
    handler = form.get("handler", "")
    org_id = handler[4:] if handler.startswith("org:") else None
    return {
        "name": form.get("name", ""),
        "description": form.get("description", ""),
        "notice": form.get("notice", ""),
        "icon": form.get("icon", ""),
        "deadline_hours": int(hours) if _WHOLE.match(hours) else hours,
        "handler_organization_id": int(org_id) if org_id and _ID.match(org_id) else org_id,
        "handler_role": None if org_id is not None else handler,
        "allow_anonymous": bool(form.get("allow_anonymous")),
        "is_public": bool(form.get("is_public")),
        "active": bool(form.get("active")),
    }


def _form_page(actor, community, *, item=None, values=None, errors=None, status=200):
    values = values or {}
    if item is not None and not values:
        values = {
            "name": categories.shown(item),
            "description": categories.shown(item, "description") or "",
            "notice": categories.shown(item, "notice") or "",
            "icon": item.icon,
            "deadline_hours": item.deadline_hours,
            "handler": f"org:{item.handler_organization_id}"
            if item.handler_organization_id
            else item.handler_role or "",
            "allow_anonymous": item.allow_anonymous,
            "is_public": item.is_public,
            "active": item.active,
        }
    return render_template(
        "staff/categories/form.html",
        item=item,
        community=community,
        values=values,
        errors=errors or {},
        icons=categories.ICON_LABELS,
        roles=HANDLER_ROLES,
        role_labels=categories.HANDLER_ROLE_LABELS,
        organizations=organizations.list_organizations(actor, community.id),
    ), status


def _form_errors(error: DomainError) -> dict:
    """Field → messages, with the handler's two fields shown at the one handler choice."""
    uow.undo(error)
    errors = {}
    for field, messages in (error.errors or {}).items():
        field = "handler" if field in ("handler_role", "handler_organization_id") else field
        errors.setdefault(field, []).extend(
            str(m) for m in (messages if isinstance(messages, list) else [messages])
        )
    if not errors:
        errors["form"] = [str(error.message)]
    return errors


@bp.get("")
@login_required
def index():
    """A community's categories, switched-off ones too."""
    actor = current_actor()
    places = internal_communities(actor)
    community = pick_community(places)
    rows = categories.list_categories(actor, community.id, include_inactive=True)
    return render_template(
        "staff/categories/index.html",
        rows=rows,
        community=community,
        communities=places,
        icons=categories.ICON_LABELS,
        role_labels=categories.HANDLER_ROLE_LABELS,
        can_manage=authz.can_manage_community(actor, community.id),
    )


@bp.route("/new", methods=["GET", "POST"])
@login_required
def new():
    """Add a category."""
    actor = current_actor()
    community = pick_community(managed_communities(actor))
    if request.method == "GET":
        return _form_page(
            actor,
            community,
            values={
                "deadline_hours": 72,
                "icon": "other",
                "handler": "committee_staff",
                "is_public": True,
                "active": True,
            },
        )
    try:
        item = categories.create_category(
            actor,
            community.id,
            code=request.form.get("code", "").strip(),
            **_form_data(request.form),
        )
    except DomainError as error:
        if error.status_code in (403, 404):
            abort(error.status_code)
        return _form_page(
            actor,
            community,
            values=request.form,
            errors=_form_errors(error),
            status=error.status_code,
        )
    flash(str(_l("Category added: %(name)s", name=item.name)), "info")
    return redirect(url_for(".index", community_id=community.id))


@bp.route("/<id:category_id>/edit", methods=["GET", "POST"])
@login_required
def edit(category_id: int):
    """Change a category (its code stays)."""
    actor = current_actor()
    item = categories.get_for_edit(actor, category_id)
    community = item.community
    if request.method == "GET":
        return _form_page(actor, community, item=item)
    try:
        changes = categories.keep_seeded(item, _form_data(request.form))
        categories.update_category(actor, item.id, changes)
    except DomainError as error:
        errors = _form_errors(error)
        return _form_page(
            actor,
            community,
            item=categories.get_for_edit(actor, category_id),
            values=request.form,
            errors=errors,
            status=error.status_code,
        )
    flash(str(_l("Saved.")), "info")
    return redirect(url_for(".index", community_id=community.id))


def _switch(category_id: int, active: bool, message):
    actor = current_actor()
    item = categories.get_for_edit(actor, category_id)
    try:
        categories.update_category(actor, item.id, {"active": active})
    except DomainError as error:
        flash_error(error)
    else:
        flash(str(message), "info")
    return redirect(url_for(".index", community_id=item.community_id))


@bp.post("/<id:category_id>/deactivate")
@login_required
def deactivate(category_id: int):
    """Switch a category off: residents no longer see it; its cases stay."""
    return _switch(category_id, False, _l("Switched off. Residents no longer see it."))


@bp.post("/<id:category_id>/reactivate")
@login_required
def reactivate(category_id: int):
    """Switch a category on again."""
    return _switch(category_id, True, _l("Switched on. Residents can choose it again."))


@bp.post("/defaults")
@login_required
def install_defaults():
    """Add the standard set of categories."""
    actor = current_actor()
    community = pick_community(managed_communities(actor))
    try:
        added = categories.install_defaults(actor, community.id)
    except DomainError as error:
        flash_error(error)
    else:
        flash(str(_l("%(n)d standard categories added.", n=len(added))), "info")
    return redirect(url_for(".index", community_id=community.id))
