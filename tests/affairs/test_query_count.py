"""The hot affairs requests run a fixed number of SQL statements (none per row), and the lists
answered without marshmallow say exactly what CasePageSchema would have said.

The numbers are printed (pytest -s) and asserted: a change that adds a query per request or per
row fails here. They count every statement of the request, the bearer token's included.
"""

from __future__ import annotations

import json
import threading
import uuid
from contextlib import contextmanager
from datetime import timedelta

import marshmallow as ma
import pytest
from flask_babel.speaklater import LazyString
from sqlalchemy import event

from app.affairs import deadlines, intake, queries, views
from app.affairs.queries import day_end
from app.api.cases import dumping
from app.api.cases.schemas import (
    CaseCreatedSchema,
    CasePageSchema,
    CaseSchema,
    CaseSummarySchema,
)
from app.extensions import db
from app.infra.errors import Invalid
from app.models import Household
from app.models.base import utcnow
from app.models.case import OPEN_STATUSES, Case
from tests.affairs.conftest import actor, put_in_state, submit
from tests.conftest import _postgres_url

# One create by a resident: the token with its person and roles (1); idempotency key look-up
# and insert (2); category, the flat with its building (2); the hourly limit (1); serial, case,
# first event, the reporter's notification (4); the stored answer (1); the counts per status,
# at commit (1).
CREATE_STATEMENTS = 12
# ... and with_similar=true: the similar open cases, one query per kind of place (here the
# building) and one for the rows found (2).
SIMILAR_STATEMENTS = 2
# A page of a list: its statement (1), and on PostgreSQL first the join order fixed for the
# transaction (1: queries._JOINS_AS_WRITTEN, which saves planning three times its cost).
PAGE_STATEMENTS = 2 if _postgres_url() else 1
# The staff list: the token with its person and roles (1); counts per status and overdue, in
# one statement (1); the page.
STAFF_LIST_STATEMENTS = 2 + PAGE_STATEMENTS
# ... and once per CASE_LIST_SWEEP_SECONDS per community, the bounded deadline sweep (4).
SWEEP_STATEMENTS = 4
# The handler's inbox (an organization's member): the token with its person and roles (1); the
# communities their organizations serve (1); count (1); the page.
INBOX_STATEMENTS = 3 + PAGE_STATEMENTS


@pytest.fixture(autouse=True)
def swept_once_a_minute(app, monkeypatch):
    """Lists sweep due deadline work at most once a minute here (the other tests: every read);
    the clock stands still, so only the first read of a community sweeps."""
    monkeypatch.setitem(app.config, "CASE_LIST_SWEEP_SECONDS", 60)
    monkeypatch.setitem(app.extensions, "linli_list_sweeps", {})
    monkeypatch.setattr(deadlines, "_clock", lambda: 1000.0)


@contextmanager
def statements():
    """Collect the SQL statements run inside the block."""
    seen: list[str] = []
    me = threading.get_ident()

    def on_execute(_conn, _cursor, statement, _params, _context, _many):
        if threading.get_ident() == me:  # not a background watcher's
            seen.append(statement)

    event.listen(db.engine, "before_cursor_execute", on_execute)
    try:
        yield seen
    finally:
        event.remove(db.engine, "before_cursor_execute", on_execute)


@pytest.fixture()
def many(cats):
    """60 cases in community A with every kind of row: assigned to the organization or to the
    grid worker, with a flat, a building or only an address, open and closed."""
    world = cats
    side = world.a
    flat = db.session.get(Household, side.resident.household_id)
    building = side.community.buildings[0]
    for n in range(60):
        where = (
            {"household_id": flat.id}
            if n % 3 == 0
            else {"building_id": building.id}
            if n % 3 == 1
            else {"address": f"小广场东侧 {n}"}
        )
        case = submit(
            side,
            by=side.staff,
            reporter_id=side.resident.id,
            code="repair" if n % 2 else "environment",
            **where,
        )
        if n % 4 == 1:
            put_in_state(case, side, "in_progress")
        elif n % 4 == 2:
            put_in_state(case, side, "assigned")
            case.assignee_organization_id = None
            case.assignee_person_id = side.grid_worker.id
            db.session.commit()
        elif n % 4 == 3 and n % 8 == 3:
            put_in_state(case, side, "closed")
    # Far from any deadline, so "overdue" cannot change between two readings.
    db.session.execute(
        db.text("UPDATE case_record SET due_at = :d"), {"d": utcnow() + timedelta(days=30)}
    )
    db.session.commit()
    return world


