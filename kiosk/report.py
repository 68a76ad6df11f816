"""语音留言 at the lobby screen: the screen (its device token) asks what to offer and files a
voice message as a case. The rules live in app/affairs/kiosk_report.py."""

from __future__ import annotations

from flask import jsonify, request

from app.affairs import kiosk_report
from app.http_idempotency import idempotent
from app.infra.errors import Invalid
from app.security import current_actor
from kiosk.views import bp

_FIELDS = ("category", "place", "phone")


@bp.get("/api/report")
def report_options():
    """Category tiles, places and spoken prompts for reporting a problem at this screen."""
    body = kiosk_report.report_options(current_actor(), locale=request.args.get("lang"))
    response = jsonify(body)
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.post("/api/report")
@idempotent()
def report():
    """File a voice message (multipart: category, place, optional phone, audio) as a case.
    Send pressed again after an answer that never came (same Idempotency-Key, same message)
    is answered from the first filing."""
    if request.mimetype != "multipart/form-data":
        raise Invalid(errors={"audio": ['Send multipart/form-data with the field "audio".']})
    upload = request.files.get("audio")
    if upload is None:
        raise Invalid(errors={"audio": ['Send the recording in the field "audio".']})
    unknown = sorted(set(request.form) - set(_FIELDS))
    if unknown:
        raise Invalid(errors={name: ["Unknown field."] for name in unknown})
    form = {k: request.form.get(k, "").strip() for k in _FIELDS}
    body = kiosk_report.file_report(
        current_actor(),
        category=form["category"],
        place=form["place"],
        phone=form["phone"] or None,
        audio=upload.read(),
        locale=request.args.get("lang"),
    )
    response = jsonify(body)
    response.status_code = 201
    response.headers["Cache-Control"] = "no-store"
    return response
