"""Community affairs (诉求): one service for a case's whole life, on every channel.

submitted → accepted → assigned → in_progress → resolved → closed, plus rejected (with a
reason) and reopened. `RULES` below is the state machine: which action moves which status where,
and who may do it. Every step writes a timeline event (actor, time, note, public or internal).

Channels call the same functions: the app and the easy-mode client (resident, or a family proxy
acting for one), staff taking a phone call or a visit (代办), grid workers on patrol, lobby
kiosks (device actor), the voice assistant (transcript + audio) and Open311 clients (API key).

Privacy: the public view shows category, building-level location, status and the notes staff
published — never the reporter, nor anything a resident wrote (description, notes, reasons,
rating comments: `published_note`). An anonymous case keeps no link to any person. Workers see
the reporter (phone masked unless `authz.can_see_contact`), and each such read is audited.
"""

from __future__ import annotations

import math
import re
import secrets
from collections import Counter
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from flask import current_app
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, bindparam, delete, func, insert, inspect, or_, select, update
from sqlalchemy import event as sa_event
from sqlalchemy.orm import Session, selectinload

from app.affairs import attachments, categories
from app.demo import seed_hook
from app.extensions import db
from app.infra import audit, ratelimit
from app.infra.errors import Conflict, Forbidden, Invalid, NotFound, invalid_field
from app.infra.text import (
    clean_name,
    clean_text,
    mask_email,
    mask_phone,
    normalize_email,
    normalize_phone,
)
from app.models import (
    Building,
    Community,
    Grid,
    Household,
    Organization,
    Person,
    RoleAssignment,
)
from app.models.base import utcnow
from app.models.case import (
    ACCEPTED,
    ASSIGNED,
    CASE_STATUSES,
    CHANNELS,
    CLOSED,
    IN_PROGRESS,
    OPEN_STATUSES,
    REJECTED,
    REOPENED,
    RESOLVED,
    SUBMITTED,
    Case,
    CaseCategory,
    CaseEvent,
    CaseSerial,
    CaseStatusCount,
    CaseSupport,
)
from app.people import authz, notifications
from app.people.actors import Actor

# --- the state machine -------------------------------------------------------------------
# (action, from statuses, to status, who). Who: manager = committee staff / admin / street
# official with write access; assignee = the person or a member of the organization the case
# is assigned to; reporter = the resident it is for (or their confirmed family proxy);
# filer_device = the kiosk that filed an anonymous case (nobody else can confirm it).
RULES: tuple[tuple[str, tuple[str, ...], str, frozenset[str]], ...] = (
    ("accept", (SUBMITTED, REOPENED), ACCEPTED, frozenset({"manager"})),
    ("reject", (SUBMITTED, ACCEPTED, REOPENED), REJECTED, frozenset({"manager"})),
    (
        "assign",
        (SUBMITTED, ACCEPTED, ASSIGNED, IN_PROGRESS, REOPENED),
        ASSIGNED,
        frozenset({"manager"}),
    ),
    ("start", (ASSIGNED,), IN_PROGRESS, frozenset({"assignee", "manager"})),
    ("resolve", (ASSIGNED, IN_PROGRESS), RESOLVED, frozenset({"assignee", "manager"})),
    ("confirm", (RESOLVED,), CLOSED, frozenset({"reporter", "filer_device"})),
    ("reopen", (RESOLVED,), REOPENED, frozenset({"reporter", "filer_device", "manager"})),
    ("reopen", (CLOSED,), REOPENED, frozenset({"manager"})),
    ("close", (RESOLVED,), CLOSED, frozenset({"manager"})),
    ("merge", OPEN_STATUSES, CLOSED, frozenset({"manager"})),
)
ACTIONS = tuple(dict.fromkeys(rule[0] for rule in RULES))
# Who works on a case (notes, photos): managers, the community's grid workers, the assignee.
# Street officials without write access read everything but change nothing.
_WORKERS = frozenset({"manager", "fieldworker", "assignee"})
_NOTE_TAKERS = _WORKERS | {"reporter"}
# Timeline authors (CaseEvent.actor_role) who speak for the committee: only their public notes
# are ever published. A resident (or their family proxy), a lobby screen or a partner system may
# write to the committee, never to the neighbours: see published_note.
STAFF_VOICES = frozenset({"staff", "assignee", "system"})
# Actions done through their own function (they need more than a note).
_SPECIAL = ("assign", "merge")

STATUS_LABELS = {
    SUBMITTED: _l("Submitted"),
    ACCEPTED: _l("Accepted"),
    ASSIGNED: _l("Assigned to a handler"),
    IN_PROGRESS: _l("Being handled"),
    RESOLVED: _l("Resolved, waiting for confirmation"),
    CLOSED: _l("Closed"),
    REJECTED: _l("Not accepted"),
    REOPENED: _l("Reopened"),
}
CHANNEL_LABELS = {
    "app": _l("Phone app"),
    "proxy": _l("Family member"),
    "phone": _l("Phone call"),
    "counter": _l("At the office"),
    "kiosk": _l("Lobby screen"),
    "voice": _l("Voice"),
    "patrol": _l("Grid worker patrol"),
    "open311": _l("Partner system"),
}
EVENT_LABELS = {
    "submitted": _l("Submitted"),
    "accept": _l("Accepted"),
    "reject": _l("Not accepted"),
    "assigned": _l("Assigned"),
    "start": _l("Work started"),
    "resolve": _l("Resolved"),
    "confirm": _l("Confirmed by the resident"),
    "reopen": _l("Reopened"),
    "close": _l("Closed"),
    "note": _l("Note"),
    "merged": _l("Merged into another case"),
    "merged_in": _l("Another case merged in"),
    "due_soon": _l("Deadline approaching"),
    "overdue": _l("Past its deadline"),
    "escalated": _l("Escalated to the street office"),
    "auto_closed": _l("Closed automatically"),
    "rated": _l("Rated"),
    "attachment": _l("File added"),
    "updated": _l("Details changed"),
}
ROLE_LABELS = {
    "reporter": _l("Resident"),
    "staff": _l("Residents' committee"),
    "assignee": _l("Handler"),
    "device": _l("Lobby screen"),
    "system": _l("System"),
    "open311": _l("Partner system"),
}
ACTION_LABELS = {
    "accept": _l("Accept"),
    "reject": _l("Reject"),
    "assign": _l("Assign"),
    "start": _l("Start work"),
    "resolve": _l("Mark resolved"),
    "confirm": _l("Confirm resolved"),
    "reopen": _l("Reopen"),
    "close": _l("Close"),
    "merge": _l("Merge"),
}

# What a list row shows, loaded for the whole page at once (not one query per row).
_SUMMARY_LOADS = (
    selectinload(Case.category),
    selectinload(Case.building),
    selectinload(Case.household).selectinload(Household.building),
    selectinload(Case.assignee_organization),
    selectinload(Case.assignee_person),
)
LIST_SWEEP_LIMIT = 20

_clock: ContextVar[datetime | None] = ContextVar("linli_case_clock", default=None)
_REFERENCE = re.compile(r"^\s*(\d{4})\s*[-－—–_ ]?\s*(\d{1,9})\s*$")
_DIGITS_ZH = "零一二三四五六七八九"
_EARTH_M = 6_371_000.0


def _now() -> datetime:
    return _clock.get() or utcnow()


@contextmanager
def clock(at: datetime):
    """Make the service see `at` as the current time (demo data with a past; never requests)."""
    token = _clock.set(at)
    try:
        yield
    finally:
        _clock.reset(token)


def _tz() -> ZoneInfo:
    return ZoneInfo(current_app.config["TIMEZONE"])


# --- references ---------------------------------------------------------------------------


def next_reference(now: datetime | None = None) -> str:
    """The next public reference of the year (Asia/Shanghai), e.g. 2026-000123.

    The year's counter row is incremented with UPDATE … RETURNING, which locks it until the
    transaction ends (a row lock on PostgreSQL, the write lock on SQLite), so concurrent
    submissions never share a number. It runs on the request's own connection and transaction:
    taking a second pooled connection while the request holds one deadlocks the pool under a
    burst (every connection held by a request waiting for another). Submissions therefore
    queue on the counter row from this point to their commit, so callers take the number as
    late as they can.
    """
    year = (now or _now()).astimezone(_tz()).year
    table = CaseSerial.__table__
    bump = (
        update(table)
        .where(table.c.year == year)
        .values(last_value=table.c.last_value + 1)
        .returning(table.c.last_value)
    )
    if db.session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as dialect_insert
    else:
        from sqlalchemy.dialects.sqlite import insert as dialect_insert
    create = (
        dialect_insert(table)
        .values(year=year, last_value=0)
        .on_conflict_do_nothing(index_elements=["year"])
    )
    value = db.session.execute(bump).scalar()
    if value is None:
        # The year's first case: a concurrent first one waits on the new row, then bumps it.
        db.session.execute(create)
        value = db.session.execute(bump).scalar()
    return f"{year}-{value:06d}"


def normalize_reference(text: str) -> str | None:
    """'2026-000123', '2026 123', '2026000123' → '2026-000123' (None when not a reference)."""
    if not isinstance(text, str) or len(text) > 40:
        return None
    compact = text.strip()
    match = _REFERENCE.match(compact)
    if match is None:
        digits = re.sub(r"\D", "", compact)
        if len(digits) < 5 or len(digits) > 13:
            return None
        year, serial = digits[:4], digits[4:]
    else:
        year, serial = match.groups()
    return f"{year}-{int(serial):06d}"


def reference_digits(reference: str) -> str:
    """Spaced for reading digit by digit on a screen: '2 0 2 6 - 0 0 0 1 2 3'."""
    return " ".join(reference)


