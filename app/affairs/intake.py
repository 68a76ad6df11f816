"""Raising a case (submit_case) from any channel, with its checks: intake mode and
channel, location, the category's questions, uploads, the hourly limit; and the open cases
like it (similar_cases, for "me too").
"""

from __future__ import annotations

import math
import re
import secrets
from datetime import datetime, timedelta
from typing import NamedTuple

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, bindparam, select, union_all
from sqlalchemy.orm import joinedload
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.sql.elements import UnaryExpression
from sqlalchemy.sql.operators import custom_op

from app.affairs import attachments, categories, counts, views
from app.affairs.common import _event, _now, next_reference
from app.affairs.notify import _tell_reporter
from app.affairs.queries import _default_community, summary_select
from app.extensions import db
from app.infra import ratelimit, uow
from app.infra.errors import Forbidden, Invalid, NotFound, invalid_field
from app.infra.text import (
    clean_name,
    clean_text,
    normalize_email,
    normalize_phone,
)
from app.models import (
    Building,
    Household,
    Person,
)
from app.models.case import (
    OPEN_STATUSES,
    SUBMITTED,
    Case,
    CaseCategory,
)
from app.people import authz
from app.people.actors import Actor

_EARTH_M = 6_371_000.0
_WITH_BUILDING = (joinedload(Household.building),)


def similar_cases(
    actor: Actor,
    *,
    community_id: int | None = None,
    category_id: int,
    building_id: int | None = None,
    latitude: float | None = None,
    longitude: float | None = None,
    exclude_id: int | None = None,
    limit: int = 5,
    rows: bool = False,
) -> list[Case]:
    """Open cases of the same category in the same building or nearby (to add "me too");
    `rows`: as `queries.summary_select()` rows (for views.summary_rows), not cases."""
    authz.require_signed_in(actor)
    community_id = community_id or _default_community(actor)
    authz.ensure_readable(actor, community_id)
    staff = authz.can_see_internal(actor, community_id)
    params = {
        "s_community": community_id,
        "s_category": category_id,
        "s_since": _now() - timedelta(days=60),
    }
    if exclude_id is not None:
        params["s_exclude"] = exclude_id
    # One query per kind of match, each on its own index (ix_case_record_similar,
    # ix_case_record_nearby_open): "same building OR inside the box" could only walk every case of
    # the category. Places only; the few cases suggested are loaded at the end.
    kinds = []
    if building_id is not None:
        kinds.append("building")
        params["s_building"] = building_id
    box = None
    if latitude is not None and longitude is not None:
        _check_coordinates(latitude, longitude)
        radius = current_app.config["CASE_SIMILAR_RADIUS_M"]
        dlat = math.degrees(radius / _EARTH_M)
        dlon = dlat / max(0.01, math.cos(math.radians(latitude)))
        box = (latitude, longitude, radius)
        kinds.append("box")
        params.update(
            s_lat_min=latitude - dlat,
            s_lat_max=latitude + dlat,
            s_lon_min=longitude - dlon,
            s_lon_max=longitude + dlon,
        )
    places = {}
    for kind in kinds:
        query = _similar_places(kind, exclude_id is not None, staff)
        places.update((row.id, row) for row in db.session.execute(query, params))
    found = []
    for case_id in sorted(places, reverse=True)[:50]:
        row = places[case_id]
        if building_id is not None and row.building_id == building_id:
            found.append(case_id)
        elif (
            box is not None
            and row.latitude is not None
            and _distance_m(box[0], box[1], row.latitude, row.longitude) <= box[2]
        ):
            found.append(case_id)
        if len(found) >= limit:
            break
    if not found:
        return []
    if rows:
        query = _similar_rows()
        loaded = {row.id: row for row in db.session.execute(query, {"s_ids": found})}
    else:
        query = select(Case).where(Case.id.in_(found))
        loaded = {case.id: case for case in db.session.scalars(query)}
    return [loaded[case_id] for case_id in found]


_SIMILAR: dict = {}


