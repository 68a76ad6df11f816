"""Hostile-input benchmark (issue #9): prints figures, not a timed test.

    .venv/bin/python bench/hostile.py [--worker-class gevent|gthread] [--parallel 8]

Starts the real app with gunicorn (gunicorn.conf.py, one worker, SQLite, the demo data), signs a
resident in and replays, each while another client polls /healthz:

1. JSON flood: a 4.7 MB body with 400 000 unknown keys (was 7.6 s and an 11.5 MB answer), a
   200 KB body with 20 000 keys, and 3000 unknown keys within the limits (the 422 lists 10);
2. image bombs: N parallel uploads of a 6300×6300 PNG of ~120 KB (was 1.8 s and 380 MB each),
   then N parallel uploads of a heavy but acceptable 3900×3900 PNG;
3. slow bodies: N clients that send headers and trickle the body (BODY_READ_TIMEOUT=5).

For each: the answers' statuses (and that none is a 500), the time, the answer size, /healthz
p50/p95/max meanwhile, and the worker's peak resident memory (VmHWM).
"""

from __future__ import annotations

import argparse
import http.client
import json
import socket
import statistics
import struct
import sys
import tempfile
import threading
import time
import zlib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.live import LiveServer  # noqa: E402


def png(width: int, height: int) -> bytes:
    """An RGB PNG of black pixels that really decompresses to width×height×3 bytes."""

    def chunk(kind, data):
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    row = b"\x00" * (1 + width * 3)
    comp = zlib.compressobj(9)
    raw = b"".join(comp.compress(row) for _ in range(height)) + comp.flush()
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", raw)
        + chunk(b"IEND", b"")
    )


def request(port, method, path, body=b"", headers=None, timeout=120):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


class HealthPoller(threading.Thread):
    """GET /healthz every 50 ms on a fresh connection; latencies in ms."""

    def __init__(self, port):
        super().__init__(daemon=True)
        self.port, self.stop, self.ms = port, threading.Event(), []

    def run(self):
        while not self.stop.is_set():
            started = time.perf_counter()
            try:
                request(self.port, "GET", "/healthz", timeout=60)
            except OSError:
                pass
            self.ms.append((time.perf_counter() - started) * 1000)
            time.sleep(0.05)

    def figures(self):
        self.stop.set()
        self.join(70)
        ms = sorted(self.ms) or [0]
        p95 = ms[min(len(ms) - 1, int(len(ms) * 0.95))]
        return (
            f"/healthz n={len(ms)} p50={statistics.median(ms):.0f} ms p95={p95:.0f} ms "
            f"max={ms[-1]:.0f} ms"
        )


def peak_memory_mb(server) -> str:
    import subprocess

    pids = subprocess.run(
        ["pgrep", "-P", str(server.proc.pid)], capture_output=True, text=True
    ).stdout.split()
    out = []
    for pid in pids:
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        out.append(f"{int(fields['VmHWM'].split()[0]) // 1024} MB")
    return "worker peak RSS " + ", ".join(out)


def scenario(name, server, run):
    poller = HealthPoller(server.port)
    poller.start()
    time.sleep(0.3)
    started = time.perf_counter()
    results = run()
    seconds = time.perf_counter() - started
    statuses = sorted({status for status, _ in results})
    size = max(len(body) for _, body in results)
    print(
        f"{name}: statuses {statuses}, 500s: {sum(s >= 500 and s != 503 for s, _ in results)},"
        f" {seconds:.2f} s, largest answer {size} B; {poller.figures()}; "
        f"{peak_memory_mb(server)}",
        flush=True,
    )


def parallel(n, fn):
    results = [None] * n

    def one(i):
        results[i] = fn()

    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
    return results


def multipart(data: bytes, name="photo.png", mime="image/png"):
    boundary = "linliBench7d1f"
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
            f'filename="{name}"\r\nContent-Type: {mime}\r\n\r\n'
        ).encode()
        + data
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return body, f"multipart/form-data; boundary={boundary}"


