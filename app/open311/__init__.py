"""Open311 GeoReport v2 at /open311/v2 (JSON and XML) over the case services.

Errors use the GeoReport format, `[{"code": 403, "description": "…"}]` (XML:
`<errors><error><code/><description/></error></errors>`): 400 bad input (also a POST body that
is not form-encoded, and a `media` file that is not an acceptable photo), 403 missing or invalid
api_key, 404 unknown jurisdiction, service, request or token.
"""

from __future__ import annotations

import json
import re
from xml.etree import ElementTree as ET

from flask import Blueprint, Response, current_app, request, send_file
from flask_babel import lazy_gettext as _l

from app.affairs import attachments
from app.affairs import open311 as geo
from app.errors import ERROR_FORMATTERS
from app.extensions import csrf
from app.http_idempotency import idempotent

bp = Blueprint("open311", __name__, url_prefix="/open311/v2")
csrf.exempt(bp)

FORMATS = "<any(json, xml):fmt>"
_ATTRIBUTE = re.compile(r"^attribute\[([^\[\]]{1,40})\](\[\])?$")
# XML element names for members of a list, by the list's name.
_ITEM = {
    "services": "service",
    "service_requests": "request",
    "attributes": "attribute",
    "values": "value",
    "errors": "error",
    "endpoints": "endpoint",
    "formats": "format",
}


# Characters XML 1.0 cannot hold (most control characters, lone surrogates, U+FFFE/U+FFFF):
# ElementTree would write them as they are and the document would not parse. Stored text is
# cleaned on the way in (app/infra/text.py); this also covers what an answer echoes, such as an
# unknown attribute code a client sent.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _to_xml(parent: ET.Element, name: str, value) -> None:
    node = ET.SubElement(parent, name)
    if isinstance(value, dict):
        for key, item in value.items():
            _to_xml(node, key, item)
    elif isinstance(value, list):
        for item in value:
            _to_xml(node, _ITEM.get(name, "item"), item)
    elif isinstance(value, bool):
        node.text = "true" if value else "false"
    elif value is not None:
        node.text = _NOT_XML.sub("\ufffd", str(value))


def render(data, fmt: str, root: str, status: int = 200) -> Response:
    """JSON as is; XML under `root` (a list's members get the singular element name)."""
    if fmt == "xml":
        top = ET.Element(root)
        if isinstance(data, list):
            for item in data:
                _to_xml(top, _ITEM.get(root, "item"), item)
        else:
            for key, item in data.items():
                _to_xml(top, key, item)
        body = b'<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(
            top, encoding="utf-8", xml_declaration=False
        )
        return Response(body, status=status, content_type="text/xml; charset=utf-8")
    return Response(
        json.dumps(data, ensure_ascii=False, default=str),
        status=status,
        content_type="application/json; charset=utf-8",
    )


def _error_format() -> str:
    return "xml" if request.path.split("?")[0].endswith(".xml") else "json"


def format_error(code: int, message, errors=None, headers=None) -> Response:
    """The GeoReport error list, in the format the path asked for."""
    description = str(message)
    if errors:
        detail = "; ".join(
            f"{field}: {' '.join(map(str, msgs)) if isinstance(msgs, list) else msgs}"
            for field, msgs in errors.items()
        )
        description = f"{description} ({detail})"
    response = render(
        [{"code": code, "description": description}], _error_format(), "errors", status=code
    )
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


ERROR_FORMATTERS["/open311/"] = format_error


def _api_key() -> str | None:
    return request.form.get("api_key") or request.args.get("api_key")


def _require_key():
    key = geo.resolve_key(_api_key())
    if key is None:
        raise geo.Open311Error(403, _l("api_key is missing or not valid"))
    return key


def _reader():
    """The jurisdiction for a read and the caller's key, if it gave one; a key is needed when
    public reading is switched off."""
    key = geo.resolve_key(_api_key()) if _api_key() else None
    if _api_key() and key is None:
        raise geo.Open311Error(403, _l("api_key is missing or not valid"))
    if key is None and not current_app.config["OPEN311_PUBLIC_READ"]:
        raise geo.Open311Error(403, _l("api_key is missing or not valid"))
    return geo.jurisdiction(request.args.get("jurisdiction_id"), key), key


def _reader_community():
    return _reader()[0]


_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def _require_form() -> None:
    # GeoReport v2 posts form fields; a JSON body would otherwise look like a missing api_key.
    if request.mimetype and request.mimetype not in _FORM_TYPES:
        raise geo.bad_request(
            _l(
                "The body must be form-encoded "
                "(application/x-www-form-urlencoded or multipart/form-data), "
                "as GeoReport v2 says."
            )
        )


def _media() -> bytes | None:
    """The bytes of a multipart `media` file, if one was sent (an empty file part is none)."""
    upload = request.files.get("media")
    if upload is None:
        return None
    data = upload.read()
    if not data and not upload.filename:
        return None
    return data


def _key_scope() -> str | None:
    key = geo.resolve_key(_api_key())
    return f"o311:{key.id}" if key is not None else None


@bp.get(f"/discovery.{FORMATS}")
def discovery(fmt):
    """Service discovery: where this GeoReport v2 endpoint lives and what it speaks."""
    return render(geo.discovery(), fmt, "discovery")


@bp.get(f"/services.{FORMATS}")
def services(fmt):
    """GET services: the jurisdiction's categories."""
    return render(geo.service_list(_reader_community()), fmt, "services")


@bp.get(f"/services/<code>.{FORMATS}")
def service_definition(code, fmt):
    """GET service definition: a category's attributes."""
    return render(geo.service_definition(_reader_community(), code), fmt, "service_definition")


@bp.get(f"/requests.{FORMATS}")
def list_requests(fmt):
    """GET requests: public cases with the standard filters."""
    community, key = _reader()
    return render(geo.query_requests(community, request.args, key), fmt, "service_requests")


@bp.post(f"/requests.{FORMATS}")
@idempotent(scope=_key_scope)
def create_request(fmt):
    """POST requests: file a case with an api_key (form-encoded, as the spec says; a photo as
    the multipart file `media`)."""
    _require_form()
    key = _require_key()
    form = {k: v for k, v in request.form.items() if not k.startswith("attribute[")}
    answers: dict = {}
    for name in request.form:
        match = _ATTRIBUTE.fullmatch(name)
        if match is None:
            if name.startswith("attribute["):
                raise geo.bad_request(_l("attribute must look like attribute[code]"))
            continue
        values = request.form.getlist(name)
        answers[match.group(1)] = values if match.group(2) else values[-1]
    return render([geo.create_request(key, form, answers, _media())], fmt, "service_requests")


@bp.get(f"/requests/<rid>.{FORMATS}")
def get_request(rid, fmt):
    """GET one request by its id (the case reference)."""
    community, key = _reader()
    return render([geo.request_by_id(community, rid, key)], fmt, "service_requests")


@bp.get(f"/tokens/<token>.{FORMATS}")
def get_token(token, fmt):
    """GET tokens: the service_request_id behind a POST's token."""
    return render([geo.token_lookup(_reader_community(), token)], fmt, "service_requests")


@bp.get("/media/<rid>/<id:attachment_id>")
def media(rid, attachment_id):
    """A public photo of a public case (the media_url of a request)."""
    attachment = geo.public_media(_reader_community(), rid, attachment_id)
    response = send_file(attachments.path_of(attachment), mimetype=attachment.mime, max_age=3600)
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
