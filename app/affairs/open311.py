"""Open311 GeoReport v2 over the case services: API keys, services, requests, tokens.

- jurisdiction_id is the community's code; a key is scoped to one community and may only file
  cases there. Keys are issued and revoked by committee staff; only their SHA-256 is stored.
- service_code is the category's stable code; service definitions carry its attributes.
- service_request_id is the case's public reference (e.g. 2026-000123).
- status: open while the committee or a handler is working on it; closed once resolved,
  closed, rejected or merged, with status_notes saying why.
- POST requests: `description` is optional (the category and its attributes say what it is);
  `address_string` is kept; `first_name`/`last_name`, `phone` and `email` are the contact the
  committee replies to (a contact, so categories that need one accept them), never published;
  a multipart `media` file is the request's photo, checked like any upload (attachments).
- GET requests shows the public view only (never the reporter or their contact, a location
  no finer than the case API's public view: building, coordinates to 3 decimals), and only
  public cases; when OPEN311_PUBLIC_READ is off, a valid api_key is required. The client that
  posted a request (the same api_key, given on the GET) reads its own words back: description,
  address_string and coordinates to 6 decimals, also of its requests in private categories.
  A photo is private until staff publish it (as every case photo is); then media_url serves
  it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from datetime import UTC, datetime, timedelta

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import or_, select

from app.affairs import common, deadlines, intake, views, words
from app.demo import seed_hook
from app.extensions import db
from app.infra import idempotency
from app.infra.errors import Conflict, DomainError, Invalid, NotFound
from app.infra.text import ascii_number, clean_name, clean_text
from app.models import Community
from app.models.base import utcnow
from app.models.case import OPEN_STATUSES, Case, CaseCategory, CaseEvent
from app.models.open311 import Open311Key
from app.people import authz
from app.people.actors import Actor
from app.urls import public_base_url

SPEC_URL = "http://wiki.open311.org/GeoReport_v2"
MAX_RESULTS = 1000
DEFAULT_SPAN = timedelta(days=90)
# No case was filed before the first or will be after the second: a date outside this span
# asks the same question as the span's end, and stays far from datetime's limits (year 1 and
# 9999 overflow once moved to UTC or by DEFAULT_SPAN).
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(9000, 1, 1, tzinfo=UTC)


class Open311Error(DomainError):
    """An error in GeoReport terms: HTTP status + description."""

    def __init__(self, status: int, message, headers: dict | None = None):
        super().__init__(message, headers=headers)
        self.status_code = status


def bad_request(message) -> Open311Error:
    """400."""
    return Open311Error(400, message)


# --- keys ---------------------------------------------------------------------------------


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def issue_key(
    actor: Actor, community_id: int, name: str, once: str | None = None
) -> tuple[str, Open311Key]:
    """Committee staff issue a key to a third-party system; the plain key is shown once.

    `once` is the issuing form's one-time token: the same form sent again (a page refresh, a
    double click) issues nothing more and is refused with `AlreadyIssued`, naming the key it
    issued. Only the key's id is remembered for that, never the key."""
    authz.ensure_manager(actor, community_id)
    name = clean_name(name, "name", max_length=80)
    claimed = None
    if once is not None:
        if not idempotency.ONE_TIME.fullmatch(once):
            raise Invalid(_l("This form was out of date. Please send it again."))
        claimed, first = idempotency.claim(
            idempotency.actor_scope(actor), f"open311-key\0{once}", "open311-key"
        )
        if not first:
            earlier = db.session.get(Open311Key, json.loads(claimed.body or "{}").get("id", 0))
            raise AlreadyIssued(earlier)
    key = "o311_" + secrets.token_urlsafe(30)
    row = Open311Key(
        community_id=community_id,
        name=name,
        key_hash=_hash(key),
        prefix=key[:8],
        created_by_id=actor.person_id,
    )
    db.session.add(row)
    db.session.flush()
    if claimed is not None:
        idempotency.remember(claimed, 201, "application/json", json.dumps({"id": row.id}))
    return key, row


