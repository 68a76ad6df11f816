"""Reading cases: one case (by id or reference), the lists (a community's, my own, a
handler's inbox), who a case can go to, a community's figures and the 查进度 sentence.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from math import ceil
from typing import NamedTuple

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_sqlalchemy.pagination import Pagination
from sqlalchemy import Integer, and_, any_, bindparam, func, or_, select, text
from sqlalchemy.orm import aliased, selectinload

from app.affairs import policy, words
from app.affairs.common import _now, _tz, normalize_reference
from app.affairs.counts import status_counts
from app.affairs.deadlines import _literal_in, evaluate_case, sweep_on_read
from app.affairs.notify import _community_staff
from app.affairs.views import _assignee_view, published_note
from app.database import plain
from app.extensions import db
from app.infra.errors import Forbidden, NotFound, invalid_field
from app.models import (
    Building,
    Community,
    Grid,
    Household,
    Organization,
    Person,
    RoleAssignment,
)
from app.models.case import (
    ASSIGNED,
    CASE_STATUSES,
    CHANNELS,
    IN_PROGRESS,
    OPEN_STATUSES,
    REJECTED,
    RESOLVED,
    Case,
    CaseCategory,
)
from app.people import authz
from app.people.actors import Actor

# What a list row shows, loaded for the whole page at once (not one query per row).
_SUMMARY_LOADS = (
    selectinload(Case.category),
    selectinload(Case.building),
    selectinload(Case.household).selectinload(Household.building),
    selectinload(Case.assignee_organization),
    selectinload(Case.assignee_person),
)


LIST_SWEEP_LIMIT = 20


@cache
def summary_select():
    """What a list row shows (views.summary_rows), as one statement of plain columns: the case
    with its category, building, flat and handler joined (no ORM objects, no query per row).
    Built once: statements are immutable, `.where()` and the like return new ones."""
    flat_building = aliased(Building)
    # Outer joins throughout (the category too, never null): SQLite keeps the case table as
    # the outer loop, so ORDER BY … LIMIT walks the case index and stops after one page.
    return (
        select(
            Case.id,
            Case.reference,
            Case.status,
            Case.community_id,
            Case.created_at,
            Case.updated_at,
            Case.support_count,
            Case.is_public,
            Case.description,
            Case.channel,
            Case.address,
            Case.grid_id,
            Case.due_at,
            Case.escalated_at,
            Case.building_id,
            Case.household_id,
            Case.assignee_organization_id,
            Case.assignee_person_id,
            CaseCategory.id.label("category_id"),
            CaseCategory.code.label("category_code"),
            CaseCategory.name.label("category_name"),
            CaseCategory.icon.label("category_icon"),
            Building.name.label("building_name"),
            Household.unit.label("household_unit"),
            Household.room.label("household_room"),
            flat_building.name.label("household_building_name"),
            Organization.name.label("org_name"),
            Person.display_name.label("person_name"),
        )
        .select_from(Case)
        .outerjoin(CaseCategory, CaseCategory.id == Case.category_id)
        .outerjoin(Building, Building.id == Case.building_id)
        .outerjoin(Household, Household.id == Case.household_id)
        .outerjoin(flat_building, flat_building.id == Household.building_id)
        .outerjoin(Organization, Organization.id == Case.assignee_organization_id)
        .outerjoin(Person, Person.id == Case.assignee_person_id)
    )


@dataclass
class RowPage:
    """A page of `summary_select()` rows, with Pagination's names (items, total, page, pages)."""

    items: list
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        """How many pages (0 when there is nothing)."""
        return ceil(self.total / self.per_page) if self.total else 0


