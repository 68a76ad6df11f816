"""The app on a real socket, for tests and benchmarks.

`LiveServer` runs ``wsgi:app`` with gunicorn.conf.py (gevent workers, preload, as in
production) on a free 127.0.0.1 port, with its own file SQLite database and instance folder
under `workdir`. `prepare()` builds the schema (migrations, then tables not migrated yet) and
the demo data (`flask seed-demo --json`); `start()` waits for /healthz; `stop()` shuts it down.
The server can be stopped and started again on the same port and database, like a power cut or
a deploy. gunicorn's output goes to `workdir/server.log`.

Used by tests/browser, tests/voice_app and the scripts in bench/ (run from the repository root,
where ``from tests.live import LiveServer`` imports).

`ScaledServer` is the same on the scaled install: a PostgreSQL database made for it (and dropped
by `close()`), Redis under a key prefix of its own, two workers of the configured class.
`create_postgres_database` (also used by tests/conftest.py and bench/cases.py) makes and drops
such a database.

`ThreadedServer` serves an app object already built in this process (the test session's own
app and database) with werkzeug in a thread, for tests that set the scene through the services.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from collections.abc import Callable
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
SCHEMA_SCRIPT = (
    "from app import create_app\nfrom app.extensions import db\n"
    "from flask_migrate import upgrade\napp = create_app()\n"
    "with app.app_context():\n    upgrade()\n    db.create_all()\n"
)
# The scaled install's services on this machine (and on CI); SCALED_POSTGRES_URL names the
# PostgreSQL server's maintenance database (new databases are made next to it).
SCALED_POSTGRES_URL = os.environ.get(
    "SCALED_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
SCALED_REDIS_URL = os.environ.get("SCALED_REDIS_URL", "redis://127.0.0.1:6379/0")
# gunicorn's access log with the answering worker's pid (read by `LiveServer.workers_of`), so
# the app needs no test-only header.
WORKER_ACCESS_LOG = {"GUNICORN_CMD_ARGS": "--access-logformat='%(p)s %(s)s %(m)s %(U)s'"}


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def psycopg_url(url: str) -> str:
    """A PostgreSQL URL with SQLAlchemy's psycopg (3) driver."""
    return url.replace("postgres://", "postgresql://", 1).replace(
        "postgresql://", "postgresql+psycopg://", 1
    )


def create_postgres_database(url: str, prefix: str = "linli_test") -> tuple[str, Callable]:
    """A new empty database on the PostgreSQL server of `url` (named `prefix`_<random>): its
    URL and a function that drops it (ending the sessions still connected to it)."""
    from sqlalchemy import create_engine, text

    pg = psycopg_url(url)
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = create_engine(pg, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(
                text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n"),
                {"n": name},
            )
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()

    return f"{pg.rpartition('/')[0]}/{name}", drop


def postgres_reachable(url: str) -> bool:
    """True when the PostgreSQL server of `url` takes a connection within 2 s."""
    from sqlalchemy import create_engine, text

    engine = create_engine(psycopg_url(url), connect_args={"connect_timeout": 2})
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        return True
    except Exception:
        return False
    finally:
        engine.dispose()


def redis_reachable(url: str) -> bool:
    """True when Redis at `url` answers PING within 1 s."""
    try:
        import redis

        client = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)
        try:
            return bool(client.ping())
        finally:
            client.close()
    except Exception:
        return False


def forget_redis_keys(url: str, prefix: str) -> None:
    """Delete the keys under `prefix`: (a server's voice conversations); Redis gone: nothing."""
    try:
        import redis

        client = redis.Redis.from_url(url, socket_connect_timeout=1)
        try:
            for key in client.scan_iter(f"{prefix}:*"):
                client.delete(key)
        finally:
            client.close()
    except Exception:
        pass