def _count(client, method, url, **kwargs):
    with statements() as seen:
        response = getattr(client, method)(url, **kwargs)
    assert response.status_code < 300, response.get_json()
    print(f"{method.upper()} {url}: {len(seen)} SQL statements")
    return response, [" ".join(s.split())[:100] for s in seen]


@pytest.mark.parametrize("with_similar", [False, True])
def test_one_create_runs_a_fixed_number_of_statements(client, auth, many, with_similar):
    world = many
    headers = auth.headers(world.a.resident)
    body = {"category_code": "repair", "description": "楼道灯不亮了"}
    if with_similar:
        body["with_similar"] = True
    counts = []
    for _ in range(2):
        response, seen = _count(
            client,
            "post",
            "/api/v1/cases",
            json=body,
            headers={**headers, "Idempotency-Key": uuid.uuid4().hex},
        )
        counts.append(len(seen))
        # The 60 open cases of the building give suggestions when asked, and none are
        # looked for otherwise.
        assert bool(response.get_json().get("similar")) is with_similar
    expected = CREATE_STATEMENTS + (SIMILAR_STATEMENTS if with_similar else 0)
    assert counts == [expected] * 2, seen


@pytest.mark.parametrize("status", ["all", "open"])
def test_the_staff_list_runs_the_same_statements_for_5_or_50_rows(client, auth, many, status):
    world = many
    headers = auth.headers(world.a.staff)
    url = f"/api/v1/cases?community_id={world.a.community.id}&status={status}"
    _first, n_first = _count(client, "get", f"{url}&per_page=5", headers=headers)
    assert len(n_first) == STAFF_LIST_STATEMENTS + SWEEP_STATEMENTS, n_first
    small, n_small = _count(client, "get", f"{url}&per_page=5", headers=headers)
    large, n_large = _count(client, "get", f"{url}&per_page=50", headers=headers)
    assert len(small.get_json()["items"]) == 5
    assert len(large.get_json()["items"]) > 30
    assert len(n_small) == len(n_large) == STAFF_LIST_STATEMENTS, n_large


def test_the_inbox_runs_the_same_statements_for_5_or_50_rows(client, auth, many):
    world = many
    headers = auth.headers(world.a.org_member)
    small, n_small = _count(client, "get", "/api/v1/inbox?status=all&per_page=5", headers=headers)
    large, n_large = _count(client, "get", "/api/v1/inbox?status=all&per_page=50", headers=headers)
    assert len(small.get_json()["items"]) == 5
    assert len(large.get_json()["items"]) > 5
    assert len(n_small) == len(n_large) == INBOX_STATEMENTS, n_large


def _dumped(page, level, counts=None) -> dict:
    body = {
        "items": [views.case_summary(c, level) for c in page.items],
        "total": page.total,
        "page": page.page,
        "pages": page.pages,
    }
    if counts is not None:
        body["counts"] = counts
    return CasePageSchema().dump(body)


@pytest.mark.parametrize(
    ("role", "query"),
    [
        ("staff", {"status": "all", "per_page": 50}),
        ("staff", {"status": "open", "page": 2, "per_page": 7}),
        ("org_member", {"status": "all", "per_page": 50}),
        ("resident", {"status": "all", "per_page": 50}),
        ("resident", {"mine": True, "per_page": 50}),
        ("grid_worker", {"status": "assigned", "per_page": 50}),
    ],
)
def test_the_prepared_list_is_what_the_schema_would_dump(client, auth, many, role, query):
    world = many
    person = getattr(world.a, role)
    args = {"community_id": world.a.community.id, **query}
    response = client.get("/api/v1/cases", query_string=args, headers=auth.headers(person))
    assert response.status_code == 200
    got = response.get_json()
    assert got["items"]
    listed = queries.list_cases(actor(person), **args)
    assert got == _dumped(listed.page, listed.level, listed.counts)
    db.session.rollback()


@pytest.mark.parametrize("language", ["en", "zh-CN"])
def test_the_prepared_list_words_places_and_categories_as_the_schema_would(
    app, client, auth, many, language
):
    world = many
    args = {"community_id": world.a.community.id, "status": "all", "per_page": 50}
    headers = {**auth.headers(world.a.staff), "Accept-Language": language}
    got = client.get("/api/v1/cases", query_string=args, headers=headers).get_json()
    with app.test_request_context(headers={"Accept-Language": language}):
        listed = queries.list_cases(actor(world.a.staff), **args)
        expected = _dumped(listed.page, listed.level, listed.counts)
    db.session.rollback()
    assert got == expected
    places = {row["place"] for row in got["items"]}
    flat = db.session.get(Household, world.a.resident.household_id)
    assert flat.unit
    assert (f"{flat.building.name}, unit {flat.unit}, {flat.room}" in places) == (language == "en")


