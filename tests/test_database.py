"""When the database fails it is the server's fault (503 + Retry-After, never 400 or 500), busy
SQLite waits do not freeze a worker, and /readyz says not ready when the database cannot write."""

from __future__ import annotations

import sqlite3
import threading
import time
from contextlib import contextmanager

import pytest
from sqlalchemy.exc import OperationalError

from app import create_app
from app.extensions import db as _db
from tests.conftest import _postgres_url


@contextmanager
def other_app(app, url=None, env=None, **config):
    """A second app on the test database (or on `url`), with its own engine and pool."""
    other = create_app(
        {
            "ENV_OVERRIDES": {
                "LINLI_ENV": "testing",
                "LINLI_INSTANCE_PATH": app.config["INSTANCE_PATH"],
                **(env or {}),
            },
            "SQLALCHEMY_DATABASE_URI": url or app.config["SQLALCHEMY_DATABASE_URI"],
            "UPLOAD_FOLDER": app.config["UPLOAD_FOLDER"],
            "ARGON2_PROFILE": "fast",
            "SERVER_NAME": None,
            **config,
        }
    )
    try:
        yield other
    finally:
        with other.app_context():
            _db.engine.dispose()


def _sqlite_path(app) -> str | None:
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    return url[len("sqlite:///") :] if url.startswith("sqlite:///") else None


def _unreachable_url(app, tmp_path) -> str:
    if _postgres_url():
        return "postgresql+psycopg://postgres@127.0.0.1:1/nowhere?connect_timeout=2"
    return f"sqlite:///{tmp_path / 'missing-folder' / 'linli.db'}"


def _assert_unavailable(r):
    assert r.status_code == 503, r.get_data(as_text=True)[:300]
    assert int(r.headers["Retry-After"]) > 0
    return r


@pytest.mark.parametrize(
    "method,path,body",
    [
        ("get", "/api/v1/cases?mine=true", None),
        ("post", "/api/v1/cases", {"category_code": "repair", "description": "楼道灯不亮了"}),
        ("post", "/api/v1/auth/token", {"login": "13800000000", "pin": "123456"}),
    ],
)
def test_database_unreachable_is_503_in_the_envelope(app, db, tmp_path, method, path, body):
    with other_app(app, _unreachable_url(app, tmp_path)) as other:
        r = getattr(other.test_client(), method)(
            path, json=body, headers={"Authorization": "Bearer x"} if "auth" not in path else {}
        )
    _assert_unavailable(r)
    body = r.get_json()
    assert body["code"] == 503 and body["status"] == "Service Unavailable"
    assert "Traceback" not in r.get_data(as_text=True)


def test_database_unreachable_on_pages_and_open311_is_503(app, db, tmp_path):
    with other_app(app, _unreachable_url(app, tmp_path), WTF_CSRF_ENABLED=False) as other:
        client = other.test_client()
        page = client.post(
            "/staff/login",
            data={"login": "someone", "password": "secret"},
            headers={"Accept": "text/html"},
        )
        open311 = client.get("/open311/v2/requests.json")
        ready = client.get("/readyz")
    _assert_unavailable(page)
    assert "text/html" in page.content_type and "Traceback" not in page.get_data(as_text=True)
    _assert_unavailable(open311)
    assert ready.status_code == 503
    assert ready.get_json()["database"].startswith("unreachable")


def test_no_free_connection_in_the_pool_is_503(app, db, tmp_path):
    with other_app(
        app,
        env={
            "DATABASE_POOL_SIZE": "1",
            "DATABASE_MAX_OVERFLOW": "0",
            "DATABASE_POOL_TIMEOUT": "0.3",
        },
    ) as other:
        with other.app_context():
            engine = _db.engine
            assert engine.pool.size() == 1
            held = engine.connect()
        try:
            r = other.test_client().get(
                "/api/v1/cases?mine=true", headers={"Authorization": "Bearer x"}
            )
        finally:
            held.close()
    _assert_unavailable(r)
    assert r.get_json()["code"] == 503