class LiveServer:
    """gunicorn serving wsgi:app on 127.0.0.1 with its own SQLite file.

    `env` is laid over the defaults (which are laid over os.environ). With `own_group` gunicorn
    runs in its own process group and `stop()` signals the whole group (master, workers and
    anything they started)."""

    start_timeout = 30.0
    stop_signal = signal.SIGINT  # quick shutdown: open streams are cut like in a power cut
    stop_timeout = 20.0

    def __init__(
        self,
        workdir: Path,
        *,
        workers: int = 1,
        env: dict | None = None,
        database: str = "live.db",
        own_group: bool = False,
    ):
        self.workdir = Path(workdir)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.own_group = own_group
        self.env = {
            **os.environ,
            "LINLI_ENV": "development",
            "LINLI_INSTANCE_PATH": str(self.workdir / "instance"),
            "DATABASE_URL": f"sqlite:///{self.workdir / database}",
            "SECRET_KEY": secrets.token_urlsafe(32),
            "LINLI_BIND": f"127.0.0.1:{self.port}",
            "WEB_CONCURRENCY": str(workers),
            "PUBLIC_BASE_URL": self.url,
            "LINLI_ACCESS_LOG": str(self.workdir / "access.log"),
            "FLASK_APP": "wsgi.py",
            # Every list read sweeps due deadline work, as the tests' app does.
            "CASE_LIST_SWEEP_SECONDS": "0",
            **(env or {}),
        }
        self.env.pop("TEST_DATABASE_URL", None)
        self.env.setdefault("REDIS_URL", "")
        self.instance = Path(self.env["LINLI_INSTANCE_PATH"])
        self.access_log = Path(self.env["LINLI_ACCESS_LOG"])
        self.log = self.workdir / "server.log"
        self.proc: subprocess.Popen | None = None
        self.summary: dict = {}

    def run_python(
        self, script: str, env_overrides: dict | None = None, timeout: float = 120
    ) -> str:
        """Run a Python script in a child process with the server's settings; its stdout."""
        return subprocess.run(
            [sys.executable, "-c", script],
            cwd=ROOT,
            check=True,
            env={**self.env, **(env_overrides or {})},
            capture_output=True,
            text=True,
            timeout=timeout,
        ).stdout

    def prepare(self, env_overrides: dict | None = None, timeout: float = 120) -> dict:
        """Schema (migrations, then tables not migrated yet) and the demo data; returns the seed
        summary (accounts, demo screen token, …), also kept as `summary`."""
        self.instance.mkdir(parents=True, exist_ok=True)
        env = {**self.env, **(env_overrides or {})}
        self.run_python(SCHEMA_SCRIPT, env_overrides, timeout)
        out = subprocess.run(
            [str(BIN / "flask"), "seed-demo", "--json"],
            env=env,
            cwd=ROOT,
            check=True,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        self.summary = json.loads(out.stdout.strip().splitlines()[-1])
        return self.summary

    def ready(self) -> bool:
        """True once the server answers /healthz."""
        try:
            with urllib.request.urlopen(self.url + "/healthz", timeout=2) as response:
                return response.status == 200
        except OSError:
            return False

    def start(self, timeout: float | None = None) -> None:
        """Start gunicorn and wait until it answers."""
        with self.log.open("ab") as log:  # the child keeps its own copy
            self.proc = subprocess.Popen(
                [str(BIN / "gunicorn"), "-c", str(ROOT / "gunicorn.conf.py"), "wsgi:app"],
                env=self.env,
                cwd=ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=self.own_group,
            )
        deadline = time.monotonic() + (timeout or self.start_timeout)
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"gunicorn exited: {self._log_tail()}")
            if self.ready():
                return
            time.sleep(0.1)
        raise RuntimeError(f"gunicorn did not start: {self._log_tail()}")

    def stop(self, sig: int | None = None, timeout: float | None = None) -> None:
        """Signal gunicorn (SIGINT unless told otherwise), wait, kill it if it lingers."""
        if self.proc is None:
            return
        try:
            self._signal(self.stop_signal if sig is None else sig)
            self.proc.wait(timeout=timeout or self.stop_timeout)
        except subprocess.TimeoutExpired:
            self._signal(signal.SIGKILL)
            self.proc.wait(timeout=10)
        self.proc = None

    def workers_of(self, method: str, path: str) -> dict[str, list[str]]:
        """pid -> statuses of the requests `method` `path` so far, from the access log written
        with WORKER_ACCESS_LOG (a request's line is written once its response has ended)."""
        seen: dict[str, list[str]] = {}
        if not self.access_log.exists():
            return seen
        for line in self.access_log.read_text().splitlines():
            parts = line.strip("'").split()
            if len(parts) == 4 and parts[2] == method and parts[3] == path:
                seen.setdefault(parts[0], []).append(parts[1])
        return seen

    def wait_workers_of(
        self, method: str, path: str, expected: int, timeout: float = 10
    ) -> dict[str, list[str]]:
        """`workers_of` once the access log holds `expected` lines for it (or after `timeout`)."""
        deadline = time.monotonic() + timeout
        while True:
            seen = self.workers_of(method, path)
            if sum(map(len, seen.values())) >= expected or time.monotonic() > deadline:
                return seen
            time.sleep(0.05)

    @property
    def running(self) -> bool:
        """True while the process lives."""
        return self.proc is not None and self.proc.poll() is None

    def _signal(self, sig: int) -> None:
        try:
            if self.own_group:
                os.killpg(self.proc.pid, sig)
            else:
                self.proc.send_signal(sig)
        except ProcessLookupError:
            pass

    def _log_tail(self) -> str:
        return self.log.read_text(errors="replace")[-4000:] if self.log.exists() else ""


