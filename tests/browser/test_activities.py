"""A resident of the demo community signs up for an activity in easy mode, checks in with the
door's QR link and sees the points; axe-core finds nothing on any of the new pages, and no
console error or failing request happens on the way."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.browser.conftest import PageProblems
from tests.browser.test_accessibility import _violations


def _resident(live) -> dict:
    return next(
        a
        for a in live.summary["accounts"]
        if a["role"] == "resident" and "note" not in a and a["community"] == "和平社区"
    )


def test_sign_up_check_in_and_see_points_in_easy_mode(browser, server, live):
    context = browser.new_context(viewport={"width": 412, "height": 915}, locale="zh-CN")
    page = context.new_page()
    problems = PageProblems(page)
    try:
        account = _resident(live)
        page.goto(f"{server.url}/easy/login")
        page.fill("#phone", account["login"])
        page.fill("#pin", account["pin"])
        page.click("form.form button[type=submit]")
        page.wait_for_url(re.compile(r".*/easy/$"))

        page.get_by_role("link", name=re.compile("更多")).click()
        page.get_by_role("link", name="社区活动").click()
        expect(page.locator("h1")).to_have_text("社区活动")
        assert _violations(page) == []
        page.get_by_role("link", name=re.compile("楼道清洁志愿服务")).click()
        assert _violations(page) == []
        page.get_by_role("button", name="报名").click()
        expect(page.locator(".flash.ok")).to_contain_text("报名成功")
        expect(page.locator("#my-place")).to_contain_text("您已报名")
        assert _violations(page) == []

        # at the door: the printed QR code opens this link on the phone
        page.goto(server.url + live.summary["activities"]["checkin_url"])
        assert _violations(page) == []
        page.get_by_role("button", name="我到了，签到").click()
        expect(page.locator(".flash.ok")).to_contain_text("签到成功")

        page.goto(f"{server.url}/easy/points")
        expect(page.locator("#balance")).to_contain_text("积分")
        expect(page.locator("#history li").first).to_contain_text("+5")
        expect(page.locator("#history li").first).to_contain_text("楼道清洁志愿服务")
        assert _violations(page) == []
        page.get_by_role("button", name="显示我的名字").click()
        expect(page.locator(".flash.ok")).to_be_visible()
        assert _violations(page) == []
        problems.clean()
    finally:
        context.close()


def test_the_lobby_screen_shows_activities_and_the_leaderboard(browser, server, live):
    context = browser.new_context(viewport={"width": 1920, "height": 1080}, locale="zh-CN")
    page = context.new_page()
    problems = PageProblems(page)
    try:
        page.goto(server.url + live.summary["kiosk_url"])
        expect(page.locator("#activity-list")).to_contain_text("楼道清洁志愿服务")
        expect(page.locator("#leaderboard-panel")).to_be_visible()
        board = page.locator("#leaderboard-list li")
        expect(board.first).to_contain_text("**")
        sizes = page.evaluate(
            """() => [...document.querySelectorAll(
                 '#activity-list li, #activity-list .when, #leaderboard-list li')]
               .map(e => parseFloat(getComputedStyle(e).fontSize))"""
        )
        assert sizes and min(sizes) >= 30, sizes
        assert _violations(page) == []
        assert not problems.errors, problems.errors
    finally:
        context.close()


def test_staff_activity_pages_have_no_axe_violations(page, server, staff):
    from tests.browser.test_accessibility import _staff_login

    listed = staff.call("GET", f"/activities?community_id={staff.community['id']}")
    cleanup = next(a for a in listed if a["title"] == "楼道清洁志愿服务")
    roster = staff.call("GET", f"/activities/{cleanup['id']}/signups")
    _staff_login(page, server)
    for path in (
        "/staff/activities",
        f"/staff/activities/{cleanup['id']}",
        f"/staff/activities/points?q={roster[0]['name'][:1]}",
        f"/staff/activities/points?person_id={roster[0]['person_id']}",
        "/staff/activities?lang=en",
    ):
        page.goto(server.url + path)
        found = _violations(page)
        assert found == [], (path, found)