@pytest.mark.parametrize("role", ["org_member", "grid_worker"])
def test_the_prepared_inbox_is_what_the_schema_would_dump(client, auth, many, role):
    world = many
    person = getattr(world.a, role)
    response = client.get(
        "/api/v1/inbox",
        query_string={"status": "all", "per_page": 9, "page": 2},
        headers=auth.headers(person),
    )
    assert response.status_code == 200
    got = response.get_json()
    assert got["items"]
    page = queries.inbox(actor(person), status="all", page=2, per_page=9)
    assert got == _dumped(page, "assignee")


def _walk(client, url, headers, per_page, *, keyset):
    """Every id of a list, page by page (numbered pages, or keyset with ?after=)."""
    ids, page, after = [], 1, None
    while True:
        query = f"{url}&per_page={per_page}" + (
            f"&after={after}" if keyset and after else f"&page={page}"
        )
        response = client.get(query, headers=headers)
        assert response.status_code == 200, response.get_json()
        items = response.get_json()["items"]
        if not items:
            return ids
        ids += [row["id"] for row in items]
        page, after = page + 1, items[-1]["id"]


def _spread_deadlines(side, *, past: bool):
    """Deadlines with ties and gaps (and none at all for a few, unless `past`)."""
    now = utcnow()
    ids = db.session.scalars(
        db.select(Case.id).where(Case.community_id == side.community.id).order_by(Case.id)
    ).all()
    for n, case_id in enumerate(ids):
        due = now + (timedelta(hours=-(n % 5) - 1) if past else timedelta(hours=n % 4))
        if not past and n % 7 == 0:
            due = None
        db.session.execute(db.update(Case).where(Case.id == case_id).values(due_at=due))
    db.session.commit()


@pytest.mark.parametrize("extra", ["status=all", "status=open", "overdue=true"])
def test_keyset_pages_list_the_same_cases_as_numbered_pages(client, auth, many, extra):
    world = many
    if extra == "overdue=true":
        _spread_deadlines(world.a, past=True)
    headers = auth.headers(world.a.staff)
    url = f"/api/v1/cases?community_id={world.a.community.id}&{extra}"
    numbered = _walk(client, url, headers, 7, keyset=False)
    assert len(numbered) > 14
    assert _walk(client, url, headers, 7, keyset=True) == numbered
    # The same statements as a numbered page (a filtered list counts its total: one more).
    _small, numbered_page = _count(client, "get", f"{url}&per_page=5&page=2", headers=headers)
    _small, with_after = _count(
        client, "get", f"{url}&per_page=5&after={numbered[4]}", headers=headers
    )
    assert (
        len(with_after) == len(numbered_page) == STAFF_LIST_STATEMENTS + (extra == "overdue=true")
    )


def test_keyset_pages_of_the_inbox_follow_its_order(client, auth, many):
    world = many
    _spread_deadlines(world.a, past=False)
    headers = auth.headers(world.a.org_member)
    url = "/api/v1/inbox?status=all"
    numbered = _walk(client, url, headers, 4, keyset=False)
    assert len(numbered) > 8
    assert _walk(client, url, headers, 4, keyset=True) == numbered
    _small, with_after = _count(
        client, "get", f"{url}&per_page=5&after={numbered[3]}", headers=headers
    )
    assert len(with_after) == INBOX_STATEMENTS


def test_keyset_after_a_case_outside_the_list_finds_nothing_by_deadline(client, auth, many):
    world = many
    _spread_deadlines(world.a, past=True)
    foreign = submit(world.b, by=world.b.staff, reporter_id=world.b.resident.id)
    url = f"/api/v1/cases?community_id={world.a.community.id}&overdue=true&after={foreign.id}"
    response = client.get(url, headers=auth.headers(world.a.staff))
    assert response.status_code == 200
    assert response.get_json()["items"] == []


def _same_json(app, one, other) -> bool:
    return json.loads(app.json.dumps(one)) == json.loads(app.json.dumps(other))


@pytest.mark.parametrize("role", ["staff", "resident", "org_member", "grid_worker"])
def test_the_quick_case_dump_is_what_the_schema_would_dump(app, many, role):
    world = many
    who = actor(getattr(world.a, role))
    schema = CaseSchema()
    assert dumping.dumper(schema) is not None
    cases = db.session.scalars(
        db.select(Case).where(Case.community_id == world.a.community.id).order_by(Case.id)
    ).all()
    seen = set()
    with app.test_request_context():
        for case in cases:
            view = views.case_view(who, case)
            seen.add(view["level"])
            quick, slow = dumping.dump(schema, view), schema.dump(view)
            assert quick == slow
            assert list(quick) == list(slow)
            assert _same_json(app, quick, slow)
    db.session.rollback()
    assert seen  # each role sees the cases at its own level(s)