def _page_query(listed, order, dialect: str):
    """The page of `listed` (a `select(Case.id)` with its conditions) in `order`, as
    `summary_select()` rows, its size and offset bound at execution (p_limit, p_offset). The
    page's ids are chosen from case_record alone, on its indexes, and only those rows are
    joined and shaped: ordered by deadline, joining every matching case before the sort made
    one overdue page take ~28 ms of SQLite on 100k cases (< 3 ms now); an offset page no
    longer joins the pages before it either."""
    postgresql = dialect == "postgresql"
    # On PostgreSQL the page's size and offset are written into the SQL: with them in view a
    # generic plan is a good one, so PostgreSQL plans the statement once per connection and
    # reuses that plan, where it re-planned each page with its values (1.1-2.0 ms a page,
    # bench/PROFILE.md round 8). SQLite keeps them bound (one prepared statement for every
    # page).
    ids = listed.order_by(*order).limit(
        bindparam("p_limit", type_=Integer, literal_execute=postgresql)
    )
    ids = ids.offset(bindparam("p_offset", type_=Integer, literal_execute=postgresql))
    if postgresql:
        # `id = ANY(ARRAY(page))`: PostgreSQL runs the page once (an InitPlan) and plans six
        # outer joins, not a semi-join it may move among them: planning 2-4 -> 1.1-2.0 ms on
        # 100k cases, where the page runs in under 1 ms (bench/PROFILE.md round 7).
        chosen = Case.id == any_(func.array(ids.scalar_subquery()))
    else:
        chosen = Case.id.in_(ids)
    return summary_select().where(chosen).order_by(*order)


def _row_page(
    query, values: dict, page: int, per_page: int, total: int = 0, keyset: bool = False
) -> RowPage:
    """The RowPage `query` (from `_page_query`) gives with `values` bound."""
    offset = 0 if keyset else (page - 1) * per_page
    bound = {**values, "p_limit": per_page, "p_offset": offset}
    if db.session.get_bind().dialect.name == "postgresql":
        plain(db.session, _JOINS_AS_WRITTEN)
    return RowPage(plain(db.session, query, bound).all(), total, page, per_page)


# The page statement joins six tables to the page's cases by their keys, and PostgreSQL
# searched the orders of those joins anew each time it planned it: 1.0 ms on a quiet machine,
# 2-2.5 ms under the bench's load, three to four times the statement's own run. The order as
# written (the page's ids, then each lookup) is the one it picks; with it fixed, planning takes
# 0.3 ms (bench/PROFILE.md round 10). For this transaction only: it ends with the request.
_JOINS_AS_WRITTEN = text("SET LOCAL join_collapse_limit = 1")


def _after(after: int, conditions, *, by_due: bool, nulls_last: bool = False):
    """Keyset paging: the rows after case `after` in the list's order — newest first by id, or
    by deadline then id (`by_due`; the inbox puts cases without one last). The deadline of
    `after` is read inside the same statement, and only if that case is in the list."""
    if not by_due:
        return Case.id < after
    # Not correlated: the inner case_record is the anchor row, not the outer one.
    anchor = select(Case.due_at).where(Case.id == after, *conditions).correlate(None)
    key = anchor.scalar_subquery()
    later = or_(Case.due_at > key, and_(Case.due_at == key, Case.id > after))
    if not nulls_last:
        return later
    return or_(
        and_(key.is_not(None), or_(Case.due_at.is_(None), later)),
        and_(anchor.exists(), key.is_(None), Case.due_at.is_(None), Case.id > after),
    )


def get_case(actor: Actor, case_id: int, *, evaluate: bool = True) -> Case:
    """A case the actor may see (another community's, or a private one: not found)."""
    authz.require_signed_in(actor)
    case = db.session.get(Case, case_id)
    if case is None or not policy.may(actor, "read", case):
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