def spoken_reference(reference: str, locale: str | None = None) -> str:
    """Digit by digit for text-to-speech: '二零二六，零零零一二三' (English: '2 0 2 6, 0 0 0 …')."""
    year, _sep, serial = reference.partition("-")
    if locale is None:
        locale = str(get_locale() or "zh_CN")
    if locale.startswith("zh"):
        say = lambda part: "".join(_DIGITS_ZH[int(c)] for c in part if c.isdigit())  # noqa: E731
        return f"{say(year)}，{say(serial)}"
    return f"{' '.join(year)}, {' '.join(serial)}"


# --- who is the actor to this case ---------------------------------------------------------


def _relation(actor: Actor, case: Case) -> frozenset[str]:
    rel: set[str] = set()
    if actor.is_anonymous:
        return frozenset()
    community_id = case.community_id
    if authz.can_manage_community(actor, community_id):
        rel.add("manager")
    if authz.can_see_internal(actor, community_id):
        rel.add("staff")
    if community_id in actor.grid_community_ids:
        rel.add("fieldworker")
    if actor.person is not None and case.assignee_person_id == actor.person.id:
        rel.add("assignee")
    # An organization's member works its cases only in the communities they were granted.
    if case.assignee_organization_id and actor.works_for(
        case.assignee_organization_id, community_id
    ):
        rel.add("assignee")
    subject = actor.subject
    if subject is not None and case.reporter_id is not None and case.reporter_id == subject.id:
        rel.add("reporter")
    if actor.device is not None and case.device_id == actor.device.id and case.reporter_id is None:
        rel.add("filer_device")
    if authz.can_read_community(actor, community_id):
        rel.add("reader")
    return frozenset(rel)


def _level(rel: frozenset[str], case: Case) -> str | None:
    """How much of the case the actor sees: staff > assignee > reporter > public."""
    if "staff" in rel or "manager" in rel:
        return "staff"
    if "assignee" in rel:
        return "assignee"
    if "reporter" in rel:
        return "reporter"
    if "filer_device" in rel or ("reader" in rel and case.is_public):
        return "public"
    return None


def _actor_role(actor: Actor, case: Case | None = None) -> str:
    if actor.device is not None:
        return "device"
    if actor.person is None:
        return "system"
    if case is not None:
        rel = _relation(actor, case)
        if "reporter" in rel:
            return "reporter"
        if "assignee" in rel and "staff" not in rel:
            return "assignee"
        if rel & {"staff", "manager", "fieldworker"}:
            return "staff"
    return "reporter"


def _event(
    case: Case,
    kind: str,
    actor: Actor | None,
    *,
    note: str | None = None,
    public: bool = False,
    from_status: str | None = None,
    to_status: str | None = None,
    role: str | None = None,
    data: dict | None = None,
    hide_person: bool = False,
) -> CaseEvent:
    actor = actor or Actor.anonymous()
    event = CaseEvent(
        case=case,
        kind=kind,
        at=_now(),
        note=note,
        public=public,
        from_status=from_status,
        to_status=to_status,
        actor_person_id=None if hide_person or actor.person is None else actor.person.id,
        on_behalf_of_id=None
        if hide_person or actor.on_behalf_of is None
        else actor.on_behalf_of.id,
        actor_device_id=actor.device.id if actor.device is not None else None,
        actor_role=role or (_actor_role(actor, case) if actor.person or actor.device else "system"),
        data=data or {},
    )
    db.session.add(event)
    return event


# --- reading ------------------------------------------------------------------------------


def get_case(actor: Actor, case_id: int, *, evaluate: bool = True) -> Case:
    """A case the actor may see (another community's, or a private one: not found)."""
    authz.require_signed_in(actor)
    case = db.session.get(Case, case_id)
    if case is None or _level(_relation(actor, case), case) is None:
        raise NotFound()
    if evaluate:
        evaluate_case(case)
    return case


def get_case_by_reference(actor: Actor, reference: str) -> Case:
    """A case by its public reference (any common spelling)."""
    normal = normalize_reference(reference)
    if normal is None:
        raise invalid_field("reference", _l("A reference looks like 2026-000123."))
    case_id = db.session.scalar(select(Case.id).where(Case.reference == normal))
    if case_id is None:
        raise NotFound()
    return get_case(actor, case_id)


def _default_community(actor: Actor) -> int:
    if actor.device is not None:
        return actor.device.community_id
    subject = actor.subject
    if subject is not None and subject.community_id:
        return subject.community_id
    ids = (
        actor.staff_community_ids
        | actor.grid_community_ids
        | actor.official_community_ids
        | actor.organization_community_ids
    )
    if len(ids) == 1:
        return next(iter(ids))
    raise invalid_field("community_id", _l("Please choose a community."))


def _status_filter(query, status: str | None):
    if status in (None, "", "all"):
        return query
    if status == "open":
        return query.where(Case.status.in_(OPEN_STATUSES))
    if status not in CASE_STATUSES:
        raise invalid_field("status", ", ".join(("open", "all", *CASE_STATUSES)))
    return query.where(Case.status == status)


def list_cases(
    actor: Actor,
    *,
    community_id: int | None = None,
    mine: bool = False,
    status: str | None = None,
    category_id: int | None = None,
    grid_id: int | None = None,
    overdue: bool | None = None,
    channel: str | None = None,
    q: str | None = None,
    page: int = 1,
    per_page: int = 50,
):
    """Cases the actor may list: their own (mine), or a community's — all of them for its
    workers, the assigned ones for an organization's members, the public ones for residents
    and screens. Returns (page, level, community_id, counts): community_id is None for mine,
    counts per status only for the community's workers (the staff inbox)."""
    authz.require_signed_in(actor)
    now = _now()
    counts = None
    if mine:
        authz.require_person(actor)
        conditions = [Case.reporter_id == actor.subject.id]
        level = "reporter"
    else:
        community_id = community_id or _default_community(actor)
        authz.ensure_readable(actor, community_id)
        # Evaluated on read, not only by the scheduler; bounded, so a backlog never makes one
        # page slow (the scheduler drains the rest).
        run_due_work(community_id=community_id, limit=LIST_SWEEP_LIMIT)
        conditions = [Case.community_id == community_id]
        if authz.can_see_internal(actor, community_id):
            level = "staff"
            counts = status_counts(actor, community_id)
        elif orgs := actor.organizations_in(community_id):
            conditions.append(Case.assignee_organization_id.in_(orgs))
            level = "assignee"
        else:
            conditions.append(Case.is_public.is_(True))
            level = "public"
    if status not in (None, "", "all"):
        if status == "open":
            conditions.append(Case.status.in_(OPEN_STATUSES))
        elif status in CASE_STATUSES:
            conditions.append(Case.status == status)
        else:
            raise invalid_field("status", ", ".join(("open", "all", *CASE_STATUSES)))
    filtered = False
    if category_id is not None:
        conditions.append(Case.category_id == category_id)
        filtered = True
    if level in ("staff", "assignee", "reporter"):
        if grid_id is not None:
            conditions.append(Case.grid_id == grid_id)
            filtered = True
        if channel is not None:
            if channel not in CHANNELS:
                raise invalid_field("channel", ", ".join(CHANNELS))
            conditions.append(Case.channel == channel)
            filtered = True
    if q:
        normal = normalize_reference(q)
        if normal is None:
            raise invalid_field("q", _l("A reference looks like 2026-000123."))
        conditions.append(Case.reference == normal)
        filtered = True
    if overdue is True:
        conditions += [Case.status.in_(OPEN_STATUSES), Case.due_at < now]
        order = (Case.due_at, Case.id)
        filtered = True
    else:
        if overdue is False:
            conditions.append(
                or_(Case.status.not_in(OPEN_STATUSES), Case.due_at.is_(None), Case.due_at >= now)
            )
            filtered = True
        order = (Case.id.desc(),)
    query = select(Case).where(*conditions).order_by(*order).options(*_SUMMARY_LOADS)
    page_obj = db.paginate(query, page=page, per_page=per_page, error_out=False, count=False)
    if counts is not None and not filtered:
        # The staff inbox already counted per status: no second count over the community.
        page_obj.total = (
            counts["open"]
            if status == "open"
            else counts[status]
            if status in CASE_STATUSES
            else sum(counts[s] for s in CASE_STATUSES)
        )
    else:
        page_obj.total = (
            db.session.scalar(select(func.count()).select_from(Case).where(*conditions)) or 0
        )
    return page_obj, level, None if mine else community_id, counts


def status_counts(actor: Actor, community_id: int) -> dict:
    """Cases per status in a community, plus how many are overdue (its workers)."""
    authz.ensure_internal(actor, community_id)
    # The kept figures (a handful of rows, not a scan of the community's cases), plus the
    # moves this transaction has flushed but not committed yet.
    rows = db.session.execute(
        select(CaseStatusCount.status, CaseStatusCount.total).where(
            CaseStatusCount.community_id == community_id
        )
    ).all()
    counts = {status: 0 for status in CASE_STATUSES}
    for status, n in rows:
        counts[status] = counts.get(status, 0) + n
    for (moved_community, status), n in db.session.info.get(_MOVES, {}).items():
        if moved_community == community_id:
            counts[status] = counts.get(status, 0) + n
    counts["open"] = sum(counts[s] for s in OPEN_STATUSES)
    counts["overdue"] = (
        db.session.scalar(
            select(func.count())
            .select_from(Case)
            .where(
                Case.community_id == community_id,
                Case.status.in_(OPEN_STATUSES),
                Case.due_at < _now(),
            )
        )
        or 0
    )
    return counts


