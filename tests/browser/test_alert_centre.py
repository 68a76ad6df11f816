"""The alert centre in real Chromium against real gunicorn (2 gevent workers, no Redis, so a
notice written by one worker reaches a stream held by the other only through the per-process
poll): an elder's 救命 (a text turn of the voice API, as the voice tests send it) shows live on
the grid worker's and the committee's alert pages within 2 s with the chime; left
unacknowledged the committee is called again and then the street official, after the configured
delay (a few seconds here), live and with the chime each time; one click acknowledges it and
stops the chain; the case is now reported up (已上报), the official issues 督办 on it and the
committee sees it on top of the case page; no console error, no failing request; axe-core finds
nothing on /staff/alerts or the case page.

Sound is observed from inside the page (an init script wraps OscillatorNode.start), as in
tests/browser/test_kiosk_urgent_sound.py."""

from __future__ import annotations

import re
import time
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import requests
from playwright.sync_api import expect

from tests.browser.conftest import PageProblems, Staff
from tests.browser.test_accessibility import _violations
from tests.live import LiveServer

DELAY_MINUTES = 0.07  # 4.2 s per step of the chain
STEP = DELAY_MINUTES * 60

_HOOK = """
window.__sound = {chimes: []};
(function () {
  var start = OscillatorNode.prototype.start;
  OscillatorNode.prototype.start = function () {
    window.__sound.chimes.push({t: performance.now(), state: this.context.state,
                                hz: this.frequency.value});
    return start.apply(this, arguments);
  };
})();
"""


@pytest.fixture(scope="module")
def alerts_server(tmp_path_factory):
    """Two gevent workers without Redis, a short escalation step."""
    server = LiveServer(
        tmp_path_factory.mktemp("alerts"),
        workers=2,
        env={"ALERT_ESCALATE_MINUTES": str(DELAY_MINUTES), "KIOSK_POLL_SECONDS": "30"},
    )
    server.prepare()
    server.start()
    yield server
    server.stop()


def _account(server, role: str, **match) -> dict:
    return next(
        a
        for a in server.summary["accounts"]
        if a["role"] == role and all(a.get(k) == v for k, v in match.items())
    )


class Console:
    """One staff person's /staff/alerts in their own browser profile, with the sound hook,
    console errors and failed requests recorded."""

    def __init__(self, browser, server, account: dict):
        self.context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
        self.context.set_default_timeout(30_000)
        self.context.add_init_script(_HOOK)
        page = self.page = self.context.new_page()
        self.problems = PageProblems(page)
        page.goto(f"{server.url}/staff/login")
        page.locator("input[name=login]").fill(account["login"])
        page.locator("input[name=password]").fill(account["password"])
        page.locator("form button[type=submit]").last.click()
        expect(page).to_have_url(re.compile(r"/staff/$"))
        page.goto(f"{server.url}/staff/alerts")
        expect(page.locator("h1")).to_have_text("提醒中心")

    def chimes(self) -> list[dict]:
        return self.page.evaluate("window.__sound.chimes")

    def urgent_items(self):
        return self.page.locator("#alert-list li.alert.urgent", has_text="紧急求助")

    def clean(self) -> None:
        self.problems.clean()

    def close(self) -> None:
        self.context.close()


def _screen_says(server, text: str) -> None:
    """救命 at a lobby screen in 4号楼: its grid (第二网格) has no grid worker in the demo, so
    the chain starts at the committee staff."""
    staff = Staff(server)
    buildings = staff.call("GET", f"/communities/{staff.community['id']}/buildings")
    building = next(b for b in buildings if b["name"] == "4号楼")
    _device, token = staff.new_screen("4号楼大堂屏", building_id=building["id"])
    r = requests.post(
        server.url + "/api/v1/voice/text",
        json={"text": text},
        headers={"Authorization": f"Bearer {token}"},
        timeout=60,
    )
    assert r.status_code == 200, r.text
    assert r.json()["intent"] == "urgent" and r.json()["alerted"] is True


def _elder_says(server, text: str) -> dict:
    elder = next(a for a in server.summary["accounts"] if a["role"] == "resident" and a.get("note"))
    token = requests.post(
        server.url + "/api/v1/auth/token",
        json={"login": elder["login"], "pin": elder["pin"]},
        timeout=30,
    )
    token.raise_for_status()
    r = requests.post(
        server.url + "/api/v1/voice/text",
        json={"text": text},
        headers={"Authorization": f"Bearer {token.json()['token']}"},
        timeout=60,
    )
    assert r.status_code == 200, r.text
    return r.json()