class CaseList(NamedTuple):
    """What list_cases found: the page of cases, the access level its rows are shown at, the
    community listed (None for the caller's own cases) and the counts per status (the staff
    inbox only, else None)."""

    page: Pagination
    level: str
    community_id: int | None
    counts: dict | None


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
    assignee: str | None = None,
    due: str | None = None,
    escalated: bool | None = None,
    page: int = 1,
    per_page: int = 50,
    rows: bool = False,
    after: int | None = None,
) -> CaseList:
    """Cases the actor may list: their own (mine), or a community's — all of them for its
    workers, the assigned ones for an organization's members, the public ones for residents
    and screens (see CaseList). Workers may narrow a community's list to what is assigned to
    them (`assignee="me"`, 我的任务), due before the end of today (`due="today"`) or escalated
    to the street office (`escalated=True`, 已上报).
    `rows`: the page holds `summary_select()` rows, not cases; `after`: keyset paging, the rows
    after that case (then `page` only numbers the answer)."""
    authz.require_signed_in(actor)
    now = _now()
    counts = None
    terms: dict[str, dict] = {}  # the filters by name (_TERMS), with the values they bind
    if mine:
        authz.require_person(actor)
        terms["reporter"] = {"l_reporter": actor.subject.id}
        level = "reporter"
    else:
        community_id = community_id or _default_community(actor)
        authz.ensure_readable(actor, community_id)
        # Evaluated on read, not only by the scheduler; bounded, so a backlog never makes one
        # page slow (the scheduler drains the rest), and at most every few seconds.
        sweep_on_read(community_id, limit=LIST_SWEEP_LIMIT)
        terms["community"] = {"l_community": community_id}
        if authz.can_see_internal(actor, community_id):
            level = "staff"
            counts = status_counts(actor, community_id)
        elif orgs := actor.organizations_in(community_id):
            terms["orgs"] = {"l_orgs": sorted(orgs)}
            level = "assignee"
        else:
            terms["public"] = {}
            level = "public"
    if status not in (None, "", "all"):
        if status == "open":
            terms["open"] = {}
        elif status in CASE_STATUSES:
            terms["status"] = {"l_status": status}
        else:
            raise invalid_field("status", ", ".join(("open", "all", *CASE_STATUSES)))
    filtered = False
    if category_id is not None:
        terms["category"] = {"l_category": category_id}
        filtered = True
    internal = (grid_id, channel, overdue, due, escalated)
    if level == "public" and any(value is not None for value in internal):
        # The public list shows no grid, channel, deadline or escalation (views.case_summary):
        # filtering by them would tell them case by case, and ignoring them would answer
        # with every case as if filtered.
        raise Forbidden(_l("Only the community's workers can use this filter."))
    if grid_id is not None:
        terms["grid"] = {"l_grid": grid_id}
        filtered = True
    if channel is not None:
        if channel not in CHANNELS:
            raise invalid_field("channel", ", ".join(CHANNELS))
        terms["channel"] = {"l_channel": channel}
        filtered = True
    if assignee is not None:
        if assignee != "me":
            raise invalid_field("assignee", "me")
        authz.require_person(actor)
        terms["mine"] = {"l_person": actor.person.id}
        filtered = True
    if due is not None:
        if due != "today":
            raise invalid_field("due", "today")
        terms["open"] = {}
        terms["due_today"] = {"l_now": now, "l_day_end": day_end(now)}
        filtered = True
    if escalated is True:
        terms["open"] = {}
        terms["escalated"] = {}
        filtered = True
    if q:
        normal = normalize_reference(q)
        if normal is None:
            raise invalid_field("q", _l("A reference looks like 2026-000123."))
        terms["reference"] = {"l_reference": normal}
        filtered = True
    if overdue is True:
        terms["open"] = {}
        terms["overdue"] = {"l_now": now}
        filtered = True
    elif overdue is False:
        terms["not_overdue"] = {"l_now": now}
        filtered = True
    by_due = overdue is True
    values = {key: value for bound in terms.values() for key, value in bound.items()}
    if after is not None:
        values["l_after"] = after
    shape = _ListShape(tuple(terms), by_due, after is not None)
    dialect = db.session.get_bind().dialect.name
    if rows:
        page_obj = _row_page(
            _list_page(shape, dialect),
            values,
            page,
            per_page,
            keyset=after is not None,
        )
    else:
        if after is not None:
            page = 1
        query = select(Case).where(*_paged_conditions(shape, dialect)).order_by(*_order(by_due))
        query = query.options(*_SUMMARY_LOADS).params(values)
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
        page_obj.total = plain(db.session, _list_count(shape.terms, dialect), values).scalar() or 0
    return CaseList(page_obj, level, None if mine else community_id, counts)