def _similar_places(kind: str, excluding: bool, staff: bool):
    # Built once per shape, the values bound at execution: SQLAlchemy reuses the statement and
    # its compiled form (the create runs this on every submission).
    dialect = db.session.get_bind().dialect.name
    key = (kind, excluding, staff, dialect)
    if key not in _SIMILAR:
        community, created = Case.community_id, Case.created_at
        if dialect == "sqlite":
            # Only the two indexes below serve these walks; an index on the community or the
            # date (the inbox's, the monthly figures') would read far more, and without
            # statistics SQLite may pick one. `+column` keeps a term off every index.
            community, created = _not_indexed(community), _not_indexed(created)
        where = [
            community == bindparam("s_community"),
            Case.category_id == bindparam("s_category"),
            Case.merged_into_id.is_(None),
            created >= bindparam("s_since", type_=Case.created_at.type),
        ]
        if excluding:
            where.append(Case.id != bindparam("s_exclude"))
        if not staff:
            where.append(Case.is_public.is_(True))
        if kind == "building":
            where.append(Case.building_id == bindparam("s_building"))
        else:
            where.append(
                and_(
                    Case.latitude.between(bindparam("s_lat_min"), bindparam("s_lat_max")),
                    Case.longitude.between(bindparam("s_lon_min"), bindparam("s_lon_max")),
                )
            )
        columns = (Case.id, Case.building_id, Case.latitude, Case.longitude)
        if dialect == "sqlite":
            # Both indexes go on with id after the status and hold every column read here:
            # SQLite walks each open status newest first without visiting the table, and
            # stops a walk once it can no longer reach the newest 50.
            _SIMILAR[key] = (
                select(*columns)
                .where(*where, Case.status.in_(OPEN_STATUSES))
                .order_by(Case.id.desc())
                .limit(50)
            )
        else:
            # PostgreSQL would read every match of the five statuses and sort them: here each
            # open status is its own walk that stops at its 50th match, and the newest 50 of
            # those (a merge) are the same 50.
            arms = [
                select(*columns)
                .where(*where, Case.status == status)
                .order_by(Case.id.desc())
                .limit(50)
                .subquery()
                for status in OPEN_STATUSES
            ]
            newest = union_all(*(select(*arm.c) for arm in arms)).subquery()
            _SIMILAR[key] = select(*newest.c).order_by(newest.c.id.desc()).limit(50)
    return _SIMILAR[key]


def _not_indexed(column):
    return UnaryExpression(column.expression, operator=custom_op("+"), type_=column.type)


def _similar_rows():
    if "rows" not in _SIMILAR:
        _SIMILAR["rows"] = summary_select().where(Case.id.in_(bindparam("s_ids", expanding=True)))
    return _SIMILAR["rows"]


def _distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * _EARTH_M * math.asin(math.sqrt(a))


def _check_coordinates(latitude, longitude) -> None:
    for name, value, bound in (("latitude", latitude, 90), ("longitude", longitude, 180)):
        if (
            not isinstance(value, int | float)
            or isinstance(value, bool)
            or not math.isfinite(value)
            or abs(value) > bound
        ):
            raise invalid_field(name, _l("Not a valid coordinate."))


def _check_attribute_answers(category: CaseCategory, answers) -> dict:
    answers = answers or {}
    if not isinstance(answers, dict):
        raise invalid_field("attributes", _l("Answers must be given per question."))
    spec = {a["code"]: a for a in category.attributes or []}
    unknown = set(answers) - set(spec)
    if unknown:
        raise invalid_field(
            "attributes", _l("Unknown question: %(code)s", code=sorted(unknown)[0][:40])
        )
    out = {}
    for code, question in spec.items():
        value = answers.get(code)
        if value in (None, "", []):
            if question.get("required"):
                raise invalid_field(
                    "attributes", _l("Please answer: %(q)s", q=question.get("description") or code)
                )
            continue
        keys = {v["key"] for v in question.get("values") or []}
        kind = question.get("datatype")
        if kind == "singlevaluelist":
            if not isinstance(value, str) or value not in keys:
                raise invalid_field("attributes", _l("Please choose one of the options."))
        elif kind == "multivaluelist":
            if isinstance(value, str):
                value = [value]
            if (
                not isinstance(value, list)
                or not all(isinstance(v, str) for v in value)
                or not set(value) <= keys
            ):
                raise invalid_field("attributes", _l("Please choose among the options."))
        elif kind == "number":
            try:
                value = float(value)
            except (TypeError, ValueError):
                raise invalid_field("attributes", _l("Please enter a number.")) from None
            if not math.isfinite(value):
                raise invalid_field("attributes", _l("Please enter a number."))
        else:
            value = clean_text(str(value), "attributes", max_length=500, multiline=kind == "text")
        out[code] = value
    return out


