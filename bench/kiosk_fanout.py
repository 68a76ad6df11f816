#!/usr/bin/env python
"""Lobby-screen fan-out: N screens hold /kiosk/stream against gunicorn; staff publish; how long
until every screen's doorbell rings?

For each scenario this starts a real gunicorn (gevent workers, gunicorn.conf.py) on a free
127.0.0.1 port with a fresh SQLite database and the demo data, opens N SSE connections from one
asyncio process (raw sockets, no client library), publishes R announcements through the JSON API
and timestamps, on every connection, the arrival of the event carrying the new version.

Latency is measured from the moment the publish request is sent (so it includes the API call and
its commit) to the moment each client has the event; p50/p95/max are over all N × R receipts.

Scenarios (all on loopback, bounded counts and time):
  embedded-1w  the embedded default on one worker: in-process bus only
  embedded-2w  the embedded default as gunicorn.conf.py runs it here (2 workers, no Redis):
               the other worker hears the change from its feed watcher's database poll
  redis-Nw     REDIS_URL set, several workers: Redis pub/sub reaches every worker

Usage: .venv/bin/python bench/kiosk_fanout.py [--clients 1000] [--rounds 5] [--scenarios ...]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import resource
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.live import LiveServer  # noqa: E402

MAX_CLIENTS = 5000
EVENT_ID = re.compile(rb"id: (\d+)\n")


# --- the server -----------------------------------------------------------------------------------
class Server(LiveServer):
    """gunicorn serving wsgi:app with its own SQLite file and the demo data (tests/live.py)."""

    start_timeout = 60.0
    stop_timeout = 30.0

    def __init__(self, workdir: Path, workers: int, redis_url: str | None, voice: bool):
        super().__init__(
            workdir,
            workers=workers,
            database="bench.db",
            env={
                "LINLI_WORKER_CONNECTIONS": "4000",
                "LINLI_LOG_LEVEL": "warning",
                "REDIS_URL": redis_url or "",
                "EVENTS_CHANNEL_PREFIX": f"bench-{uuid.uuid4().hex[:8]}",
                "KIOSK_TICKET_SECONDS": "600",
                "VOICE_BACKGROUND": "1" if voice else "0",
            },
        )

    def prepare(self, env_overrides: dict | None = None, timeout: float = 180) -> dict:
        """Schema and demo data; returns the seed summary (accounts, demo screen token)."""
        return super().prepare(env_overrides, timeout)


# --- the screens ----------------------------------------------------------------------------------
class Screen:
    """One SSE connection; records when each version arrived."""

    def __init__(self) -> None:
        self.seen: dict[int, float] = {}
        self.connected = asyncio.Event()
        self.error: str | None = None
        self.retries = 0

    async def run(self, port: int, ticket: str, stop: asyncio.Event) -> None:
        # Like a real screen, retry a refused or reset connection a few times (with backoff)
        # before giving up; once the stream is up, any loss counts as an error.
        for attempt in range(4):
            await self._run_once(port, ticket, stop)
            if self.error is None or self.seen or stop.is_set():
                return
            self.retries += 1
            self.error = None
            await asyncio.sleep(0.5 * 2**attempt)
        self.error = self.error or "gave up"
        self.connected.set()

    async def _run_once(self, port: int, ticket: str, stop: asyncio.Event) -> None:
        writer = None
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(
                (
                    f"GET /kiosk/stream?ticket={ticket} HTTP/1.1\r\n"
                    f"Host: 127.0.0.1:{port}\r\nAccept: text/event-stream\r\n"
                    "Cache-Control: no-cache\r\n\r\n"
                ).encode()
            )
            await writer.drain()
            head = await reader.readuntil(b"\r\n\r\n")
            if b" 200 " not in head.split(b"\r\n", 1)[0]:
                raise RuntimeError(head.split(b"\r\n", 1)[0].decode())
            buffer = b""
            while not stop.is_set():
                chunk = await reader.read(4096)
                if not chunk:
                    raise RuntimeError("stream closed")
                now = time.monotonic()
                buffer += chunk
                for match in EVENT_ID.finditer(buffer):
                    self.seen.setdefault(int(match.group(1)), now)
                    self.connected.set()
                buffer = buffer[-64:]
        except (OSError, RuntimeError, asyncio.IncompleteReadError) as exc:
            if not stop.is_set():
                self.error = str(exc) or type(exc).__name__
            if self.seen:
                self.connected.set()
        finally:
            if writer is not None:
                writer.close()


async def _post(port: int, path: str, body: dict, token: str) -> tuple[int, dict]:
    """A small HTTP/1.1 POST on the same event loop as the screens (one clock for all)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    data = json.dumps(body).encode()
    writer.write(
        (
            f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            f"Authorization: Bearer {token}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(data)}\r\nConnection: close\r\n\r\n"
        ).encode()
        + data
    )
    await writer.drain()
    raw = await reader.read()
    writer.close()
    head, _, payload = raw.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    return status, json.loads(payload) if payload else {}


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