class AlreadyIssued(Conflict):
    """The issuing form was sent again: the key it issued is not shown again."""

    def __init__(self, row: Open311Key | None):
        super().__init__(
            _l(
                "This form was already sent and its key was issued then (%(name)s, starting "
                "%(prefix)s…). It is not shown again: if it was not copied, revoke it and issue "
                "a new one.",
                name=row.name,
                prefix=row.prefix,
            )
            if row is not None
            else _l(
                "This form was already sent and its key was issued then. It is not shown again."
            )
        )
        self.row = row


def list_keys(actor: Actor, community_id: int) -> list[Open311Key]:
    """A community's keys (never the keys themselves)."""
    authz.ensure_manager(actor, community_id)
    return list(
        db.session.scalars(
            select(Open311Key)
            .where(Open311Key.community_id == community_id)
            .order_by(Open311Key.id)
        )
    )


def get_key(actor: Actor, key_id: int) -> Open311Key:
    """One key of a community the actor manages (never the key itself)."""
    row = db.session.get(Open311Key, key_id)
    if row is None:
        raise NotFound()
    authz.ensure_manager(actor, row.community_id)
    return row


def revoke_key(actor: Actor, key_id: int) -> Open311Key:
    """Stop a key from working."""
    row = get_key(actor, key_id)
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        db.session.flush()
    return row


def endpoint_url() -> str:
    """Where this GeoReport v2 endpoint lives (what discovery announces)."""
    return public_base_url() + "/open311/v2/"


CHANGESET = "2026-12-03T00:00:00+08:00"


def discovery() -> dict:
    """Service discovery: the endpoint, who to contact, how to get a key."""
    cfg = current_app.config
    contact = cfg.get("OPEN311_CONTACT") or str(
        _l("The residents' committee of the community (jurisdiction_id) that issued your api_key.")
    )
    key_service = cfg.get("OPEN311_KEY_SERVICE") or str(
        _l(
            "Keys are issued by the residents' committee, one per partner system and community, "
            "in the staff console: %(url)s",
            url=public_base_url() + "/staff/open311-keys",
        )
    )
    return {
        "changeset": CHANGESET,
        "contact": contact,
        "key_service": key_service,
        "endpoints": [
            {
                "specification": SPEC_URL,
                "url": endpoint_url(),
                "changeset": CHANGESET,
                "type": "production",
                "formats": ["text/xml", "application/json"],
            }
        ],
    }


def resolve_key(key: str | None) -> Open311Key | None:
    """The live key row for an api_key, or None."""
    if not key or len(key) > 200:
        return None
    row = db.session.scalar(select(Open311Key).where(Open311Key.key_hash == _hash(key)))
    if row is None or row.revoked_at is not None:
        return None
    return row


def demo_key() -> str:
    """The demo community's key, derived from SECRET_KEY so seeding again finds the same one."""
    secret = current_app.config["SECRET_KEY"].encode()
    return "o311_demo_" + hmac.new(secret, b"linli-demo-open311", hashlib.sha256).hexdigest()[:32]


@seed_hook
def seed_demo_key(ctx: dict) -> None:
    """An Open311 key for the first demo community, printed by `flask seed-demo --json`."""
    community = ctx["communities"]["heping"]["community"]
    key = demo_key()
    if db.session.scalar(select(Open311Key).where(Open311Key.key_hash == _hash(key))) is None:
        db.session.add(
            Open311Key(
                community_id=community.id,
                name="演示：城市 12345 平台",
                key_hash=_hash(key),
                prefix=key[:8],
            )
        )
        db.session.flush()
    ctx["summary"]["open311"] = {
        "api_key": key,
        "jurisdiction_id": community.code,
        "endpoint": "/open311/v2",
    }


# --- jurisdictions and services -----------------------------------------------------------


def _text_arg(value: str | None, name: str, max_length: int = 2000) -> str | None:
    """A query or path value as text the database takes (no NUL or control characters)."""
    if value is None:
        return None
    try:
        return clean_text(value, name, max_length=max_length, required=False)
    except DomainError as error:
        raise _as_open311(error) from None


