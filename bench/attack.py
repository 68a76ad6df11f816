"""Attack bench: replays the bursts of issue #9 against real gunicorn and prints what happened.

    .venv/bin/python bench/attack.py [--database-url postgresql://postgres@127.0.0.1:5432/postgres]
                                     [--workers 4] [--burst 300] [--flood-seconds 10]
                                     [--flood-clients 16] [--bombs 8] [--bomb-size 6300]

Makes a fresh PostgreSQL database next to --database-url (dropped at the end), builds it with
the migrations and the demo data (tests.live.LiveServer), starts gunicorn with gevent workers
(gunicorn.conf.py, as in production) on 127.0.0.1, then, one after the other:

(a) burst: --burst concurrent POST /api/v1/cases (demo residents, fresh Idempotency-Key each),
    released together;
(b) login flood: --flood-clients clients hammer POST /api/v1/auth/token with wrong PINs for a
    few known and unknown logins for --flood-seconds;
(c) image bomb: --bombs parallel uploads, as a case photo, of a small PNG that declares
    --bomb-size × --bomb-size pixels.

For each it prints the count of every status code (connection failures and timeouts too; there
must be no 500) and the latency of GET /healthz, measured by a separate prober (a new
connection each time, so it lands on any worker) before the scenario and during it, with the
ratio. Loopback only, bounded counts and time (about a minute and a half in all).
"""

from __future__ import annotations

import argparse
import http.client
import io
import json
import os
import statistics
import struct
import sys
import tempfile
import threading
import time
import uuid
import zlib
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.cases import make_database  # noqa: E402  (a fresh database, as bench/cases.py)
from tests.live import LiveServer  # noqa: E402

DEFAULT_SERVER = "postgresql://postgres@127.0.0.1:5432/postgres"
CLIENT_TIMEOUT = 90


# --- HTTP -----------------------------------------------------------------------------------


