"""Sign-in flood benchmark: prints figures (not a timed test).

    .venv/bin/python bench/login_flood.py [--clients 16] [--seconds 10] [--root /path/to/checkout]

Starts the app with gunicorn (gunicorn.conf.py: one gevent worker, preload, argon2 with its
real parameters) on a fresh SQLite file with the demo data, then for --seconds:

- right PINs: --clients threads sign the demo residents in (POST /api/v1/auth/token), so every
  request is one argon2 verify, while one more thread asks GET /healthz every 20 ms;
- wrong PINs: the same clients send wrong PINs from the one loopback address.

Prints sign-ins per second, the status codes seen, and /healthz p50/p95/max meanwhile: with
argon2 on the event loop a /healthz waits behind every hash in the queue; off the loop (a
thread pool) it is answered at once. --root runs another checkout (e.g. the code before a
change) with this script.
"""

from __future__ import annotations

import argparse
import http.client
import json
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def _pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))] if values else float("nan")


def flood(port: int, logins: list[str], pin: str, clients: int, seconds: float) -> dict:
    """Sign-ins from `clients` threads and a /healthz probe, for `seconds`."""
    stop = time.monotonic() + seconds
    codes: Counter = Counter()
    probe: list[float] = []
    lock = threading.Lock()

    def signer(i: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        n = 0
        while time.monotonic() < stop:
            body = json.dumps({"login": logins[(i + n) % len(logins)], "pin": pin})
            conn.request(
                "POST",
                "/api/v1/auth/token",
                body=body,
                headers={"Content-Type": "application/json"},
            )
            response = conn.getresponse()
            response.read()
            with lock:
                codes[response.status] += 1
            n += 1

    def prober() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        while time.monotonic() < stop:
            start = time.perf_counter()
            conn.request("GET", "/healthz")
            conn.getresponse().read()
            probe.append((time.perf_counter() - start) * 1000)
            time.sleep(0.02)

    threads = [threading.Thread(target=signer, args=(i,)) for i in range(clients)]
    threads.append(threading.Thread(target=prober))
    begun = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    took = time.monotonic() - begun
    return {
        "codes": dict(codes),
        "per_second": round(sum(codes.values()) / took, 1),
        "healthz_ms": {
            "n": len(probe),
            "p50": round(_pct(probe, 0.5), 1),
            "p95": round(_pct(probe, 0.95), 1),
            "max": round(max(probe), 1) if probe else None,
            "mean": round(statistics.fmean(probe), 1) if probe else None,
        },
    }


def main() -> None:
    """Run the flood against a fresh server and print the figures as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--root", type=Path, default=ROOT)
    args = parser.parse_args()

    import tests.live as live

    live.ROOT = args.root.resolve()
    with tempfile.TemporaryDirectory(prefix="linli-login-flood-") as tmp:
        server = live.LiveServer(Path(tmp), workers=1, env={"LINLI_WORKER_CLASS": "gevent"})
        summary = server.prepare()
        residents = [a for a in summary["accounts"] if a["role"] == "resident"]
        logins = [a["login"] for a in residents]
        server.start()
        try:
            right = flood(server.port, logins, residents[0]["pin"], args.clients, args.seconds)
            wrong = flood(server.port, logins, "000000", args.clients, args.seconds)
        finally:
            server.stop()
    print(
        json.dumps(
            {
                "root": str(args.root),
                "clients": args.clients,
                "right_pins": right,
                "wrong_pins": wrong,
            },
            indent=1,
        )
    )


if __name__ == "__main__":
    main()