def jurisdiction(code: str | None, key: Open311Key | None = None) -> Community:
    """The community for a jurisdiction_id (optional when a key or a single community says)."""
    code = _text_arg(code, "jurisdiction_id", max_length=200)
    if code:
        community = db.session.scalar(select(Community).where(Community.code == code[:40]))
        if community is None:
            raise Open311Error(404, _l("jurisdiction_id not found"))
        if key is not None and key.community_id != community.id:
            raise Open311Error(403, _l("This api_key is not valid for this jurisdiction_id"))
        return community
    if key is not None:
        return db.session.get(Community, key.community_id)
    communities = db.session.scalars(select(Community).limit(2)).all()
    if len(communities) == 1:
        return communities[0]
    raise bad_request(_l("jurisdiction_id was not provided"))


def _categories(community: Community) -> list[CaseCategory]:
    return list(
        db.session.scalars(
            select(CaseCategory)
            .where(CaseCategory.community_id == community.id, CaseCategory.active.is_(True))
            .order_by(CaseCategory.sort_order, CaseCategory.id)
        )
    )


def service_list(community: Community) -> list[dict]:
    """GET services: every active category."""
    return [
        {
            "service_code": c.code,
            "service_name": c.name,
            "description": c.description or "",
            "metadata": bool(c.attributes),
            "type": "realtime",
            "keywords": c.icon,
            "group": c.icon,
        }
        for c in _categories(community)
    ]


def _category(community: Community, code: str) -> CaseCategory:
    category = next((c for c in _categories(community) if c.code == code), None)
    if category is None:
        raise Open311Error(404, _l("service_code not found"))
    return category


def service_definition(community: Community, code: str) -> dict:
    """GET services/{code}: the category's attributes."""
    category = _category(community, code)
    return {
        "service_code": category.code,
        "attributes": [
            {
                "variable": True,
                "code": a["code"],
                "datatype": a["datatype"],
                "required": bool(a.get("required")),
                "datatype_description": "",
                "order": a.get("order", i + 1),
                "description": a.get("description", ""),
                "values": [{"key": v["key"], "name": v["name"]} for v in a.get("values") or []],
            }
            for i, a in enumerate(category.attributes or [])
        ],
    }


# --- requests -----------------------------------------------------------------------------


def _float(value, name):
    if value in (None, ""):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise bad_request(_l("%(name)s must be a number", name=name)) from None
    return number


def create_request(
    key: Open311Key, form: dict, attributes: dict, media: bytes | None = None
) -> dict:
    """POST requests: file a case for the key's community; returns the GeoReport response.
    `media` is an uploaded photo's bytes (checked and cleaned like every case photo)."""
    community = jurisdiction(form.get("jurisdiction_id"), key)
    code = form.get("service_code")
    if not code:
        raise bad_request(_l("service_code was not provided"))
    category = _category(community, code)
    lat, lon = _float(form.get("lat"), "lat"), _float(form.get("long"), "long")
    address_id = form.get("address_id") or None
    building_id = None
    if address_id is not None:
        building_id = ascii_number(str(address_id), 12)
        if building_id is None:
            raise bad_request(_l("address_id is not a building of this jurisdiction"))
    if lat is None and lon is None and not form.get("address_string") and building_id is None:
        raise bad_request(_l("A location is required: lat and long, address_string or address_id"))
    name = " ".join(p for p in (form.get("first_name"), form.get("last_name")) if p) or None
    try:
        case = intake.submit_case(
            Actor.anonymous(),
            open311_key=key,
            category_id=category.id,
            description=form.get("description") or "",
            address=form.get("address_string"),
            building_id=building_id,
            latitude=lat,
            longitude=lon,
            contact_name=name,
            contact_phone=form.get("phone") or None,
            contact_email=form.get("email") or None,
            attributes=attributes,
            photos=[media] if media is not None else (),
            media_url=form.get("media_url") or None,
        )
    except DomainError as error:
        raise _as_open311(error) from None
    key.last_used_at = utcnow()
    db.session.flush()
    return {
        "service_request_id": case.reference,
        "token": case.open311_token,
        "service_notice": category.notice or "",
        "account_id": None,
    }