def test_urgent_help_climbs_the_chain_live_with_a_chime(browser, alerts_server):
    server = alerts_server
    grid = Console(browser, server, _account(server, "grid_worker", login="heping_grid1"))
    committee = Console(browser, server, _account(server, "committee_staff", login="heping_staff"))
    street = Console(browser, server, _account(server, "street_official"))
    consoles = (grid, committee, street)
    try:
        for c in consoles:
            expect(c.urgent_items()).to_have_count(0)
            assert c.chimes() == []
        # axe-core on the page as staff see it (before and with alerts)
        assert _violations(committee.page) == []
        before = int(grid.page.locator("#alert-badge .alert-num").inner_text())
        time.sleep(1.0)  # the streams are open (each page fetched its state once)

        reply = _elder_says(server, "救命，我摔倒了")
        said = time.monotonic()
        assert reply["intent"] == "urgent" and reply["alerted"] is True

        # 1. the grid worker of the elder's building and the committee staff: on their pages
        #    within 2 s, each with the chime
        for c in (grid, committee):
            expect(c.urgent_items()).to_have_count(1, timeout=2_000)
            c.page.wait_for_function("window.__sound.chimes.length >= 2", timeout=2_000)
            assert [round(x["hz"]) for x in c.chimes()[:2]] == [1318, 1046]
            assert all(x["state"] == "running" for x in c.chimes())
        assert time.monotonic() - said < 2.5
        badge = grid.page.locator("#alert-badge .alert-num")
        expect(badge).to_have_text(str(before + 1), timeout=2_000)
        expect(street.urgent_items()).to_have_count(0)

        # 2. nobody acknowledged: the committee is called again after the delay, live, chiming
        expect(committee.urgent_items()).to_have_count(2, timeout=int((STEP + 3) * 1000))
        committee_seen = time.monotonic() - said
        assert committee_seen >= STEP - 0.5, committee_seen
        committee.page.wait_for_function("window.__sound.chimes.length >= 4", timeout=2_000)
        expect(committee.urgent_items().first).to_contain_text("分钟无人接手")
        expect(street.urgent_items()).to_have_count(0)

        # 3. still nobody: the street office
        expect(street.urgent_items()).to_have_count(1, timeout=int((STEP + 3) * 1000))
        street_seen = time.monotonic() - said
        assert street_seen >= 2 * STEP - 0.5, street_seen
        street.page.wait_for_function("window.__sound.chimes.length >= 2", timeout=2_000)
        assert _violations(street.page) == []

        # 4. one click acknowledges it, for everyone, and the chain stops
        item = street.urgent_items().first
        note_id = item.get_attribute("data-id")
        item.get_by_role("button", name=re.compile("确认收到")).click()
        done = street.page.locator(f'#alert-list li[data-id="{note_id}"]')
        expect(done).to_contain_text("已由")
        expect(done.locator("form")).to_have_count(0)
        expect(street.urgent_items().locator("form")).to_have_count(0)
        # everyone told of it sees who took it (at the latest on the next fetch)
        committee.page.reload()
        expect(committee.urgent_items().first).to_contain_text("已由")
        expect(committee.urgent_items().locator("form")).to_have_count(0)
        # and it climbs no more: nothing new for anyone after another step's time
        time.sleep(STEP + 1.5)
        expect(street.urgent_items()).to_have_count(1)
        expect(grid.urgent_items()).to_have_count(1)
        assert _violations(committee.page) == []

        # 5. the case reached the street office (已上报): the official opens it from the alert
        #    and issues 督办; the committee, handling it, sees it on top of the case page
        href = street.urgent_items().first.locator("a[href^='/staff/cases/']").first
        case_path = href.get_attribute("href")
        street.page.goto(server.url + case_path)
        group = street.page.locator("#group-supervise")
        due = datetime.now(ZoneInfo("Asia/Shanghai")) + timedelta(days=1)
        group.get_by_label("办结期限").fill(due.strftime("%Y-%m-%dT%H:%M"))
        group.get_by_label("督办要求（内部，居民看不到）").fill("今天上门看望老人并回报")
        group.get_by_role("button", name="发出督办").click()
        expect(street.page.locator(".flash.success")).to_have_text("督办已发出。")
        committee.page.goto(server.url + case_path)
        box = committee.page.locator("section.supervisions")
        expect(box.locator(".instruction").first).to_have_text("今天上门看望老人并回报")
        main = committee.page.locator("main")
        assert main.evaluate(
            "m => m.querySelector('section.supervisions').getBoundingClientRect().top"
            " < m.querySelector('#h-timeline').getBoundingClientRect().top"
        )
        assert _violations(committee.page) == []

        for c in consoles:
            c.clean()
    finally:
        for c in consoles:
            c.close()


def test_without_a_grid_worker_the_committee_hears_it_within_2_s(browser, alerts_server):
    server = alerts_server
    committee = Console(browser, server, _account(server, "committee_staff", login="heping_staff"))
    street = Console(browser, server, _account(server, "street_official"))
    try:
        waiting = committee.urgent_items().filter(has_text="4号楼大堂屏")
        expect(waiting).to_have_count(0)
        time.sleep(1.0)  # the streams are open
        _screen_says(server, "救命")
        said = time.monotonic()
        expect(waiting).to_have_count(1, timeout=2_000)
        committee.page.wait_for_function("window.__sound.chimes.length >= 2", timeout=2_000)
        assert time.monotonic() - said < 2.5
        # unacknowledged: the street office after the delay
        at_street = street.urgent_items().filter(has_text="4号楼大堂屏")
        expect(at_street).to_have_count(1, timeout=int((STEP + 3) * 1000))
        assert time.monotonic() - said >= STEP - 0.5
        # the committee acknowledges it with one click
        waiting.get_by_role("button", name=re.compile("确认收到")).click()
        expect(waiting).to_contain_text("已由")
        expect(waiting.locator("form")).to_have_count(0)
        for c in (committee, street):
            c.clean()
    finally:
        committee.close()
        street.close()


def test_the_live_list_stays_on_the_page_being_read(browser, alerts_server):
    # Each live update redrew the list from page 1, whatever page was open.
    server = alerts_server
    staff = Console(browser, server, _account(server, "committee_staff", login="heping_staff"))
    try:
        with staff.page.expect_request(lambda r: "/staff/alerts/state" in r.url) as fetched:
            staff.page.goto(f"{server.url}/staff/alerts?page=2")
        url = fetched.value.url
        assert "list=1" in url and "page=2" in url, url
        staff.clean()
    finally:
        staff.close()