@pytest.mark.parametrize(
    ("by", "fields"),
    [
        ("resident", {}),
        ("resident", {"anonymous": True, "code": "environment"}),
        ("staff", {"reporter_id": "resident"}),
        ("staff", {"contact_name": "王阿姨", "contact_phone": "13800138000"}),
        ("grid_worker", {"channel": "patrol"}),
    ],
)
def test_the_created_case_is_answered_as_the_schema_would_dump_it(app, many, by, fields):
    world = many
    side = world.a
    fields = dict(fields)
    code = fields.pop("code", "repair")
    if fields.get("reporter_id") == "resident":
        fields["reporter_id"] = side.resident.id
    building = side.community.buildings[0]
    with app.test_request_context():
        submitted = intake.submit(
            actor(getattr(side, by)),
            category_code=code,
            community_id=side.community.id,
            description="路灯坏了，晚上很黑",
            building_id=building.id,
            with_similar=True,
            **fields,
        )
        view = submitted.view
        assert view["similar"]  # the 60 cases give it suggestions to dump too
        schema = CaseCreatedSchema()
        quick, slow = dumping.dump(schema, view), schema.dump(view)
    db.session.rollback()
    assert quick == slow
    assert list(quick) == list(slow)
    assert _same_json(app, quick, slow)
    # What the schema leaves out stays out (a timeline row's "moved" is for pages only).
    assert "moved" in view["timeline"][0]
    assert "moved" not in quick["timeline"][0]


def test_the_quick_dump_leaves_schemas_it_does_not_know_to_marshmallow():
    class Odd(ma.Schema):
        plain = ma.fields.Integer()
        said = ma.fields.Method("_say")

        def _say(self, obj):
            return f"n={obj['plain']}"

    class Hooked(ma.Schema):
        plain = ma.fields.Integer()

        @ma.post_dump
        def _more(self, data, **kwargs):
            return {**data, "more": True}

    assert dumping.dumper(Odd()) is None
    assert dumping.dump(Odd(), {"plain": 2}) == {"plain": 2, "said": "n=2"}
    assert dumping.dumper(Hooked()) is None
    assert dumping.dump(Hooked(), {"plain": "3"}) == {"plain": 3, "more": True}
    assert dumping.dumper(CaseSummarySchema()) is not None
    assert dumping.dump(CaseSummarySchema(), {"id": "7", "building": None, "x": 1}) == {
        "id": 7,
        "building": None,
    }


def test_a_domain_error_words_its_lazy_message_only_when_shown():
    worded = []

    def word(text):
        worded.append(text)
        return text.upper()

    error = Invalid(LazyString(word, "not yet"))
    assert worded == []  # raised and dropped (a case's buttons try every action): no look-up
    assert str(error) == "NOT YET" and worded == ["not yet"]
    assert str(Invalid()) == str(Invalid.default_message) == str(Invalid(""))


@pytest.mark.parametrize("page", [1, 2, 3])
def test_pages_by_deadline_are_the_orm_pages(client, auth, many, page):
    """A page is chosen from case_record alone and joined afterwards: ordered by deadline (ties
    included) and on a later page, it holds the same rows in the same order as the ORM's."""
    world = many
    _spread_deadlines(world.a, past=True)
    args = {"community_id": world.a.community.id, "overdue": "true", "page": page, "per_page": 7}
    headers = auth.headers(world.a.staff)
    got = client.get("/api/v1/cases", query_string=args, headers=headers).get_json()
    assert len(got["items"]) == 7
    dues = [row["due_at"] for row in got["items"]]
    assert dues == sorted(dues) and len(set(dues)) < len(dues)  # ordered, with ties
    listed = queries.list_cases(actor(world.a.staff), **{**args, "overdue": True})
    assert got == _dumped(listed.page, listed.level, listed.counts)
    db.session.rollback()
    _spread_deadlines(world.a, past=False)
    headers = auth.headers(world.a.org_member)
    query = {"status": "all", "per_page": 4, "page": page}
    got = client.get("/api/v1/inbox", query_string=query, headers=headers).get_json()
    assert len(got["items"]) == 4
    assert got == _dumped(queries.inbox(actor(world.a.org_member), **query), "assignee")