def _as_open311(error: DomainError) -> Open311Error:
    if isinstance(error, Open311Error):
        return error
    detail = "; ".join(
        f"{field}: {' '.join(map(str, msgs)) if isinstance(msgs, list) else msgs}"
        for field, msgs in (error.errors or {}).items()
    )
    message = f"{error.message} {detail}".strip()
    # GeoReport knows 400, 403 and 404; a busy server (503) says so, with Retry-After.
    status = error.status_code if error.status_code in (403, 404, 503) else 400
    return Open311Error(status, message, headers=error.headers)


def _status_notes(case: Case) -> str:
    if case.merged_into is not None:
        return str(_l("Duplicate of %(ref)s", ref=case.merged_into.reference))
    if case.status == "rejected":
        return case.reject_reason or ""
    # Only what staff published: a resident's note or reopen reason may hold a door code.
    latest = db.session.scalar(
        select(CaseEvent)
        .where(
            CaseEvent.case_id == case.id,
            CaseEvent.public.is_(True),
            CaseEvent.note.is_not(None),
            CaseEvent.actor_role.in_(sorted(common.STAFF_VOICES)),
        )
        .order_by(CaseEvent.id.desc())
        .limit(1)
    )
    note = views.published_note(latest) if latest is not None else None
    label = words.status_label(case.status)
    return f"{label}。{note}" if note else label


def _iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(common._tz()).isoformat(timespec="seconds")


def _coordinate(value: float | None, digits: int) -> float | None:
    return round(value, digits) if value is not None else None


def request_view(case: Case, viewer: Open311Key | None = None) -> dict:
    """A case as a GeoReport request: the public view, and for the client that posted it (the
    `viewer` key), what it sent (description, address_string, coordinates to 6 decimals)."""
    own = viewer is not None and case.open311_key_id == viewer.id
    public_photo = next((a for a in case.attachments if a.public and a.kind == "photo"), None)
    # A link the posting client sent is its own words, like the description: only it reads
    # the link back; anyone else sees a photo once staff publish one.
    media = case.media_url if own else None
    if public_photo is not None:
        media = (
            f"{public_base_url()}/open311/v2/media/"
            f"{case.reference}/{public_photo.id}?jurisdiction_id={case.community.code}"
        )
    if case.assignee_organization is not None:
        agency = case.assignee_organization.name
    else:
        agency = f"{case.community.name}居委会"
    return {
        "service_request_id": case.reference,
        "status": "open" if case.status in OPEN_STATUSES else "closed",
        "status_notes": _status_notes(case),
        "service_name": case.category.name,
        "service_code": case.category.code,
        # A resident's words are for the committee (issue #9): only their sender reads them.
        "description": (case.description or None) if own else None,
        "agency_responsible": agency,
        "service_notice": case.category.notice or "",
        "requested_datetime": _iso(case.created_at),
        "updated_datetime": _iso(case.updated_at),
        "expected_datetime": _iso(case.due_at),
        "address": (
            case.address
            if own and case.address
            else case.building.name
            if case.building is not None
            else None
        ),
        "address_id": str(case.building_id) if case.building_id is not None else None,
        "zipcode": None,
        "lat": _coordinate(case.latitude, 6 if own else 3),
        "long": _coordinate(case.longitude, 6 if own else 3),
        "media_url": media,
    }


def _parse_date(value: str, name: str) -> datetime:
    text = value.strip()
    if len(text) > 40 or not (text.isascii() and text.isprintable()):
        raise bad_request(_l("%(name)s must be an ISO 8601 date-time", name=name))
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise bad_request(_l("%(name)s must be an ISO 8601 date-time", name=name)) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=common._tz())
    try:
        parsed = parsed.astimezone(UTC)
    except OverflowError:  # 0001-01-01 east of UTC, 9999-12-31 west of it
        return EARLIEST if parsed.year < EARLIEST.year else LATEST
    return min(max(parsed, EARLIEST), LATEST)


