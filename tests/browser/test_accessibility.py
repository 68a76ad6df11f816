"""axe-core finds nothing on the screen and on the staff pages; the kiosk keeps its age-friendly
numbers (text ≥ 40 px at 1080p, targets ≥ 60 px, contrast ≥ 7:1) in both orientations."""

from __future__ import annotations

import re

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect

# The WCAG 2.x A/AA rules plus the AAA contrast rule (7:1) the kiosk promises.
AXE_OPTIONS = {
    "runOnly": {
        "type": "tag",
        "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"],
    },
    "rules": {"color-contrast-enhanced": {"enabled": True}},
    "resultTypes": ["violations"],
}


def _violations(page) -> list[dict]:
    results = Axe().run(page, options=AXE_OPTIONS)
    return [
        {"id": v["id"], "nodes": [n["target"] for n in v["nodes"]][:3]}
        for v in results.response["violations"]
    ]


@pytest.fixture()
def screen_page(page, server, staff):
    _device, token = staff.new_screen("无障碍检查屏")
    page.goto(f"{server.url}/kiosk?token={token}")
    expect(page.locator("html[data-online='1']")).to_have_count(1)
    expect(page.locator("#slide-title")).not_to_be_empty()
    return page


def test_kiosk_has_no_axe_violations(screen_page):
    assert _violations(screen_page) == []
    # Also with a message open, and with 查进度's keypad panel open.
    screen_page.evaluate("LinliKiosk.showMessage('请打电话给居委会。')")
    expect(screen_page.locator("#message")).to_be_visible()
    assert _violations(screen_page) == []
    screen_page.get_by_role("button", name="关闭").click()
    screen_page.get_by_role("button", name="查进度").click()
    expect(screen_page.locator("#progress-panel")).to_be_visible()
    assert _violations(screen_page) == []


def test_kiosk_in_english_has_no_axe_violations(page, server, staff):
    _device, token = staff.new_screen("English screen")
    page.goto(f"{server.url}/kiosk?lang=en&token={token}")
    expect(page.get_by_role("button", name="Listen")).to_be_visible()
    expect(page.locator("html[data-online='1']")).to_have_count(1)
    assert page.locator("html").get_attribute("lang") == "en"
    assert _violations(page) == []


def test_pairing_page_has_no_axe_violations(page, server):
    page.goto(f"{server.url}/kiosk")
    expect(page.locator("#pair-code")).to_have_text(re.compile(r"\d{3} \d{3}"))
    assert _violations(page) == []


def _sizes(page) -> dict:
    return page.evaluate("""() => {
        const px = el => parseFloat(getComputedStyle(el).fontSize);
        const body = [...document.querySelectorAll('#slide-body p')].map(px);
        const texts = [...document.querySelectorAll('#screen p, #screen h1, #screen h2, #screen li,'
            + ' #screen dt, #screen dd, #screen button, #screen time')]
            .filter(el => el.offsetParent !== null && el.textContent.trim())
            .map(el => ({t: el.textContent.trim().slice(0, 20), px: px(el)}));
        const targets = [...document.querySelectorAll('button')]
            .filter(el => el.offsetParent !== null)
            .map(el => { const r = el.getBoundingClientRect();
                         return {t: el.textContent.trim(), w: r.width, h: r.height}; });
        return {body, texts, targets};
    }""")


@pytest.mark.parametrize("size", [(1920, 1080), (1080, 1920)], ids=["landscape", "portrait"])
def test_readable_from_three_metres(browser, server, staff, size):
    width, height = size
    _device, token = staff.new_screen(f"尺寸屏{width}")
    context = browser.new_context(viewport={"width": width, "height": height})
    try:
        page = context.new_page()
        page.goto(f"{server.url}/kiosk?token={token}")
        expect(page.locator("#slide-body p").first).to_be_visible()
        sizes = _sizes(page)
        assert sizes["body"] and min(sizes["body"]) >= 40, sizes["body"]
        small = [t for t in sizes["texts"] if t["px"] < 30]
        assert not small, small
        tiny = [t for t in sizes["targets"] if t["w"] < 60 or t["h"] < 60]
        assert not tiny, tiny
        # Nothing spills off the screen.
        overflow = page.evaluate(
            "() => [document.documentElement.scrollWidth, document.documentElement.scrollHeight]"
        )
        assert overflow[0] <= width and overflow[1] <= height
    finally:
        context.close()


def _staff_login(page, server):
    page.goto(f"{server.url}/staff/login")
    page.locator("input[name=login]").fill("heping_staff")
    page.locator("input[name=password]").fill("linli-demo-2026")
    page.locator("form button[type=submit], form input[type=submit]").last.click()
    expect(page).to_have_url(re.compile(r"/staff/$"))


def test_staff_pages_have_no_axe_violations(page, server, staff):
    item = staff.post(title="无障碍检查公告", priority="urgent")
    _staff_login(page, server)
    for path in (
        "/staff/announcements",
        "/staff/announcements/new",
        f"/staff/announcements/{item['id']}",
        f"/staff/announcements/{item['id']}/edit",
        "/staff/devices",
        "/staff/devices?lang=en",
    ):
        page.goto(server.url + path)
        found = _violations(page)
        assert found == [], (path, found)