@pytest.mark.parametrize(
    "query",
    [
        {"status": "open"},
        {"status": "all", "overdue": "true"},
        {"status": "submitted", "channel": "phone", "after": 10**9},
    ],
)
def test_a_list_is_built_once_per_filter_shape_and_bound_per_request(client, auth, many, query):
    """The list statements are built once per combination of filters and reused with each
    request's values: another community's list (same filters) gets the same statements, and
    only its own cases."""
    world = many
    mine = submit(world.b, by=world.b.staff, reporter_id=world.b.resident.id, address="西门 1")
    db.session.execute(
        db.update(Case).values(due_at=utcnow() - timedelta(hours=1)).where(Case.id == mine.id)
    )
    db.session.commit()
    answers, texts = {}, {}
    for side in (world.a, world.b):
        args = {"community_id": side.community.id, "per_page": 50, **query}
        with statements() as seen:
            got = client.get("/api/v1/cases", query_string=args, headers=auth.headers(side.staff))
        assert got.status_code == 200, got.get_json()
        answers[side.community.id] = {row["id"] for row in got.get_json()["items"]}
        texts[side.community.id] = [s for s in seen if "ORDER BY" in s]
        built = (
            queries._list_page.cache_info().currsize,
            queries._list_count.cache_info().currsize,
        )
        if side is world.a:
            first = built
    a, b = world.a.community.id, world.b.community.id
    assert texts[a] == texts[b] and texts[a]  # the same statement text, other values
    assert built == first  # nothing new built for the second community
    assert answers[b] == {mine.id}  # B's one case (overdue, phoned in), in B's list only
    assert mine.id not in answers[a]


def _expected(cases, me, now, **query):
    """The ids a list should hold, worked out in Python from the cases themselves (not from
    the statements under test)."""
    kept = []
    for c in cases:
        open_ = c.status in OPEN_STATUSES
        due = c.due_at
        checks = [
            query.get("status") in (None, "all")
            or (open_ if query["status"] == "open" else c.status == query["status"]),
            query.get("overdue") is None
            or (open_ and due is not None and due < now) == (query["overdue"] == "true"),
            "channel" not in query or c.channel == query["channel"],
            "assignee" not in query or c.assignee_person_id == me,
            "escalated" not in query or (open_ and c.escalated_at is not None),
            "due" not in query or (open_ and due is not None and now <= due < day_end(now)),
            "q" not in query or c.reference == query["q"],
        ]
        if all(checks):
            kept.append(c.id)
    return set(kept)


@pytest.mark.parametrize(
    "query",
    [
        {"status": "open"},
        {"status": "assigned"},
        {"status": "all", "overdue": "true"},
        {"status": "open", "overdue": "true"},
        {"status": "all", "overdue": "false"},
        {"status": "all", "channel": "phone"},
        {"status": "open", "escalated": "true"},
        {"status": "all", "due": "today"},
        {"status": "all", "assignee": "me"},
        {"status": "in_progress", "overdue": "false", "channel": "phone"},
        {"status": "all", "q": "(the 8th case's reference)"},
    ],
)
def test_each_filter_lists_the_cases_it_describes(many, query):
    """Every filter, alone and combined, against ids worked out in Python: for a committee
    worker and the grid worker (the same community, its whole list), with some cases late,
    some due today and some escalated. (`due`, `escalated` and `assignee` are the staff
    console's filters; the API takes the others.)"""
    world = many
    side = world.a
    now = utcnow()
    ids = db.session.scalars(
        db.select(Case.id).where(Case.community_id == side.community.id).order_by(Case.id)
    ).all()
    for n, case_id in enumerate(ids):
        hours = (-3, -1, 2, 50, None)[n % 5]
        due = None if hours is None else now + timedelta(hours=hours)
        values = {"due_at": due, "escalated_at": now if n % 6 == 0 else None}
        db.session.execute(db.update(Case).where(Case.id == case_id).values(**values))
    db.session.commit()
    cases = db.session.scalars(db.select(Case).where(Case.community_id == side.community.id))
    cases = list(cases)
    now = utcnow()
    if "q" in query:
        query = {**query, "q": cases[7].reference}
    filters = {k: v == "true" if k in ("overdue", "escalated") else v for k, v in query.items()}
    for who in (side.staff, side.grid_worker):
        expected = _expected(cases, who.id, now, **query)
        # Both ways a list is read: rows (the API) and cases (the staff console's pages).
        for rows in (True, False):
            listed = queries.list_cases(
                actor(who), community_id=side.community.id, per_page=200, rows=rows, **filters
            )
            got = {item.id for item in listed.page.items}
            assert got == expected, (who.display_name, rows, query)
            assert listed.page.total == len(got)
            db.session.rollback()
