"""Shared fixtures: one app per test session, a clean database per test, an auth helper.

The suite runs on SQLite by default and on PostgreSQL when TEST_DATABASE_URL (or DATABASE_URL)
points at one: each run then makes its own throwaway database, so runs never collide.
"""

from __future__ import annotations

import os
import tempfile
import uuid
from contextlib import contextmanager
from pathlib import Path

import pytest

from app import create_app
from app.extensions import db as _db
from tests.live import create_postgres_database, psycopg_url


def _postgres_url() -> str | None:
    url = os.environ.get("TEST_DATABASE_URL") or os.environ.get("DATABASE_URL")
    if url and url.startswith(("postgres://", "postgresql")):
        return psycopg_url(url)
    return None


@contextmanager
def fresh_database(tmp_dir: Path):
    """A brand-new empty database: a SQLite file, or a new PostgreSQL database dropped after."""
    pg = _postgres_url()
    if pg is None:
        yield f"sqlite:///{tmp_dir / f'linli-{uuid.uuid4().hex[:8]}.db'}"
        return
    url, drop = create_postgres_database(pg, "linli_test")
    try:
        yield url
    finally:
        drop()


@pytest.fixture(scope="session")
def database_url(tmp_path_factory):
    """A fresh database for this test session (SQLite file, or a new PostgreSQL database)."""
    with fresh_database(tmp_path_factory.mktemp("db")) as url:
        yield url


@pytest.fixture(scope="session")
def app(database_url, tmp_path_factory):
    """The application, configured for tests, with the schema built from the migrations."""
    instance = tmp_path_factory.mktemp("instance")
    application = create_app(
        {
            "ENV_OVERRIDES": {"LINLI_ENV": "testing", "LINLI_INSTANCE_PATH": str(instance)},
            "SQLALCHEMY_DATABASE_URI": database_url,
            "UPLOAD_FOLDER": str(instance / "uploads"),
            "MEDIA_CACHE_FOLDER": str(instance / "cache"),
            "INSTANCE_PATH": str(instance),
            "ARGON2_PROFILE": "fast",
            # Every list read sweeps due deadline work (tests move the clock between reads);
            # tests/affairs/test_query_count.py pins its own interval.
            "CASE_LIST_SWEEP_SECONDS": 0,
            "WTF_CSRF_ENABLED": True,
            "SERVER_NAME": None,
        }
    )
    with application.app_context():
        from flask_migrate import upgrade

        upgrade()
        # Tables of models whose migration is not written yet; tests/test_migrations.py
        # fails until it is, so this never hides a missing migration from CI.
        _db.create_all()
    yield application
    with application.app_context():
        _db.engine.dispose()


def _clean(app) -> None:
    with app.app_context():
        _db.session.remove()
        tables = list(reversed(_db.metadata.sorted_tables))
        with _db.engine.begin() as conn:
            # DELETE beats TRUNCATE for a handful of rows per table, on both databases.
            for table in tables:
                conn.execute(table.delete())


@pytest.fixture()
def db(app):
    """A clean database for each test, inside an app context."""
    _clean(app)
    with app.app_context():
        yield _db
        _db.session.remove()


@pytest.fixture()
def client(app, db):
    """A test client over a clean database."""
    return app.test_client()


@pytest.fixture()
def runner(app, db):
    """A CLI runner over a clean database."""
    return app.test_cli_runner()


class Auth:
    """Get bearer headers for people and devices without going through the UI each time."""

    def __init__(self, client):
        self.client = client

    def token(self, login: str, *, pin: str | None = None, password: str | None = None) -> str:
        """Sign in through the API and return the token."""
        body = {"login": login, **({"pin": pin} if pin else {"password": password})}
        response = self.client.post("/api/v1/auth/token", json=body)
        assert response.status_code == 201, response.get_json()
        return response.get_json()["token"]

    def headers(self, person=None, *, device=None, act_for=None) -> dict:
        """Bearer headers for a factory-made person (or a device)."""
        from app.people.auth import issue_token

        token, _ = issue_token(person=person, device=device)
        _db.session.commit()
        headers = {"Authorization": f"Bearer {token}"}
        if act_for is not None:
            headers["X-Act-For"] = str(act_for.id)
        return headers

    def for_role(self, world, role: str) -> dict:
        """Headers for one role of the authorization matrices, acting in community A."""
        side = world.a
        if role == "anonymous":
            return {}
        if role == "device":
            return self.headers(device=side.device)
        if role == "relative":
            return self.headers(side.relative, act_for=side.elder)
        people = {
            "resident": side.resident,
            "elder": side.elder,
            "staff": side.staff,
            "grid_worker": side.grid_worker,
            "org_member": side.org_member,
            "official": world.official,
            "official_writer": world.official_writer,
            "admin": world.admin,
        }
        return self.headers(people[role])


@pytest.fixture()
def auth(client):
    """The auth helper."""
    return Auth(client)


@pytest.fixture()
def world(db):
    """Two communities with every role in each (see tests/factories.py)."""
    from tests.factories import make_world

    return make_world()


@pytest.fixture()
def cats(world):
    """The world, with the standard case categories (repair, environment, safety, …) in both
    communities."""
    from app.affairs import categories

    for side in (world.a, world.b):
        categories.install_defaults(None, side.community.id)
    _db.session.commit()
    return world


@pytest.fixture(scope="session")
def playwright_driver():
    """The one Playwright driver of this test process, started on first use.

    A second sync driver cannot start in the same thread, so every browser suite (kiosk,
    easy mode, voice) launches its Chromium from this one.
    """
    from playwright.sync_api import sync_playwright

    with sync_playwright() as driver:
        yield driver


def pytest_configure(config):
    # Keep temporary uploads of the app out of the source tree.
    os.environ.setdefault("TMPDIR", tempfile.gettempdir())
    Path(tempfile.gettempdir()).mkdir(exist_ok=True)