def _visible(viewer: Open311Key | None):
    """Public cases, and the ones the viewer's own client posted (as a reporter sees theirs)."""
    if viewer is None:
        return Case.is_public.is_(True)
    return or_(Case.is_public.is_(True), Case.open311_key_id == viewer.id)


def query_requests(
    community: Community, args: dict, viewer: Open311Key | None = None
) -> list[dict]:
    """GET requests: the standard filters; ids override everything else; 90 days, 1000 max."""
    query = select(Case).where(Case.community_id == community.id, _visible(viewer))
    ids = args.get("service_request_id")
    if ids:
        refs = [common.normalize_reference(r) for r in ids.split(",")[:MAX_RESULTS]]
        query = query.where(Case.reference.in_([r for r in refs if r]))
    else:
        service_code = _text_arg(args.get("service_code"), "service_code", max_length=10_000)
        if service_code:
            codes = [c.strip() for c in service_code.split(",") if c.strip()]
            query = query.join(Case.category).where(CaseCategory.code.in_(codes))
        start = _parse_date(args["start_date"], "start_date") if args.get("start_date") else None
        end = _parse_date(args["end_date"], "end_date") if args.get("end_date") else None
        if start and end and start > end:
            raise bad_request(_l("start_date is after end_date"))
        if start is None and end is None:
            start = utcnow() - DEFAULT_SPAN
        elif start is None:
            start = end - DEFAULT_SPAN
        query = query.where(Case.created_at >= start)
        if end is not None:
            query = query.where(Case.created_at <= end)
        if args.get("status"):
            wanted = {s.strip() for s in args["status"].split(",")}
            if not wanted <= {"open", "closed"}:
                raise bad_request(_l("status must be open or closed"))
            if wanted == {"open"}:
                query = query.where(Case.status.in_(OPEN_STATUSES))
            elif wanted == {"closed"}:
                query = query.where(Case.status.not_in(OPEN_STATUSES))
    rows = db.session.scalars(query.order_by(Case.id.desc()).limit(MAX_RESULTS)).all()
    for case in rows:
        deadlines.evaluate_case(case)
    return [request_view(case, viewer) for case in rows]


def request_by_id(community: Community, reference: str, viewer: Open311Key | None = None) -> dict:
    """GET requests/{id}."""
    normal = common.normalize_reference(reference)
    case = (
        db.session.scalar(
            select(Case).where(
                Case.reference == normal, Case.community_id == community.id, _visible(viewer)
            )
        )
        if normal
        else None
    )
    if case is None:
        raise Open311Error(404, _l("service_request_id not found"))
    deadlines.evaluate_case(case)
    return request_view(case, viewer)


def token_lookup(community: Community, token: str) -> dict:
    """GET tokens/{token}: the request a POST's token stands for."""
    token = _text_arg(token, "token", max_length=200) or ""
    case = db.session.scalar(
        select(Case).where(Case.open311_token == token[:64], Case.community_id == community.id)
    )
    if case is None:
        raise Open311Error(404, _l("token not found"))
    return {"service_request_id": case.reference, "token": token}


def public_media(community: Community, reference: str, attachment_id: int):
    """A public photo of a public case (what media_url points to)."""
    normal = common.normalize_reference(reference)
    case = (
        db.session.scalar(
            select(Case).where(
                Case.reference == normal,
                Case.community_id == community.id,
                Case.is_public.is_(True),
            )
        )
        if normal
        else None
    )
    attachment = None
    if case is not None:
        attachment = next(
            (
                a
                for a in case.attachments
                if a.id == attachment_id and a.public and a.kind == "photo"
            ),
            None,
        )
    if attachment is None:
        raise Open311Error(404, _l("media not found"))
    return attachment
