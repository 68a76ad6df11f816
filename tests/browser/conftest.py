"""Browser tests: the real app in a real gunicorn process (tests/live.py: file SQLite, demo
data) and real headless Chromium driven by Playwright. The server can be stopped and started
again on the same port and database, like a power cut or a deploy."""

from __future__ import annotations

import pytest
import requests

from tests.live import LiveServer

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    # A lobby screen is started with this: urgent items read themselves aloud.
    "--autoplay-policy=no-user-gesture-required",
]


def pytest_collection_modifyitems(config, items):
    for item in items:
        if "tests/browser/" in str(item.fspath):
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def live(tmp_path_factory):
    """The app in gunicorn with the demo community (和平社区) seeded."""
    server = LiveServer(tmp_path_factory.mktemp("live"), env={"KIOSK_POLL_SECONDS": "30"})
    server.prepare()
    server.start()
    yield server
    server.stop()


@pytest.fixture()
def server(live):
    """The live server, running again after a test that stopped it."""
    if not live.running:
        live.start()
    yield live
    if not live.running:
        live.start()


class Staff:
    """Committee staff of 和平社区 (or of another demo community) talking to the live API."""

    def __init__(self, live: LiveServer, login: str = "heping_staff", community: str = "和平社区"):
        self.base = live.url + "/api/v1"
        account = next(
            a
            for a in live.summary["accounts"]
            if a["role"] == "committee_staff" and a["login"] == login
        )
        self.login, self.password = account["login"], account["password"]
        r = requests.post(
            self.base + "/auth/token",
            timeout=10,
            json={"login": account["login"], "password": account["password"]},
        )
        r.raise_for_status()
        self.headers = {"Authorization": f"Bearer {r.json()['token']}"}
        communities = requests.get(
            self.base + "/communities", headers=self.headers, timeout=10
        ).json()
        self.community = next(c for c in communities if c["name"] == community)

    def call(self, method: str, path: str, expected: int = 200, **kw):
        """One API call; fails the test on an unexpected status."""
        r = requests.request(method, self.base + path, headers=self.headers, timeout=60, **kw)
        assert r.status_code == expected, (r.status_code, r.text)
        return r.json() if r.content else None

    def post(self, **body) -> dict:
        """Publish an announcement."""
        body.setdefault("body", "测试正文。\n\n第二段。")
        body.setdefault("priority", "normal")
        return self.call("POST", "/announcements", 201, json=body)

    def withdraw(self, item_id: int) -> dict:
        """Withdraw an announcement."""
        return self.call("POST", f"/announcements/{item_id}/withdraw")

    def new_screen(self, name: str, building_id: int | None = None) -> tuple[dict, str]:
        """Register a screen and give it a token (as the pairing would)."""
        device = self.call(
            "POST",
            f"/communities/{self.community['id']}/devices",
            201,
            json={"name": name, "building_id": building_id},
        )
        token = self.call("POST", f"/devices/{device['id']}/token", 201)["token"]
        return device, token


@pytest.fixture(scope="session")
def staff(live) -> Staff:
    """The demo community's committee staff (API)."""
    return Staff(live)


@pytest.fixture(scope="session", autouse=True)
def _expect_timeout():
    from playwright.sync_api import expect

    expect.set_options(timeout=15_000)


@pytest.fixture(scope="session")
def browser(playwright_driver):
    """Debian's Chromium, headless, driven by Playwright."""
    b = playwright_driver.chromium.launch(
        executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
    )
    yield b
    b.close()


@pytest.fixture()
def context(browser):
    """A fresh browser profile at 1080p (no stored token, no service worker)."""
    ctx = browser.new_context(
        viewport={"width": 1920, "height": 1080}, locale="zh-CN", service_workers="allow"
    )
    # Generous: this machine's disk is shared, and an fsync stall must not fail a test; the
    # latencies that matter are asserted separately.
    ctx.set_default_timeout(30_000)
    yield ctx
    ctx.close()


@pytest.fixture()
def page(context):
    """A page in the fresh profile."""
    return context.new_page()


def request_really_failed(request) -> bool:
    """False for a request the page itself cut by navigating away (the alert centre's badge
    state and live stream, easy mode's voice status, a screen's stream): Chromium reports it as
    net::ERR_ABORTED, which is not a failure (a refused request shows as its 4xx/5xx response,
    which the tests record separately)."""
    return "ERR_ABORTED" not in (request.failure or "")


class PageProblems:
    """Records what goes wrong on one page: console errors (`console`), uncaught script errors
    (`page_errors`) and requests that failed or answered 4xx/5xx (`failed`). The browser's own
    /favicon.ico probe and a request the page itself cut (request_really_failed) do not count."""

    def __init__(self, page):
        self.console: list[str] = []
        self.page_errors: list[str] = []
        self.failed: list[str] = []
        page.on("console", self._console)
        page.on("pageerror", lambda e: self.page_errors.append(str(e)))
        page.on(
            "requestfailed",
            lambda r: request_really_failed(r)
            and self.failed.append(f"{r.method} {r.url} {r.failure}"),
        )
        page.on(
            "response",
            lambda r: r.status >= 400
            and self.failed.append(f"{r.request.method} {r.url} {r.status}"),
        )

    def _console(self, message) -> None:
        url = message.location.get("url", "")
        if message.type == "error" and not url.endswith("/favicon.ico"):
            self.console.append(f"{message.text} {url}")

    @property
    def errors(self) -> list[str]:
        """Console and script errors."""
        return self.console + self.page_errors

    @property
    def problems(self) -> list[str]:
        """Everything recorded."""
        return self.errors + self.failed

    def clean(self) -> None:
        """Fails the test when anything went wrong on the page."""
        assert (self.errors, self.failed) == ([], [])
