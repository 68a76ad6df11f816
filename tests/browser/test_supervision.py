"""督办 end to end, in real Chromium against the app in gunicorn with the demo data: the street
official (幸福街道) opens an escalated case of 和平社区 in the console and sends a 督办 with a
deadline and an instruction; the committee staff open the case and find it at the top, and
answer it; the official then sees the reply. No console error or failing request on the way,
and axe-core finds nothing on the case page (for both of them)."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import requests
from playwright.sync_api import expect

from tests.browser.conftest import PageProblems
from tests.browser.test_accessibility import _violations

INSTRUCTION = "请于周五前修复并把结果报街道。"


class Console:
    """One person signed in to the staff console, watching for errors."""

    def __init__(self, browser, server, login: str, password: str):
        self.context = browser.new_context(viewport={"width": 1366, "height": 900}, locale="zh-CN")
        self.context.set_default_timeout(30_000)
        self.page = self.context.new_page()
        self.problems = PageProblems(self.page)
        self.page.goto(f"{server.url}/staff/login")
        self.page.locator("input[name=login]").fill(login)
        self.page.locator("input[name=password]").fill(password)
        self.page.locator("form button[type=submit]").last.click()
        expect(self.page).to_have_url(re.compile(r"/staff/$"))

    def clean(self):
        self.problems.clean()

    def close(self):
        self.context.close()


def _account(live, role: str, login: str | None = None) -> dict:
    return next(
        a
        for a in live.summary["accounts"]
        if a["role"] == role and (login is None or a["login"] == login)
    )


def _escalated_case(staff) -> dict:
    """An escalated open case of 和平社区 from the demo (a repair left past its deadline)."""
    listing = staff.call(
        "GET",
        "/cases",
        params={"community_id": staff.community["id"], "status": "open", "overdue": "true"},
    )
    return next(c for c in listing["items"] if c["escalated"])


def test_the_official_supervises_and_the_committee_answers(browser, server, staff):
    case = _escalated_case(staff)
    url = f"{server.url}/staff/cases/{case['id']}"
    official = _account(server, "street_official")
    desk = Console(browser, server, official["login"], official["password"])
    try:
        page = desk.page
        page.goto(url)
        expect(page.locator("h1.reference")).to_have_text(case["reference"])
        assert _violations(page) == []
        group = page.locator("#group-supervise")
        expect(group.get_by_role("heading", name="督办")).to_be_visible()
        due = datetime.now(ZoneInfo("Asia/Shanghai")) + timedelta(days=3)
        group.get_by_label("办结期限").fill(due.strftime("%Y-%m-%dT%H:%M"))
        group.get_by_label("督办要求（内部，居民看不到）").fill(INSTRUCTION)
        group.get_by_role("button", name="发出督办").click()
        expect(page.locator(".flash.success")).to_have_text("督办已发出。")
        box = page.locator("section.supervisions")
        expect(box.locator(".instruction")).to_have_text(INSTRUCTION)
        expect(box.locator(".badge").first).to_have_text("待回复")
        desk.clean()
    finally:
        desk.close()

    committee = Console(browser, server, staff.login, staff.password)
    try:
        page = committee.page
        page.goto(url)
        box = page.locator("section.supervisions")
        expect(box.get_by_role("heading", name="街道督办")).to_be_visible()
        expect(box.locator(".instruction").first).to_have_text(INSTRUCTION)
        expect(box).to_contain_text("周科长")
        # At the top: above the details, the timeline and the actions, on the first screen.
        top = box.bounding_box()["y"]
        for heading in ("#h-details", "#h-timeline", "#h-actions"):
            assert top < page.locator(heading).bounding_box()["y"]
        assert top < 900
        # The timeline starts on the first screen too, not thousands of pixels down.
        assert page.locator("#h-timeline").bounding_box()["y"] < 2 * 900
        assert _violations(page) == []
        answer = box.locator("article.supervision.open").first
        answer.get_by_label("办理情况").fill("已联系物业更换配件，明天上门。")
        answer.get_by_role("button", name="回复：已办理").click()
        expect(page.locator(".flash.success")).to_have_text("回复已记录。")
        done = page.locator("section.supervisions article.supervision.done").first
        expect(done).to_contain_text("已联系物业更换配件，明天上门。")
        expect(done.locator(".badge")).to_have_text("已回复")
        expect(page.locator("#h-timeline + ol")).to_contain_text("督办已回复")
        assert _violations(page) == []
        # On a phone (390 px) the case page is one column that fits the screen.
        page.set_viewport_size({"width": 390, "height": 844})
        fits = "e => e.scrollWidth <= e.clientWidth && e.getBoundingClientRect().right <= 390"
        assert page.locator(".case-page").evaluate(fits)
        assert page.locator("section.supervisions").evaluate(fits)
        committee.clean()
    finally:
        committee.close()

    # The official sees the reply; the resident's side never shows the instruction.
    back = Console(browser, server, official["login"], official["password"])
    try:
        back.page.goto(url)
        expect(back.page.locator("section.supervisions")).to_contain_text("已联系物业更换配件")
        back.clean()
    finally:
        back.close()
    resident = next(
        a
        for a in server.summary["accounts"]
        if a["role"] == "resident" and a["community"] == "和平社区"
    )
    token = requests.post(
        staff.base + "/auth/token",
        timeout=30,
        json={"login": resident["login"], "pin": resident["pin"]},
    ).json()["token"]
    seen = requests.get(
        f"{staff.base}/cases/{case['id']}",
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )
    assert seen.status_code in (200, 404)
    assert INSTRUCTION not in seen.text and "已联系物业" not in seen.text
