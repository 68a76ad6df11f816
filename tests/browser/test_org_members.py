"""社会组织自我管理 in a real browser: the demo's social organization lead (夕阳红, xiyanghong)
signs in, opens 我的组织, adds a resident of 和平社区 by mobile number, sees them listed, removes
them; no console error or failing request, and axe-core finds nothing on the pages."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.browser.conftest import PageProblems
from tests.browser.test_accessibility import _violations

# A 和平社区 resident of the demo who is not a member (demo residents are 1390000NNNN).
NEWCOMER = "13900000008"


def _lead(live) -> dict:
    return next(a for a in live.summary["accounts"] if a["login"] == "xiyanghong")


def test_a_lead_adds_and_removes_a_member(context, server):
    page = context.new_page()
    problems = PageProblems(page)

    account = _lead(server)
    page.goto(f"{server.url}/staff/login")
    page.locator("input[name=login]").fill(account["login"])
    page.locator("input[name=password]").fill(account["password"])
    page.locator("form button[type=submit]").last.click()
    expect(page).to_have_url(re.compile(r"/staff/$"))

    # 我的组织: the lead works for 夕阳红 in both demo communities, and picks 和平社区.
    page.locator("header nav[aria-label=工作台] a", has_text="我的组织").click()
    expect(page.get_by_role("heading", name="我的组织")).to_be_visible()
    assert _violations(page) == []
    page.get_by_role("link", name=re.compile("夕阳红志愿服务社（和平社区）")).click()
    expect(page.get_by_role("heading", name="夕阳红志愿服务社的成员")).to_be_visible()
    assert _violations(page) == []
    rows = page.locator("table.org-members tbody tr")
    before = rows.count()
    assert before >= 2  # the lead and the demo's resident volunteer
    # Numbers are partly hidden for a lead.
    assert "****" in rows.first.inner_text() or "****" in rows.nth(1).inner_text()

    # Add a resident by their mobile number.
    page.get_by_label(re.compile("和平社区居民的手机号")).fill(NEWCOMER)
    page.get_by_role("button", name="添加成员").click()
    flash = page.locator("p.flash.ok")
    expect(flash).to_contain_text("已成为成员。")
    name = flash.inner_text().replace("已成为成员。", "").strip()
    expect(rows).to_have_count(before + 1)
    row = page.locator("table.org-members tbody tr", has_text=name)
    expect(row).to_contain_text("139****0008")
    assert _violations(page) == []

    # And remove them again.
    row.get_by_role("button", name=f"移除：{name}").click()
    expect(page.locator("p.flash.ok")).to_have_text("已移除该成员。")
    expect(rows).to_have_count(before)
    expect(page.locator("table.org-members tbody tr", has_text=name)).to_have_count(0)
    assert _violations(page) == []

    # A number that is no resident of 和平社区: the reason in words, nothing added.
    page.get_by_label(re.compile("和平社区居民的手机号")).fill("13999999999")
    page.get_by_role("button", name="添加成员").click()
    expect(page.locator("p.flash.error").last).to_contain_text("本社区没有使用这个手机号的居民。")
    expect(rows).to_have_count(before)

    # On a phone the page fits without sideways scrolling, and stays clean for axe.
    page.set_viewport_size({"width": 390, "height": 844})
    page.reload()
    width, inner = page.evaluate("() => [document.documentElement.scrollWidth, innerWidth]")
    assert width <= inner
    assert _violations(page) == []

    assert (problems.errors, problems.failed) == ([], [])