# --- counts per status, kept ----------------------------------------------------------------
# Counting a community's cases per status reads every one of them, whatever the index; the
# staff inbox shows those counts on every page. So case_status_count keeps them: each flush
# notes the status moves of the Case rows it wrote (ORM changes; a status changed by a Core
# UPDATE calls _moved itself), and the session applies them just before it commits, in key
# order, so concurrent commits neither deadlock nor hold the counter rows for longer than
# their commit. Rows written around the ORM (bulk loads) call recount_statuses().
_MOVES = "linli_case_status_moves"


def _moved(session: Session, community_id: int, old: str | None, new: str | None) -> None:
    moves = session.info.setdefault(_MOVES, Counter())
    if old is not None:
        moves[(community_id, old)] -= 1
    if new is not None:
        moves[(community_id, new)] += 1


def _before_and_after(case: Case, key: str) -> tuple:
    history = inspect(case).attrs[key].history
    before = (history.deleted or history.unchanged or (None,))[0]
    after = (history.added or history.unchanged or (None,))[0]
    return before, after


def _note_moves(session: Session, _context) -> None:
    for case in session.new:
        if isinstance(case, Case):
            _moved(session, case.community_id, None, case.status)
    for case in session.deleted:
        if isinstance(case, Case):
            _moved(
                session,
                _before_and_after(case, "community_id")[0],
                _before_and_after(case, "status")[0],
                None,
            )
    for case in session.dirty:
        if isinstance(case, Case):
            old_status, new_status = _before_and_after(case, "status")
            old_community, new_community = _before_and_after(case, "community_id")
            if new_community is None:
                new_community = old_community = case.community_id
            if (old_community, old_status) != (new_community, new_status):
                _moved(session, old_community, old_status, None)
                _moved(session, new_community, None, new_status)


def _apply_moves(session: Session) -> None:
    session.flush()  # the moves of the last changes too
    moves = session.info.pop(_MOVES, None)
    if not moves:
        return
    postgres = session.get_bind().dialect.name == "postgresql"
    if postgres:
        from sqlalchemy.dialects.postgresql import insert as dialect_insert
    else:
        from sqlalchemy.dialects.sqlite import insert as dialect_insert
    table = CaseStatusCount.__table__
    for (community_id, status), n in sorted(moves.items()):
        if n:
            upsert = dialect_insert(table).values(community_id=community_id, status=status, total=n)
            session.execute(
                upsert.on_conflict_do_update(
                    index_elements=["community_id", "status"],
                    set_={"total": table.c.total + upsert.excluded.total},
                )
            )


def _forget_moves(session: Session, previous_transaction) -> None:
    if not previous_transaction.nested:
        session.info.pop(_MOVES, None)


def _forget_moves_at_end(session: Session, transaction) -> None:
    if transaction.parent is None and not transaction.nested:
        session.info.pop(_MOVES, None)


_COUNT_HOOKS = (
    ("after_flush", _note_moves),
    ("before_commit", _apply_moves),
    ("after_soft_rollback", _forget_moves),
    ("after_transaction_end", _forget_moves_at_end),
)


def install() -> None:
    """Attach the session hooks that keep case_status_count in step (idempotent)."""
    for name, fn in _COUNT_HOOKS:
        if not sa_event.contains(Session, name, fn):
            sa_event.listen(Session, name, fn)


install()


def recount_statuses() -> None:
    """Rebuild case_status_count from the cases themselves (after loading cases in bulk)."""
    table = CaseStatusCount.__table__
    db.session.execute(delete(table))
    db.session.execute(
        insert(table).from_select(
            ["community_id", "status", "total"],
            select(Case.community_id, Case.status, func.count()).group_by(
                Case.community_id, Case.status
            ),
        )
    )
    db.session.info.pop(_MOVES, None)


def inbox(actor: Actor, *, status: str | None = "open", page: int = 1, per_page: int = 50):
    """Work assigned to the caller or to their organizations, most urgent first."""
    authz.require_person(actor)
    me = actor.person.id
    condition = Case.assignee_person_id == me
    for org_id, community_ids in actor.organization_reach.items():
        if community_ids:
            condition = or_(condition, and_(Case.assignee_organization_id == org_id,
                                            Case.community_id.in_(community_ids)))
    query = _status_filter(select(Case).where(condition), status).options(*_SUMMARY_LOADS)
    query = query.order_by(Case.due_at.is_(None), Case.due_at, Case.id)
    return db.paginate(query, page=page, per_page=per_page, error_out=False)


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
) -> list[Case]:
    """Open cases of the same category in the same building or nearby (to add "me too")."""
    authz.require_signed_in(actor)
    community_id = community_id or _default_community(actor)
    authz.ensure_readable(actor, community_id)
    staff = authz.can_see_internal(actor, community_id)
    common = [
        Case.community_id == community_id,
        Case.category_id == category_id,
        Case.status.in_(OPEN_STATUSES),
        Case.merged_into_id.is_(None),
        Case.created_at >= _now() - timedelta(days=60),
    ]
    if exclude_id is not None:
        common.append(Case.id != exclude_id)
    if not staff:
        common.append(Case.is_public.is_(True))
    # One query per kind of match, each on its own index (ix_case_record_similar,
    # ix_case_record_nearby): "same building OR inside the box" could only walk every case of
    # the category. Places only; the few cases suggested are loaded at the end.
    where = []
    if building_id is not None:
        where.append(Case.building_id == building_id)
    box = None
    if latitude is not None and longitude is not None:
        _check_coordinates(latitude, longitude)
        radius = current_app.config["CASE_SIMILAR_RADIUS_M"]
        dlat = math.degrees(radius / _EARTH_M)
        dlon = dlat / max(0.01, math.cos(math.radians(latitude)))
        box = (latitude, longitude, radius)
        where.append(
            and_(
                Case.latitude.between(latitude - dlat, latitude + dlat),
                Case.longitude.between(longitude - dlon, longitude + dlon),
            )
        )
    places = {}
    for condition in where:
        places.update(
            (row.id, row)
            for row in db.session.execute(
                select(Case.id, Case.building_id, Case.latitude, Case.longitude)
                .where(*common, condition)
                .order_by(Case.id.desc())
                .limit(50)
            )
        )
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
    loaded = {case.id: case for case in db.session.scalars(select(Case).where(Case.id.in_(found)))}
    return [loaded[case_id] for case_id in found]


def _distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * _EARTH_M * math.asin(math.sqrt(a))


