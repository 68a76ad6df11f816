"""Per-request profile of the affairs API: SQL statements, time and a cProfile per endpoint.

    .venv/bin/python bench/profile_requests.py [--cases 5000] [--requests 200]
                                               [--database-url postgresql://…] [--label after]

Single client, in process (the Flask test client, no HTTP server): builds a fresh database with
bench/cases.py's loader, signs in a resident and heping_staff, and for each endpoint — the
create (POST /api/v1/cases with an Idempotency-Key), the staff list with counts
(GET /api/v1/cases?community_id=…&status=open, the issue's "staff inbox") and the handler's
inbox (GET /api/v1/inbox) — prints the SQL statements of one request and the mean and p95 time
over --requests requests with the wall time inside each of STAGES (timed plainly, no
profiler), and writes a cProfile (<name>.prof, open with snakeviz or pstats) and
its top functions (<name>.txt) under --out. A quick single-client measurement, not the issue's
benchmark (bench/cases.py is).
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import statistics
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.cases import bench_env, build, make_database  # noqa: E402


class Statements:
    """Counts the SQL statements the engine runs (before_cursor_execute), and how long each
    transaction held the write lock: from its first statement that is not a SELECT to its
    commit or rollback (SQLite's one writer; on PostgreSQL the rows it wrote)."""

    def __init__(self, engine):
        from sqlalchemy import event

        self.seen: list[str] = []
        self.locked: list[float] = []
        self._since: float | None = None
        self.thread = threading.get_ident()
        event.listen(engine, "before_cursor_execute", self._on)
        event.listen(engine, "commit", self._end)
        event.listen(engine, "rollback", self._end)

    def _on(self, _conn, _cursor, statement, _params, _context, _many):
        # The request's own statements only, not a background watcher's.
        if threading.get_ident() == self.thread:
            text = " ".join(statement.split())
            self.seen.append(text[:160])
            if self._since is None and not text.startswith(("SELECT", "PRAGMA")):
                self._since = time.perf_counter()

    def _end(self, _conn):
        if threading.get_ident() == self.thread and self._since is not None:
            self.locked.append((time.perf_counter() - self._since) * 1000)
            self._since = None

    def take(self) -> list[str]:
        seen, self.seen = self.seen, []
        return seen

    def take_locked(self) -> list[float]:
        locked, self.locked = self.locked, []
        return locked


# Where a request's time goes, by the functions that do each part (a part's time counts each
# call once: calls from inside the same part are not added again).
PARTS = {
    "token check and actor": [
        ("app/people/auth.py", "resolve_token"),
        ("app/security.py", "current_actor"),
        ("app/security.py", "_load_from_token"),
        ("app/people/actors.py", None),
    ],
    "authorization (authz, policy)": [
        ("app/people/authz.py", None),
        ("app/affairs/policy.py", None),
    ],
    "deadline sweep on read": [("app/affairs/deadlines.py", "run_due_work")],
    "SQL statements (compile, execute, fetch)": [("sqlalchemy/engine/base.py", "_execute_context")],
    "ORM load (rows to objects)": [("sqlalchemy/orm/loading.py", None)],
    "ORM flush (writes)": [("sqlalchemy/orm/session.py", "_flush")],
    "arguments (webargs/marshmallow load)": [("webargs/core.py", "parse")],
    "serialization (views + marshmallow dump + JSON)": [
        ("app/affairs/views.py", None),
        ("marshmallow/schema.py", "dump"),
        ("flask/json/provider.py", "response"),
    ],
    "idempotency (key, fingerprint, stored answer)": [
        ("app/infra/idempotency.py", None),
        ("app/http_idempotency.py", "request_fingerprint"),
    ],
    "similar cases (create)": [("app/affairs/intake.py", "similar_cases")],
    "commit (unit of work)": [("app/infra/uow.py", "_finish")],
    "event publish": [("app/infra/events.py", None)],
}


# The same request timed without a profiler (cProfile inflates Python-heavy parts several
# times over: under it the token check looked like a third of a list request, timed plainly it
# is about a tenth). Wall milliseconds per request spent inside each function (owner, name:
# looked up when called, so the callers see the timed one). A stage includes the stages it
# calls (the create's answer shapes its suggestions with summary_rows, say).
# (module, attribute on it or "Class.method", label)
STAGES = [
    ("app.people.auth", "resolve_token", "token check (resolve_token)"),
    ("app.affairs.queries", "list_cases", "staff list: rules and statements"),
    ("app.affairs.queries", "status_counts", "list: counts per status and overdue"),
    ("app.affairs.queries", "_row_page", "list: the page statement and its rows"),
    ("app.affairs.queries", "inbox", "inbox: rules and statements"),
    ("app.api.cases.routes", "case_page", "list answer (rows shaped, JSON)"),
    ("app.affairs.views", "summary_rows", "rows shaped (summary_rows)"),
    ("app.affairs.intake", "submit", "create: the case (submit)"),
    ("app.affairs.intake", "similar_cases", "create: duplicate suggestions"),
    ("sqlalchemy.orm.session", "Session.flush", "ORM flushes (writes)"),
    ("app.affairs.views", "case_view", "create: the case as answered (case_view)"),
    ("sqlalchemy.orm.session", "Session.commit", "commit"),
]


class Stages:
    """Wall time per call of each of STAGES, by wrapping the functions for a block of
    requests (two perf_counter calls per call: well under a microsecond)."""

    def __init__(self):
        import importlib

        self.ms = dict.fromkeys((label for _m, _a, label in STAGES), 0.0)
        self._saved = []
        for module, attribute, label in STAGES:
            owner = importlib.import_module(module)
            *path, name = attribute.split(".")
            for part in path:
                owner = getattr(owner, part)
            self._saved.append((owner, name, owner.__dict__[name], label))

    def _timed(self, original, label):
        ms = self.ms

        def timed(*args, **kwargs):
            t0 = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                ms[label] += (time.perf_counter() - t0) * 1000

        return timed

    def __enter__(self):
        for owner, name, original, label in self._saved:
            setattr(owner, name, self._timed(original, label))
        return self

    def __exit__(self, *_exc):
        for owner, name, original, _label in self._saved:
            setattr(owner, name, original)

    def per_request(self, requests: int) -> dict:
        """The stages that ran, ms per request; then the clock is reset."""
        out = {label: ms / requests for label, ms in self.ms.items() if ms / requests >= 0.005}
        self.ms = dict.fromkeys(self.ms, 0.0)
        return out


class GcTime:
    """Milliseconds spent in the garbage collector (gc.callbacks), and how many collections of
    the oldest generation ran."""

    def __init__(self):
        import gc

        self.ms, self.full, self._t0 = 0.0, 0, 0.0
        gc.callbacks.append(self._on)

    def _on(self, phase, info):
        if phase == "start":
            self._t0 = time.perf_counter()
        else:
            self.ms += (time.perf_counter() - self._t0) * 1000
            self.full += info["generation"] == 2

    def take(self) -> tuple[float, int]:
        out = (self.ms, self.full)
        self.ms, self.full = 0.0, 0
        return out


def breakdown(profile: cProfile.Profile, calls: int) -> dict:
    """Milliseconds per request in each of PARTS (parts may overlap: SQL runs inside others)."""
    stats = pstats.Stats(profile).stats
    total = max(ct for _cc, _nc, _tt, ct, _callers in stats.values())
    out = {"whole request": total * 1000 / calls}
    for part, rules in PARTS.items():

        def inside(key, rules=rules):
            path, _line, name = key
            return any(p in path and (f is None or f == name) for p, f in rules)

        seconds = 0.0
        for key, (_cc, _nc, _tt, _ct, callers) in stats.items():
            if inside(key):
                seconds += sum(edge[3] for caller, edge in callers.items() if not inside(caller))
        out[part] = seconds * 1000 / calls
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL"))
    parser.add_argument("--cases", type=int, default=5000)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--out", default=str(ROOT / "bench" / "profiles"))
    parser.add_argument("--label", default="", help="suffix of the output files (before/after)")
    parser.add_argument("--show-sql", action="store_true")
    parser.add_argument(
        "--only",
        action="append",
        help="profile only this endpoint (create, staff_list_p50, staff_list_p5, inbox_p50, "
        "healthz; repeatable)",
    )
    parser.add_argument(
        "--keep",
        help="SQLite only: build the database once into this folder and reuse it on later runs "
        "(to compare two checkouts on the same data)",
    )
    args = parser.parse_args()

    workdir = Path(args.keep or tempfile.mkdtemp(prefix="linli-profile-"))
    workdir.mkdir(parents=True, exist_ok=True)
    if args.keep:
        db_url, drop = f"sqlite:///{workdir / 'bench.db'}", lambda: None
    else:
        db_url, drop = make_database(args.database_url, workdir)
    env = bench_env(workdir, db_url, "profile", RATELIMIT_ENABLED="0")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    try:
        saved = workdir / "info.json"
        if args.keep and saved.exists():
            info = json.loads(saved.read_text())
        else:
            info = build(db_url, env, args.cases)
            saved.write_text(json.dumps(info))
        from app import create_app
        from app.extensions import db

        # As bench/cases.py: the hourly create limit lifted, but its count still runs.
        app = create_app({"SQLALCHEMY_DATABASE_URI": db_url, "CASE_CREATE_PER_HOUR": 1_000_000})
        with app.app_context():
            counter = Statements(db.engine)
        client = app.test_client()
        gc_time = GcTime()
        stages = Stages()

        def token(login, kind, secret):
            r = client.post("/api/v1/auth/token", json={"login": login, kind: secret})
            assert r.status_code == 201, r.get_data(as_text=True)
            return r.get_json()["token"]

        staff = {"Authorization": f"Bearer {token('heping_staff', 'password', info['password'])}"}
        resident = {"Authorization": f"Bearer {token(info['residents'][0], 'pin', info['pin'])}"}
        # The handler's inbox: give heping_staff some assigned cases to list.
        with app.app_context():
            from sqlalchemy import select, update

            from app.models import Person
            from app.models.case import Case

            me = db.session.scalar(select(Person.id).where(Person.username == "heping_staff"))
            ids = db.session.scalars(
                select(Case.id)
                .where(Case.community_id == info["heping_id"], Case.status == "in_progress")
                .limit(200)
            ).all()
            db.session.execute(update(Case).where(Case.id.in_(ids)).values(assignee_person_id=me))
            db.session.commit()

        heping = info["heping_id"]

        def create():
            return client.post(
                "/api/v1/cases",
                json={"category_code": "environment", "description": "楼道里堆了纸箱，过不去人"},
                headers={**resident, "Idempotency-Key": uuid.uuid4().hex},
            )

        endpoints = [
            ("create", create, 201),
            (
                "staff_list_p50",
                lambda: client.get(
                    f"/api/v1/cases?community_id={heping}&status=open&per_page=50", headers=staff
                ),
                200,
            ),
            (
                "staff_list_p5",
                lambda: client.get(
                    f"/api/v1/cases?community_id={heping}&status=open&per_page=5", headers=staff
                ),
                200,
            ),
            (
                "inbox_p50",
                lambda: client.get("/api/v1/inbox?status=all&per_page=50", headers=staff),
                200,
            ),
            ("healthz", lambda: client.get("/healthz"), 200),
        ]
        if args.only:
            endpoints = [e for e in endpoints if e[0] in args.only]
        report = {}
        for name, call, expect in endpoints:
            for _ in range(5):  # warm up caches, compiled statements, translations
                r = call()
                assert r.status_code == expect, (name, r.status_code, r.get_data(as_text=True))
            counter.take()
            call()
            sql = counter.take()
            times, cpu = [], []
            counter.take_locked()
            gc_time.take()
            with stages:
                for _ in range(args.requests):
                    t0, c0 = time.perf_counter(), time.process_time()
                    call()
                    cpu.append((time.process_time() - c0) * 1000)
                    times.append((time.perf_counter() - t0) * 1000)
            staged = stages.per_request(args.requests)
            counter.take()
            locked = counter.take_locked()
            gc_ms, gc_full = gc_time.take()
            profiler = cProfile.Profile()
            profiled = min(50, args.requests)
            profiler.enable()
            for _ in range(profiled):
                call()
            profiler.disable()
            counter.take()
            suffix = f"_{args.label}" if args.label else ""
            profiler.dump_stats(out / f"{name}{suffix}.prof")
            text = io.StringIO()
            stats = pstats.Stats(profiler, stream=text).sort_stats("cumulative")
            stats.print_stats(45)
            (out / f"{name}{suffix}.txt").write_text(text.getvalue())
            times.sort()
            report[name] = {
                "statements": len(sql),
                "mean_ms": statistics.mean(times),
                "p50_ms": statistics.median(times),
                "p95_ms": times[int(len(times) * 0.95) - 1],
                # CPU time of this process: steadier than wall time on a shared machine.
                "cpu_mean_ms": statistics.mean(cpu),
                # Wall ms from the first write to the commit, per request (0 for reads).
                "write_lock_ms": sum(locked) / len(times),
                # The garbage collector's share, and its full collections over the requests.
                "gc_ms": gc_ms / len(times),
                "gc_full_collections": gc_full,
                "python_calls": pstats.Stats(profiler).total_calls // profiled,
                # Without a profiler: wall ms per request inside each of STAGES.
                "stages_ms": staged,
                "profile_ms": breakdown(profiler, profiled),
                "sql": sql,
            }
            print(
                f"{name:16} {len(sql):>3} statements  mean {report[name]['mean_ms']:6.2f} ms  "
                f"p50 {report[name]['p50_ms']:6.2f}  p95 {report[name]['p95_ms']:6.2f}  "
                f"CPU mean {report[name]['cpu_mean_ms']:6.2f} ms  "
                f"{report[name]['python_calls']:>6} calls  "
                f"write lock {report[name]['write_lock_ms']:5.2f} ms  "
                f"gc {report[name]['gc_ms']:5.2f} ms ({gc_full} full)  "
                f"load {os.getloadavg()[0]:.1f}",
                flush=True,
            )
            for stage, ms in staged.items():
                print(f"    {stage:48} {ms:6.2f} ms (timed, no profiler)")
            for part, ms in report[name]["profile_ms"].items():
                print(f"    {part:48} {ms:6.2f} ms (under cProfile)")
            if args.show_sql:
                for line in sql:
                    print("    ", line)
        (out / f"summary{'_' + args.label if args.label else ''}.json").write_text(
            json.dumps(
                {"cases": info["cases"], "database": db_url.split(":")[0], **report},
                indent=1,
                ensure_ascii=False,
            )
        )
    finally:
        drop()


if __name__ == "__main__":
    main()