def test_a_failed_commit_is_503(app, client, db, monkeypatch):
    from tests.factories import make_world

    world = make_world()
    from app.people.auth import issue_token

    token, _ = issue_token(person=world.a.resident)
    _db.session.commit()

    def broken_commit():
        raise OperationalError("COMMIT", {}, Exception("server closed the connection"))

    monkeypatch.setattr(_db.session, "commit", broken_commit)
    r = client.patch(
        "/api/v1/me", json={"locale": "en"}, headers={"Authorization": f"Bearer {token}"}
    )
    monkeypatch.undo()
    _assert_unavailable(r)
    assert r.get_json()["code"] == 503


def test_settings_size_the_pool():
    from app.config import load_config

    cfg = load_config(
        {
            "DATABASE_URL": "postgresql://db/linli",
            "DATABASE_POOL_SIZE": "20",
            "DATABASE_MAX_OVERFLOW": "7",
            "DATABASE_POOL_TIMEOUT": "2.5",
            "SECRET_KEY": "k",
        }
    )
    assert cfg["SQLALCHEMY_ENGINE_OPTIONS"] == {
        "pool_pre_ping": True,
        "pool_size": 20,
        "max_overflow": 7,
        "pool_timeout": 2.5,
    }
    sqlite = load_config({"DATABASE_URL": "sqlite:////tmp/x.db", "SECRET_KEY": "k"})
    assert sqlite["SQLALCHEMY_ENGINE_OPTIONS"]["connect_args"]["timeout"] <= 0.05


# --- /readyz -------------------------------------------------------------------------------


def test_readyz_is_not_ready_when_the_database_is_read_only(app, db):
    path = _sqlite_path(app)
    if path:
        url = f"sqlite:///file:{path}?mode=ro&uri=true"
        config = {}
    else:
        url = app.config["SQLALCHEMY_DATABASE_URI"]
        config = {
            "SQLALCHEMY_ENGINE_OPTIONS": {
                "connect_args": {"options": "-c default_transaction_read_only=on"}
            }
        }
    with other_app(app, url, **config) as other:
        r = other.test_client().get("/readyz")
    assert r.status_code == 503
    body = r.get_json()
    assert body["ready"] is False and body["database"].startswith("cannot write")
    assert body["migrations"] == "current"


def test_readyz_is_not_ready_while_sqlite_is_locked_and_ready_after(app, client, db):
    path = _sqlite_path(app)
    if not path:
        pytest.skip("SQLite's write lock")
    _db.session.commit()
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        started = time.monotonic()
        r = client.get("/readyz")
        waited = time.monotonic() - started
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert r.status_code == 503 and r.get_json()["database"].startswith("cannot write")
    assert waited < 10
    assert client.get("/readyz").status_code == 200


# --- SQLite busy waits ----------------------------------------------------------------------


def test_sqlite_waits_for_the_write_lock_cooperatively(app, client, db, monkeypatch):
    """A write that finds the lock taken sleeps in Python (gevent switches to the holder there)
    instead of blocking inside SQLite; it goes through once the holder is done."""
    path = _sqlite_path(app)
    if not path:
        pytest.skip("SQLite's write lock")
    from app import database
    from tests.factories import make_world

    world = make_world()
    from app.people.auth import issue_token

    token, _ = issue_token(person=world.a.resident)
    _db.session.commit()
    assert _db.session.connection().exec_driver_sql("PRAGMA busy_timeout").scalar() <= 50
    _db.session.commit()

    holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")
    released = threading.Event()
    naps = []

    def release():
        if not released.is_set():
            released.set()
            holder.execute("ROLLBACK")

    real_sleep = time.sleep

    def nap(seconds):  # what gevent's patched sleep does: let the holder run
        naps.append(seconds)
        if len(naps) == 3:
            release()
        real_sleep(seconds)

    monkeypatch.setattr(database.time, "sleep", nap)
    # Without cooperative waits nothing sleeps here: the holder lets go after 5 s at the latest.
    timer = threading.Timer(5, release)
    timer.start()
    try:
        r = client.patch(
            "/api/v1/me", json={"locale": "en"}, headers={"Authorization": f"Bearer {token}"}
        )
    finally:
        timer.cancel()
        release()
        holder.close()
    assert len(naps) >= 3
    assert max(naps) <= 0.05
    assert r.status_code == 200, r.get_json()


