"""Easy mode in real headless Chromium: the session's app is served by werkzeug on a free
127.0.0.1 port (same database as the `db`/`world` fixtures, so tests set the scene and drive
staff actions through the services), and Playwright walks the pages like a resident would."""

from __future__ import annotations

import io
import re

import pytest

from app.extensions import db as _db
from tests.browser.conftest import PageProblems
from tests.factories import PIN
from tests.live import ThreadedServer

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PHONE = {"width": 360, "height": 740}

# Records what the page asks to be said — by the browser's speechSynthesis, or as server-made
# speech played from a URL (the voice API's /speech?text=…) — and still lets the real call happen.
SPEECH_PROBE = """
window.__spoken = [];
window.__played = [];
if ('speechSynthesis' in window) {
  const real = window.speechSynthesis.speak.bind(window.speechSynthesis);
  window.speechSynthesis.speak = function (u) {
    window.__spoken.push({via: 'browser', text: u.text, rate: u.rate, lang: u.lang});
    try { real(u); } catch (e) { /* no voices in a headless browser */ }
  };
}
const realPlay = HTMLMediaElement.prototype.play;
HTMLMediaElement.prototype.play = function () {
  const url = new URL(this.src, location.href);
  window.__spoken.push({via: 'server', url: url.pathname, text: url.searchParams.get('text'),
                        rate: url.searchParams.get('rate'), lang: url.searchParams.get('lang')});
  this.addEventListener('ended', () => window.__played.push(url.pathname));
  return realPlay.call(this);
};
"""


@pytest.fixture(scope="session")
def live_server(app):
    """The app on http://127.0.0.1:<free port>, served by werkzeug in a thread."""
    with ThreadedServer(app) as server:
        yield server.url


@pytest.fixture(scope="package")
def browser(playwright_driver):
    """Debian's Chromium, headless, driven by Playwright."""
    chromium = playwright_driver.chromium.launch(
        executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
    )
    yield chromium
    chromium.close()


class Phone:
    """One resident's phone: a browser context sized like a phone, signed in or not."""

    def __init__(self, browser, base: str, **options):
        self.base = base
        options.setdefault("viewport", PHONE)
        options.setdefault("locale", "zh-CN")
        options.setdefault("has_touch", True)
        self.context = browser.new_context(base_url=base, **options)
        self.context.add_init_script(SPEECH_PROBE)
        self.context.set_default_timeout(15000)
        self.page = self.context.new_page()
        problems = PageProblems(self.page)
        # Script errors fail any test at close; what a journey test asserts is empty: console
        # errors and requests that failed or answered 4xx/5xx (a flow that "works" while
        # sending a bad request is still broken).
        self.errors = problems.page_errors
        self.console_errors = problems.console
        self.failed_requests = problems.failed

    def sign_in(self, person, pin: str = PIN):
        """Through the sign-in page, as the resident does."""
        page = self.page
        page.goto("/easy/login")
        page.fill("#phone", person.phone)
        page.fill("#pin", pin)
        page.click("form.form button[type=submit]")
        page.wait_for_url(re.compile(r".*/easy/$"))
        return page

    def spoken(self) -> list[dict]:
        """What the page has asked the browser to say so far."""
        return self.page.evaluate("window.__spoken")

    def close(self):
        self.context.close()
        assert not self.errors, self.errors


@pytest.fixture()
def phones(browser, live_server, db):
    """Make phones; closes them (and checks no script error happened) after the test."""
    made: list[Phone] = []

    def make(**options) -> Phone:
        phone = Phone(browser, live_server, **options)
        made.append(phone)
        return phone

    yield make
    for phone in made:
        phone.close()


@pytest.fixture()
def fresh():
    """Forget what the test thread's session cached: the server changed the database."""

    def refresh():
        _db.session.rollback()
        _db.session.expire_all()

    return refresh


def jpeg_bytes(size=(640, 480), color=(200, 80, 40)) -> bytes:
    """A real JPEG, as a phone camera would give."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, "JPEG", quality=85)
    return buffer.getvalue()