def _location(community_id: int, *, building_id, household_id, address, latitude, longitude):
    building = household = None
    if household_id is not None:
        household = db.session.get(Household, household_id)
        if household is None or household.building.community_id != community_id:
            raise invalid_field("household_id", _l("Unknown flat."))
        if building_id is not None and building_id != household.building_id:
            raise invalid_field("household_id", _l("The flat is not in this building."))
        building = household.building
    elif building_id is not None:
        building = db.session.get(Building, building_id)
        if building is None or building.community_id != community_id:
            raise invalid_field("building_id", _l("Unknown building."))
    address = clean_text(address or "", "address", max_length=200, required=False) or None
    if (latitude is None) != (longitude is None):
        raise invalid_field("latitude", _l("Give both latitude and longitude."))
    if latitude is not None:
        _check_coordinates(latitude, longitude)
    elif building is not None and building.latitude is not None:
        latitude, longitude = building.latitude, building.longitude
    return building, household, address, latitude, longitude


def _prepare_uploads(audio, photos) -> list[dict]:
    prepared = []
    if audio is not None:
        data = audio[0] if isinstance(audio, tuple | list) else audio
        prepared.append(attachments.prepare(data, expect="audio"))
    for photo in photos or ():
        data = photo[0] if isinstance(photo, tuple | list) else photo
        prepared.append(attachments.prepare(data, expect="photo"))
    if len(prepared) > current_app.config["CASE_ATTACHMENTS_MAX"]:
        raise invalid_field("photos", _l("Too many files."))
    return prepared