# --- intake -------------------------------------------------------------------------------


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
            if not isinstance(value, list) or not set(value) <= keys:
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
        elif reporter is not None and reporter.household is not None:
            household = reporter.household
            building = household.building
            latitude, longitude = building.latitude, building.longitude
    public = category.is_public if is_public is None else bool(is_public) and category.is_public
    uploads = _prepare_uploads(audio, photos)
    _count_new_case(actor, mode, now)

    case = Case(
        reference=next_reference(now),
        community_id=community_id,
        category=category,
        status=SUBMITTED,
        channel=channel,
        description=description,
        transcript=transcript,
        is_public=public,
        anonymous=anonymous,
        reporter=reporter,
        proxy=proxy,
        submitted_by=submitted_by,
        device_id=actor.device.id if actor is not None and actor.device is not None else None,
        open311_key_id=open311_key.id if open311_key is not None else None,
        contact_name=contact_name,
        contact_phone=contact_phone,
        contact_email=contact_email,
        building=building,
        household=household,
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
    db.session.add(case)
    role = {"device": "device", "open311": "open311", "worker": "staff"}.get(mode, "reporter")
    _event(
        case,
        "submitted",
        actor,
        to_status=SUBMITTED,
        public=True,
        role=role,
        data={"channel": channel},
        hide_person=anonymous and mode in ("resident", "proxy"),
    )
    db.session.flush()
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
    ratelimit.hit(key, limit=limit, window=timedelta(hours=1), now=now, message=_l(
        "You have sent many requests in the last hour. Please wait a while before sending "
        "another, or call the residents' committee."))


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


# --- transitions --------------------------------------------------------------------------


def allowed_actions(actor: Actor, case: Case) -> list[str]:
    """What the actor may do to the case now (for buttons; the services check again)."""
    rel = _relation(actor, case)
    actions = [
        action
        for action in ACTIONS
        if any(case.status in frm and rel & who for a, frm, _to, who in RULES if a == action)
    ]
    if case.merged_into_id is not None:
        actions = [a for a in actions if a != "reopen"]
    if rel & _NOTE_TAKERS:
        actions.append("note")
    if _may_attach(rel, case):
        actions.append("attach")
    if _may_rate(rel, case):
        actions.append("rate")
    if _may_support(actor, case):
        actions.append("support")
    return actions


def _rule_for(actor: Actor, case: Case, action: str):
    rules = [r for r in RULES if r[0] == action]
    if not rules:
        raise invalid_field("action", ", ".join(a for a in ACTIONS if a not in _SPECIAL))
    in_state = [r for r in rules if case.status in r[1]]
    if not in_state:
        raise Conflict(
            _l(
                "This cannot be done while the case is “%(status)s”.",
                status=STATUS_LABELS[case.status],
            )
        )
    rel = _relation(actor, case)
    for rule in in_state:
        if rel & rule[3]:
            return rule
    raise Forbidden()


def transition(
    actor: Actor,
    case_id: int,
    action: str,
    *,
    note: str | None = None,
    public: bool | None = None,
    reason: str | None = None,
    rating: int | None = None,
    comment: str | None = None,
) -> Case:
    """Move a case along the state machine (accept, reject, start, resolve, confirm, reopen,
    close). Reject needs a reason; confirm may carry a rating (1–5) and a comment."""
    if action in _SPECIAL:
        raise invalid_field("action", _l("Use the assign or merge endpoint for this."))
    case = get_case(actor, case_id)
    _act, _frm, to_status, _who = _rule_for(actor, case, action)
    if action == "reopen" and case.closed_reason == "merged":
        raise Conflict(_l("A merged case cannot be reopened; follow the case it was merged into."))
    note = clean_text(note or "", "note", max_length=2000, multiline=True, required=False) or None
    if action == "reject":
        reason = clean_text(
            reason if reason is not None else (note or ""), "reason", max_length=500, multiline=True
        )
        note = reason
    if rating is not None and action != "confirm":
        raise invalid_field("rating", _l("Rate when confirming, or after the case is closed."))
    now = _now()
    from_status = case.status
    case.status = to_status
    case.updated_at = now
    if action == "accept":
        case.accepted_at = now
    elif action == "reject":
        case.reject_reason = reason
        case.closed_at = now
    elif action == "resolve":
        case.resolved_at = now
    elif action in ("confirm", "close"):
        case.closed_at = now
        case.closed_reason = "confirmed" if action == "confirm" else "staff"
    elif action == "reopen":
        case.resolved_at = case.closed_at = case.closed_reason = None
        _new_deadline(case, now + timedelta(hours=case.category.deadline_hours))
    role = _actor_role(actor, case)
    is_public = True if public is None else bool(public)
    if action == "reject" or role not in STAFF_VOICES:
        # The step itself is never internal: the resident is always told a rejection's reason,
        # and a step the resident (or the screen that filed the case) takes shows on the
        # timeline. What they say with it (a reopen reason) is for the committee and
        # themselves only: published_note never shows a note that is not staff-written.
        is_public = True
    _event(
        case,
        action,
        actor,
        note=note,
        public=is_public,
        from_status=from_status,
        to_status=to_status,
        role=role,
    )
    if action == "confirm" and rating is not None:
        _rate(actor, case, rating, comment)
    db.session.flush()
    _announce_status(actor, case, note if is_public and role in STAFF_VOICES else None)
    return case


def confirm_case(
    actor: Actor, case_id: int, *, rating: int | None = None, comment: str | None = None
) -> Case:
    """The resident (or their proxy, or the kiosk that filed it) confirms the fix; may rate."""
    return transition(actor, case_id, "confirm", rating=rating, comment=comment)


def reopen_case(actor: Actor, case_id: int, reason: str | None = None) -> Case:
    """Not fixed after all: back to the committee with the resident's reason."""
    return transition(actor, case_id, "reopen", note=reason)


def rate_case(actor: Actor, case_id: int, rating: int, comment: str | None = None) -> Case:
    """Rate a closed case once (1–5 stars, optional comment): the reporter only."""
    case = get_case(actor, case_id)
    if not _may_rate(_relation(actor, case), case):
        if not _relation(actor, case) & {"reporter", "filer_device"}:
            raise Forbidden()
        raise Conflict(_l("This case cannot be rated now."))
    _rate(actor, case, rating, comment)
    db.session.flush()
    return case


def _may_rate(rel, case: Case) -> bool:
    return (
        bool(rel & {"reporter", "filer_device"})
        and case.status == CLOSED
        and case.rating is None
        and case.closed_reason != "merged"
    )


def _rate(actor: Actor, case: Case, rating, comment) -> None:
    if not isinstance(rating, int) or isinstance(rating, bool) or not 1 <= rating <= 5:
        raise invalid_field("rating", _l("Choose 1 to 5 stars."))
    if case.rating is not None:
        raise Conflict(_l("This case has already been rated."))
    case.rating = rating
    case.rating_comment = (
        clean_text(comment or "", "comment", max_length=500, multiline=True, required=False) or None
    )
    case.rated_at = _now()
    _event(case, "rated", actor, note=case.rating_comment, public=False, data={"rating": rating})


def assign_case(
    actor: Actor,
    case_id: int,
    *,
    person_id: int | None = None,
    organization_id: int | None = None,
    note: str | None = None,
    due_at: datetime | None = None,
) -> Case:
    """Dispatch to a grid worker or staff member (person_id) or an organization serving the
    community (social organization, property company…); optionally set a new deadline."""
    case = get_case(actor, case_id)
    _rule_for(actor, case, "assign")
    if (person_id is None) == (organization_id is None):
        raise invalid_field("person_id", _l("Choose one person or one organization."))
    label = None
    if person_id is not None:
        person = db.session.get(Person, person_id)
        if person is None or not _works_in(person, case.community_id):
            raise invalid_field("person_id", _l("Not a worker of this community."))
        case.assignee_person_id, case.assignee_organization_id = person.id, None
        label = person.display_name
    else:
        org = db.session.get(Organization, organization_id)
        if org is None or case.community_id not in {c.id for c in org.communities}:
            raise invalid_field(
                "organization_id", _l("Not an organization serving this community.")
            )
        case.assignee_person_id, case.assignee_organization_id = None, org.id
        label = org.name
    now = _now()
    if due_at is not None:
        if due_at.tzinfo is None:
            raise invalid_field("due_at", _l("Give a time with its time zone."))
        if not now < due_at <= now + timedelta(days=366):
            raise invalid_field("due_at", _l("The deadline must be in the coming year."))
        _new_deadline(case, due_at)
    from_status = case.status
    case.status = ASSIGNED
    case.assigned_at = now
    case.accepted_at = case.accepted_at or now
    case.updated_at = now
    note = clean_text(note or "", "note", max_length=2000, multiline=True, required=False) or None
    _event(
        case,
        "assigned",
        actor,
        note=note,
        public=False,
        from_status=from_status,
        to_status=ASSIGNED,
        data={"person_id": person_id, "organization_id": organization_id, "assignee": label},
    )
    db.session.flush()
    for person_id_ in _assignee_people(case):
        with notifications.in_locale_of(person_id_):
            notifications.notify(
                person_id_,
                "case_assigned",
                _("New work: %(ref)s", ref=case.reference),
                _(
                    "%(category)s · %(where)s · due %(due)s",
                    category=case.category.name,
                    where=_place(case),
                    due=_local(case.due_at),
                ),
                link=f"/staff/cases/{case.id}",
            )
    _announce_status(actor, case, None)
    return case


def _works_in(person: Person, community_id: int) -> bool:
    for role in person.roles:
        if role.role == "committee_staff" and role.community_id == community_id:
            return True
        if (
            role.role == "grid_worker"
            and role.grid is not None
            and role.grid.community_id == community_id
        ):
            return True
    return False


def add_note(actor: Actor, case_id: int, text: str, *, public: bool = False) -> CaseEvent:
    """A note on the timeline: workers choose public or internal; a resident's (or their
    proxy's) is for the committee and the handler only, whatever `public` says."""
    case = get_case(actor, case_id)
    rel = _relation(actor, case)
    if not rel & _NOTE_TAKERS:
        raise Forbidden()
    text = clean_text(text, "note", max_length=2000, multiline=True)
    worker = bool(rel & _WORKERS)
    role = _actor_role(actor, case)
    # A door code or a phone number in a resident's note must never reach the public view or
    # Open311: only staff publish. (The reporter still reads their own notes: see _timeline.)
    public = worker and bool(public) and role in STAFF_VOICES
    case.updated_at = _now()
    event = _event(case, "note", actor, note=text, public=public, role=role)
    db.session.flush()
    if worker and public:
        _tell_reporter(
            case, "case_note", _l("News about your request %(ref)s", ref=case.reference), text
        )
    elif not worker:
        for person_id in _assignee_people(case):
            notifications.notify(
                person_id, "case_note", case.reference, text[:200], link=f"/staff/cases/{case.id}"
            )
    return event


def update_case(actor: Actor, case_id: int, changes: dict) -> Case:
    """Committee staff correct a case's category, location or visibility while it is open."""
    case = get_case(actor, case_id)
    if "manager" not in _relation(actor, case):
        raise Forbidden()
    if case.status not in OPEN_STATUSES:
        raise Conflict()
    changed = []
    if changes.get("category_id") not in (None, case.category_id):
        category = categories.find_category(case.community_id, category_id=changes["category_id"])
        case.category = category
        _new_deadline(case, case.created_at + timedelta(hours=category.deadline_hours))
        if not category.is_public:
            case.is_public = False
        changed.append("category")
    place_keys = ("building_id", "household_id", "address", "latitude", "longitude")
    if any(k in changes for k in place_keys):
        building, household, address, lat, lon = _location(
            case.community_id, **{k: changes.get(k) for k in place_keys}
        )
        case.building, case.household, case.address = building, household, address
        case.latitude, case.longitude = lat, lon
        case.grid_id = building.grid_id if building is not None else None
        changed.append("location")
    if "is_public" in changes:
        case.is_public = bool(changes["is_public"]) and case.category.is_public
        changed.append("is_public")
    if changed:
        case.updated_at = _now()
        _event(case, "updated", actor, public=False, data={"fields": changed})
        db.session.flush()
    return case


def merge_case(actor: Actor, case_id: int, into_id: int, note: str | None = None) -> Case:
    """Committee staff merge a duplicate into another case of the community; its reporter and
    supporters follow the other case from then on. Returns the case merged into."""
    case = get_case(actor, case_id)
    _rule_for(actor, case, "merge")
    target = get_case(actor, into_id)
    if target.id == case.id or target.community_id != case.community_id:
        raise invalid_field("into_id", _l("Choose another case of the same community."))
    if target.status not in (*OPEN_STATUSES, RESOLVED) or target.merged_into_id is not None:
        raise Conflict(_l("The case to merge into is already closed."))
    now = _now()
    note = clean_text(note or "", "note", max_length=2000, multiline=True, required=False) or None
    from_status = case.status
    case.status, case.closed_reason, case.closed_at = CLOSED, "merged", now
    case.merged_into_id = target.id
    case.updated_at = target.updated_at = now
    _event(
        case,
        "merged",
        actor,
        public=True,
        from_status=from_status,
        to_status=CLOSED,
        note=note,
        data={"into": target.reference},
    )
    _event(target, "merged_in", actor, public=False, data={"from": case.reference})
    followers = set(
        db.session.scalars(select(CaseSupport.person_id).where(CaseSupport.case_id == case.id))
    )
    if case.reporter_id is not None:
        followers.add(case.reporter_id)
    followers.discard(target.reporter_id)
    known = set(
        db.session.scalars(select(CaseSupport.person_id).where(CaseSupport.case_id == target.id))
    )
    for person_id in sorted(followers - known):
        db.session.add(CaseSupport(case_id=target.id, person_id=person_id, created_at=now))
    db.session.flush()
    target.support_count = db.session.scalar(
        select(func.count()).select_from(CaseSupport).where(CaseSupport.case_id == target.id)
    )
    db.session.flush()
    _tell_reporter(
        case,
        "case_merged",
        _l("Your request %(ref)s is handled together with another one", ref=case.reference),
        _l("Follow %(ref)s for news.", ref=target.reference),
    )
    return target


def support_case(actor: Actor, case_id: int) -> Case:
    """ "Me too": a resident of the community backs a public open case, once."""
    case = get_case(actor, case_id)
    authz.require_person(actor)
    if not _may_support(actor, case):
        if case.reporter_id == actor.subject.id or actor.subject.community_id != case.community_id:
            raise Forbidden()
        raise Conflict(_l("Only open public cases can be supported."))
    me = actor.subject.id
    exists = db.session.scalar(
        select(CaseSupport.id).where(CaseSupport.case_id == case.id, CaseSupport.person_id == me)
    )
    if exists is None:
        db.session.add(CaseSupport(case_id=case.id, person_id=me, created_at=_now()))
        db.session.flush()
        db.session.execute(
            update(Case).where(Case.id == case.id).values(support_count=Case.support_count + 1)
        )
        db.session.refresh(case)
    return case


def _may_support(actor: Actor, case: Case) -> bool:
    subject = actor.subject
    return (
        subject is not None
        and actor.device is None
        and case.is_public
        and case.status in OPEN_STATUSES
        and case.reporter_id != subject.id
        and subject.community_id == case.community_id
    )


def supported_by(actor: Actor, case: Case) -> bool:
    """Whether the caller already said "me too"."""
    subject = actor.subject
    if subject is None:
        return False
    return (
        db.session.scalar(
            select(CaseSupport.id).where(
                CaseSupport.case_id == case.id, CaseSupport.person_id == subject.id
            )
        )
        is not None
    )


# --- attachments --------------------------------------------------------------------------


def _may_attach(rel, case: Case) -> bool:
    if rel & _WORKERS:
        return True
    if "reporter" in rel:
        return case.status not in (CLOSED, REJECTED)
    return "filer_device" in rel and case.status == SUBMITTED


def add_attachment(actor: Actor, case_id: int, data: bytes, *, public: bool = False):
    """Add a photo or recording (type from the bytes); staff may make a photo public."""
    case = get_case(actor, case_id)
    rel = _relation(actor, case)
    if not _may_attach(rel, case):
        raise Forbidden()
    count = len(case.attachments)
    if count >= current_app.config["CASE_ATTACHMENTS_MAX"]:
        raise Conflict(_l("This case already has as many files as it can hold."))
    prepared = attachments.prepare(data)
    role = _actor_role(actor, case)
    attachment = attachments.store(
        case,
        prepared,
        uploaded_by_id=None if case.anonymous or actor.person is None else actor.person.id,
        device_id=actor.device.id if actor.device else None,
        uploader_role=role,
        public=bool(public) and bool(rel & {"manager"}),
    )
    case.updated_at = _now()
    _event(
        case,
        "attachment",
        actor,
        public="reporter" in rel or role == "device",
        data={"attachment_id": attachment.id, "kind": attachment.kind},
    )
    db.session.flush()
    return attachment


def get_attachment(actor: Actor, case_id: int, attachment_id: int):
    """An attachment the actor may open: all of them for full viewers; public photos of public
    cases for everyone who may read the community."""
    case = get_case(actor, case_id, evaluate=False)
    attachment = next((a for a in case.attachments if a.id == attachment_id), None)
    if attachment is None:
        raise NotFound()
    level = _level(_relation(actor, case), case)
    if level == "public" and not (
        attachment.public and case.is_public and attachment.kind == "photo"
    ):
        raise NotFound()
    return attachment


def set_attachment_public(actor: Actor, case_id: int, attachment_id: int, public: bool):
    """Committee staff show a photo in the public view (or hide it again)."""
    case = get_case(actor, case_id, evaluate=False)
    if "manager" not in _relation(actor, case):
        raise Forbidden()
    attachment = next((a for a in case.attachments if a.id == attachment_id), None)
    if attachment is None:
        raise NotFound()
    if public and attachment.kind != "photo":
        raise invalid_field("public", _l("Only photos can be public."))
    attachment.public = bool(public)
    db.session.flush()
    return attachment


# --- deadlines, escalation, auto-close ----------------------------------------------------


def _grace() -> timedelta:
    return timedelta(hours=current_app.config["CASE_ESCALATION_GRACE_HOURS"])


def _auto_close_after() -> timedelta:
    return timedelta(days=current_app.config["CASE_AUTO_CLOSE_DAYS"])


def _due_soon_lead(category: CaseCategory) -> timedelta:
    """How long before the deadline the handlers (or, while nobody has the case, the committee)
    are reminded: CASE_DUE_SOON_HOURS, at most
    half the category's deadline (a 2-hour matter is not "due soon" when it arrives); 0 = off."""
    hours = current_app.config["CASE_DUE_SOON_HOURS"]
    if hours <= 0:
        return timedelta(0)
    return min(timedelta(hours=hours), timedelta(hours=category.deadline_hours) / 2)


def _new_deadline(case: Case, due_at: datetime) -> None:
    # A new deadline has its own reminder, overdue notice and escalation still to come.
    case.due_at = due_at
    case.due_soon_notified_at = case.overdue_notified_at = case.escalated_at = None


def _due_step(case: Case, now: datetime) -> str | None:
    if case.status in OPEN_STATUSES and case.due_at is not None and case.due_at <= now:
        if case.overdue_notified_at is None:
            return "overdue"
        if case.escalated_at is None and case.due_at + _grace() <= now:
            return "escalated"
    if (
        case.status in OPEN_STATUSES
        and case.due_at is not None
        and now < case.due_at
        and case.due_soon_notified_at is None
        and case.overdue_notified_at is None
    ):
        lead = _due_soon_lead(case.category)
        if lead and case.due_at - lead <= now:
            return "due_soon"
    if (
        case.status == RESOLVED
        and case.resolved_at is not None
        and case.resolved_at + _auto_close_after() <= now
    ):
        return "auto_closed"
    return None


def evaluate_case(
    case: Case, now: datetime | None = None, only: tuple[str, ...] | None = None
) -> list[str]:
    """Take the automatic steps that have fallen due for one case (due-soon reminder, overdue
    notice, escalation, auto-close; `only` limits which); each happens once even when requests
    and schedulers race: a conditional UPDATE claims the step, and only its winner records and
    notifies."""
    now = now or _now()
    done = []
    for _round in range(3):
        step = _due_step(case, now)
        if step is None or (only is not None and step not in only):
            break
        claim = update(Case).where(Case.id == case.id)
        if step == "due_soon":
            # Not after an overdue notice that a racing request gave across the deadline.
            claim = claim.where(
                Case.due_soon_notified_at.is_(None), Case.overdue_notified_at.is_(None)
            ).values(due_soon_notified_at=now)
        elif step == "overdue":
            claim = claim.where(Case.overdue_notified_at.is_(None)).values(overdue_notified_at=now)
        elif step == "escalated":
            claim = claim.where(Case.escalated_at.is_(None)).values(escalated_at=now)
        else:
            claim = claim.where(
                Case.status == RESOLVED, Case.resolved_at == case.resolved_at
            ).values(status=CLOSED, closed_at=now, closed_reason="auto")
        claimed = db.session.execute(claim.execution_options(synchronize_session=False))
        if claimed.rowcount != 1:  # someone else took this step
            db.session.refresh(case)
            continue
        db.session.refresh(case)
        if step == "auto_closed":
            _moved(db.session(), case.community_id, RESOLVED, CLOSED)
        _apply_step(case, step, now)
        done.append(step)
    if done:
        db.session.flush()
    return done


def _tell_handlers(case: Case, kind: str, title, body) -> None:
    """Notify a case's handlers (else the community's committee staff) about its deadline;
    `title` and `body` are called in each recipient's language."""
    for person_id in _assignee_people(case) or _community_staff(case.community_id):
        with notifications.in_locale_of(person_id):
            notifications.notify(person_id, kind, title(), body(), link=f"/staff/cases/{case.id}")


def _apply_step(case: Case, step: str, now: datetime) -> None:
    if step == "due_soon":
        _event(case, "due_soon", None, public=False, role="system")
        nobody_yet = case.assignee_person_id is None and case.assignee_organization_id is None
        _tell_handlers(
            case,
            "case_due_soon",
            # The committee hears of a matter nobody has yet while there is time to send it.
            lambda: _("Not sent to anyone yet, due soon: %(ref)s", ref=case.reference)
            if nobody_yet else _("Due soon: %(ref)s", ref=case.reference),
            lambda: _(
                "%(category)s · %(where)s · due %(due)s",
                category=case.category.name,
                where=_place(case),
                due=_local(case.due_at),
            ),
        )
    elif step == "overdue":
        _event(case, "overdue", None, public=False, role="system")
        _tell_handlers(
            case,
            "case_overdue",
            lambda: _("Past its deadline: %(ref)s", ref=case.reference),
            lambda: _(
                "%(category)s · %(where)s · was due %(due)s",
                category=case.category.name,
                where=_place(case),
                due=_local(case.due_at),
            ),
        )
    elif step == "escalated":
        hours = int((now - case.due_at).total_seconds() // 3600)
        _event(case, "escalated", None, public=False, role="system", data={"hours": hours})
        community = db.session.get(Community, case.community_id)
        recipients = set(_street_officials(community)) | set(_community_staff(community.id))
        for person_id in sorted(recipients):
            with notifications.in_locale_of(person_id):
                notifications.notify(
                    person_id,
                    "case_escalated",
                    _("Escalated: %(ref)s is %(h)d hours overdue", ref=case.reference, h=hours),
                    _(
                        "%(community)s · %(category)s · %(where)s",
                        community=community.name,
                        category=case.category.name,
                        where=_place(case),
                    ),
                    link=f"/staff/cases/{case.id}",
                )
    elif step == "auto_closed":
        _event(
            case,
            "auto_closed",
            None,
            public=True,
            role="system",
            from_status=RESOLVED,
            to_status=CLOSED,
            data={"days": current_app.config["CASE_AUTO_CLOSE_DAYS"]},
        )
        _tell_reporter(
            case,
            "case_status",
            _l("Your request %(ref)s is closed", ref=case.reference),
            _l(
                "It was not confirmed within %(n)d days, so it was closed. You can still rate it.",
                n=current_app.config["CASE_AUTO_CLOSE_DAYS"],
            ),
        )
    case.updated_at = now


def _literal_in(column, values):
    # Written into the SQL as literals: the databases can then see that a query implies a
    # partial index's condition (they cannot with bound parameters).
    return column.in_(
        bindparam(f"lit_{column.key}", list(values), expanding=True, literal_execute=True)
    )


def run_due_work(
    *,
    now: datetime | None = None,
    community_id: int | None = None,
    only: tuple[str, ...] | None = None,
    limit: int = 500,
) -> dict:
    """Due-soon reminders, overdue notices, escalations and auto-closes that have fallen due
    (`flask cases escalate` / `flask cases auto-close` and every list read call this)."""
    now = now or _now()
    only = only or ("due_soon", "overdue", "escalated", "auto_closed")
    queries = []
    # One query per step, each a range of its own partial index that holds only waiting work:
    # a single query with "not notified OR past the grace" had to walk every notified case
    # still within its grace.
    due_soon_hours = current_app.config["CASE_DUE_SOON_HOURS"]
    if "due_soon" in only and due_soon_hours > 0:
        # Open, neither reminded nor noticed, deadline ahead but within
        # CASE_DUE_SOON_HOURS (ix_case_record_due_soon: the condition written in full). A
        # category's shorter lead (half its deadline) is checked on the rows below, so cases
        # not due yet take no places in the sweep's limit.
        queries.append(
            (
                select(Case.id, Case.due_at, Case.category_id).where(
                    Case.due_soon_notified_at.is_(None),
                    Case.overdue_notified_at.is_(None),
                    Case.escalated_at.is_(None),
                    _literal_in(Case.status, OPEN_STATUSES),
                    Case.due_at > now,
                    Case.due_at <= now + timedelta(hours=due_soon_hours),
                ),
                Case.due_at,
                _reminders_due,
            )
        )
    if "overdue" in only:
        # Open, not notified, past the deadline (ix_case_record_notice).
        queries.append(
            (
                select(Case.id).where(
                    Case.overdue_notified_at.is_(None),
                    Case.escalated_at.is_(None),
                    _literal_in(Case.status, OPEN_STATUSES),
                    Case.due_at <= now,
                ),
                Case.due_at,
                None,
            )
        )
    if "escalated" in only:
        # Notified, not escalated, past the deadline and the grace (ix_case_record_escalation).
        # A case not notified yet gets its notice first (the query above), then escalates.
        queries.append(
            (
                select(Case.id).where(
                    Case.overdue_notified_at.is_not(None),
                    Case.escalated_at.is_(None),
                    _literal_in(Case.status, OPEN_STATUSES),
                    Case.due_at <= now - _grace(),
                ),
                Case.due_at,
                None,
            )
        )
    if "auto_closed" in only:
        resolved = bindparam("lit_resolved", RESOLVED, literal_execute=True)
        queries.append(
            (
                select(Case.id).where(
                    Case.status == resolved, Case.resolved_at <= now - _auto_close_after()
                ),
                Case.resolved_at,
                None,
            )
        )
    ids: list[int] = []
    for query, key, pick in queries:
        if community_id is not None:
            query = query.where(Case.community_id == community_id)
        # Ordered by the partial index's own key, so SQLite's planner picks it (without the
        # order it prefers ix_case_record_due and reads every late case in the table). No
        # LIMIT: that tempts the planners into walking the whole table hoping to stop early.
        rows = db.session.execute(query.order_by(Case.community_id, key)).all()
        ids += pick(rows, now) if pick is not None else [row[0] for row in rows]
    counts = {"due_soon": 0, "overdue": 0, "escalated": 0, "auto_closed": 0}
    for case_id in sorted(set(ids))[:limit]:
        case = db.session.get(Case, case_id)
        for step in evaluate_case(case, now, only):
            counts[step] += 1
    return counts


def _reminders_due(rows, now: datetime) -> list[int]:
    # (id, due_at, category_id) rows within CASE_DUE_SOON_HOURS of their deadline: keep those
    # whose category's own lead has begun too.
    leads = {}
    category_ids = {row.category_id for row in rows}
    if category_ids:
        for category in db.session.scalars(
            select(CaseCategory).where(CaseCategory.id.in_(category_ids))
        ):
            leads[category.id] = _due_soon_lead(category)
    return [row.id for row in rows if row.due_at - leads[row.category_id] <= now]


# --- notifications ------------------------------------------------------------------------


def _people_with_role(**filters) -> list[int]:
    query = select(RoleAssignment.person_id).join(Person, Person.id == RoleAssignment.person_id)
    query = query.where(
        Person.is_active.is_(True),
        *(getattr(RoleAssignment, name) == value for name, value in filters.items()),
    )
    return sorted(set(db.session.scalars(query)))


def _assignee_people(case: Case) -> list[int]:
    if case.assignee_person_id is not None:
        return [case.assignee_person_id]
    if case.assignee_organization_id is not None:
        # Only the members who work for the organization in the case's community.
        query = (
            select(RoleAssignment.person_id)
            .join(Person, Person.id == RoleAssignment.person_id)
            .where(
                Person.is_active.is_(True),
                RoleAssignment.role == "org_member",
                RoleAssignment.organization_id == case.assignee_organization_id,
                or_(
                    RoleAssignment.community_id.is_(None),
                    RoleAssignment.community_id == case.community_id,
                ),
            )
        )
        return sorted(set(db.session.scalars(query)))
    return []


def _community_staff(community_id: int) -> list[int]:
    return _people_with_role(role="committee_staff", community_id=community_id)


def _street_officials(community: Community) -> list[int]:
    return _people_with_role(role="street_official", street_office_id=community.street_office_id)


def _tell_reporter(case: Case, kind: str, title, body) -> None:
    """Notify the resident a case is for, and the family member who filed it."""
    for person_id in {p for p in (case.reporter_id, case.proxy_id) if p is not None}:
        with notifications.in_locale_of(person_id):
            notifications.notify(
                person_id, kind, str(title), str(body), link=f"/api/v1/cases/{case.id}"
            )


def _announce_status(actor: Actor, case: Case, note: str | None) -> None:
    subject = actor.subject
    if subject is not None and subject.id == case.reporter_id:
        return  # they know: they did it
    label = STATUS_LABELS[case.status]
    for person_id in {p for p in (case.reporter_id, case.proxy_id) if p is not None}:
        with notifications.in_locale_of(person_id):
            body = _("Now: %(status)s.", status=str(label))
            if note:
                body = f"{body} {note}"
            notifications.notify(
                person_id,
                "case_status",
                _("Your request %(ref)s", ref=case.reference),
                body,
                link=f"/api/v1/cases/{case.id}",
            )
    if case.status in (RESOLVED, CLOSED):
        for person_id in db.session.scalars(
            select(CaseSupport.person_id).where(CaseSupport.case_id == case.id)
        ):
            with notifications.in_locale_of(person_id):
                notifications.notify(
                    person_id,
                    "case_status",
                    _("A matter you follow: %(ref)s", ref=case.reference),
                    _("Now: %(status)s.", status=str(label)),
                    link=f"/api/v1/cases/{case.id}",
                )


# --- views --------------------------------------------------------------------------------


def _local(value: datetime | None) -> str:
    if value is None:
        return ""
    return value.astimezone(_tz()).strftime("%Y-%m-%d %H:%M")


def _place(case: Case, detail: bool = True) -> str:
    if case.building is not None:
        if detail and case.household is not None:
            return case.household.label
        return case.building.name
    if detail and case.address:
        return case.address
    return ""


def is_overdue(case: Case, now: datetime | None = None) -> bool:
    """Open and past its deadline."""
    return (
        case.status in OPEN_STATUSES and case.due_at is not None and case.due_at < (now or _now())
    )


def _assignee_view(case: Case, level: str) -> dict | None:
    if case.assignee_organization_id is not None:
        org = case.assignee_organization
        return {"kind": "organization", "id": org.id, "name": org.name}
    if case.assignee_person_id is not None:
        person = case.assignee_person
        if level in ("staff", "assignee", "reporter"):
            return {"kind": "person", "id": person.id, "name": person.display_name}
        return {"kind": "person", "id": None, "name": str(_l("Community worker"))}
    return None


def published_note(event: CaseEvent) -> str | None:
    """An event's note as anyone may read it: staff-written public notes only, never what a
    resident, their proxy, a lobby screen or a partner system wrote."""
    if event.public and event.actor_role in STAFF_VOICES:
        return event.note
    return None


def _timeline(actor: Actor, case: Case, level: str) -> list[dict]:
    rows = []
    inside = level in ("staff", "assignee")
    for event in case.events:
        # The reporter reads their own words back (their notes, their reopen reason); anyone
        # else outside the committee only what staff published.
        own = level == "reporter" and event.actor_role == "reporter"
        if not (inside or event.public or (own and event.kind == "note")):
            continue
        if level in ("staff", "assignee") and event.actor_person is not None:
            who = event.actor_person.display_name
        else:
            who = str(ROLE_LABELS.get(event.actor_role, ROLE_LABELS["system"]))
        data = dict(event.data or {})
        if level not in ("staff", "assignee"):
            data = {k: v for k, v in data.items() if k in ("into", "channel", "kind")}
        rows.append(
            {
                "id": event.id,
                "at": event.at,
                "kind": event.kind,
                "label": str(EVENT_LABELS.get(event.kind, event.kind)),
                "from_status": event.from_status,
                "to_status": event.to_status,
                "note": event.note if inside or own else published_note(event),
                "public": event.public,
                "actor": who,
                "data": data,
            }
        )
    return rows


def _attachment_rows(case: Case, level: str) -> list[dict]:
    rows = []
    for a in case.attachments:
        if level == "public" and not (a.public and a.kind == "photo" and case.is_public):
            continue
        rows.append(
            {
                "id": a.id,
                "kind": a.kind,
                "mime": a.mime,
                "size": a.size,
                "width": a.width,
                "height": a.height,
                "public": a.public,
                "created_at": a.created_at,
                "url": f"/api/v1/cases/{case.id}/attachments/{a.id}",
            }
        )
    return rows


def case_summary(case: Case, level: str, now: datetime | None = None) -> dict:
    """A list row: never the reporter; public rows carry no description."""
    now = now or _now()
    row = {
        "id": case.id,
        "reference": case.reference,
        "status": case.status,
        "status_label": str(STATUS_LABELS[case.status]),
        "community_id": case.community_id,
        "created_at": case.created_at,
        "updated_at": case.updated_at,
        "support_count": case.support_count,
        "is_public": case.is_public,
    }
    if level == "public" and not case.is_public:
        return row
    row.update(
        category={
            "id": case.category.id,
            "code": case.category.code,
            "name": case.category.name,
            "icon": case.category.icon,
        },
        building=case.building.name if case.building is not None else None,
    )
    if level != "public":
        row.update(
            description=case.description[:120],
            channel=case.channel,
            place=_place(case),
            grid_id=case.grid_id,
            due_at=case.due_at,
            overdue=is_overdue(case, now),
            escalated=case.escalated_at is not None,
            assignee=_assignee_view(case, level),
        )
    return row


def case_view(actor: Actor, case: Case) -> dict:
    """Everything the actor may see of one case; reading the reporter is audited."""
    rel = _relation(actor, case)
    level = _level(rel, case)
    now = _now()
    view = case_summary(case, level, now)
    view.update(
        reference_digits=reference_digits(case.reference),
        level=level,
        merged_into=case.merged_into.reference if case.merged_into is not None else None,
        closed_reason=case.closed_reason,
    )
    if level == "public" and not case.is_public:
        view["timeline"] = []
        view["actions"] = allowed_actions(actor, case)
        return view
    view["location"] = {
        "building_id": case.building_id,
        "building": case.building.name if case.building else None,
        "latitude": round(case.latitude, 3) if case.latitude is not None else None,
        "longitude": round(case.longitude, 3) if case.longitude is not None else None,
    }
    if level != "public":
        view.update(
            description=case.description,
            transcript=case.transcript,
            anonymous=case.anonymous,
            attributes=case.attributes or {},
            resolved_at=case.resolved_at,
            closed_at=case.closed_at,
            reject_reason=case.reject_reason,
            rating=case.rating,
            rating_comment=case.rating_comment,
            category_notice=case.category.notice,
        )
        view["location"].update(
            household_id=case.household_id,
            place=_place(case),
            address=case.address,
            latitude=case.latitude,
            longitude=case.longitude,
        )
    view["supported_by_me"] = supported_by(actor, case)
    view["timeline"] = _timeline(actor, case, level)
    view["attachments"] = _attachment_rows(case, level)
    view["actions"] = allowed_actions(actor, case)
    if level in ("staff", "assignee"):
        view["reporter"] = _reporter_view(actor, case)
        if level == "staff":
            view["suggested_assignee"] = suggested_assignee(case)
    return view


def _reporter_view(actor: Actor, case: Case) -> dict | None:
    if case.reporter is None and not (
        case.contact_name or case.contact_phone or case.contact_email
    ):
        return None
    fields = ["reporter"]
    if case.reporter is not None:
        person = case.reporter
        unmasked = authz.can_see_contact(actor, person)
        view = {
            "id": person.id,
            "name": person.display_name,
            "phone": person.phone if unmasked else mask_phone(person.phone),
            "household": person.household.label if person.household else None,
            "self_declared": False,
        }
    else:
        unmasked = actor.is_admin or case.community_id in actor.staff_community_ids
        view = {
            "id": None,
            "name": case.contact_name,
            "phone": case.contact_phone if unmasked else mask_phone(case.contact_phone),
            "email": case.contact_email if unmasked else mask_email(case.contact_email),
            "household": None,
            "self_declared": True,
        }
    if case.proxy is not None:
        view["proxy"] = {"id": case.proxy.id, "name": case.proxy.display_name}
    if unmasked:
        fields.append("reporter_phone")
    if actor.subject is None or actor.subject.id != case.reporter_id:
        audit.record_read(actor, "case", case.id, case.community_id, fields)
    return view


def suggested_assignee(case: Case) -> dict | None:
    """The category's default handler, made concrete for this case."""
    category = case.category
    if category.handler_organization_id is not None:
        return {
            "organization_id": category.handler_organization_id,
            "name": category.handler_organization.name,
        }
    if category.handler_role == "grid_worker" and case.grid_id is not None:
        people = _people_with_role(role="grid_worker", grid_id=case.grid_id)
        if people:
            return {"person_id": people[0], "name": db.session.get(Person, people[0]).display_name}
    return None


def assignee_choices(actor: Actor, community_id: int) -> dict:
    """Workers and organizations a case of the community can be dispatched to."""
    authz.ensure_manager(actor, community_id)
    staff_ids = _community_staff(community_id)
    grid_ids = set(
        db.session.scalars(
            select(RoleAssignment.person_id)
            .join(Grid, Grid.id == RoleAssignment.grid_id)
            .where(RoleAssignment.role == "grid_worker", Grid.community_id == community_id)
        )
    )
    people = [db.session.get(Person, pid) for pid in sorted(set(staff_ids) | grid_ids)]
    orgs = db.session.scalars(
        select(Organization)
        .where(Organization.communities.any(Community.id == community_id))
        .order_by(Organization.id)
    )
    return {
        "people": [
            {
                "id": p.id,
                "name": p.display_name,
                "role": "grid_worker" if p.id in grid_ids else "committee_staff",
            }
            for p in people
            if p.is_active
        ],
        "organizations": [{"id": o.id, "name": o.name, "kind": o.kind} for o in orgs],
    }


# --- for the kiosk and the voice assistant ------------------------------------------------


def month_bounds(now: datetime | None = None) -> tuple[datetime, datetime]:
    """Start and end (UTC) of the current calendar month in the configured time zone."""
    local = (now or _now()).astimezone(_tz())
    start = local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    end = (start + timedelta(days=32)).replace(day=1)
    return start.astimezone(UTC), end.astimezone(UTC)


def community_figures(actor: Actor, community_id: int) -> dict:
    """This month (Asia/Shanghai) in a community: cases received, resolved, average rating."""
    authz.ensure_readable(actor, community_id)
    start, end = month_bounds()
    base = select(func.count()).select_from(Case).where(Case.community_id == community_id)
    received = (
        db.session.scalar(
            base.where(
                Case.created_at >= start, Case.created_at < end, Case.merged_into_id.is_(None)
            )
        )
        or 0
    )
    resolved = db.session.scalar(base.where(Case.resolved_at >= start, Case.resolved_at < end)) or 0
    average = db.session.scalar(
        select(func.avg(Case.rating)).where(
            Case.community_id == community_id, Case.rated_at >= start, Case.rated_at < end
        )
    )
    return {
        "received": int(received),
        "resolved": int(resolved),
        "avg_rating": round(float(average), 1) if average is not None else None,
    }


def case_status_for_reference(actor: Actor, reference: str) -> str:
    """A plain sentence about a case's progress (查进度) for a screen or a voice turn.

    The reporter and workers hear the handler and the latest note staff published; a screen or
    anyone else hears only the public view (a private case: just its status).
    """
    authz.require_signed_in(actor)
    normal = normalize_reference(reference)
    if normal is None:
        raise invalid_field("reference", _l("A reference looks like 2026-000123."))
    case_id = db.session.scalar(select(Case.id).where(Case.reference == normal))
    if case_id is None:
        raise NotFound(_l("We could not find a request with this number."))
    case = db.session.get(Case, case_id)
    rel = _relation(actor, case)
    level = _level(rel, case)
    if level is None:
        if not authz.can_read_community(actor, case.community_id):
            raise NotFound(_l("We could not find a request with this number."))
        level = "status"  # a neighbour asking about a private case: status only
    evaluate_case(case)
    status = str(STATUS_LABELS[case.status])
    if level == "status" or (level == "public" and not case.is_public):
        return _("Request %(ref)s: %(status)s.", ref=case.reference, status=status)
    text = _(
        "Request %(ref)s (%(category)s): %(status)s.",
        ref=case.reference,
        category=case.category.name,
        status=status,
    )
    if level == "public":
        return text
    sep = "" if str(get_locale() or "zh").startswith("zh") else " "
    assignee = _assignee_view(case, level)
    if assignee is not None and case.status in (ASSIGNED, IN_PROGRESS):
        text += sep + _("Handled by %(name)s.", name=assignee["name"])
    if case.status == REJECTED and case.reject_reason:
        text += sep + _("Reason: %(reason)s", reason=case.reject_reason)
    # Only news from the committee: a voice turn may be heard by everyone in a lobby.
    latest = next((published_note(e) for e in reversed(case.events) if published_note(e)), None)
    if latest is not None and case.status != REJECTED:
        text += sep + _("Latest: %(note)s", note=latest)
    if case.status == RESOLVED and "reporter" in rel:
        text += sep + _("Please tell us if it is fixed.")
    return text


# --- demo data ----------------------------------------------------------------------------

_DEMO_TEXT = {
    "repair": [
        "楼道灯不亮了，晚上上下楼看不清，怕摔倒。",
        "电梯这两天老是停在五楼不动，老人上下楼很困难。",
        "地下车库入口有积水，好像是水管漏了。",
        "顶楼水箱漏水，楼下天花板都发霉了。",
        "单元门禁坏了，门关不上。",
    ],
    "environment": [
        "东门垃圾桶满了两天没人清，味道很大。",
        "楼道里堆了很多纸箱和旧家具，过不去人。",
        "绿化带里的树枝断了，挡住了人行道。",
        "小广场地面有一大片积水。",
    ],
    "safety": [
        "有人在楼道里给电动车充电，很危险。",
        "消防通道被私家车堵住了。",
        "楼旁边的井盖松动了，踩上去会晃。",
    ],
    "dispute": [
        "楼上邻居每天晚上十一点以后还在装修，噪音很大。",
        "对门邻居把鞋柜放在公共走廊上，影响通行。",
    ],
    "suggestion": [
        "建议在小区广场多放几张长椅，老人散步累了可以歇歇脚。",
        "希望社区组织一次智能手机使用培训。",
        "建议在单元门口装个扶手，下雨天台阶滑。",
    ],
    "help": [
        "我一个人住，最近腿脚不方便，想请人帮忙买点菜。",
        "老伴住院了，想请人陪我去医院复查。",
        "家里水龙头拧不动了，自己修不了，想请人来看看。",
    ],
}
# (category, final state, days ago, channel): a month and a half of life in a community.
_DEMO_PLAN = [
    ("repair", "closed", 38, "app"),
    ("environment", "closed", 35, "kiosk"),
    ("help", "closed", 33, "proxy"),
    ("safety", "closed", 30, "patrol"),
    ("suggestion", "rejected", 28, "app"),
    ("repair", "closed", 26, "phone"),
    ("dispute", "closed", 24, "counter"),
    ("environment", "auto", 22, "app"),
    ("repair", "closed", 20, "voice"),
    ("help", "closed", 18, "phone"),
    ("safety", "in_progress", 17, "patrol"),
    ("safety", "merged", 16, "app"),
    ("suggestion", "in_progress", 14, "app"),
    ("repair", "overdue", 12, "app"),
    ("environment", "closed", 10, "kiosk"),
    ("repair", "resolved", 8, "proxy"),
    ("environment", "in_progress", 6, "app"),
    ("safety", "assigned", 5, "patrol"),
    ("dispute", "accepted", 4, "phone"),
    ("help", "closed", 3, "proxy"),
    ("repair", "resolved", 2, "app"),
    ("environment", "assigned", 2, "kiosk"),
    ("suggestion", "submitted", 1, "app"),
    ("repair", "submitted", 1, "voice"),
    ("safety", "submitted", 0, "kiosk"),
    ("help", "submitted", 0, "proxy"),
    ("environment", "closed", 0, "app"),
]


@seed_hook
def seed_demo_cases(ctx: dict) -> None:
    """Categories for every demo community and a few dozen cases with real-looking timelines."""
    now = utcnow()
    for code, data in ctx["communities"].items():
        community = data["community"]
        categories.install_defaults(None, community.id)
        if db.session.scalar(select(Case.id).where(Case.community_id == community.id).limit(1)):
            continue
        _seed_community(ctx, code, data, now)
    db.session.flush()


def _seed_community(ctx: dict, code: str, data: dict, now: datetime) -> None:
    community = data["community"]
    cats = {
        c.code: c
        for c in db.session.scalars(
            select(CaseCategory).where(CaseCategory.community_id == community.id)
        )
    }
    staff = Actor.for_person(data["staff"])
    grid = Actor.for_person(data["grid_worker"])
    residents = data["residents"]
    workers = {
        ctx["property"].id: Actor.for_person(ctx["property_staff"]),
        ctx["social_org"].id: Actor.for_person(ctx["volunteer"]),
    }
    device = None
    if ctx.get("device") is not None and ctx["device"].community_id == community.id:
        device = Actor.for_device(ctx["device"])
    cutoff = now - timedelta(minutes=5)
    for n, (cat_code, final, days, channel) in enumerate(_DEMO_PLAN):
        category = cats[cat_code]
        texts = _DEMO_TEXT[cat_code]
        text = texts[(n + len(code)) % len(texts)]
        resident = residents[(n * 7 + 1) % len(residents)]
        kwargs: dict = {"category_id": category.id, "description": text}
        if (
            channel == "proxy"
            and ctx.get("elder") is not None
            and ctx["elder"].community_id == community.id
        ):
            author = Actor.for_person(ctx["family_proxy"], on_behalf_of=ctx["elder"])
        elif channel == "kiosk" and device is not None and category.allow_anonymous:
            author = device
        elif channel in ("phone", "counter"):
            author = staff
            kwargs.update(channel=channel, reporter_id=resident.id)
        elif channel == "patrol":
            author = grid
            kwargs.update(
                channel="patrol", building_id=data["buildings"][n % len(data["buildings"])].id
            )
        else:
            author = Actor.for_person(resident)
            kwargs["channel"] = "voice" if channel == "voice" else "app"
            if channel == "voice":
                kwargs.update(transcript=text, description=None)
        moments = iter(
            min(now - timedelta(days=days, hours=9 - (n * 5) % 9) + timedelta(hours=h), cutoff)
            for h in (0, 1.5, 3.5, 6.5, 27, 33, 40)
        )
        with clock(next(moments)):
            case = submit_case(author, **kwargs)
        if final == "submitted":
            continue
        if final == "rejected":
            with clock(next(moments)):
                transition(
                    staff,
                    case.id,
                    "reject",
                    reason="经核实不属于社区受理范围，已告知可拨打 12345 反映。",
                )
            continue
        if final == "merged":
            target = db.session.scalar(
                select(Case)
                .where(
                    Case.community_id == community.id,
                    Case.category_id == category.id,
                    Case.id != case.id,
                    Case.status.in_(OPEN_STATUSES),
                )
                .order_by(Case.id)
            )
            if target is not None:
                with clock(next(moments)):
                    merge_case(staff, case.id, target.id, note="与同一位置的诉求合并处理。")
            continue
        with clock(next(moments)):
            transition(staff, case.id, "accept", note="已受理，马上安排。")
        if final == "accepted":
            continue
        handler = suggested_assignee(case) or {"person_id": data["grid_worker"].id}
        handler.pop("name", None)
        worker = workers.get(handler.get("organization_id"), grid)
        if handler.get("person_id") not in (None, data["grid_worker"].id):
            worker = staff
        with clock(next(moments)):
            assign_case(staff, case.id, note="请尽快处理。", **handler)
        if final in ("assigned", "overdue"):
            continue
        with clock(next(moments)):
            transition(worker, case.id, "start", note="已联系居民，约好时间上门。")
        if final == "in_progress":
            with clock(next(moments)):
                add_note(worker, case.id, "配件已订，预计明天到。", public=True)
            continue
        with clock(next(moments)):
            transition(worker, case.id, "resolve", note="已处理完毕，请您看看是否满意。")
        if final in ("resolved", "auto"):
            continue
        rating = 5 if n % 3 else 4
        with clock(next(moments)):
            if case.reporter_id is not None:
                who = (
                    author
                    if author.person is not None
                    and author.device is None
                    and author.subject.id == case.reporter_id
                    else Actor.for_person(case.reporter)
                )
                confirm_case(
                    who,
                    case.id,
                    rating=rating,
                    comment="师傅很负责，谢谢社区！" if rating == 5 else None,
                )
            else:
                transition(staff, case.id, "close", note="电话回访，居民表示满意。")
    run_due_work(now=now, community_id=community.id)
    # A few neighbours say "me too" on open public cases.
    open_public = db.session.scalars(
        select(Case)
        .where(
            Case.community_id == community.id,
            Case.status.in_(OPEN_STATUSES),
            Case.is_public.is_(True),
        )
        .order_by(Case.id)
    ).all()
    for i, case in enumerate(open_public[:4]):
        for resident in residents[10 + i : 13 + i]:
            actor = Actor.for_person(resident)
            if _may_support(actor, case):
                support_case(actor, case.id)
