"""Community-affairs benchmark: prints figures and ratios (not a timed test).

    .venv/bin/python bench/cases.py [--database-url postgresql://postgres@127.0.0.1:5432/test]
                                    [--cases 100000] [--workers 4] [--requests 1500]

1. Builds a fresh database (SQLite file, or a new PostgreSQL database next to the URL given),
   seeds the demo, then bulk-inserts --cases cases (with their timeline's first step) using
   SQLAlchemy Core.
2. Starts the real app with gunicorn on 127.0.0.1 (gunicorn.conf.py; gthread workers on SQLite,
   whose blocking lock waits would stall a gevent worker, the configured gevent on PostgreSQL).
3. Loopback traffic only, bounded counts, from several client processes with keep-alive:
   GET /healthz (the trivial endpoint), POST /api/v1/cases (resident, fresh Idempotency-Key
   each), and the staff inbox (GET /api/v1/cases?community_id=…&status=… with counts per
   status), rotating through its filters.
4. Prints requests per second, the ratio to /healthz of the same server in the same run (the
   mean of /healthz measured first and again last), p50/p95 latencies, and the server's CPU
   time per request (the gunicorn master and workers, from /proc), which unlike req/s does not
   depend on how the cores are shared with the clients; the share of the machine's CPU that
   stood idle during each load (near 0 when the work is the limit, well above when requests
   wait on one another); on PostgreSQL also the database server's CPU time per request (its
   processes on this machine). --explain also prints the database's plan for the inbox query.
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing as mp
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.live import create_postgres_database  # noqa: E402  (shared with the tests)

STATUS_MIX = [
    ("closed", 70),
    ("rejected", 4),
    ("resolved", 6),
    ("in_progress", 8),
    ("assigned", 6),
    ("accepted", 2),
    ("submitted", 3),
    ("reopened", 1),
]
CHANNELS = ["app", "app", "app", "proxy", "phone", "kiosk", "voice", "patrol"]
TEXTS = [
    "楼道灯不亮了",
    "电梯停在五楼不动",
    "垃圾桶满了没人清",
    "楼道里有电动车在充电",
    "楼上装修噪音很大",
    "建议小广场多放几张长椅",
    "想请人帮忙买菜",
    "地下车库积水",
]
SHANGHAI = ZoneInfo("Asia/Shanghai")
INBOX_FILTERS = [
    {"status": "open"},
    {"status": "all"},
    {"status": "open", "overdue": "true"},
    {"status": "closed", "page": "7"},
    {"status": "in_progress"},
    {"status": "all", "channel": "kiosk"},
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- database -----------------------------------------------------------------------------


def make_database(url: str | None, workdir: Path) -> tuple[str, callable]:
    """A fresh database URL and a function that removes it."""
    if not url:
        return f"sqlite:///{workdir / 'bench.db'}", lambda: None
    return create_postgres_database(url, "linli_bench")


def bench_env(workdir: Path, db_url: str, name: str, **extra: str) -> dict:
    """The app's environment for a bench run in `workdir` (no Redis, no background voice, quiet
    logs), with `extra` settings on top."""
    return {
        "LINLI_ENV": "development",
        "LINLI_INSTANCE_PATH": str(workdir / "instance"),
        "SECRET_KEY": f"{name}-{uuid.uuid4().hex}",
        "DATABASE_URL": db_url,
        "UPLOAD_FOLDER": str(workdir / "uploads"),
        "LINLI_ACCESS_LOG": "/dev/null",
        "LINLI_LOG_LEVEL": "warning",
        "VOICE_BACKGROUND": "0",
        "REDIS_URL": "",
        **extra,
    }


def build(db_url: str, env: dict, total: int) -> dict:
    """Schema, demo data and `total` bulk-inserted cases; returns ids the load needs."""
    os.environ.update(env)
    from sqlalchemy import func, insert, select, text, update

    from app import create_app, demo
    from app.affairs import counts
    from app.cli import _import_feature_modules
    from app.extensions import db
    from app.models import Community, Person
    from app.models.case import Case, CaseCategory, CaseEvent, CaseSerial

    app = create_app({"SQLALCHEMY_DATABASE_URI": db_url})
    with app.app_context():
        # The models are the schema under test (indexes may be ahead of the last migration).
        db.create_all()
        _import_feature_modules()
        summary = demo.seed()
        db.session.commit()
        communities = {c.code: c for c in db.session.scalars(select(Community))}
        heping, guangming = communities["heping"], communities["guangming"]
        cats = {c.id: c for c in db.session.scalars(select(CaseCategory))}
        by_community = {
            cid: [c for c in cats.values() if c.community_id == cid]
            for cid in (heping.id, guangming.id)
        }
        buildings = {
            cid: [(b.id, b.grid_id) for b in communities[code].buildings]
            for code, cid in (("heping", heping.id), ("guangming", guangming.id))
        }
        residents = {
            cid: list(db.session.scalars(select(Person.id).where(Person.community_id == cid)))
            for cid in (heping.id, guangming.id)
        }
        next_id = (db.session.scalar(select(func.max(Case.id))) or 0) + 1
        serials: dict[int, int] = {
            y: v for y, v in db.session.execute(select(CaseSerial.year, CaseSerial.last_value))
        }
        rng = random.Random(20260101)
        weights = [w for _s, w in STATUS_MIX]
        statuses = [s for s, _w in STATUS_MIX]
        now = datetime.now(UTC)
        started = time.perf_counter()
        batch_cases, batch_events = [], []

        def flush():
            if batch_cases:
                db.session.execute(insert(Case.__table__), batch_cases)
                db.session.execute(insert(CaseEvent.__table__), batch_events)
                batch_cases.clear()
                batch_events.clear()

        for n in range(total):
            cid = heping.id if n % 10 else guangming.id
            category = rng.choice(by_community[cid])
            status = rng.choices(statuses, weights)[0]
            age = timedelta(days=rng.random() * 365)
            # As the scheduler leaves them: open cases are recent, resolved ones are younger
            # than the auto-close period, overdue ones are already notified/escalated.
            if status not in ("closed", "rejected", "resolved"):
                # Most open cases are within their deadline; about a third are late.
                age = timedelta(hours=rng.random() * category.deadline_hours * 1.5)
            elif status == "resolved":
                age = timedelta(days=rng.random() * 3)
            created = now - age
            year = created.astimezone(SHANGHAI).year
            serials[year] = serials.get(year, 0) + 1
            building_id, grid_id = rng.choice(buildings[cid])
            due = created + timedelta(hours=category.deadline_hours)
            overdue = status not in ("closed", "rejected", "resolved") and due < now
            resolved = (
                min(created + timedelta(hours=rng.random() * 72), now)
                if status in ("closed", "resolved")
                else None
            )
            batch_cases.append(
                {
                    "id": next_id + n,
                    "reference": f"{year}-{serials[year]:06d}",
                    "community_id": cid,
                    "category_id": category.id,
                    "status": status,
                    "channel": rng.choice(CHANNELS),
                    "description": rng.choice(TEXTS),
                    "is_public": category.is_public,
                    "anonymous": False,
                    "reporter_id": rng.choice(residents[cid]),
                    "building_id": building_id,
                    "grid_id": grid_id,
                    "attributes": {},
                    "support_count": 0,
                    "due_at": due,
                    "created_at": created,
                    "updated_at": created,
                    "overdue_notified_at": due if overdue else None,
                    "escalated_at": due + timedelta(hours=24)
                    if overdue and due + timedelta(hours=24) < now
                    else None,
                    "resolved_at": resolved,
                    "closed_at": resolved + timedelta(days=2) if status == "closed" else None,
                    "closed_reason": "confirmed" if status == "closed" else None,
                    "rating": rng.choice([3, 4, 5, 5, 5]) if status == "closed" else None,
                    "rated_at": resolved + timedelta(days=2) if status == "closed" else None,
                }
            )
            batch_events.append(
                {
                    "case_id": next_id + n,
                    "at": created,
                    "kind": "submitted",
                    "to_status": "submitted",
                    "public": True,
                    "actor_role": "reporter",
                    "data": {},
                }
            )
            if len(batch_cases) >= 5000:
                flush()
        flush()
        for year, value in serials.items():
            if db.session.get(CaseSerial, year) is None:
                db.session.add(CaseSerial(year=year, last_value=value))
            else:
                db.session.execute(
                    update(CaseSerial).where(CaseSerial.year == year).values(last_value=value)
                )
        # Core inserts go around the session hooks that keep the counts per status.
        counts.recount_statuses()
        if db.engine.dialect.name == "postgresql":
            db.session.execute(
                text(
                    "SELECT setval(pg_get_serial_sequence('case_record', 'id'),"
                    " (SELECT max(id) FROM case_record))"
                )
            )
        db.session.commit()
        db.session.commit()
        # What autovacuum would have done by now: statistics and the visibility map (which
        # PostgreSQL's index-only scans need).
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(
                text("VACUUM ANALYZE" if db.engine.dialect.name == "postgresql" else "ANALYZE")
            )
        insert_seconds = time.perf_counter() - started
        count = db.session.scalar(select(func.count()).select_from(Case))
        heping_id = heping.id
        db.engine.dispose()
    residents_logins = [a["login"] for a in summary["accounts"] if a["role"] == "resident"]
    return {
        "heping_id": heping_id,
        "cases": count,
        "insert_seconds": insert_seconds,
        "category_code": "environment",
        "residents": residents_logins,
        "pin": demo.DEMO_PIN,
        "password": demo.DEMO_PASSWORD,
    }


def explain(db_url: str, env: dict, community_id: int) -> str:
    """The database's plan for the inbox page query and its status counts."""
    os.environ.update(env)
    from sqlalchemy import create_engine, text

    engine = create_engine(db_url)
    open_statuses = "('submitted','accepted','assigned','in_progress','reopened')"
    queries = [
        f"SELECT * FROM case_record WHERE community_id = {community_id} AND status IN "
        f"{open_statuses} ORDER BY id DESC LIMIT 50",
        f"SELECT status, total FROM case_status_count WHERE community_id = {community_id}",
    ]
    lines = []
    with engine.connect() as conn:
        prefix = "EXPLAIN QUERY PLAN " if engine.dialect.name == "sqlite" else "EXPLAIN "
        for q in queries:
            lines.append(q)
            lines += [
                "    " + " | ".join(str(c) for c in row) for row in conn.execute(text(prefix + q))
            ]
    engine.dispose()
    return "\n".join(lines)


