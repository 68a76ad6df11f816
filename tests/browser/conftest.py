"""Browser tests: the real app in a real gunicorn process (file SQLite, demo data) and real
headless Chromium driven by Playwright. The server can be stopped and started again on the
same port and database, like a power cut or a deploy."""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync",
                 # A lobby screen is started with this: urgent items read themselves aloud.
                 "--autoplay-policy=no-user-gesture-required"]


def pytest_collection_modifyitems(config, items):
    for item in items:
        if "tests/browser/" in str(item.fspath):
            item.add_marker(pytest.mark.browser)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LiveServer:
    """gunicorn (gevent worker, as in production) serving wsgi:app on 127.0.0.1."""

    def __init__(self, workdir: Path, workers: int = 1, extra_env: dict | None = None):
        self.workdir = workdir
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.instance = workdir / "instance"
        self.access_log = workdir / "access.log"
        self.env = {
            **os.environ,
            "LINLI_ENV": "development",
            "LINLI_INSTANCE_PATH": str(self.instance),
            "DATABASE_URL": f"sqlite:///{workdir / 'live.db'}",
            "SECRET_KEY": secrets.token_urlsafe(32),
            "LINLI_BIND": f"127.0.0.1:{self.port}",
            "WEB_CONCURRENCY": str(workers),
            "PUBLIC_BASE_URL": self.url,
            "LINLI_ACCESS_LOG": str(self.access_log),
            "KIOSK_POLL_SECONDS": "30",
            "FLASK_APP": "wsgi.py",
            **(extra_env or {}),
        }
        self.env.pop("TEST_DATABASE_URL", None)
        self.env.setdefault("REDIS_URL", "")
        self.proc: subprocess.Popen | None = None
        self.summary: dict = {}

    def prepare(self) -> None:
        """Schema (migrations, then tables not migrated yet) and the demo data."""
        self.instance.mkdir(parents=True, exist_ok=True)
        script = ("from app import create_app\nfrom app.extensions import db\n"
                  "from flask_migrate import upgrade\napp = create_app()\n"
                  "with app.app_context():\n    upgrade()\n    db.create_all()\n")
        subprocess.run([sys.executable, "-c", script], env=self.env, cwd=ROOT, check=True,
                       capture_output=True, timeout=120)
        out = subprocess.run([str(BIN / "flask"), "seed-demo", "--json"], env=self.env, cwd=ROOT,
                             check=True, capture_output=True, text=True, timeout=120)
        self.summary = json.loads(out.stdout.strip().splitlines()[-1])

    def start(self) -> None:
        """Start gunicorn and wait until it answers."""
        with (self.workdir / "server.log").open("ab") as log:  # the child keeps its own copy
            self.proc = subprocess.Popen(
                [str(BIN / "gunicorn"), "-c", str(ROOT / "gunicorn.conf.py"), "wsgi:app"],
                env=self.env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"gunicorn exited: {(self.workdir / 'server.log').read_text()}")
            try:
                if requests.get(self.url + "/healthz", timeout=1).status_code == 200:
                    return
            except requests.RequestException:
                time.sleep(0.1)
        raise RuntimeError("gunicorn did not start")

    def stop(self) -> None:
        """Quick shutdown (SIGINT): open streams are cut like in a crash or power cut."""
        if self.proc is None:
            return
        self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self.proc = None

    @property
    def running(self) -> bool:
        """True while the process lives."""
        return self.proc is not None and self.proc.poll() is None


@pytest.fixture(scope="session")
def live(tmp_path_factory):
    """The app in gunicorn with the demo community (和平社区) seeded."""
    server = LiveServer(tmp_path_factory.mktemp("live"))
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
    """Committee staff of 和平社区 talking to the live API."""

    def __init__(self, live: LiveServer):
        self.base = live.url + "/api/v1"
        account = next(a for a in live.summary["accounts"]
                       if a["role"] == "committee_staff" and a["login"] == "heping_staff")
        r = requests.post(self.base + "/auth/token", timeout=10,
                          json={"login": account["login"], "password": account["password"]})
        r.raise_for_status()
        self.headers = {"Authorization": f"Bearer {r.json()['token']}"}
        communities = requests.get(self.base + "/communities", headers=self.headers,
                                   timeout=10).json()
        self.community = next(c for c in communities if c["name"] == "和平社区")

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
        device = self.call("POST", f"/communities/{self.community['id']}/devices", 201,
                           json={"name": name, "building_id": building_id})
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
    b = playwright_driver.chromium.launch(executable_path=CHROMIUM, headless=True,
                                          args=CHROMIUM_ARGS)
    yield b
    b.close()


@pytest.fixture()
def context(browser):
    """A fresh browser profile at 1080p (no stored token, no service worker)."""
    ctx = browser.new_context(viewport={"width": 1920, "height": 1080}, locale="zh-CN",
                              service_workers="allow")
    # Generous: this machine's disk is shared, and an fsync stall must not fail a test; the
    # latencies that matter are asserted separately.
    ctx.set_default_timeout(30_000)
    yield ctx
    ctx.close()


@pytest.fixture()
def page(context):
    """A page in the fresh profile."""
    return context.new_page()
