"""活动报名 at the lobby screen, against the real app in gunicorn, in real Chromium at 1080p: a
resident taps an activity, taps 报名, types phone number and PIN on the big keypad and is signed
up; the next one, the activity being full, is first on the waiting list. axe-core finds nothing,
the text is at least 30 px, and no console error or failing request happens on the way. Then the
staff votes page is checked with axe-core too."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from playwright.sync_api import expect

from tests.browser.conftest import PageProblems
from tests.browser.test_accessibility import _violations
from tests.browser.test_votes import _font_px


def _type(page, digits: str) -> None:
    for d in digits:
        page.locator(f"#ap-keypad .keypad-key[data-key='{d}']").click()
    page.get_by_role("button", name="确定，输入完毕").click()


def _sign_up(page, title: str, account: dict) -> None:
    panel = page.locator("#activities-panel")
    panel.locator("#ap-items button", has_text=title).click()
    expect(page.locator("#ap-name")).to_have_text(title)
    page.locator("#ap-join").click()
    expect(page.locator("#ap-chosen")).to_have_text(f"报名：{title}")
    _type(page, account["login"])
    _type(page, account["pin"])


def _publish(staff, title: str, place: str, start: datetime, hours: int, capacity: int) -> None:
    staff.call(
        "POST",
        "/activities",
        201,
        json={
            "community_id": staff.community["id"],
            "title": title,
            "place": place,
            "starts_at": start.isoformat(),
            "ends_at": (start + timedelta(hours=hours)).isoformat(),
            "capacity": capacity,
        },
    )


def test_resident_signs_up_at_the_lobby_screen(browser, server, staff):
    from tests.browser.test_kiosk_progress import Watched

    residents = [a for a in server.summary["accounts"] if a["role"] == "resident" and a.get("pin")]
    resident = next(a for a in residents if not a.get("note"))
    elder = next(a for a in residents if a.get("note"))
    title = f"象棋友谊赛{int(time.time()) % 100000}"
    start = datetime.now(UTC) + timedelta(days=3)
    _publish(staff, title, "社区活动室", start, hours=2, capacity=1)
    _device, token = staff.new_screen("活动报名屏")
    screen = Watched(browser, server, token)
    page = screen.page
    try:
        page.get_by_role("button", name="活动报名").click()
        panel = page.locator("#activities-panel")
        expect(panel).to_be_visible()
        expect(panel.locator("#ap-items")).to_contain_text(title)
        expect(panel.locator("#ap-items")).to_contain_text("还剩 1 个名额")
        assert min(_font_px(page, "#activities-panel button, #activities-panel li")) >= 30
        assert _violations(page) == []

        panel.locator("#ap-items button", has_text=title).click()
        expect(page.locator("#ap-when")).to_contain_text("时间：")
        expect(page.locator("#ap-place")).to_have_text("地点：社区活动室")
        expect(page.locator("#ap-left")).to_have_text("还剩 1 个名额")
        sizes = _font_px(page, "#activities-panel button, #activities-panel li, #ap-name")
        assert min(sizes) >= 30
        assert _violations(page) == []
        page.locator("#ap-list-back").click()

        _sign_up(page, title, resident)
        expect(page.locator("#ap-message")).to_have_text("报名成功，到时见！")
        assert _violations(page) == []
        assert resident["login"] not in page.locator("#activities-panel").inner_text()

        # Full now: the next resident is first on the waiting list.
        page.locator("#ap-back").click()
        expect(panel.locator("#ap-items")).to_contain_text("名额已满")
        _sign_up(page, title, elder)
        expect(page.locator("#ap-message")).to_have_text("已满，您排在候补第 1 位。")
        assert min(_font_px(page, "#activities-panel button, #ap-message")) >= 30
        assert _violations(page) == []

        # Home forgets everything; the panel closes.
        page.locator("#ap-home").click()
        expect(panel).to_be_hidden()
        screen.clean()
    finally:
        screen.context.close()


def test_an_activity_in_the_side_list_opens_its_sign_up(browser, server, staff):
    """The lobby screen's side list: an activity with sign-up is a button (tap or keyboard)
    that opens that activity's sign-up panel, not just the list."""
    from tests.browser.test_kiosk_progress import Watched

    title = f"太极拳晨练{int(time.time()) % 100000}"
    start = datetime.now(UTC) + timedelta(minutes=15)  # soonest: among the four the side shows
    _publish(staff, title, "小区广场", start, hours=1, capacity=5)
    _device, token = staff.new_screen("侧栏活动屏")
    screen = Watched(browser, server, token)
    page = screen.page
    panel = page.locator("#activities-panel")
    try:
        side = page.locator("#activity-list").get_by_role("button", name=title)
        expect(side).to_be_visible()
        expect(side).to_contain_text("小区广场")
        assert min(_font_px(page, "#activity-list button, #activity-list .when")) >= 30
        assert side.bounding_box()["height"] >= 60
        assert _violations(page) == []

        side.click()  # a tap
        expect(panel).to_be_visible()
        expect(page.locator("#ap-name")).to_have_text(title)
        expect(page.locator("#ap-place")).to_have_text("地点：小区广场")
        expect(page.locator("#ap-join")).to_be_focused()  # the modal's first button
        assert _violations(page) == []
        page.locator("#ap-home").click()
        expect(panel).to_be_hidden()

        # by keyboard: Tab to it, Enter opens it, Enter on 报名 asks for the phone number
        side.focus()
        page.keyboard.press("Enter")
        expect(page.locator("#ap-name")).to_have_text(title)
        expect(page.locator("#ap-join")).to_be_focused()
        page.keyboard.press("Enter")
        expect(page.locator("#ap-chosen")).to_have_text(f"报名：{title}")
        page.locator("#ap-home").click()
        expect(panel).to_be_hidden()
        screen.clean()
    finally:
        screen.context.close()


def test_staff_votes_page_has_no_axe_violations(page, server):
    # The easy-mode vote pages are checked in test_votes.py; the console's page was not.
    from tests.browser.test_accessibility import _staff_login

    problems = PageProblems(page)
    _staff_login(page, server)
    for path in ("/staff/votes", "/staff/votes?lang=en"):
        page.goto(server.url + path)
        expect(page.locator("h1")).to_be_visible()
        found = _violations(page)
        assert found == [], (path, found)
    assert problems.console + problems.failed == []