async def _fanout(server: Server, summary: dict, clients: int, rounds: int, gap: float) -> dict:
    import requests

    staff = next(a for a in summary["accounts"] if a["login"] == "heping_staff")
    token = requests.post(
        server.url + "/api/v1/auth/token",
        timeout=30,
        json={"login": staff["login"], "password": staff["password"]},
    ).json()["token"]
    device_token = summary["kiosk_token"]
    ticket = requests.post(
        server.url + "/kiosk/api/ticket",
        timeout=30,
        headers={"Authorization": f"Bearer {device_token}"},
    ).json()["ticket"]
    stop = asyncio.Event()
    screens = [Screen() for _ in range(clients)]
    tasks = []
    connect_started = time.monotonic()
    for start in range(0, clients, 100):  # ramp up in batches: no SYN-queue overflow
        for screen in screens[start : start + 100]:
            tasks.append(asyncio.create_task(screen.run(server.port, ticket, stop)))
        await asyncio.sleep(0.05)
    await asyncio.wait_for(asyncio.gather(*(s.connected.wait() for s in screens)), timeout=120)
    connect_seconds = time.monotonic() - connect_started
    retries = sum(s.retries for s in screens)
    failed = [s.error for s in screens if s.error]
    if failed:
        raise RuntimeError(f"{len(failed)} screens failed to connect: {failed[:3]}")
    samples: list[float] = []
    after_commit: list[float] = []
    missing = 0
    per_round = []
    for n in range(rounds):
        sent = time.monotonic()
        status, body = await _post(
            server.port,
            "/api/v1/announcements",
            {"title": f"压测公告 {n + 1}", "body": "测试。", "priority": "normal"},
            token,
        )
        answered = time.monotonic()
        if status != 201:
            raise RuntimeError(f"publish failed: {status} {body}")
        # Every feed version a screen saw after `sent` is this publish (nothing else changes).
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if all(any(t >= sent for t in s.seen.values()) for s in screens):
                break
            await asyncio.sleep(0.01)
        got = []
        for s in screens:
            times = [t for t in s.seen.values() if t >= sent]
            if times:
                got.append(min(times) - sent)
                after_commit.append(max(0.0, min(times) - answered))
            else:
                missing += 1
        samples += got
        per_round.append(max(got) if got else float("nan"))
        await asyncio.sleep(gap)
    stop.set()
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    return {
        "clients": clients,
        "rounds": rounds,
        "receipts": len(samples),
        "missing": missing,
        "connect_s": connect_seconds,
        "connect_retries": retries,
        "p50": _percentile(samples, 0.50),
        "p95": _percentile(samples, 0.95),
        "max": max(samples),
        "p95_after_commit": _percentile(after_commit, 0.95),
        "round_max": per_round,
    }


def run_scenario(
    name: str,
    workers: int,
    redis_url: str | None,
    clients: int,
    rounds: int,
    gap: float,
    voice: bool,
) -> dict:
    """Start a server for the scenario, measure, stop it."""
    with tempfile.TemporaryDirectory(prefix=f"kiosk-fanout-{name}-") as tmp:
        server = Server(Path(tmp), workers, redis_url, voice)
        summary = server.prepare()
        server.start()
        try:
            result = asyncio.run(_fanout(server, summary, clients, rounds, gap))
        except Exception:
            server.stop()
            log = server.log.read_text(errors="replace")
            print(f"--- {name}: server log (last lines) ---\n{log[-3000:]}")
            raise
        finally:
            server.stop()
    return {"scenario": name, "workers": workers, "redis": bool(redis_url), **result}


def _redis_ok(url: str) -> bool:
    try:
        import redis

        return bool(redis.Redis.from_url(url, socket_connect_timeout=1).ping())
    except Exception:
        return False


def main() -> int:
    """Run the scenarios and print one line of figures each."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--gap", type=float, default=1.0, help="seconds between publishes")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--redis-workers", type=int, default=2)
    parser.add_argument(
        "--voice",
        action="store_true",
        help="keep the voice engine's background speech rendering on",
    )
    parser.add_argument(
        "--scenarios",
        default="embedded-1w,embedded-2w,redis",
        help="comma-separated: embedded-1w, embedded-2w, redis",
    )
    parser.add_argument("--json", action="store_true", help="print JSON lines")
    args = parser.parse_args()
    clients = max(1, min(args.clients, MAX_CLIENTS))
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = min(hard, max(soft, 2 * clients + 512))
    resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    plan = []
    for name in args.scenarios.split(","):
        name = name.strip()
        if name == "embedded-1w":
            plan.append(("embedded-1w", 1, None))
        elif name == "embedded-2w":
            plan.append(("embedded-2w", 2, None))
        elif name == "redis":
            if _redis_ok(args.redis_url):
                plan.append((f"redis-{args.redis_workers}w", args.redis_workers, args.redis_url))
            else:
                print(f"redis: skipped, nothing answers at {args.redis_url}")
    load = open("/proc/loadavg").read().split()[0] if Path("/proc/loadavg").exists() else "?"
    print(
        f"kiosk fan-out: {clients} SSE clients, {args.rounds} publishes each, loopback, "
        f"{os.cpu_count()} CPUs, load average {load}"
    )
    failures = 0
    for name, workers, redis_url in plan:
        try:
            r = run_scenario(name, workers, redis_url, clients, args.rounds, args.gap, args.voice)
        except Exception as exc:  # report and go on with the next scenario
            failures += 1
            print(f"{name:<12} FAILED: {exc}")
            continue
        if args.json:
            print(json.dumps(r))
            continue
        ok = "ok" if r["p95"] < 1.0 and r["missing"] == 0 else "OVER TARGET"
        print(
            f"{r['scenario']:<12} workers={r['workers']} receipts={r['receipts']} "
            f"missing={r['missing']} p50={r['p50'] * 1000:.0f}ms p95={r['p95'] * 1000:.0f}ms "
            f"max={r['max'] * 1000:.0f}ms (p95 after commit {r['p95_after_commit'] * 1000:.0f}ms;"
            f" connect {r['connect_s']:.1f}s, {r['connect_retries']} retries) [{ok}: p95 < 1 s]"
        )
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