# --- server -------------------------------------------------------------------------------


def start_gunicorn(env: dict, port: int, workers: int, worker_class: str, threads: int):
    cmd = [
        str(ROOT / ".venv/bin/gunicorn"),
        "-c",
        str(ROOT / "gunicorn.conf.py"),
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(workers),
        "--threads",
        str(threads),
        "wsgi:app",
    ]
    proc = subprocess.Popen(
        cmd,
        cwd=ROOT,
        env={**os.environ, **env, "LINLI_WORKER_CLASS": worker_class},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                return proc
        except OSError:
            time.sleep(0.2)
        if proc.poll() is not None:
            raise SystemExit(proc.stderr.read().decode()[-3000:])
    raise SystemExit("gunicorn did not start")


def _cpu_seconds(chosen) -> float:
    """CPU time (user + system) used so far by the processes `chosen(pid, name, ppid)` picks,
    from /proc (Linux): each process's own, threads included, plus what its reaped children
    used."""
    ticks = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            name, rest = stat.read_text().split("(", 1)[1].rsplit(")", 1)
        except OSError:  # gone meanwhile
            continue
        fields = rest.split()
        if chosen(stat.parent.name, name, fields[1]):
            ticks += sum(int(f) for f in fields[11:15])  # utime, stime, cutime, cstime
    return ticks / os.sysconf("SC_CLK_TCK")


def server_cpu_seconds(pid: int) -> float:
    """CPU time the gunicorn master and its workers have used so far. Unlike req/s it does not
    depend on how the two cores are shared with the bench's clients."""
    return _cpu_seconds(lambda p, _name, ppid: str(pid) in (p, ppid))


def database_cpu_seconds() -> float:
    """CPU time the processes of the PostgreSQL server on this machine have used so far
    ("postgres": the postmaster, its backends and the children it reaped). The server shares
    the two cores with gunicorn and the clients; with SQLite the database's work is inside the
    workers and already counted there."""
    return _cpu_seconds(lambda _pid, name, _ppid: name == "postgres")


class IdleSampler:
    """How much of the machine's CPU stood idle while a load ran (from /proc/stat, sampled
    every 20 ms): near 0 % when the requests' work is the limit; well above it when they wait
    on one another (SQLite's single writer, a row lock) with cores free."""

    def __init__(self):
        self.samples: list[tuple[float, int, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        while not self._stop.is_set():
            with open("/proc/stat") as f:
                fields = [int(x) for x in f.readline().split()[1:]]
            self.samples.append((time.time(), fields[3] + fields[4], sum(fields[:8])))
            self._stop.wait(0.02)

    def idle_percent(self, began: float, ended: float) -> float:
        self._stop.set()
        self._thread.join()
        inside = [s for s in self.samples if began <= s[0] <= ended]
        if len(inside) < 2:
            return float("nan")
        (_, idle0, total0), (_, idle1, total1) = inside[0], inside[-1]
        return 100 * (idle1 - idle0) / max(total1 - total0, 1)


def stop(proc) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


# --- load ---------------------------------------------------------------------------------


def _request(conn, method, path, body=None, headers=None):
    conn.request(method, path, body=body, headers=headers or {})
    response = conn.getresponse()
    data = response.read()
    return response.status, data


def _login(port, login, secret_kind, secret) -> str:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    status, data = _request(
        conn,
        "POST",
        "/api/v1/auth/token",
        json.dumps({"login": login, secret_kind: secret}),
        {"Content-Type": "application/json"},
    )
    assert status == 201, data
    return json.loads(data)["token"]


def _worker(args):
    """One client process: `threads` keep-alive connections, its share of the requests."""
    port, kind, count, threads, tokens, community_id, start_at = args
    latencies, errors = [], []
    lock = threading.Lock()
    per_thread = [count // threads + (1 if i < count % threads else 0) for i in range(threads)]

    def run(i, n):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        token = tokens[i % len(tokens)] if tokens else None
        mine = []
        for j in range(n):
            headers = {"Authorization": f"Bearer {token}"} if token else {}
            if kind == "healthz":
                method, path, body = "GET", "/healthz", None
            elif kind == "create":
                method, path = "POST", "/api/v1/cases"
                body = json.dumps(
                    {"category_code": "environment", "description": "楼道里堆了纸箱，过不去人"}
                )
                headers.update(
                    {"Content-Type": "application/json", "Idempotency-Key": uuid.uuid4().hex}
                )
            else:
                query = {
                    "community_id": community_id,
                    "per_page": 50,
                    **INBOX_FILTERS[(i + j) % len(INBOX_FILTERS)],
                }
                method, body = "GET", None
                path = "/api/v1/cases?" + "&".join(f"{k}={v}" for k, v in query.items())
            t0 = time.perf_counter()
            status, data = _request(conn, method, path, body, headers)
            mine.append(time.perf_counter() - t0)
            if status >= 400:
                with lock:
                    errors.append((status, data[:200]))
        with lock:
            latencies.extend(mine)

    while time.time() < start_at:
        time.sleep(0.001)
    began = time.time()
    pool = [threading.Thread(target=run, args=(i, n)) for i, n in enumerate(per_thread)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    return latencies, errors, began, time.time()


def load(port, kind, count, processes, threads, *, server, tokens=None, community_id=None) -> dict:
    # Every client process starts at the same moment; the clock runs from the first request
    # sent to the last answer received.
    cpu_before = server_cpu_seconds(server)
    db_before = database_cpu_seconds()
    idle = IdleSampler()
    start_at = time.time() + 3
    share = [count // processes + (1 if i < count % processes else 0) for i in range(processes)]
    with mp.get_context("spawn").Pool(processes) as pool:
        results = pool.map(
            _worker, [(port, kind, n, threads, tokens, community_id, start_at) for n in share]
        )
    began, ended = min(r[2] for r in results), max(r[3] for r in results)
    elapsed = ended - began
    latencies = [x for r in results for x in r[0]]
    errors = [x for r in results for x in r[1]]
    latencies.sort()
    cpu = server_cpu_seconds(server) - cpu_before
    db_cpu = database_cpu_seconds() - db_before
    return {
        "cpu_ms": cpu / max(len(latencies), 1) * 1000,
        "db_cpu_ms": db_cpu / max(len(latencies), 1) * 1000,
        "idle": idle.idle_percent(began, ended),
        "requests": len(latencies),
        "seconds": elapsed,
        "rps": len(latencies) / elapsed,
        "p50": statistics.median(latencies) * 1000,
        "p95": latencies[int(len(latencies) * 0.95) - 1] * 1000,
        "errors": errors,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--database-url",
        default=os.environ.get("BENCH_DATABASE_URL"),
        help="PostgreSQL server URL (a new database is made there); default: a SQLite file",
    )
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--threads", type=int, default=4, help="per gthread worker")
    parser.add_argument("--worker-class", default=None, help="gthread or gevent")
    parser.add_argument("--requests", type=int, default=1500, help="per endpoint")
    parser.add_argument("--clients", type=int, default=4, help="client processes")
    parser.add_argument("--client-threads", type=int, default=4)
    parser.add_argument("--explain", action="store_true")
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="linli-bench-"))
    db_url, drop = make_database(args.database_url, workdir)
    sqlite = db_url.startswith("sqlite")
    worker_class = args.worker_class or ("gthread" if sqlite else "gevent")
    # One bench resident sends every create: lift the per-person hourly cap (the check still
    # runs on every create) so the figures measure the request, not 429s.
    env = bench_env(workdir, db_url, "bench", CASE_CREATE_PER_HOUR="1000000")
    proc = None
    try:
        print(
            f"building: {args.cases} cases on {'SQLite' if sqlite else 'PostgreSQL'} …", flush=True
        )
        info = build(db_url, env, args.cases)
        print(
            f"  {info['cases']} cases in the database; bulk insert took "
            f"{info['insert_seconds']:.1f} s",
            flush=True,
        )
        if args.explain:
            print(explain(db_url, env, info["heping_id"]))
        port = free_port()
        proc = start_gunicorn(env, port, args.workers, worker_class, args.threads)
        staff = _login(port, "heping_staff", "password", info["password"])
        resident_tokens = [_login(port, login, "pin", info["pin"]) for login in info["residents"]]
        common = {
            "processes": args.clients,
            "threads": args.client_threads,
            "server": proc.pid,
        }
        load_before = os.getloadavg()[0]
        load(port, "healthz", min(300, args.requests), **common)  # warm up every worker
        load(
            port,
            "inbox",
            min(100, args.requests),
            tokens=[staff],
            community_id=info["heping_id"],
            **common,
        )
        rows = [
            ("GET /healthz", load(port, "healthz", args.requests, **common)),
            (
                "POST /api/v1/cases",
                load(port, "create", args.requests, tokens=resident_tokens, **common),
            ),
            (
                "staff inbox (GET /api/v1/cases)",
                load(
                    port,
                    "inbox",
                    args.requests,
                    tokens=[staff],
                    community_id=info["heping_id"],
                    **common,
                ),
            ),
        ]
        # /healthz again after the others: it moves from run to run (1,094 to 2,071 req/s
        # within an hour on the same quiet machine), so the ratios use the mean of both.
        rows.append(
            ("GET /healthz (again, at the end)", load(port, "healthz", args.requests, **common))
        )
    finally:
        if proc is not None:
            stop(proc)
        drop()
    base = (rows[0][1]["rps"] + rows[-1][1]["rps"]) / 2
    base_cpu = (rows[0][1]["cpu_ms"] + rows[-1][1]["cpu_ms"]) / 2
    concurrency = args.clients * args.client_threads
    print(
        f"\nLinli affairs bench — {info['cases']:,} cases, "
        f"{'SQLite' if sqlite else 'PostgreSQL'}, gunicorn {args.workers}×{worker_class}"
        f"{f' ({args.threads} threads)' if worker_class == 'gthread' else ''}, "
        f"{concurrency} concurrent loopback clients, {os.cpu_count()} CPUs, load average "
        f"before/after {load_before:.1f}/{os.getloadavg()[0]:.1f}\n"
    )
    # Server CPU per request: the gunicorn tree's CPU time during the load ÷ its requests;
    # "healthz ÷ CPU" is what the req/s ratio would be if the server alone had the cores.
    print(
        f"{'endpoint':34} {'requests':>8} {'req/s':>8} {'× healthz':>9} {'p50 ms':>8} "
        f"{'p95 ms':>8} {'errors':>6} {'CPU ms/req':>10} {'healthz ÷ CPU':>13}"
        + ("" if sqlite else f" {'DB CPU ms/req':>13}")
        + f" {'CPU idle %':>10}"
    )
    for name, r in rows:
        print(
            f"{name:34} {r['requests']:>8} {r['rps']:>8.0f} {r['rps'] / base:>9.2f} "
            f"{r['p50']:>8.1f} {r['p95']:>8.1f} {len(r['errors']):>6} "
            f"{r['cpu_ms']:>10.2f} {base_cpu / r['cpu_ms']:>13.2f}"
            + ("" if sqlite else f" {r['db_cpu_ms']:>13.2f}")
            + f" {r['idle']:>10.0f}"
        )
    for name, r in rows:
        for status, body in r["errors"][:3]:
            print(f"  {name}: {status} {body!r}")


if __name__ == "__main__":
    main()
