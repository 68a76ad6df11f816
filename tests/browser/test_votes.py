"""A resident votes in easy mode (长辈版) against the real app in gunicorn, in real Chromium:
the list, big option buttons, a confirmation, "您已投票，可在截止前修改"; axe-core finds nothing on
each page, and no console error or failing request happens on the way."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.browser.test_accessibility import _violations


def _elder(live) -> dict:
    return next(a for a in live.summary["accounts"] if a["role"] == "resident" and a.get("note"))


def test_elder_votes_in_easy_mode(page, server):
    problems: list[str] = []
    page.on("console", lambda m: m.type == "error" and problems.append(m.text))
    page.on("requestfailed", lambda r: problems.append(f"failed {r.url}"))
    page.on("response", lambda r: r.status >= 400 and problems.append(f"{r.status} {r.url}"))
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
    assert problems == []