def submit_case(
    actor: Actor,
    *,
    description: str | None = None,
    category_id: int | None = None,
    category_code: str | None = None,
    community_id: int | None = None,
    channel: str | None = None,
    building_id: int | None = None,
    household_id: int | None = None,
    address: str | None = None,
    latitude: float | None = None,
    longitude: float | None = None,
    anonymous: bool = False,
    is_public: bool | None = None,
    reporter_id: int | None = None,
    contact_name: str | None = None,
    contact_phone: str | None = None,
    contact_email: str | None = None,
    transcript: str | None = None,
    audio: tuple[bytes, str] | bytes | None = None,
    photos=(),
    attributes: dict | None = None,
    media_url: str | None = None,
    open311_key=None,
    before_write=None,
) -> Case:
    """Raise a case from any channel; returns it with its public reference.

    - resident (channel app/voice/kiosk): the case is theirs unless `anonymous` (category must
      allow it); a family proxy (actor.on_behalf_of) files for the resident (channel proxy).
    - staff / grid worker (phone, counter, patrol): for a resident (`reporter_id`), for a
      caller who gives `contact_name`/`contact_phone`, anonymously, or found on patrol.
    - kiosk device (kiosk/voice): anonymous, or with a self-declared contact; the screen's
      building is the default location.
    - voice: `transcript` (used as the description when none is given) and `audio`
      (bytes, declared mime) kept as uploaded; `photos` are bytes or (bytes, name).
    - Open311: `open311_key` (a live key row) instead of a signed-in actor; the description
      may be empty (GeoReport makes it optional: the category and its attributes say what it
      is), and `contact_email` counts as a contact.
    - `before_write(place)`: called once everything is checked, before the first write, with
      the case's community_id, category_id, building_id, latitude and longitude (reads done
      there do not hold SQLite's write lock).
    """
    now = _now()
    if open311_key is not None:
        community_id = open311_key.community_id
        channel, mode = "open311", "open311"
    else:
        authz.require_signed_in(actor)
        community_id = community_id or _default_community(actor)
        authz.ensure_readable(actor, community_id)
        mode = _intake_mode(actor, community_id, channel, reporter_id, contact_name, contact_phone)
        channel = (
            channel
            or {
                "device": "kiosk",
                "proxy": "proxy",
                "resident": "app",
                "worker": "patrol" if actor.grid_ids else "phone",
            }[mode]
        )
        allowed = {
            "device": ("kiosk", "voice"),
            "proxy": ("proxy", "voice", "kiosk"),
            "resident": ("app", "voice", "kiosk"),
            "worker": ("phone", "counter", "patrol", "voice"),
        }[mode]
        if channel not in allowed:
            raise invalid_field(
                "channel", _l("Not a channel for this account: %(c)s", c=", ".join(allowed))
            )
    category = categories.find_category(community_id, category_id=category_id, code=category_code)
    transcript = (
        clean_text(
            transcript or "",
            "transcript",
            max_length=4000,
            multiline=True,
            required=channel == "voice" and not description,
        )
        or None
    )
    description = clean_text(
        description if description is not None else (transcript or ""),
        "description",
        max_length=2000,
        multiline=True,
        required=open311_key is None,
    )
    building, household, address, latitude, longitude = _location(
        community_id,
        building_id=building_id,
        household_id=household_id,
        address=address,
        latitude=latitude,
        longitude=longitude,
    )
    answers = _check_attribute_answers(category, attributes)
    if media_url is not None:
        media_url = clean_text(media_url, "media_url", max_length=500, required=False) or None
        if media_url and not re.match(r"^https?://[^\s/]+", media_url):
            raise invalid_field("media_url", _l("Must be an http(s) address."))

    reporter = proxy = submitted_by = None
    contact_name = (
        clean_name(contact_name or "", "contact_name", max_length=80, required=False) or None
    )
    contact_phone = normalize_phone(contact_phone, "contact_phone") if contact_phone else None
    contact_email = normalize_email(contact_email, "contact_email") if contact_email else None
    if mode in ("resident", "proxy") and not anonymous:
        reporter = actor.subject
        proxy = actor.person if mode == "proxy" else None
        contact_name = contact_phone = contact_email = None
    elif mode == "worker":
        submitted_by = actor.person
        if reporter_id is not None:
            reporter = db.session.get(Person, reporter_id)
            if reporter is None or reporter.community_id != community_id:
                raise invalid_field("reporter_id", _l("Not a resident of this community."))
            contact_name = contact_phone = contact_email = None
    if anonymous:
        reporter = proxy = None
        contact_name = contact_phone = contact_email = None
    anonymous = (
        reporter is None
        and contact_name is None
        and contact_phone is None
        and contact_email is None
        and channel != "patrol"
    )
    if anonymous and not category.allow_anonymous:
        raise Invalid(
            _l("For this kind of matter we need to know who you are, so we can get back to you."),
            errors={"anonymous": [str(_l("Not allowed here."))]},
        )
    if building is None and household is None and address is None and latitude is None:
        if actor.device is not None and actor.device.building is not None:
            building = actor.device.building
            latitude, longitude = building.latitude, building.longitude
        elif reporter is not None and reporter.household_id is not None:
            # The flat with its building in one statement (two lazy loads otherwise).
            household = db.session.get(Household, reporter.household_id, options=_WITH_BUILDING)
            building = household.building
            latitude, longitude = building.latitude, building.longitude
    public = category.is_public if is_public is None else bool(is_public) and category.is_public
    uploads = _prepare_uploads(audio, photos)
    if before_write is not None:
        before_write(
            {
                "community_id": community_id,
                "category_id": category.id,
                "building_id": building.id if building is not None else None,
                "latitude": latitude,
                "longitude": longitude,
            }
        )
    _count_new_case(actor, mode, now)

    values = dict(
        reference=next_reference(now),
        community_id=community_id,
        category_id=category.id,
        status=SUBMITTED,
        channel=channel,
        description=description,
        transcript=transcript,
        is_public=public,
        anonymous=anonymous,
        reporter_id=reporter.id if reporter is not None else None,
        proxy_id=proxy.id if proxy is not None else None,
        submitted_by_id=submitted_by.id if submitted_by is not None else None,
        device_id=actor.device.id if actor is not None and actor.device is not None else None,
        open311_key_id=open311_key.id if open311_key is not None else None,
        contact_name=contact_name,
        contact_phone=contact_phone,
        contact_email=contact_email,
        building_id=building.id if building is not None else None,
        household_id=household.id if household is not None else None,
        grid_id=building.grid_id if building is not None else None,
        address=address,
        latitude=latitude,
        longitude=longitude,
        attributes=answers,
        media_url=media_url,
        open311_token=secrets.token_urlsafe(16) if open311_key is not None else None,
        due_at=now + timedelta(hours=category.deadline_hours),
        created_at=now,
        updated_at=now,
    )
    # The row by one plain INSERT, the Case as if loaded: not through the unit of work, whose
    # flush worked out what to write from the case's fifteen relationships (in process 0.6 ms
    # less of SQLite's write lock and 0.9 ms less per create; bench/PROFILE.md round 11). What
    # a flush would do beside the INSERT is done here: the status counts, and the relationships
    # and collections set as loaded (the audit entry is insert_loaded's).
    case = uow.insert_loaded(Case, values)
    counts.note_new_case(db.session, case)
    for name, value in (
        ("category", category),
        ("reporter", reporter),
        ("proxy", proxy),
        ("submitted_by", submitted_by),
        ("building", building),
        ("household", household),
        # A new case has no files yet (uploads are added below): no query to find none.
        ("attachments", []),
    ):
        set_committed_value(case, name, value)
    role = {"device": "device", "open311": "open311", "worker": "staff"}.get(mode, "reporter")
    event = _event(
        case,
        "submitted",
        actor,
        to_status=SUBMITTED,
        public=True,
        role=role,
        data={"channel": channel},
        hide_person=anonymous and mode in ("resident", "proxy"),
        linked=False,
    )
    set_committed_value(case, "events", [event])
    uploader_id = None if anonymous or actor is None or actor.person is None else actor.person.id
    for item in uploads:
        attachments.store(
            case, item, uploaded_by_id=uploader_id, device_id=case.device_id, uploader_role=role
        )
    if reporter is not None:
        _tell_reporter(
            case,
            "case_received",
            _l("We have received your request"),
            _l("Your reference is %(ref)s. We will tell you how it goes.", ref=case.reference),
        )
    db.session.flush()
    return case