class ScaledServer(LiveServer):
    """The scaled install: gunicorn with two workers of the configured class (gevent) on a
    PostgreSQL database made for this server, and Redis (the event bus, voice conversations)
    under a key and channel prefix of its own, so parallel runs on one Redis never mix. The
    access log says which worker answered (`workers_of`).

    Check `unavailable()` first (the reason to skip when PostgreSQL or Redis does not answer);
    `close()` stops the server, forgets its Redis keys and drops its database."""

    def __init__(
        self,
        workdir: Path,
        *,
        workers: int = 2,
        env: dict | None = None,
        own_group: bool = False,
        postgres_url: str = SCALED_POSTGRES_URL,
        redis_url: str = SCALED_REDIS_URL,
    ):
        self.prefix = f"linlilive{secrets.token_hex(4)}"
        self.redis_url = redis_url
        database_url, self._drop_database = create_postgres_database(postgres_url, "linli_live")
        super().__init__(
            workdir,
            workers=workers,
            own_group=own_group,
            env={
                "DATABASE_URL": database_url,
                "REDIS_URL": redis_url,
                "EVENTS_CHANNEL_PREFIX": self.prefix,
                **WORKER_ACCESS_LOG,
                **(env or {}),
            },
        )

    @staticmethod
    def unavailable(
        postgres_url: str = SCALED_POSTGRES_URL, redis_url: str = SCALED_REDIS_URL
    ) -> str | None:
        """Why the scaled install cannot run here (None when it can)."""
        if not postgres_reachable(postgres_url):
            return f"PostgreSQL is not reachable at {postgres_url} (the scaled install needs it)"
        if not redis_reachable(redis_url):
            return f"Redis is not reachable at {redis_url} (the scaled install needs it)"
        return None

    def close(self) -> None:
        """Stop the server, forget its Redis keys, drop its database."""
        try:
            self.stop()
        finally:
            forget_redis_keys(self.redis_url, self.prefix)
            self._drop_database()


@contextmanager
def scaled_install(workdir: Path, **kwargs):
    """A `ScaledServer` with its schema and demo data, started; closed after. The calling test
    is skipped, with the reason, when PostgreSQL or Redis does not answer."""
    reason = ScaledServer.unavailable()
    if reason:
        import pytest

        pytest.skip(reason)
    server = ScaledServer(workdir, **kwargs)
    try:
        server.prepare()
        server.start()
        yield server
    finally:
        server.close()


def close_on_hang_up(app):
    """WSGI middleware: the response body is closed even when the client hangs up.

    werkzeug's development server (3.1) closes the body in a ``finally`` only after draining the
    socket; when the browser has already reset the connection (a page navigating away while a
    script still loads), the drain raises and the body's open file is never closed. Garbage
    collection then warns "unclosed file", which the suite treats as an error in whichever test
    happens to be running. Here the body runs inside a generator whose ``finally`` closes it as
    soon as it is exhausted, or when werkzeug drops the generator after a hang-up."""

    def wrapped(environ, start_response):
        body = app(environ, start_response)

        def chunks():
            try:
                yield from body
            finally:
                close = getattr(body, "close", None)
                if close is not None:
                    close()

        return chunks()

    return wrapped


class ThreadedServer(AbstractContextManager):
    """`app` served by werkzeug (threaded; flask-sock's WebSockets work there) on 127.0.0.1.

    ``with ThreadedServer(app) as server: server.url`` or `start()`/`stop()`."""

    def __init__(self, app, port: int = 0, name: str = "live-app"):
        from werkzeug.serving import make_server

        self.server = make_server("127.0.0.1", port, close_on_hang_up(app), threaded=True)
        self.port = self.server.server_port
        self.host = f"127.0.0.1:{self.port}"
        self.url = f"http://{self.host}"
        self.thread = threading.Thread(target=self.server.serve_forever, name=name, daemon=True)

    def start(self) -> ThreadedServer:
        self.thread.start()
        return self

    def stop(self, timeout: float = 10) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout)

    def __enter__(self) -> ThreadedServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
