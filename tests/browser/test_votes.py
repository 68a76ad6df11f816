"""A resident votes in easy mode (长辈版) against the real app in gunicorn, in real Chromium:
the list, big option buttons, a confirmation, "您已投票，可在截止前修改"; axe-core finds nothing on
each page, and no console error or failing request happens on the way."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.browser.conftest import PageProblems
from tests.browser.test_accessibility import _violations


def _elder(live) -> dict:
    return next(a for a in live.summary["accounts"] if a["role"] == "resident" and a.get("note"))


def test_elder_votes_in_easy_mode(page, server):
    problems = PageProblems(page)
    page.set_viewport_size({"width": 390, "height": 844})
    elder = _elder(server)

    page.goto(f"{server.url}/easy/login")
    page.fill("#phone", elder["login"])
    page.fill("#pin", elder["pin"])
    page.locator("form button[type=submit]").first.click()
    page.wait_for_url("**/easy/**")

    page.goto(f"{server.url}/easy/more")
    page.get_by_role("link", name="议事投票").click()
    expect(page.locator("h1")).to_have_text("议事投票")
    assert _violations(page) == []

    page.get_by_role("link", name="1号楼加装电梯征求意见").click()
    expect(page.locator(".rule")).to_contain_text("一户一票")
    assert _violations(page) == []
    option = page.get_by_role("link", name="1. 同意加装")
    box = option.bounding_box()
    assert box["height"] >= 60 and box["width"] >= 60  # a big target for elders

    option.click()
    expect(page.get_by_text("您选择了：同意加装")).to_be_visible()
    assert _violations(page) == []
    page.get_by_role("button", name="确定投票").click()

    expect(page.locator(".flash.ok")).to_contain_text("您已投票，可在截止前修改")
    expect(page.locator("#my-vote")).to_contain_text("同意加装")
    expect(page.get_by_role("link", name="1. 同意加装")).to_have_attribute("aria-current", "true")
    assert _violations(page) == []
    assert problems.console + problems.failed == []


def _font_px(page, selector: str) -> list[float]:
    return page.eval_on_selector_all(
        selector,
        "els => els.filter(e => e.offsetParent).map(e => parseFloat(getComputedStyle(e).fontSize))",
    )


def test_resident_votes_at_the_lobby_screen(browser, server, staff):
    from tests.browser.test_kiosk_progress import Watched

    resident = next(
        a for a in server.summary["accounts"] if a["role"] == "resident" and not a.get("note")
    )
    _device, token = staff.new_screen("议事投票屏")
    screen = Watched(browser, server, token)
    page = screen.page
    try:
        page.get_by_role("button", name="议事投票").click()
        panel = page.locator("#votes-panel")
        expect(panel).to_be_visible()
        panel.get_by_role("button", name="1号楼加装电梯征求意见").click()
        expect(page.locator("#vp-rule")).to_contain_text("一户一票")
        expect(page.locator("#vp-counts")).to_contain_text("户")
        assert min(_font_px(page, "#votes-panel button, #votes-panel li, #vp-rule")) >= 30
        assert _violations(page) == []

        page.locator("#vp-options button[data-position='2']").click()
        expect(page.locator("#vp-chosen")).to_have_text("您选择了：不同意")
        for d in resident["login"]:
            page.locator(f"#vp-keypad .keypad-key[data-key='{d}']").click()
        page.get_by_role("button", name="确定，输入完毕").click()
        for d in resident["pin"]:
            page.locator(f"#vp-keypad .keypad-key[data-key='{d}']").click()
        assert _violations(page) == []
        page.get_by_role("button", name="确定，输入完毕").click()
        expect(page.locator("#vp-message")).to_have_text("您已投票，可在截止前修改。")
        assert _violations(page) == []
        screen.clean()
    finally:
        screen.context.close()


def test_easy_mode_results_follow_a_second_vote_without_reload(page, server, staff):
    """The elder votes on a phone and keeps the page open; a neighbour of another household
    votes: the counts on the open page change in place (the polite poll of the results API),
    with no reload, no console error and nothing for axe-core."""
    import time

    import requests

    problems = PageProblems(page)
    page.clock.install()  # the poll's timer runs on a clock the test moves on
    page.set_viewport_size({"width": 390, "height": 844})
    title = f"小区停车位划线征求意见{int(time.time()) % 100000}"
    vote = staff.call(
        "POST",
        "/consultations",
        201,
        json={"community_id": staff.community["id"], "title": title, "body": "画线方案见公告栏。"},
    )
    assert vote["status"] == "open", vote
    elder = _elder(server)
    neighbour = next(
        a
        for a in server.summary["accounts"]
        if a["role"] == "resident" and not a.get("note") and a["community"] == "和平社区"
    )

    page.goto(f"{server.url}/easy/login")
    page.fill("#phone", elder["login"])
    page.fill("#pin", elder["pin"])
    page.locator("form button[type=submit]").first.click()
    page.wait_for_url("**/easy/**")
    page.goto(f"{server.url}/easy/votes/{vote['id']}")
    page.get_by_role("link", name="1. 同意").click()
    page.get_by_role("button", name="确定投票").click()
    expect(page.locator(".flash.ok")).to_contain_text("您已投票")
    agree, disagree = (f"[data-option='{o['id']}'] .votes" for o in vote["options"][:2])
    expect(page.locator(agree)).to_have_text("1户")
    expect(page.locator(disagree)).to_have_text("0户")
    page.evaluate("window.__notReloaded = true")

    token = requests.post(
        staff.base + "/auth/token",
        timeout=30,
        json={"login": neighbour["login"], "pin": neighbour["pin"]},
    )
    token.raise_for_status()
    cast = requests.post(
        f"{staff.base}/consultations/{vote['id']}/votes",
        headers={"Authorization": f"Bearer {token.json()['token']}"},
        json={"position": 2},
        timeout=30,
    )
    assert cast.status_code in (200, 201), cast.text
    expect(page.locator(disagree)).to_have_text("0户")  # not before the next poll
    page.clock.run_for(25_000)
    expect(page.locator(disagree)).to_have_text("1户")
    expect(page.locator(agree)).to_have_text("1户")
    expect(page.locator(".turnout")).to_contain_text("2")
    assert page.evaluate("window.__notReloaded === true")
    assert _violations(page) == []
    assert problems.errors + problems.failed == []
