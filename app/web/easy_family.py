"""Easy mode: 子女代办 (family proxy). A relative asks by the elder's phone number; the elder
agrees here (or the committee confirms); the relative then acts for them with a banner
"正在为 王奶奶 代办" on every page, and everything done is recorded as done by the relative on
the elder's behalf. A linked relative can also give the elder a new PIN."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _

from app.infra.errors import Conflict, DomainError, Invalid
from app.people import people, proxies
from app.people.actors import Actor
from app.residents import easy
from app.security import current_actor
from app.web import easy_common as base


def _own() -> Actor:
    """The signed-in person as themselves (links are always about their own account)."""
    return Actor.for_person(current_actor().person)


def _page(errors=(), form=None, status: int = 200):
    return render_template(
        "easy/family.html", family=easy.family(_own()), errors=list(errors), form=form or {}
    ), status


@base.bp.get("/family")
@base.person_required
def family():
    """Whom I help, who helps me, and requests waiting for a yes."""
    return _page()


@base.bp.post("/family/request")
@base.person_required
def request_link():
    """Ask to help an elderly resident, by their phone number."""
    form = {
        "phone": request.form.get("phone", "")[:40],
        "relation": request.form.get("relation", "")[:40],
    }
    try:
        proxies.request_link(_own(), form["phone"], form["relation"] or None)
    except Conflict as error:
        base.settle(error)
        return _page(
            [
                _(
                    "You have already asked to help this person. Please wait for them or "
                    "the committee to agree."
                )
            ],
            form,
            409,
        )
    except DomainError as error:
        base.settle(error)
        return _page(base.error_lines(error), form, error.status_code)
    flash(
        _(
            "Your request has been sent. The elder can agree on their phone, or the residents' "
            "committee can confirm it."
        ),
        "ok",
    )
    return redirect(url_for("easy.family"))


def _link_step(link_id: int, step, message: str):
    try:
        step(_own(), link_id)
    except DomainError as error:
        base.settle(error)
        raise
    flash(message, "ok")
    return redirect(url_for("easy.family"))


@base.bp.post("/family/<id:link_id>/confirm")
@base.person_required
def confirm_link(link_id):
    """The elder agrees that this relative may help."""
    return _link_step(
        link_id, proxies.confirm_link, _("Done. Your family member can now help you.")
    )


@base.bp.get("/family/<id:link_id>/end")
@base.person_required
def end_link_check(link_id):
    """Ask once more before a family link ends: one mistaken tap must not end it."""
    return render_template("easy/family_end.html", link=easy.family_link(_own(), link_id))


@base.bp.post("/family/<id:link_id>/end")
@base.person_required
def end_link(link_id):
    """Say no to a request, or end a link (either side)."""
    return _link_step(link_id, proxies.revoke_link, _("Done. This family link has ended."))


@base.bp.post("/family/act")
@base.person_required
def act():
    """Start acting for a linked elder (checked against a confirmed link)."""
    resident_id = request.form.get("resident_id", type=int)
    if resident_id is None:
        raise Invalid()
    resident = proxies.acting_for(current_actor().person, resident_id)
    session[base.ACT_FOR] = resident.id
    flash(_("You are now helping %(name)s.", name=resident.display_name), "ok")
    return redirect(url_for("easy.home"))


@base.bp.post("/family/stop")
@base.person_required
def stop():
    """Stop acting for the elder; back to one's own account."""
    session.pop(base.ACT_FOR, None)
    flash(_("You are using your own account again."), "ok")
    return redirect(url_for("easy.family"))


@base.bp.route("/family/<id:resident_id>/pin", methods=["GET", "POST"])
@base.person_required
def reset_pin(resident_id):
    """A linked relative gives the elder a new 6-digit PIN (when they have forgotten it)."""
    me = current_actor().person
    resident = proxies.acting_for(me, resident_id)
    errors: list[str] = []
    if request.method == "POST":
        try:
            people.set_pin(
                Actor.for_person(me, on_behalf_of=resident), resident.id, base.pin_twice()
            )
        except DomainError as error:
            base.settle(error)
            errors = base.error_lines(error)
        else:
            flash(
                _(
                    "The new PIN is set. Please tell %(name)s the new PIN.",
                    name=resident.display_name,
                ),
                "ok",
            )
            return redirect(url_for("easy.family"))
    return render_template(
        "easy/pin.html", resident=resident, errors=errors
    ), 422 if errors else 200