def call(
    port: int,
    method: str,
    path: str,
    body: bytes | None = None,
    headers: dict | None = None,
    timeout: float = CLIENT_TIMEOUT,
) -> tuple[str, bytes]:
    """One request on a new connection: (status code or the failure's name, body)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        return str(response.status), response.read()
    except TimeoutError:
        return "timeout", b""
    except OSError as exc:
        return type(exc).__name__, b""
    finally:
        conn.close()


def post_json(port: int, path: str, payload: dict, headers: dict | None = None):
    """POST a JSON body."""
    return call(
        port,
        "POST",
        path,
        json.dumps(payload).encode(),
        {"Content-Type": "application/json", **(headers or {})},
    )


def sign_in(port: int, login: str, pin: str) -> str:
    """A bearer token for a demo account."""
    status, body = post_json(port, "/api/v1/auth/token", {"login": login, "pin": pin})
    if status != "201":
        raise SystemExit(f"sign-in of {login} failed: {status} {body[:200]!r}")
    return json.loads(body)["token"]


class Prober(threading.Thread):
    """GET /healthz on a new connection every `interval` seconds; latencies in ms."""

    def __init__(self, port: int, interval: float = 0.05):
        super().__init__(daemon=True)
        self.port, self.interval = port, interval
        self.samples: list[float] = []
        self.failures = Counter()
        self.stopping = threading.Event()

    def run(self):
        while not self.stopping.is_set():
            started = time.perf_counter()
            status, _ = call(self.port, "GET", "/healthz", timeout=30)
            elapsed = time.perf_counter() - started
            if status == "200":
                self.samples.append(elapsed * 1000)
            else:
                self.failures[status] += 1
            self.stopping.wait(max(0.0, self.interval - elapsed))

    def stop(self) -> dict:
        self.stopping.set()
        self.join(timeout=60)
        return summary(self.samples, self.failures)


def summary(samples: list[float], failures: Counter | None = None) -> dict:
    """p50/p95/max of latencies in ms."""
    ordered = sorted(samples) or [float("nan")]
    return {
        "n": len(samples),
        "p50": statistics.median(ordered),
        "p95": ordered[max(0, int(len(ordered) * 0.95) - 1)],
        "max": ordered[-1],
        "failures": dict(failures or {}),
    }


def baseline(port: int, seconds: float) -> dict:
    """/healthz latency of the idle server."""
    prober = Prober(port)
    prober.start()
    time.sleep(seconds)
    return prober.stop()


def during(port: int, scenario) -> tuple[dict, dict]:
    """Run `scenario()` while a prober measures /healthz: (scenario result, probe summary)."""
    prober = Prober(port)
    prober.start()
    try:
        result = scenario()
    finally:
        probe = prober.stop()
    return result, probe


def together(n: int, one) -> tuple[Counter, float, list]:
    """`one(i)` in n threads released at the same moment: (status counts, seconds, samples)."""
    barrier = threading.Barrier(n)
    statuses: Counter = Counter()
    samples: list = []
    lock = threading.Lock()

    def run(i):
        barrier.wait(timeout=60)
        status, body = one(i)
        with lock:
            statuses[status] += 1
            if status not in ("200", "201") and len(samples) < 3:
                samples.append((status, body[:160]))

    threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(n)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join(CLIENT_TIMEOUT + 30)
    return statuses, time.perf_counter() - started, samples


# --- scenarios ------------------------------------------------------------------------------


def burst(port: int, tokens: list[str], n: int):
    """n concurrent case submissions."""

    def one(i):
        return post_json(
            port,
            "/api/v1/cases",
            {"category_code": "environment", "description": f"楼道里堆了纸箱 {i}"},
            {
                "Authorization": f"Bearer {tokens[i % len(tokens)]}",
                "Idempotency-Key": uuid.uuid4().hex,
            },
        )

    return together(n, one)


def login_flood(port: int, logins: list[str], clients: int, seconds: float):
    """`clients` clients sending wrong PINs for `seconds`."""
    deadline = time.monotonic() + seconds

    def one(i):
        counts: Counter = Counter()
        j = 0
        while time.monotonic() < deadline:
            status, _ = post_json(
                port,
                "/api/v1/auth/token",
                {
                    "login": logins[(i + j) % len(logins)],
                    "pin": f"{(i * 7919 + j) % 1_000_000:06d}",
                },
            )
            counts[status] += 1
            j += 1
        return counts

    totals: Counter = Counter()
    lock = threading.Lock()

    def run(i):
        counts = one(i)
        with lock:
            totals.update(counts)

    threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(clients)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join(seconds + CLIENT_TIMEOUT)
    return totals, time.perf_counter() - started, []


def png_bomb(edge: int) -> bytes:
    """A small PNG that declares (and holds, compressed) edge×edge black 1-bit pixels."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    row = b"\x00" * (1 + (edge + 7) // 8)
    raw = zlib.compress(row * edge, 9)
    header = struct.pack(">IIBBBBB", edge, edge, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", raw) + chunk(b"IEND", b"")


def multipart(name: str, filename: str, data: bytes, mime: str) -> tuple[bytes, str]:
    """A multipart/form-data body with one file."""
    boundary = uuid.uuid4().hex
    body = io.BytesIO()
    body.write(
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; '
        f'filename="{filename}"\r\nContent-Type: {mime}\r\n\r\n'.encode()
    )
    body.write(data)
    body.write(f"\r\n--{boundary}--\r\n".encode())
    return body.getvalue(), f"multipart/form-data; boundary={boundary}"


def image_bomb(port: int, token: str, case_id: int, n: int, edge: int):
    """n parallel photo uploads of a PNG that declares edge×edge pixels."""
    body, content_type = multipart("file", "bomb.png", png_bomb(edge), "image/png")

    def one(_i):
        return call(
            port,
            "POST",
            f"/api/v1/cases/{case_id}/attachments",
            body,
            {
                "Authorization": f"Bearer {token}",
                "Content-Type": content_type,
                "Idempotency-Key": uuid.uuid4().hex,
            },
        )

    return together(n, one)


# --- report ---------------------------------------------------------------------------------


def report(name: str, result, before: dict, probe: dict) -> dict:
    """Print one scenario's figures."""
    statuses, seconds, samples = result
    total = sum(statuses.values())
    ratio50 = probe["p50"] / before["p50"] if before["p50"] else float("nan")
    ratio = probe["p95"] / before["p95"] if before["p95"] else float("nan")
    codes = ", ".join(f"{k} × {v}" for k, v in sorted(statuses.items()))
    print(f"\n{name}: {total} requests in {seconds:.1f} s — {codes}")
    print(f"  500s: {statuses.get('500', 0)}")
    print(
        f"  /healthz before: p50 {before['p50']:.1f} ms, p95 {before['p95']:.1f} ms "
        f"({before['n']} probes)"
    )
    print(
        f"  /healthz during: p50 {probe['p50']:.1f} ms, p95 {probe['p95']:.1f} ms, max "
        f"{probe['max']:.0f} ms ({probe['n']} probes"
        f"{', failed ' + str(probe['failures']) if probe['failures'] else ''}); "
        f"ratio p50 {ratio50:.1f}×, p95 {ratio:.1f}×"
    )
    for status, body in samples:
        print(f"  e.g. {status}: {body!r}")
    return {"statuses": dict(statuses), "seconds": seconds, "before": before, "during": probe}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--database-url",
        default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_SERVER),
        help="PostgreSQL server URL (a new database is made there and dropped)",
    )
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--burst", type=int, default=300)
    parser.add_argument("--flood-seconds", type=float, default=10)
    parser.add_argument("--flood-clients", type=int, default=16)
    parser.add_argument("--bombs", type=int, default=8)
    parser.add_argument("--bomb-size", type=int, default=6300)
    parser.add_argument("--baseline-seconds", type=float, default=3)
    parser.add_argument("--json", action="store_true", help="also print the figures as JSON")
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="linli-attack-"))
    db_url, drop = make_database(args.database_url, workdir)
    server = LiveServer(
        workdir,
        workers=args.workers,
        env={
            "DATABASE_URL": db_url,
            "LINLI_WORKER_CLASS": "gevent",
            "LINLI_LOG_LEVEL": "warning",
            "LINLI_ACCESS_LOG": "/dev/null",
            "VOICE_BACKGROUND": "0",
            "REDIS_URL": "",
            # The burst measures connections and workers, not the per-person limit on new cases
            # (CASE_CREATE_PER_HOUR, 20): the few demo residents would otherwise get 429 after 20.
            "CASE_CREATE_PER_HOUR": "0",
        },
        own_group=True,
    )
    figures: dict = {}
    try:
        started = time.perf_counter()
        print(f"building a fresh PostgreSQL database and the demo data in {workdir} …", flush=True)
        summary_ = server.prepare()
        server.start(timeout=60)
        print(
            f"  ready in {time.perf_counter() - started:.1f} s; gunicorn {args.workers}×gevent "
            f"on {server.url}, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}",
            flush=True,
        )
        port = server.port
        residents = [a for a in summary_["accounts"] if a["role"] == "resident"]
        tokens = [sign_in(port, a["login"], a["pin"]) for a in residents]
        baseline(port, 1)  # warm up every worker

        before = baseline(port, args.baseline_seconds)
        result, probe = during(port, lambda: burst(port, tokens, args.burst))
        figures["burst"] = report(
            f"(a) burst: {args.burst} concurrent POST /api/v1/cases", result, before, probe
        )

        status, body = post_json(
            port,
            "/api/v1/cases",
            {"category_code": "environment", "description": "门口有积水"},
            {"Authorization": f"Bearer {tokens[0]}"},
        )
        if status != "201":
            raise SystemExit(f"could not file the case for the photos: {status} {body[:200]!r}")
        case_id = json.loads(body)["id"]
        before = baseline(port, args.baseline_seconds)
        result, probe = during(
            port, lambda: image_bomb(port, tokens[0], case_id, args.bombs, args.bomb_size)
        )
        figures["image_bomb"] = report(
            f"(c) image bomb: {args.bombs} parallel uploads of a "
            f"{len(png_bomb(args.bomb_size)) // 1024} KB PNG declaring "
            f"{args.bomb_size}×{args.bomb_size} pixels",
            result,
            before,
            probe,
        )

        # Last: wrong PINs may lock the demo residents out.
        logins = [a["login"] for a in residents] + ["13912345678", "13987654321", "nobody_here"]
        before = baseline(port, args.baseline_seconds)
        result, probe = during(
            port, lambda: login_flood(port, logins, args.flood_clients, args.flood_seconds)
        )
        figures["login_flood"] = report(
            f"(b) login flood: {args.flood_clients} clients × {args.flood_seconds:.0f} s of "
            f"wrong PINs for {len(residents)} known and {len(logins) - len(residents)} unknown "
            "logins",
            result,
            before,
            probe,
        )
        print(
            f"\nserver ready at the end: {server.ready()}; total "
            f"{time.perf_counter() - started:.0f} s; load average {os.getloadavg()[0]:.1f}"
        )
    finally:
        server.stop()
        drop()
    if args.json:
        print(json.dumps(figures, indent=1, default=str))
    if any(f["statuses"].get("500") for f in figures.values()):
        raise SystemExit("some requests got 500")


if __name__ == "__main__":
    main()