# --- SQLite writers of one process wait in line (app.database.WriteGate) --------------------


def _write(engine, key: str, *, commit: bool = True, **options):
    connection = engine.connect().execution_options(**options)
    connection.exec_driver_sql(
        "INSERT INTO rate_limit (key, hits, expires_at) VALUES (?, 1, '2030-01-01 00:00:00')",
        (key,),
    )
    if commit:
        connection.commit()
        connection.close()
    return connection


@pytest.fixture()
def sqlite_engine(app, db, monkeypatch):
    if not _sqlite_path(app):
        pytest.skip("SQLite's write lock")
    from app import database

    naps = []  # (thread, seconds): each time a statement polled SQLite's lock
    real_sleep = time.sleep

    def nap(seconds):
        naps.append((threading.get_ident(), seconds))
        real_sleep(seconds)

    monkeypatch.setattr(database.time, "sleep", nap)
    _db.session.commit()
    engine = _db.engine
    engine.naps_of = lambda thread: [s for t, s in naps if t == thread]
    yield engine
    with engine.begin() as connection:
        connection.exec_driver_sql("DELETE FROM rate_limit WHERE key LIKE 'gate-%'")


def test_a_second_writer_waits_in_line_and_goes_once_the_first_commits(sqlite_engine):
    engine = sqlite_engine
    first = _write(engine, "gate-1", commit=False)  # holds the write lock
    done = []
    second = threading.Thread(target=lambda: (_write(engine, "gate-2"), done.append(1)))
    second.start()
    threading.Event().wait(0.3)  # (time.sleep is the one being counted)
    assert not done  # still waiting for the first
    first.commit()
    first.close()
    second.join(timeout=5)
    assert done == [1]
    assert engine.naps_of(second.ident) == []  # it waited in line, it never polled SQLite
    with engine.connect() as connection:
        keys = connection.exec_driver_sql(
            "SELECT key FROM rate_limit WHERE key LIKE 'gate-%' ORDER BY key"
        ).scalars()
        assert list(keys) == ["gate-1", "gate-2"]


@pytest.mark.parametrize("end", ["rollback", "close", "invalidate", "closed underneath"])
def test_a_writer_that_rolls_back_or_closes_lets_the_next_in(sqlite_engine, end):
    engine = sqlite_engine
    first = _write(engine, "gate-1", commit=False)
    if end == "closed underneath":  # the DBAPI connection closed without the pool knowing
        first.connection.dbapi_connection.close()
    else:
        getattr(first, end)()
    started = time.monotonic()
    _write(engine, "gate-2")
    assert time.monotonic() - started < 0.5
    assert engine.naps_of(threading.get_ident()) == []
    if end == "closed underneath":
        first.invalidate()
    first.close()


def test_the_wait_in_line_keeps_to_the_statements_busy_budget(sqlite_engine):
    from app.database import BUSY_BUDGET

    engine = sqlite_engine
    first = _write(engine, "gate-1", commit=False)
    failed = []

    def impatient():
        try:
            _write(engine, "gate-2", **{BUSY_BUDGET: 0.3})
        except OperationalError as error:
            failed.append(error)

    started = time.monotonic()
    worker = threading.Thread(target=impatient)
    worker.start()
    worker.join(timeout=10)
    waited = time.monotonic() - started
    first.rollback()
    first.close()
    assert failed and "locked" in str(failed[0])  # busy, as before the gate
    assert waited < 2


def test_a_holder_whose_transaction_ended_unseen_is_passed_over(sqlite_engine, monkeypatch):
    from app import database

    monkeypatch.setattr(database, "_GATE_GRACE", 0.2)
    engine = sqlite_engine
    first = _write(engine, "gate-1", commit=False)
    first.connection.dbapi_connection.commit()  # behind the engine's back: the gate not told
    started = time.monotonic()
    _write(engine, "gate-2")
    assert time.monotonic() - started < 2  # not the 10 s busy budget
    first.close()