# A list's filters by name, their values bound at execution (l_…): list_cases builds its
# statements once per combination of filters, not on every request (building a page
# statement and its cache key took ~0.35 ms a request; bench/PROFILE.md round 8).
_NOW = bindparam("l_now", type_=Case.due_at.type)
_AFTER = bindparam("l_after", type_=Integer)
_TERMS = {
    "reporter": lambda: [Case.reporter_id == bindparam("l_reporter")],
    "community": lambda: [Case.community_id == bindparam("l_community")],
    "orgs": lambda: [Case.assignee_organization_id.in_(bindparam("l_orgs", expanding=True))],
    "public": lambda: [Case.is_public.is_(True)],
    "open": lambda: [Case.status.in_(OPEN_STATUSES)],
    "status": lambda: [Case.status == bindparam("l_status")],
    "category": lambda: [Case.category_id == bindparam("l_category")],
    "grid": lambda: [Case.grid_id == bindparam("l_grid")],
    "channel": lambda: [Case.channel == bindparam("l_channel")],
    "mine": lambda: [Case.assignee_person_id == bindparam("l_person")],
    "due_today": lambda: [
        Case.due_at >= _NOW,
        Case.due_at < bindparam("l_day_end", type_=Case.due_at.type),
    ],
    "escalated": lambda: [Case.escalated_at.is_not(None)],
    "reference": lambda: [Case.reference == bindparam("l_reference")],
    "overdue": lambda: [Case.due_at < _NOW],
    "not_overdue": lambda: [
        or_(Case.status.not_in(OPEN_STATUSES), Case.due_at.is_(None), Case.due_at >= _NOW)
    ],
}


class _ListShape(NamedTuple):
    terms: tuple[str, ...]  # names in _TERMS
    by_due: bool  # overdue lists: by deadline, else newest first
    keyset: bool  # after a case (l_after)


def _order(by_due: bool) -> tuple:
    return (Case.due_at, Case.id) if by_due else (Case.id.desc(),)


@cache
def _conditions(terms: tuple[str, ...], dialect: str) -> tuple:
    clauses = []
    for name in terms:
        if name == "open" and dialect == "postgresql":
            # The open statuses written into the SQL: a plan made once for every value of the
            # other terms can still see that the page implies ix_case_record_open_due's
            # condition (PostgreSQL only; SQLite's plans for bound statuses are the ones
            # tests/affairs/test_list_plans.py checks).
            clauses.append(_literal_in(Case.status, OPEN_STATUSES))
        else:
            clauses.extend(_TERMS[name]())
    return tuple(clauses)


@cache
def _paged_conditions(shape: _ListShape, dialect: str) -> tuple:
    """The shape's conditions, and on a keyset page the rows after case l_after."""
    conditions = _conditions(shape.terms, dialect)
    if shape.keyset:
        conditions = (*conditions, _after(_AFTER, conditions, by_due=shape.by_due))
    return conditions


@cache
def _list_page(shape: _ListShape, dialect: str):
    conditions = _paged_conditions(shape, dialect)
    return _page_query(select(Case.id).where(*conditions), _order(shape.by_due), dialect)


@cache
def _list_count(terms: tuple[str, ...], dialect: str):
    return select(func.count()).select_from(Case).where(*_conditions(terms, dialect))


