"""The console shaped by each role (issue 12): the menu lists only what the account may open,
the overview lists that role's own work, and no link in the console leads to a 403.

Each role signs in through the login form, then the test follows every console link of the menu
and the overview, and the links on the pages those open (two steps), asserting none refuses."""

from __future__ import annotations

from datetime import timedelta
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

import pytest

from app.affairs import queries
from app.extensions import db
from app.models import AuditLog
from app.models.base import utcnow
from app.notices import announcements
from app.people import notifications
from tests.affairs.conftest import actor, put_in_state, submit
from tests.pages import csrf_token, staff_login

MENU = {
    "staff": {"概览", "居民诉求", "公告", "事项分类", "社区大屏", "开放接口密钥", "操作记录"},
    "grid_worker": {"概览", "居民诉求", "公告", "事项分类", "社区大屏"},
    "org_member": {"概览", "居民诉求"},
    "official": {"概览", "居民诉求", "公告", "事项分类", "社区大屏", "操作记录"},
    "admin": {"概览", "居民诉求", "公告", "事项分类", "社区大屏", "开放接口密钥", "操作记录"},
}
# 议事投票 for those who work inside a community; 活动与积分 for those who organize activities
# (the committee, an organization's members).
for _role in ("staff", "grid_worker", "official", "admin"):
    MENU[_role].add("议事投票")
for _role in ("staff", "org_member", "admin"):
    MENU[_role].add("活动与积分")
# 组织与成员 for those who manage a community (an organization's lead gets 我的组织 instead:
# tests/web/test_staff_org_members.py).
for _role in ("staff", "admin"):
    MENU[_role].add("组织与成员")


class _Links(HTMLParser):
    """The hrefs of a page's links, and the text of the staff menu's links."""

    def __init__(self):
        super().__init__()
        self.hrefs: list[str] = []
        self.menu: list[str] = []
        self._nav_depth = 0
        self._in_menu_link = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "nav":
            if attrs.get("aria-label") in ("工作台", "Staff console") or self._nav_depth:
                self._nav_depth += 1
        if tag == "a" and attrs.get("href"):
            self.hrefs.append(attrs["href"])
            if self._nav_depth:
                self._in_menu_link = True
                self.menu.append("")

    def handle_endtag(self, tag):
        if tag == "nav" and self._nav_depth:
            self._nav_depth -= 1
        if tag == "a":
            self._in_menu_link = False

    def handle_data(self, data):
        if self._in_menu_link:
            self.menu[-1] += data.strip()


def _parse(html: str) -> _Links:
    parser = _Links()
    parser.feed(html)
    return parser


def _console_links(base: str, html: str) -> list[str]:
    out = []
    for href in _parse(html).hrefs:
        url = urljoin(base, href)
        parts = urlsplit(url)
        if parts.scheme not in ("", "http") or parts.netloc not in ("", "localhost"):
            continue
        if not parts.path.startswith("/staff/") or "lang=" in parts.query:
            continue
        out.append(parts.path + (f"?{parts.query}" if parts.query else ""))
    return out


def _crawl(client, start: str = "/staff/", depth: int = 2, limit: int = 80) -> dict[str, int]:
    """GET every console link reachable from `start` in `depth` steps: {url: status}."""
    seen: dict[str, int] = {}
    frontier = [start]
    for _ in range(depth + 1):
        nxt = []
        for url in frontier:
            if url in seen or len(seen) >= limit:
                continue
            r = client.get(url)
            seen[url] = r.status_code
            if r.status_code == 200 and r.mimetype == "text/html":
                nxt += _console_links("http://localhost" + url, r.get_data(as_text=True))
        frontier = nxt
    return seen


@pytest.fixture()
def scene(cats):
    """Work in community A (and the same kinds of work in B, which nobody of A may see)."""
    world = cats
    now = utcnow()
    made = {}
    for name, side in (("a", world.a), ("b", world.b)):
        new = submit(side, description=f"{name}新诉求电梯坏了")
        late = submit(side, code="environment", description=f"{name}超期的垃圾")
        late.due_at = now - timedelta(hours=3)
        soon = submit(side, code="environment", description=f"{name}今天到期的事")
        soon.due_at = min(now + timedelta(hours=1), queries.day_end(now) - timedelta(minutes=1))
        escalated = submit(side, code="safety", description=f"{name}已上报的井盖")
        escalated.due_at = now - timedelta(days=3)
        escalated.overdue_notified_at = now - timedelta(days=2)
        escalated.escalated_at = now - timedelta(days=1)
        mine = put_in_state(submit(side, description=f"{name}派给网格员的事"), side, "assigned")
        mine.assignee_organization_id = None
        mine.assignee_person_id = side.grid_worker.id
        org = put_in_state(submit(side, description=f"{name}派给物业的事"), side, "assigned")
        notifications.notify(
            side.staff.id, "urgent_help", f"{name}紧急求助：独居老人", "救命", urgent=True
        )
        urgent = announcements.create_announcement(
            actor(side.staff),
            community_id=side.community.id,
            title=f"{name}停水紧急通知",
            body="今晚停水。",
            priority="urgent",
        )
        made[name] = {
            "new": new,
            "late": late,
            "soon": soon,
            "escalated": escalated,
            "mine": mine,
            "org": org,
            "urgent": urgent,
        }
    db.session.commit()
    world.extra = made
    return world


