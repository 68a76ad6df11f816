"""The security policy (Content-Security-Policy) in real Chromium: every kind of page works
with it and the browser reports no violation (a violation is also a console error)."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import Staff

# Collected in the page itself: violations of the policy, whichever resource caused them.
_PROBE = """
window.__violations = [];
document.addEventListener('securitypolicyviolation', function (e) {
  window.__violations.push(e.violatedDirective + ' ' + (e.blockedURI || '') + ' '
                           + (e.sourceFile || '') + ':' + (e.lineNumber || ''));
});
"""


@pytest.fixture()
def watched(browser):
    """A 1080p browser profile that records console errors and policy violations."""
    context = browser.new_context(viewport={"width": 1920, "height": 1080}, locale="zh-CN")
    context.set_default_timeout(30_000)
    context.add_init_script(_PROBE)
    errors: list[str] = []

    def new_page():
        page = context.new_page()
        page.on("console", lambda m: m.type == "error" and errors.append(m.text))
        page.on("pageerror", lambda e: errors.append(str(e)))
        return page

    yield new_page, errors
    context.close()


def _no_violations(page, errors, allowed: str = "\0"):
    assert [v for v in page.evaluate("window.__violations") if allowed not in v] == []
    assert [
        e for e in errors if ("Content Security Policy" in e or "Refused" in e) and allowed not in e
    ] == []


def test_staff_console_and_compose_preview_work_under_the_policy(server, watched):
    new_page, errors = watched
    staff = Staff(server)
    page = new_page()
    response = page.goto(f"{server.url}/staff/login")
    assert "script-src 'self'" in response.headers["content-security-policy"]
    page.locator("input[name=login]").fill(staff.login)
    page.locator("input[name=password]").fill(staff.password)
    page.locator("form button[type=submit], form input[type=submit]").last.click()
    expect(page).to_have_url(re.compile(r"/staff/$"))
    page.goto(f"{server.url}/staff/announcements/new")
    page.locator("#title").fill("停水通知")
    page.locator("#body").fill("周六上午停水。" * 40)
    frame = page.frame_locator("iframe").first
    expect(frame.locator("#slide-title")).to_have_text("停水通知")
    _no_violations(page, errors)
    for frame in page.frames:
        assert frame.evaluate("window.__violations") == []


def test_lobby_screen_live_under_the_policy(server, watched):
    new_page, errors = watched
    page = new_page()
    _device, token = Staff(server).new_screen("安全策略屏")
    page.goto(f"{server.url}/kiosk?token={token}")
    expect(page.locator("html[data-online='1']")).to_have_count(1)
    expect(page.locator(".qr-code svg")).to_have_count(1)
    _no_violations(page, errors)


def test_easy_mode_pages_under_the_policy(server, watched):
    new_page, errors = watched
    resident = next(a for a in server.summary["accounts"] if a["role"] == "resident")
    page = new_page()
    page.goto(f"{server.url}/easy/login")
    page.fill("#phone", resident["login"])
    page.fill("#pin", resident["pin"])
    page.click("form.form button[type=submit]")
    page.wait_for_url(re.compile(r".*/easy/$"))
    for path in [
        "/easy/announcements",
        "/easy/report",
        "/easy/cases",
        "/easy/settings",
        "/easy/family",
        "/easy/offline",
    ]:
        page.goto(f"{server.url}{path}")
        expect(page.locator("main")).to_have_count(1)
        _no_violations(page, errors)


def test_api_docs_under_the_policy(server, watched):
    new_page, errors = watched
    page = new_page()
    page.goto(f"{server.url}/api/docs")
    expect(page.get_by_text("Linli API").first).to_be_visible()
    # Redoc's "powered by" logo comes from its CDN: blocked, as nothing may load from outside.
    _no_violations(page, errors, allowed="https://cdn.redoc.ly/")
