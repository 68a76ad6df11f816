"""Staff console (/staff): sign-in, overview, audit log. Other features add their pages here."""

from __future__ import annotations

from collections.abc import Callable

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import lazy_gettext as _l
from flask_login import login_required

from app import security
from app.affairs import overview, words
from app.infra import uow
from app.infra.errors import DomainError
from app.people import authz, communities
from app.people.actors import Actor
from app.people.audit_log import WORDS as audit_words
from app.people.audit_log import list_entries as list_audit_entries
from app.security import current_actor
from app.web import is_local_path

bp = Blueprint("staff", __name__, url_prefix="/staff")

# Console sections: features append (endpoint, label, allowed) here; the menu lists, in order,
# those whose `allowed(actor)` (a question to app/people/authz or a domain's policy) is true, so
# no menu link leads to a page that would refuse the reader.
STAFF_NAV: list[tuple[str, object, Callable[[Actor], bool]]] = []


def nav_item(endpoint: str, label, allowed: Callable[[Actor], bool] | None = None) -> None:
    """Add a section to the staff console menu (label: a lazy_gettext string; allowed: who may
    open it, default every staff-side account)."""
    if all(e != endpoint for e, _, _ in STAFF_NAV):
        STAFF_NAV.append((endpoint, label, allowed or _staff_side))


def _staff_side(actor: Actor) -> bool:
    return actor.is_staff_side


def staff_menu() -> list[tuple[str, object]]:
    """The menu for the signed-in account: overview, the sections it may open, the audit log."""
    actor = current_actor()
    if not actor.is_staff_side:
        return []
    items = [("staff.index", _l("Overview"))]
    items += [(endpoint, label) for endpoint, label, allowed in STAFF_NAV if allowed(actor)]
    if authz.reads_audit(actor):
        items.append(("staff.audit_log", _l("Audit log")))
    return items


def internal_communities(actor) -> list:
    """Communities whose internal records the actor may see (their workers)."""
    return [c for c in communities.list_communities(actor) if authz.can_see_internal(actor, c.id)]


def managed_communities(actor) -> list:
    """Communities whose data the actor may change."""
    return [
        c for c in communities.list_communities(actor) if authz.can_manage_community(actor, c.id)
    ]


def audit_communities(actor) -> list:
    """Communities whose audit entries the actor may read."""
    return [c for c in communities.list_communities(actor) if authz.can_read_audit(actor, c.id)]


def pick_community(places: list):
    """The community a page asks for (?community_id=, default the first of `places`): 403 when
    the account has none, 404 when the one asked for is not among them."""
    if not places:
        abort(403)
    community_id = request.values.get("community_id", type=int) or places[0].id
    community = next((c for c in places if c.id == community_id), None)
    if community is None:
        abort(404)
    return community


def flash_error(error: DomainError) -> None:
    """After a service error in a page: undo (keep what must persist) and say what went wrong."""
    uow.undo(error)
    flash(str(error.message), "error")
    for field, messages in (error.errors or {}).items():
        if not isinstance(messages, list):
            messages = [messages]
        flash(f"{field}: {' '.join(str(m) for m in messages)}", "error")


@bp.app_context_processor
def _staff_menu():
    # A function: only pages that show the menu build it.
    return {"staff_menu": staff_menu}


def _safe_next(target: str | None) -> str:
    # Only same-site paths: never redirect a signed-in person to another site.
    return target if is_local_path(target) else url_for("staff.index")


@bp.route("/login", methods=["GET", "POST"])
def login():
    """Staff sign in with username (or phone) and password."""
    if request.method == "POST":
        from app.people import auth

        try:
            person = auth.authenticate(
                request.form.get("login", ""),
                password=request.form.get("password", ""),
                ip=request.remote_addr,
            )
        except DomainError as error:
            flash_error(error)
            return render_template("staff/login.html"), error.status_code, error.headers
        security.sign_in(person, "staff", remember=False)
        return redirect(_safe_next(request.args.get("next")))
    return render_template("staff/login.html")


@bp.post("/logout")
def logout():
    """Sign out (the sign-in ends on the server too)."""
    security.sign_out()
    return redirect(url_for("staff.login"))


@bp.get("/")
@login_required
def index():
    """Overview: the work of each role this account holds (app/affairs/overview.py)."""
    return render_template(
        "staff/index.html",
        view=overview.staff_overview(current_actor()),
        labels=words.STAFF_STATUS_LABELS,
    )


@bp.get("/audit")
@login_required
def audit_log():
    """The audit log (admins: everything; committee staff and the street office: one of their
    communities at a time)."""
    actor = current_actor()
    places = audit_communities(actor)
    community = None
    if not actor.is_admin or request.args.get("community_id"):
        community = pick_community(places)
    page = list_audit_entries(
        actor,
        community_id=community.id if community else None,
        page=request.args.get("page", 1, type=int),
    )
    return render_template(
        "staff/audit.html",
        page=page,
        community=community,
        community_id=community.id if community else None,
        communities=places,
        words=audit_words,
    )