def trickle(port, seconds_max=60):
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=seconds_max) as conn:
        conn.sendall(
            b"POST /api/v1/auth/token HTTP/1.1\r\nHost: x\r\nContent-Type: "
            b"application/json\r\nContent-Length: 1000\r\n\r\n{"
        )
        conn.settimeout(0.5)
        answer = b""
        while time.monotonic() - started < seconds_max:
            try:
                data = conn.recv(65536)
            except TimeoutError:
                try:
                    conn.sendall(b" ")
                except OSError:
                    break
                continue
            except ConnectionResetError:
                break
            if not data:
                break
            answer += data
    status = int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/") else 0
    return status, answer


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worker-class", default="gevent")
    parser.add_argument("--parallel", type=int, default=8)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="linli-hostile-"))
    server = LiveServer(
        work,
        env={
            "LINLI_WORKER_CLASS": args.worker_class,
            "GUNICORN_CMD_ARGS": "--threads 8",
            "BODY_READ_TIMEOUT": "5",
            "BODY_MIN_RATE": str(10**9),
        },
    )
    summary = server.prepare()
    server.start()
    try:
        resident = next(a for a in summary["accounts"] if a["role"] == "resident")
        status, body = request(
            server.port,
            "POST",
            "/api/v1/auth/token",
            json.dumps({"login": resident["login"], "pin": resident["pin"]}).encode(),
            {"Content-Type": "application/json"},
        )
        token = json.loads(body)["token"]
        auth = {"Authorization": f"Bearer {token}"}
        me = json.loads(request(server.port, "GET", "/api/v1/me", headers=auth)[1])
        case_body = {
            "community_id": me["community_id"],
            "category_code": "environment",
            "description": "东门垃圾桶满了",
        }
        status, body = request(
            server.port,
            "POST",
            "/api/v1/cases",
            json.dumps(case_body).encode(),
            {**auth, "Content-Type": "application/json"},
        )
        case_id = json.loads(body)["id"]
        json_headers = {**auth, "Content-Type": "application/json"}
        print(f"gunicorn {args.worker_class}, 1 worker, SQLite; {args.parallel} in parallel")

        flood = json.dumps({**case_body, **{f"k{i}": 0 for i in range(400_000)}}).encode()
        scenario(
            f"JSON flood {len(flood) / 1e6:.1f} MB, 400k keys",
            server,
            lambda: [request(server.port, "POST", "/api/v1/cases", flood, json_headers)],
        )
        keys = json.dumps({**case_body, **{f"k{i}": 0 for i in range(20_000)}}).encode()
        scenario(
            f"JSON {len(keys) // 1024} KB, 20k keys",
            server,
            lambda: [request(server.port, "POST", "/api/v1/cases", keys, json_headers)],
        )
        unknown = json.dumps({**case_body, **{f"k{i}": 0 for i in range(3000)}}).encode()
        scenario(
            "JSON 3000 unknown fields",
            server,
            lambda: [request(server.port, "POST", "/api/v1/cases", unknown, json_headers)],
        )

        path = f"/api/v1/cases/{case_id}/attachments"
        bomb, ctype = multipart(png(6300, 6300))
        scenario(
            f"{args.parallel} × PNG bomb 6300×6300 ({len(bomb) // 1024} KB)",
            server,
            lambda: parallel(
                args.parallel,
                lambda: request(server.port, "POST", path, bomb, {**auth, "Content-Type": ctype}),
            ),
        )
        heavy, ctype = multipart(png(3900, 3900))
        scenario(
            f"{args.parallel} × PNG 3900×3900 ({len(heavy) // 1024} KB, accepted)",
            server,
            lambda: parallel(
                args.parallel,
                lambda: request(server.port, "POST", path, heavy, {**auth, "Content-Type": ctype}),
            ),
        )
        scenario(
            f"{args.parallel} × slow body (trickle, deadline 5 s)",
            server,
            lambda: parallel(args.parallel, lambda: trickle(server.port)),
        )
    finally:
        server.stop()


if __name__ == "__main__":
    main()
