"""The console on a phone (issue 12): a grid worker at 390×844 opens the overview, the inbox
(which starts on 我的任务) and a case with no sideways scrolling, big one-thumb actions near the
bottom, no console error or failing request, and axe-core finds nothing on the overview of every
role and on the inbox."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import PageProblems
from tests.browser.test_accessibility import _violations

PHONE = {"width": 390, "height": 844}
NO_SIDEWAYS = "() => [document.documentElement.scrollWidth, window.innerWidth]"


def _account(live, role: str, community: str | None = "和平社区") -> dict:
    return next(
        a
        for a in live.summary["accounts"]
        if a["role"] == role and (community is None or a["community"] == community)
    )


class Phone:
    """A signed-in staff account in its own phone-sized profile, errors recorded."""

    def __init__(self, browser, server, account: dict):
        self.server = server
        self.context = browser.new_context(
            viewport=PHONE, locale="zh-CN", has_touch=True, is_mobile=True, device_scale_factor=2
        )
        self.context.set_default_timeout(30_000)
        self.page = page = self.context.new_page()
        self.problems = PageProblems(page)
        page.goto(f"{server.url}/staff/login")
        page.locator("input[name=login]").fill(account["login"])
        page.locator("input[name=password]").fill(account["password"])
        page.locator("form button[type=submit]").last.click()
        expect(page).to_have_url(re.compile(r"/staff/$"))

    def go(self, path: str) -> None:
        self.page.goto(self.server.url + path)

    def fits(self) -> None:
        """No horizontal scroll on this page."""
        width, inner = self.page.evaluate(NO_SIDEWAYS)
        assert width <= inner, (self.page.url, width, inner)

    def clean(self) -> None:
        self.problems.clean()

    def close(self) -> None:
        self.context.close()


@pytest.fixture()
def phone(browser, server):
    opened: list[Phone] = []

    def open_as(role: str, community: str | None = "和平社区") -> Phone:
        p = Phone(browser, server, _account(server, role, community))
        opened.append(p)
        return p

    yield open_as
    for p in opened:
        p.close()


def test_grid_worker_works_the_console_on_a_phone(phone):
    worker = phone("grid_worker")
    page = worker.page
    # The overview: my tasks first, with their cases.
    expect(page.get_by_role("heading", name=re.compile("我的任务"))).to_be_visible()
    worker.fits()
    assert _violations(page) == []
    mine = page.locator("#ov-mine ~ ul a, section[aria-labelledby=ov-mine] .work-list a")
    assert mine.count() >= 1, "the demo grid worker has cases assigned"

    # The inbox opens on 我的任务; the filters wait behind one tap.
    worker.go("/staff/cases/")
    current = page.locator(".whose a[aria-current=page]")
    expect(current).to_have_text("我的任务")
    expect(page.locator("#f-assignee")).to_have_value("me")
    expect(page.locator("details.filter-box")).not_to_have_attribute("open", "")
    expect(page.locator("#f-category")).not_to_be_visible()
    worker.fits()
    assert _violations(page) == []
    rows = page.locator("table.cases tbody tr")
    assert rows.count() >= 1
    # One thumb: the switch and the main action sit in the bottom part, each ≥ 44 px high.
    for target in page.locator(".thumb-bar a").all():
        box = target.bounding_box()
        assert box["height"] >= 44 and box["y"] > PHONE["height"] / 2, box
    first = page.locator("table.cases tbody tr td.ref-cell a").first
    assert first.bounding_box()["height"] >= 44
    # The filters open with a tap and then fit too.
    page.locator("details.filter-box > summary").click()
    expect(page.locator("#f-category")).to_be_visible()
    worker.fits()
    # Everyone's cases are one tap away, and the choice is kept.
    page.locator(".whose a", has_text="全部诉求").click()
    expect(page.locator(".whose a[aria-current=page]")).to_have_text("全部诉求")
    worker.fits()

    # A case page from my tasks.
    worker.go("/staff/cases/")
    page.locator("table.cases tbody tr td.ref-cell a").first.click()
    expect(page).to_have_url(re.compile(r"/staff/cases/\d+$"))
    worker.fits()
    worker.clean()


@pytest.mark.parametrize(
    "role, community",
    [
        ("committee_staff", "和平社区"),
        ("grid_worker", "和平社区"),
        ("org_member", None),
        ("street_official", None),
        ("platform_admin", None),
    ],
)
def test_overview_and_inbox_of_every_role_pass_axe_and_fit_a_phone(phone, role, community):
    who = phone(role, community)
    for path in ("/staff/", "/staff/cases/"):
        who.go(path)
        who.fits()
        found = _violations(who.page)
        assert found == [], (role, path, found)
    # Every section of the menu fits the phone too.
    menu = who.page.locator("header nav[aria-label=工作台] a")
    for href in [menu.nth(i).get_attribute("href") for i in range(menu.count())]:
        who.go(href)
        who.fits()
    who.clean()