def inbox(
    actor: Actor,
    *,
    status: str | None = "open",
    page: int = 1,
    per_page: int = 50,
    rows: bool = False,
    after: int | None = None,
):
    """Work assigned to the caller or to their organizations, most urgent first (`rows`: a
    RowPage of `summary_select()` rows, not cases; `after`: keyset paging, the rows after
    that case)."""
    authz.require_person(actor)
    me = actor.person.id
    condition = Case.assignee_person_id == me
    for org_id, community_ids in actor.organization_reach.items():
        if community_ids:
            condition = or_(
                condition,
                and_(Case.assignee_organization_id == org_id, Case.community_id.in_(community_ids)),
            )
    order = (Case.due_at.is_(None), Case.due_at, Case.id)
    paged = condition
    if after is not None:
        listed = _status_filter(select(Case.id).where(condition), status).whereclause
        paged = and_(condition, _after(after, [listed], by_due=True, nulls_last=True))
    if rows:
        counted = _status_filter(select(func.count()).select_from(Case).where(condition), status)
        listed = _status_filter(select(Case.id).where(paged), status)
        total = plain(db.session, counted).scalar() or 0
        query = _page_query(listed, order, db.session.get_bind().dialect.name)
        return _row_page(query, {}, page, per_page, total, keyset=after is not None)
    query = _status_filter(select(Case).where(paged), status).options(*_SUMMARY_LOADS)
    query = query.order_by(*order)
    if after is not None:
        page = 1
    return db.paginate(query, page=page, per_page=per_page, error_out=False)


def assignee_choices(actor: Actor, community_id: int) -> dict:
    """Workers and organizations a case of the community can be dispatched to."""
    authz.ensure_manager(actor, community_id)
    return _assignee_choices(community_id)


def case_assignee_choices(actor: Actor, case: Case) -> dict:
    """Whom this case can be (re)assigned to, for whoever may assign it (the committee, or the
    street official supervising an escalated case)."""
    policy.ensure(actor, "assign", case)
    return _assignee_choices(case.community_id)


def _assignee_choices(community_id: int) -> dict:
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


def month_bounds(now: datetime | None = None) -> tuple[datetime, datetime]:
    """Start and end (UTC) of the current calendar month in the configured time zone."""
    local = (now or _now()).astimezone(_tz())
    start = local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    end = (start + timedelta(days=32)).replace(day=1)
    return start.astimezone(UTC), end.astimezone(UTC)


def day_end(now: datetime | None = None) -> datetime:
    """The end (UTC) of today in the configured time zone: what "due today" runs up to."""
    local = (now or _now()).astimezone(_tz())
    start = local.replace(hour=0, minute=0, second=0, microsecond=0)
    return (start + timedelta(days=1)).astimezone(UTC)


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


def case_status_for_reference(actor: Actor, reference: str, *, with_reference: bool = True) -> str:
    """A plain sentence about a case's progress (查进度) for a screen or a voice turn
    (`with_reference=False`: without "Request 2026-000123", for a reply that already says it;
    see words.progress_sentence).

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
    rel = policy.relation(actor, case)
    level = policy.level_of(rel, case)
    if level is None:
        if not authz.can_read_community(actor, case.community_id):
            raise NotFound(_l("We could not find a request with this number."))
        level = "status"  # a neighbour asking about a private case: status only
    evaluate_case(case)
    ref = case.reference if with_reference else None
    if level == "status" or (level == "public" and not case.is_public):
        return words.progress_sentence(ref, case.status)
    more: list[str] = []
    if level != "public":
        assignee = _assignee_view(case, level)
        if assignee is not None and case.status in (ASSIGNED, IN_PROGRESS):
            more.append(_("Handled by %(name)s.", name=assignee["name"]))
        if case.status == REJECTED and case.reject_reason:
            more.append(_("Reason: %(reason)s", reason=case.reject_reason))
        # Only news from the committee: a voice turn may be heard by everyone in a lobby.
        latest = next((published_note(e) for e in reversed(case.events) if published_note(e)), None)
        if latest is not None and case.status != REJECTED:
            more.append(_("Latest: %(note)s", note=latest))
        if case.status == RESOLVED and "reporter" in rel:
            more.append(_("Please tell us if it is fixed."))
    return words.progress_sentence(ref, case.status, case.category.name, more)
