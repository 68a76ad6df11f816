"""查进度 on the lobby screen without a speech model, in real Chromium against real gunicorn: a
resident taps 查进度, types the last digits of their request's number on the big keypad and sees
(and hears) status, who handles it and the next step; after a visible countdown the screen goes
back to its rotation. Also by phone number and PIN, with the keyboard."""

from __future__ import annotations

import re
import time

import pytest
import requests
from playwright.sync_api import expect

from tests.browser.conftest import PageProblems
from tests.browser.test_accessibility import _violations


class Watched:
    """A 1080p screen page that records console errors and failing requests."""

    def __init__(self, browser, server, token: str, query: str = ""):
        self.context = browser.new_context(viewport={"width": 1920, "height": 1080}, locale="zh-CN")
        self.context.set_default_timeout(30_000)
        self.page = self.context.new_page()
        # ERR_ABORTED: the page dropped a request itself (an audio element reset), not a failure.
        self.problems = PageProblems(self.page)
        self.page.goto(f"{server.url}/kiosk?token={token}{query}")
        expect(self.page.locator("html[data-online='1']")).to_have_count(1)

    def clean(self):
        self.problems.clean()

    def close(self):
        self.context.close()


def _resident(live) -> dict:
    return next(
        a
        for a in live.summary["accounts"]
        if a["role"] == "resident" and a["community"] == "和平社区"
    )


def _file_case(live, staff, *, assign_to_property: bool) -> dict:
    """A resident files a repair through the API; staff may send it to the property company."""
    who = _resident(live)
    r = requests.post(
        staff.base + "/auth/token", timeout=30, json={"login": who["login"], "pin": who["pin"]}
    )
    r.raise_for_status()
    mine = {"Authorization": f"Bearer {r.json()['token']}"}
    cats = staff.call("GET", f"/communities/{staff.community['id']}/case-categories")
    repair = next(c for c in cats if c["code"] == "repair")
    r = requests.post(
        staff.base + "/cases",
        headers=mine,
        timeout=30,
        json={
            "category_id": repair["id"],
            "description": "三单元电梯按钮坏了，我家在502，电话13900001111。",
        },
    )
    assert r.status_code == 201, r.text
    case = r.json()
    if assign_to_property:
        choices = staff.call("GET", f"/communities/{staff.community['id']}/case-assignees")
        org = next(o for o in choices["organizations"] if o["kind"] == "property")
        staff.call("POST", f"/cases/{case['id']}/assignment", json={"organization_id": org["id"]})
    return case


def _targets(page, selector: str) -> list[dict]:
    return page.evaluate(
        """(sel) => [...document.querySelectorAll(sel)]
        .filter(el => el.offsetParent !== null)
        .map(el => { const r = el.getBoundingClientRect();
                     return {t: el.textContent.trim(), w: r.width, h: r.height}; })""",
        selector,
    )


def _type(page, digits: str):
    for d in digits:
        page.locator(f"#pp-keypad .keypad-key[data-key='{d}']").click()


def test_digits_on_the_keypad_show_progress_then_the_screen_goes_home(browser, server, staff, live):
    case = _file_case(live, staff, assign_to_property=True)
    serial = case["reference"].partition("-")[2]
    _device, token = staff.new_screen("查进度屏")
    screen = Watched(browser, server, token)
    page = screen.page
    try:
        expect(page.locator("#slide-title")).not_to_be_empty()
        page.get_by_role("button", name="查进度").click()
        panel = page.locator("#progress-panel")
        expect(panel).to_be_visible()
        expect(page.locator("#message")).to_be_hidden()  # not the old "call the committee"
        expect(panel.get_by_role("group", name="请输入诉求编号的最后 4 位")).to_be_visible()
        # Big enough for a finger: every key of the keypad ≥ 80 px, every button ≥ 60 px.
        keys = _targets(page, "#pp-keypad .keypad-key")
        assert len(keys) == 12 and all(k["w"] >= 80 and k["h"] >= 80 for k in keys), keys
        tiny = [b for b in _targets(page, "#progress-panel button") if b["w"] < 60 or b["h"] < 60]
        assert not tiny, tiny
        assert _violations(page) == []

        _type(page, "9")
        page.get_by_role("button", name="删除最后一位").click()
        page.get_by_role("button", name="确定，输入完毕").click()  # too short: it says so
        expect(panel.locator(".keypad-message")).to_have_text("请输入 4 位数字。")
        _type(page, serial[-4:])
        expect(panel.locator(".keypad-box.filled")).to_have_count(4)
        with page.expect_response(lambda r: "/api/v1/voice/speech/" in r.url) as speech:
            page.get_by_role("button", name="确定，输入完毕").click()

        result = panel.locator(f".pp-case[data-reference='{case['reference']}']")
        expect(result).to_be_visible()
        shown_at = time.monotonic()
        countdown_at_answer = page.locator("#pp-countdown").inner_text()
        expect(page.locator("#pp-countdown")).to_be_visible()
        expect(result.locator(".pp-status-row dd")).to_have_text("已派单")
        expect(result.locator(".pp-handler-row dd")).to_have_text("物业")
        expect(result.locator(".pp-next-row dd")).to_contain_text("物业会尽快来处理")
        text = panel.inner_text()
        for private in ("502", "13900001111", "电梯按钮", _resident(live)["login"]):
            assert private not in text
        # Read aloud with the server's speech (espeak-ng), with a visible stop.
        assert speech.value.status in (200, 206)
        assert speech.value.headers["content-type"].startswith("audio/")
        expect(page.locator("#pp-speaking")).to_be_visible()
        expect(page.get_by_role("button", name="停止朗读")).to_be_visible()
        tiny = [b for b in _targets(page, "#progress-panel button") if b["w"] < 60 or b["h"] < 60]
        assert not tiny, tiny
        assert _violations(page) == []

        # The countdown has been shown since the answer came, and goes on.
        left = int(re.match(r"(\d+) 秒后回到首页", countdown_at_answer).group(1))
        assert left >= 28, countdown_at_answer
        expect(page.locator("#pp-countdown")).to_have_text(re.compile(r"^\d+ 秒后回到首页$"))
        # Back to the rotation, the answer gone, not before 20 s.
        expect(panel).to_be_hidden(timeout=45_000)
        waited = time.monotonic() - shown_at
        assert 20 <= waited <= 40, waited
        expect(page.locator("#pp-cases li")).to_have_count(0)
        expect(page.locator("#slide-title")).not_to_be_empty()
        assert page.locator("html").get_attribute("data-progress") == ""
        screen.clean()
    finally:
        screen.close()