def _person(world, role):
    return {"admin": world.admin, "official": world.official}.get(role) or getattr(world.a, role)


@pytest.mark.parametrize("role", list(MENU))
def test_menu_lists_what_the_role_may_open_and_no_link_refuses(client, scene, role):
    staff_login(client, _person(scene, role))
    page = client.get("/staff/")
    assert page.status_code == 200
    menu = _parse(page.get_data(as_text=True)).menu
    # Every staff-side account has the alert centre (its badge carries a count after the name).
    assert sum(m.startswith("提醒中心") for m in menu) == 1, menu
    assert {m for m in menu if not m.startswith("提醒中心")} == MENU[role], menu
    statuses = _crawl(client)
    refused = {url: code for url, code in statuses.items() if code in (401, 403)}
    assert not refused, refused
    broken = {url: code for url, code in statuses.items() if code >= 400}
    assert not broken, broken
    # The crawl reached the sections of the menu.
    assert len(statuses) > len(MENU[role])


def _overview(client, person) -> str:
    staff_login(client, person)
    r = client.get("/staff/")
    assert r.status_code == 200
    return r.get_data(as_text=True)


def test_committee_overview_counts_its_community_only(client, scene):
    world = scene
    html = _overview(client, world.a.staff)
    a, b = world.extra["a"], world.extra["b"]
    assert "a紧急求助：独居老人" in html and "b紧急求助" not in html
    assert "未确认的紧急求助" in html
    community = world.a.community.id
    # The figures, each linking to the filtered inbox that lists exactly them.
    for label, query, expected in (
        ("新诉求", "status=submitted", {a["new"], a["late"], a["soon"], a["escalated"]}),
        ("超期", "status=open&overdue=1", {a["late"], a["escalated"]}),
        ("今日到期", "status=open&due=today", {a["soon"]}),
    ):
        href = f"/staff/cases/?community_id={community}&{query}"
        assert f'href="{href.replace("&", "&amp;")}"' in html, (label, href)
        listed = client.get(href + "&assignee=").get_data(as_text=True)
        for case in expected:
            assert case.reference in listed, (label, case.description)
        assert b["new"].reference not in listed
    assert "离线大屏" in html  # world.a.device never sent a heartbeat: offline
    tile = html.split("离线大屏")[0].rsplit("<strong>", 1)[1]
    assert tile.startswith("1<"), tile
    for case in b.values():
        if hasattr(case, "reference"):
            assert case.reference not in html


def test_grid_worker_overview_lists_my_tasks_and_elders_to_follow_up(client, scene):
    world = scene
    before = db.session.query(AuditLog).filter_by(actor_person_id=world.a.grid_worker.id).count()
    html = _overview(client, world.a.grid_worker)
    a, b = world.extra["a"], world.extra["b"]
    assert "我的任务" in html and a["mine"].reference in html
    assert b["mine"].reference not in html and a["org"].reference not in html
    # The elder living alone in the grid has not read the urgent notice: follow up.
    assert world.a.elder.display_name in html and "a停水紧急通知" in html
    assert "b停水紧急通知" not in html
    assert f"/staff/announcements/{a['urgent'].id}" in html
    # Reading care flags is on the record.
    db.session.expire_all()
    reads = db.session.query(AuditLog).filter_by(
        actor_person_id=world.a.grid_worker.id, action="read"
    )
    assert reads.count() > before
    assert any("care_flags" in (e.detail or {}).get("fields", []) for e in reads)
    # No committee figures, no urgent-help section when nothing is waiting for them.
    assert "离线大屏" not in html and "未确认的紧急求助" not in html
    english = client.get("/staff/?lang=en").get_data(as_text=True)
    assert "My tasks" in english and "Elders living alone to follow up" in english


def test_grid_worker_inbox_opens_on_my_tasks(client, scene):
    world = scene
    a = world.extra["a"]
    staff_login(client, world.a.grid_worker)
    html = client.get("/staff/cases/").get_data(as_text=True)
    assert a["mine"].reference in html and a["new"].reference not in html
    assert '<option value="me" selected>' in html
    assert client.get("/staff/cases/?assignee=someone").status_code == 422
    assert client.get("/staff/cases/?due=tomorrow").status_code == 422
    everything = client.get("/staff/cases/?assignee=").get_data(as_text=True)
    assert a["mine"].reference in everything and a["new"].reference in everything
    # Committee staff open on every open case.
    client.post("/staff/logout", data={})
    staff_login(client, world.a.staff)
    html = client.get("/staff/cases/").get_data(as_text=True)
    assert a["new"].reference in html and a["mine"].reference in html