def test_compose_preview_follows_the_form(page, server):
    _staff_login(page, server)
    page.goto(f"{server.url}/staff/announcements/new")
    page.locator("#title").fill("预览里的标题")
    page.locator("#body").fill("第一段。\n\n第二段。")
    page.locator("input[name=priority][value=urgent]").check()
    frame = page.frame_locator("#preview")
    expect(frame.locator("#slide-title")).to_have_text("预览里的标题")
    expect(frame.locator("#slide-body p")).to_have_count(2)
    expect(frame.locator("#urgent-banner")).to_be_visible()
    expect(page.locator("#spoken-text")).to_contain_text("紧急通知：预览里的标题。")


def test_category_and_key_pages_have_no_axe_violations_and_work_by_keyboard(page, server, staff):
    _staff_login(page, server)
    categories = staff.call("GET", f"/communities/{staff.community['id']}/case-categories")
    paths = [
        "/staff/categories",
        "/staff/categories?lang=en",
        "/staff/categories/new",
        f"/staff/categories/{categories[0]['id']}/edit",
        "/staff/open311-keys",
        "/staff/open311-keys?lang=en",
    ]
    for path in paths:
        page.goto(server.url + path)
        found = _violations(page)
        assert found == [], (path, found)
    # A form with mistakes: each one next to its field, and still nothing for axe to find.
    page.goto(f"{server.url}/staff/categories/new?lang=zh_CN")
    page.locator("#deadline_hours").fill("-3")
    page.locator("#name").fill("")
    page.locator("#name").press("Enter")
    expect(page.locator("#name-error")).to_be_visible()
    expect(page.locator("#deadline_hours-error")).to_contain_text("2160")
    assert _violations(page) == []
    # Issue a key with the keyboard only; the page that shows it passes too.
    page.goto(f"{server.url}/staff/open311-keys")
    page.locator("#name").focus()
    page.keyboard.type("无障碍检查平台")
    page.keyboard.press("Enter")
    expect(page.locator("#issued-key")).to_have_text(re.compile(r"^o311_"))
    assert _violations(page) == []
    page.get_by_role("link", name=re.compile("停用.*无障碍检查平台")).first.focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("button", name="确认停用这个密钥")).to_be_visible()
    assert _violations(page) == []
    page.get_by_role("button", name="确认停用这个密钥").focus()
    page.keyboard.press("Enter")
    expect(page.locator(".flash.info")).to_contain_text("无障碍检查平台")


def test_voice_demo_page_has_no_axe_violations(page, server):
    for lang in ("zh_CN", "en"):
        page.goto(f"{server.url}/voice/demo?lang={lang}")
        found = _violations(page)
        assert found == [], (lang, found)


def _side_fits(page) -> None:
    """Every shown panel of the side column ends inside it and inside the screen, whole."""
    boxes = page.evaluate("""() => {
      const r = e => { const b = e.getBoundingClientRect(); return [b.top, b.bottom]; };
      const side = document.querySelector('.side');
      return {
        side: r(side),
        panels: [...side.children].filter(e => e.offsetParent)
          .map(e => [e.id || e.className, ...r(e), e.scrollHeight - e.clientHeight]),
        qr: r(document.querySelector('.qr-code')),
        height: innerHeight,
      };
    }""")
    bottom = min(boxes["side"][1], boxes["height"])
    for name, top, end, hidden_px in boxes["panels"]:
        assert boxes["side"][0] - 1 <= top and end <= bottom + 1, (name, boxes)
        assert hidden_px <= 1, (name, "scrolls", boxes)  # nothing scrolled out of sight
    assert boxes["qr"][1] <= bottom + 1, boxes


def test_landscape_side_column_fits_while_an_urgent_banner_shows(browser, server, staff):
    """1920×1080 with the urgent banner: the side column ends inside the screen with the
    figures and the QR code whole (the activities and the leaderboard give way, whole items
    only); its text stays >= 30 px, and axe-core finds nothing (no scrollable region without a
    focusable element). Turned to portrait and back, it fits again."""
    item = staff.post(
        title="紧急通知：明日全天停水检修",
        priority="urgent",
        body="因主管道抢修，明天早上八点到晚上八点全小区停水，请提前储水。\n\n第二段。",
    )
    _device, token = staff.new_screen("横屏紧急屏")
    context = browser.new_context(viewport={"width": 1920, "height": 1080}, locale="zh-CN")
    try:
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("console", lambda m: m.type == "error" and errors.append(m.text))
        page.goto(f"{server.url}/kiosk?token={token}")
        expect(page.locator("#urgent-banner")).to_be_visible()
        expect(page.locator("#figures-panel")).to_be_visible()
        expect(page.locator(".qr-code")).to_be_visible()
        expect(page.locator("#activity-list li").first).to_be_visible()
        _side_fits(page)
        small = [t for t in _sizes(page)["texts"] if t["px"] < 30]
        assert not small, small
        assert _violations(page) == []

        # Turned to portrait the side row scrolls instead: everything is back; and turned
        # back, it fits again.
        page.set_viewport_size({"width": 1080, "height": 1920})
        expect(page.locator("#leaderboard-panel li").last).to_be_attached()
        # The side column is fitted again by a ResizeObserver, after the resize: wait for it.
        expect(page.locator(".side .squeezed")).to_have_count(0)
        page.set_viewport_size({"width": 1920, "height": 1080})
        expect(page.locator(".side .squeezed").first).to_be_attached()
        _side_fits(page)
        assert errors == []
    finally:
        staff.withdraw(item["id"])
        context.close()
