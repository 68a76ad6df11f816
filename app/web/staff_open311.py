"""Staff console: Open311 keys (/staff/open311-keys) — list, issue (the key is shown once, on the
page that answers the form, and never stored; the form's one-time token makes a refresh of that
page issue nothing more), revoke after a confirmation. Rules live in app/affairs/open311.py."""

from __future__ import annotations

from flask import (
    Blueprint,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import lazy_gettext as _l
from flask_login import login_required

from app.affairs import open311
from app.infra import uow
from app.infra.errors import DomainError
from app.infra.idempotency import one_time_token
from app.people import authz
from app.security import current_actor
from app.web.staff import flash_error, managed_communities, nav_item, pick_community

bp = Blueprint("staff_open311", __name__, url_prefix="/staff/open311-keys")
nav_item("staff_open311.index", _l("Open311 keys"), authz.manages_somewhere)


def _page(actor, community, *, issued=None, errors=None, name="", status=200):
    response = make_response(
        render_template(
            "staff/open311/index.html",
            community=community,
            communities=managed_communities(actor),
            rows=open311.list_keys(actor, community.id),
            issued=issued,
            errors=errors or {},
            name=name,
            endpoint=open311.endpoint_url(),
            once=one_time_token(),
        ),
        status,
    )
    # The page may carry a key: no cache may keep it.
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("")
@login_required
def index():
    """The community's keys, its jurisdiction_id and the endpoint to give partners."""
    actor = current_actor()
    return _page(actor, pick_community(managed_communities(actor)))


@bp.post("")
@login_required
def issue():
    """Issue a key; the answer shows it this one time."""
    actor = current_actor()
    community = pick_community(managed_communities(actor))
    name = request.form.get("name", "")
    try:
        key, row = open311.issue_key(actor, community.id, name, request.form.get("once", ""))
    except open311.AlreadyIssued as error:  # the answer page was refreshed: say so, show the list
        flash_error(error)
        return redirect(url_for(".index", community_id=community.id), 303)
    except DomainError as error:
        uow.undo(error)
        errors = {field: [str(m) for m in messages] for field, messages in error.errors.items()}
        return _page(
            actor,
            community,
            errors=errors or {"name": [str(error.message)]},
            name=name[:200],
            status=error.status_code,
        )
    return _page(actor, community, issued={"key": key, "row": row}, status=200)


@bp.route("/<id:key_id>/revoke", methods=["GET", "POST"])
@login_required
def revoke(key_id: int):
    """Revoke a key: first a page that asks, then the key stops working at once."""
    actor = current_actor()
    row = open311.get_key(actor, key_id)
    if request.method == "GET":
        return render_template("staff/open311/revoke.html", row=row)
    try:
        open311.revoke_key(actor, row.id)
    except DomainError as error:
        flash_error(error)
    else:
        flash(
            str(
                _l(
                    "Key revoked: %(name)s. Systems using it are refused from now on.",
                    name=row.name,
                )
            ),
            "info",
        )
    return redirect(url_for(".index", community_id=row.community_id))
