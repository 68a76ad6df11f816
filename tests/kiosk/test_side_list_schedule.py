"""The lobby screen's side list of activity announcements keeps the same schedule as the main
rotation, in real headless Chromium: the snapshot carries items due within the next hours (so a
screen can show them on its own clock through an outage), but an item not yet published, or
outside its weekly window, is not listed until its time comes."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import (
    PageProblems,
    browser,  # noqa: F401 - the browser suites' Chromium fixture
)
from tests.live import ThreadedServer

pytestmark = pytest.mark.browser


def _iso(dt: datetime) -> str:
    return dt.astimezone(UTC).isoformat()


def _not_today(app) -> list[int]:
    """Weekdays (1 = Monday) that are neither today nor tomorrow in the community's zone, so
    the window excludes today even if the test runs across midnight."""
    today = datetime.now(ZoneInfo(app.config["TIMEZONE"])).isoweekday()
    return [d for d in range(1, 8) if d not in (today, today % 7 + 1)]


def test_side_list_shows_activity_announcements_only_when_live(app, world, auth, post, browser):  # noqa: F811
    """Scheduled in 3 hours or limited to other weekdays: in the snapshot but not in the side
    list (nor the rotation); a live one is listed; one due in a few seconds joins the list
    when its time comes, without a reload; no console error or failed request."""
    now = datetime.now(UTC)
    post(title="今日义诊", category="activity")
    post(title="三小时后书法课", category="activity", publish_at=_iso(now + timedelta(hours=3)))
    post(title="周末亲子活动", category="activity", window={"days": _not_today(app)})
    due = now + timedelta(seconds=12)
    post(title="马上开始的讲座", category="activity", publish_at=_iso(due))
    token = auth.headers(device=world.a.device)["Authorization"].removeprefix("Bearer ")

    with ThreadedServer(app) as server:
        context = browser.new_context(viewport={"width": 1920, "height": 1080}, locale="zh-CN")
        context.set_default_timeout(30_000)
        try:
            page = context.new_page()
            problems = PageProblems(page)
            page.goto(f"{server.url}/kiosk?token={token}")
            expect(page.locator("html[data-online='1']")).to_have_count(1)
            side = page.locator("#activity-list")
            expect(side).to_contain_text("今日义诊")

            # The snapshot carries all four; the screen's clock decides what is shown.
            titles = page.evaluate("LinliKiosk.snapshot().items.map(i => i.title)")
            assert set(titles) == {"今日义诊", "三小时后书法课", "周末亲子活动", "马上开始的讲座"}
            seen = page.evaluate(
                "({list: document.getElementById('activity-list').innerText, now: LinliKiosk.now(),"
                " rotation: LinliKiosk.items().map(i => i.title)})"
            )
            assert "三小时后书法课" not in seen["list"]
            assert "周末亲子活动" not in seen["list"]
            assert "三小时后书法课" not in seen["rotation"]
            assert "周末亲子活动" not in seen["rotation"]
            if seen["now"] < due.timestamp() * 1000 - 1000:
                assert "马上开始的讲座" not in seen["list"]
            else:  # the page took long to load: the item's time has already come
                assert time.time() > due.timestamp() - 2

            # Its time comes: the side list takes it up on the screen's own timer.
            expect(side).to_contain_text("马上开始的讲座", timeout=30_000)
            expect(side).to_contain_text("今日义诊")
            expect(side).not_to_contain_text("三小时后书法课")
            expect(side).not_to_contain_text("周末亲子活动")
            problems.clean()
        finally:
            context.close()