class Submitted(NamedTuple):
    """A case just raised, as the app shows it back: the case view, plus, when asked, under
    "similar" the open public cases like it (to say "me too" next time)."""

    case: Case
    view: dict


def submit(actor: Actor, *, with_similar: bool = False, **fields) -> Submitted:
    """The whole submission for a channel that answers with the case: submit_case(**fields),
    then the case as the actor sees it; `with_similar`: with the similar open cases nearby
    (two or three more statements and about a fifth of the create's time, so only on request:
    none of our own clients shows them after submitting)."""
    similar = []

    def suggest(place: dict) -> None:
        # Found before the case is written (so it cannot be among them), outside the write lock.
        similar.extend(similar_cases(actor, rows=True, **place))

    case = submit_case(actor, before_write=suggest if with_similar else None, **fields)
    view = views.case_view(actor, case)
    if with_similar:
        view["similar"] = views.summary_rows(similar, "public")
    return Submitted(case, view)


def _count_new_case(actor: Actor, mode: str, now: datetime) -> None:
    """At most CASE_CREATE_PER_HOUR new cases an hour per person (a family proxy counts as
    themselves) and CASE_CREATE_PER_HOUR_DEVICE per lobby screen; workers taking cases down
    and Open311 clients are not limited here. The count is part of the case's transaction: a
    request that fails, or a retry answered from its Idempotency-Key, does not count."""
    cfg = current_app.config
    if mode == "device":
        key, limit = f"case:d:{actor.device.id}", cfg["CASE_CREATE_PER_HOUR_DEVICE"]
    elif mode in ("resident", "proxy"):
        key, limit = f"case:p:{actor.person.id}", cfg["CASE_CREATE_PER_HOUR"]
    else:
        return
    if limit <= 0:
        return
    ratelimit.hit(
        key,
        limit=limit,
        window=timedelta(hours=1),
        now=now,
        message=_l(
            "You have sent many requests in the last hour. Please wait a while before sending "
            "another, or call the residents' committee."
        ),
    )


def _intake_mode(
    actor: Actor, community_id: int, channel, reporter_id, contact_name, contact_phone
) -> str:
    if actor.device is not None:
        if reporter_id is not None:
            raise invalid_field("reporter_id", _l("A screen cannot file for a named resident."))
        return "device"
    worker = (
        authz.can_manage_community(actor, community_id) or community_id in actor.grid_community_ids
    )
    wants_worker = (
        channel in ("phone", "counter", "patrol")
        or reporter_id is not None
        or (worker and (contact_name or contact_phone))
    )
    if wants_worker:
        if not worker:
            raise Forbidden()
        return "worker"
    if actor.on_behalf_of is not None:
        if actor.on_behalf_of.community_id != community_id:
            raise NotFound()
        return "proxy"
    if actor.person is not None and actor.person.community_id == community_id:
        return "resident"
    if worker:
        return "worker"
    raise Forbidden()