def test_phone_and_pin_with_the_keyboard_show_my_open_requests(browser, server, staff, live):
    case = _file_case(live, staff, assign_to_property=False)
    who = _resident(live)
    _device, token = staff.new_screen("查进度屏二")
    screen = Watched(browser, server, token, "&lang=en")
    page = screen.page
    try:
        page.get_by_role("button", name="Check progress").click()
        panel = page.locator("#progress-panel")
        page.get_by_role("button", name="By phone number and PIN").click()
        expect(panel.get_by_role("group", name="Type your phone number")).to_be_visible()
        page.keyboard.type(who["login"])
        page.keyboard.press("Enter")
        expect(panel.get_by_role("group", name="Type your 6-digit PIN")).to_be_visible()
        page.keyboard.type(who["pin"])
        # A PIN is never shown.
        assert who["pin"] not in panel.inner_text()
        expect(panel.locator(".keypad-box.filled")).to_have_count(6)
        page.keyboard.press("Enter")
        result = panel.locator(f".pp-case[data-reference='{case['reference']}']")
        expect(result).to_be_visible()
        expect(result.locator(".pp-handler-row dd")).to_have_text("Residents' committee")
        expect(result.locator(".pp-case-head")).to_contain_text("Request " + case["reference"])
        assert who["login"] not in panel.inner_text()
        assert _violations(page) == []
        # Back to the start at once, and the answer is gone.
        page.get_by_role("button", name="Back to the start").click()
        expect(panel).to_be_hidden()
        expect(page.locator("#pp-cases li")).to_have_count(0)
        screen.clean()
    finally:
        screen.close()


def test_an_abandoned_keypad_counts_as_in_use_and_is_cleared_on_going_home(browser, server, staff):
    _device, token = staff.new_screen("查进度屏三")
    # idle_after=1: the kiosk's idle warning may start a second after the last touch.
    screen = Watched(browser, server, token, "&idle_after=1")
    page = screen.page
    try:
        page.get_by_role("button", name="查进度").click()
        panel = page.locator("#progress-panel")
        _type(page, "12")
        expect(panel.locator(".keypad-box.filled")).to_have_count(2)
        # The open panel is "in use": the kiosk warns, with its countdown of at least 20 s …
        warning = page.locator("#idle-warning")
        expect(warning).to_be_visible(timeout=10_000)
        expect(page.locator("#idle-text")).to_have_text(re.compile(r"(2[0-9]|[3-9][0-9]) 秒"))
        warned_at = time.monotonic()
        # … then goes home: the panel closes and forgets what was typed.
        expect(panel).to_be_hidden(timeout=40_000)
        assert time.monotonic() - warned_at >= 19
        expect(warning).to_be_hidden()
        expect(page.locator("#pp-keypad .keypad-key")).to_have_count(0)
        page.get_by_role("button", name="查进度").click()
        expect(panel.locator(".keypad-box.filled")).to_have_count(0)
        screen.clean()
    finally:
        screen.close()


@pytest.mark.parametrize("size", [(1920, 1080), (1080, 1920)], ids=["landscape", "portrait"])
def test_the_panel_is_readable_and_fits_in_both_orientations(browser, server, staff, size):
    width, height = size
    _device, token = staff.new_screen(f"查进度屏{width}")
    context = browser.new_context(viewport={"width": width, "height": height}, locale="zh-CN")
    context.set_default_timeout(30_000)
    try:
        page = context.new_page()
        page.goto(f"{server.url}/kiosk?token={token}")
        expect(page.locator("html[data-online='1']")).to_have_count(1)
        page.get_by_role("button", name="查进度").click()
        expect(page.locator("#progress-panel")).to_be_visible()
        keys = _targets(page, "#pp-keypad .keypad-key")
        assert len(keys) == 12 and all(k["w"] >= 80 and k["h"] >= 80 for k in keys), keys
        tiny = [b for b in _targets(page, "#progress-panel button") if b["w"] < 60 or b["h"] < 60]
        assert not tiny, tiny
        state = page.evaluate("""() => {
            const panel = document.getElementById('progress-panel');
            const small = [...panel.querySelectorAll('p, h2, button, span, dt, dd')]
                .filter(el => el.offsetParent !== null && el.textContent.trim()
                        && !el.classList.contains('keypad-spoken'))
                .filter(el => parseFloat(getComputedStyle(el).fontSize) < 30)
                .map(el => el.textContent.trim().slice(0, 20));
            const out = [...panel.querySelectorAll('*')].filter(el => el.offsetParent !== null)
                .filter(el => { const r = el.getBoundingClientRect();
                    return r.right > innerWidth + 1 || r.bottom > innerHeight + 1; })
                .map(el => el.className || el.tagName);
            return {small, out};
        }""")
        assert state == {"small": [], "out": []}, state
        assert _violations(page) == []
    finally:
        context.close()