def test_org_member_overview_lists_their_organizations_cases(client, scene):
    world = scene
    html = _overview(client, world.a.org_member)
    a, b = world.extra["a"], world.extra["b"]
    assert "派给本单位的诉求" in html
    assert a["org"].reference in html
    assert a["new"].reference not in html and b["org"].reference not in html
    assert "紧急求助" not in html


def test_street_official_overview_figures_per_community_and_escalated(client, scene):
    world = scene
    html = _overview(client, world.official)
    a, b = world.extra["a"], world.extra["b"]
    assert world.a.community.name in html and world.b.community.name not in html
    assert a["escalated"].reference in html and b["escalated"].reference not in html
    assert "已上报" in html
    english = client.get("/staff/?lang=en").get_data(as_text=True)
    assert "Escalated cases" in english and "Resolved this month" in english
    community = world.a.community.id
    href = f"/staff/cases/?community_id={community}&status=open&escalated=1"
    assert href.replace("&", "&amp;") in html
    listed = client.get(href).get_data(as_text=True)
    assert a["escalated"].reference in listed and a["late"].reference not in listed
    # The office's audit log: its own communities, not another office's.
    assert client.get("/staff/audit").status_code == 200
    assert client.get(f"/staff/audit?community_id={world.b.community.id}").status_code == 404


def test_admin_overview_covers_every_community(client, scene):
    world = scene
    html = _overview(client, world.admin)
    assert world.a.community.name in html and world.b.community.name in html
    assert world.extra["a"]["escalated"].reference in html
    assert world.extra["b"]["escalated"].reference in html


def _api_refs(client, auth, person, query: str) -> tuple[int, set[str], dict]:
    r = client.get(f"/api/v1/cases?{query}", headers=auth.headers(person))
    body = r.get_json()
    refs = {item["reference"] for item in body.get("items", [])} if r.status_code == 200 else set()
    return r.status_code, refs, body


def test_the_api_lists_what_the_console_filters_list(client, auth, scene):
    """The console's 今日到期 / 已上报 / 我的任务 filters over GET /api/v1/cases (an app for
    grid workers and committee staff uses the same lists); before, the API dropped them
    silently and answered with every case."""
    world = scene
    a = world.extra["a"]
    community = world.a.community.id
    base = f"community_id={community}&status=open"
    for person, query, expected in (
        (world.a.staff, f"{base}&due=today", {a["soon"]}),
        (world.a.staff, f"{base}&escalated=true", {a["escalated"]}),
        (world.a.staff, f"{base}&overdue=true", {a["late"], a["escalated"]}),
        (world.a.grid_worker, f"{base}&assignee=me", {a["mine"]}),
        (world.a.staff, f"{base}&assignee=me", set()),
    ):
        code, refs, body = _api_refs(client, auth, person, query)
        assert code == 200, body
        assert refs == {c.reference for c in expected}, query
        assert body["total"] == len(expected)
        # The console's own list gives the same cases.
        staff_login(client, person)
        html = client.get(f"/staff/cases/?{base}&{query.split('&')[-1].replace('true', '1')}")
        listed = html.get_data(as_text=True)
        assert all(c.reference in listed for c in expected)
        others = {a[k] for k in ("new", "late", "soon", "escalated", "mine", "org")} - expected
        assert not any(c.reference in listed for c in others), query
        out = client.post("/staff/logout", data={"csrf_token": csrf_token(client)})
        assert out.status_code == 302
    # Values that mean nothing are refused in the one error format, not ignored.
    for query in ("due=tomorrow", "escalated=false", "assignee=someone", "escalated=maybe"):
        code, _refs, body = _api_refs(client, auth, world.a.staff, f"{base}&{query}")
        assert code == 422 and body["code"] == 422, (query, body)
        assert query.split("=")[0] in body["errors"], body


def test_residents_may_not_filter_the_public_list_by_what_it_does_not_show(client, auth, scene):
    """A resident's list of the community is its public cases without grid, channel, deadline or
    escalation; filtering by them would tell them case by case, and ignoring the filter would
    answer with every case as if filtered, so it is refused (403)."""
    world = scene
    base = f"community_id={world.a.community.id}"
    code, public, _body = _api_refs(client, auth, world.a.resident, base)
    assert code == 200 and public
    internal = ("overdue=true", "overdue=false", "due=today", "escalated=true", "channel=kiosk")
    for query in (*internal, f"grid_id={world.a.community.grids[0].id}"):
        code, _refs, body = _api_refs(client, auth, world.a.resident, f"{base}&{query}")
        assert code == 403 and body["code"] == 403, (query, body)
        assert body["message"] == "只有社区的工作人员可以用这个条件筛选。", body
    # Their own cases (mine=true) show deadlines, so they may filter those.
    code, _refs, body = _api_refs(client, auth, world.a.resident, "mine=true&overdue=true")
    assert code == 200, body
