"""Easy mode: 我要反映 (report a problem) and 我的事项 (my matters: status, timeline, rating).

With JavaScript the report form shows a confirmation screen and sends the case to /api/v1/cases
with an Idempotency-Key (then the photo to its attachments endpoint); without JavaScript it
posts here, and the form's one-time key does the same job.
"""

from __future__ import annotations

from flask import flash, make_response, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _

from app.affairs import attachments, categories, intake, workflow
from app.http_idempotency import idempotent
from app.infra.errors import DomainError, Invalid
from app.infra.idempotency import one_time_token
from app.people import communities
from app.residents import easy
from app.security import current_actor
from app.web import easy_common as base

RATING_VALUES = {key: value for key, value, _words in easy.RATINGS}


def _category(category_id: int):
    community = communities.home_community(current_actor())
    return categories.find_category(community.id, category_id=category_id)


@base.bp.get("/report")
@base.resident_required
def report():
    """Step 1: what is it about? Big picture buttons with words."""
    actor = current_actor()
    community = communities.home_community(actor)
    return render_template(
        "easy/report.html", categories=categories.list_categories(actor, community.id)
    )


@base.bp.get("/report/<id:category_id>")
@base.resident_required
def report_form(category_id):
    """Step 2: the category's notice, then the description, an optional photo and the place."""
    return _form(_category(category_id), one_time_token(), {}, [])


def _form(category, key: str, values: dict, errors: list, status: int = 200):
    actor = current_actor()
    body = render_template(
        "easy/report_form.html",
        category=category,
        key=key,
        values=values,
        errors=errors,
        place=easy.home_place(actor),
        building=easy.home_building(actor),
    )
    return body, status


@base.bp.post("/report/<id:category_id>")
@base.resident_required
def report_submit(category_id):
    """Without JavaScript: file the case here; the form's one-time key makes a double tap (or a
    resent form) file it once, through the same Idempotency-Key store the API uses."""
    key = request.form.get("key", "")
    if key:
        request.environ["HTTP_IDEMPOTENCY_KEY"] = key  # the form's key, as the API's header
    return _file_case(category_id)


@idempotent()
def _file_case(category_id: int):
    category = _category(category_id)
    values = {
        "description": request.form.get("description", ""),
        "where": request.form.get("where", ""),
        "address": request.form.get("address", ""),
    }
    upload = request.files.get("photo")
    photo = upload.read() if upload is not None and upload.filename else b""
    try:
        address = building_id = None
        building = easy.home_building(current_actor())
        if values["where"] == "other" or (
            values["where"] in ("home", "building") and building is None
        ):
            address = values["address"].strip()
            if not address:
                raise Invalid(errors={"address": [_("Please say where the problem is.")]})
        elif values["where"] == "building":
            building_id = building.id
        elif values["where"] != "home":
            # A stairwell light is not "at my home": the place is asked, never assumed.
            raise Invalid(errors={"where": [_("Please choose where it is.")]})
        case = intake.submit_case(
            current_actor(),
            category_id=category.id,
            description=values["description"],
            address=address,
            building_id=building_id,
            photos=[photo] if photo else [],
        )
    except DomainError as error:
        base.settle(error)
        body, status = _form(
            category,
            request.form.get("key", "")[:64],
            values,
            base.error_lines(error),
            error.status_code,
        )
        return make_response(body, status)
    return redirect(url_for("easy.case_received", case_id=case.id))


@base.bp.get("/cases")
@base.resident_required
def my_cases():
    """My matters, newest first, with their status in plain words."""
    page_obj, rows = easy.my_cases(current_actor(), page=request.args.get("page", 1, type=int))
    return render_template("easy/cases.html", page=page_obj, rows=rows)


@base.bp.get("/cases/<id:case_id>")
@base.resident_required
def case_detail(case_id):
    """One matter: status, what was said, photos, timeline; confirm and rate, or send it back."""
    view = easy.case_for_resident(current_actor(), case_id)
    return render_template("easy/case.html", case=view, ratings=easy.RATINGS)


@base.bp.get("/cases/<id:case_id>/received")
@base.resident_required
def case_received(case_id):
    """The reference number in large digits, also spoken digit by digit."""
    view = easy.case_for_resident(current_actor(), case_id)
    return render_template(
        "easy/received.html", case=view, photo_failed=request.args.get("photo") == "failed"
    )


def _rating() -> int:
    value = RATING_VALUES.get(request.form.get("rating", ""))
    if value is None:
        raise Invalid(
            errors={
                "rating": [_("Please tap one of the buttons: Satisfied, Okay or Not satisfied.")]
            }
        )
    return value


def _done(case_id: int, message: str):
    flash(message, "ok")
    return redirect(url_for("easy.case_detail", case_id=case_id))


@base.bp.post("/cases/<id:case_id>/confirm")
@base.resident_required
def confirm(case_id):
    """It is fixed: confirm and rate in one tap (满意 5, 一般 3, 不满意 1)."""
    try:
        workflow.confirm_case(current_actor(), case_id, rating=_rating())
    except DomainError as error:
        base.settle(error)
        raise
    return _done(case_id, _("Thank you. The matter is closed."))


@base.bp.post("/cases/<id:case_id>/rate")
@base.resident_required
def rate(case_id):
    """Rate a matter that was closed without a rating."""
    try:
        workflow.rate_case(current_actor(), case_id, _rating())
    except DomainError as error:
        base.settle(error)
        raise
    return _done(case_id, _("Thank you for your rating."))


@base.bp.route("/cases/<id:case_id>/reopen", methods=["GET", "POST"])
@base.resident_required
def reopen(case_id):
    """Not fixed: send it back to the committee, saying why."""
    view = easy.case_for_resident(current_actor(), case_id)
    errors: list[str] = []
    if request.method == "POST":
        try:
            workflow.reopen_case(current_actor(), case_id, request.form.get("reason") or None)
        except DomainError as error:
            base.settle(error)
            errors = base.error_lines(error)
        else:
            return _done(case_id, _("We have sent it back. The committee will handle it again."))
    return render_template(
        "easy/reopen.html", case=view, errors=errors, reason=request.form.get("reason", "")
    ), 422 if errors else 200


@base.bp.post("/cases/<id:case_id>/photo")
@base.resident_required
def add_photo(case_id):
    """Add a photo to an open matter (also the way to retry one that did not get through)."""
    upload = request.files.get("photo")
    try:
        if upload is None or not upload.filename:
            raise Invalid(errors={"photo": [_("Please take or choose a photo first.")]})
        workflow.add_attachment(current_actor(), case_id, upload.read())
    except DomainError as error:
        base.settle(error)
        raise
    return _done(case_id, _("The photo has been added."))


@base.bp.get("/cases/<id:case_id>/files/<id:attachment_id>")
@base.resident_required
def case_file(case_id, attachment_id):
    """A photo of the resident's matter (the proxy sees it too while acting for them)."""
    attachment = workflow.get_attachment(current_actor(), case_id, attachment_id)
    response = send_file(
        attachments.path_of(attachment), mimetype=attachment.mime, max_age=0, conditional=True
    )
    response.headers["Cache-Control"] = "private, max-age=300"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
