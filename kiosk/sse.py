"""Server-Sent Events framing for the screens' doorbell stream.

Each event carries only the feed version (`id:` is the version, so a reconnecting EventSource
sends it back as Last-Event-ID); a comment line every few seconds keeps proxies and NATs from
closing an idle connection; the stream ends by itself after a while so workers can recycle,
and the page reconnects with a fresh ticket.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator

from app.infra.events import Subscription
from app.infra.text import ascii_number


def parse_last_event_id(raw: str | None) -> int | None:
    """The version a client last saw, or None when absent or malformed."""
    if raw is None:
        return None
    return ascii_number(raw.strip())


def event(name: str, data: dict, event_id: int | None = None) -> str:
    """One SSE event frame."""
    head = f"id: {event_id}\n" if event_id is not None else ""
    return f"{head}event: {name}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"


def frames(
    sub: Subscription,
    *,
    version: int,
    last_event_id: int | None,
    heartbeat: float,
    lifetime: float,
    retry_ms: int,
    clock: Callable[[], float] = time.monotonic,
) -> Iterator[str]:
    """The stream: retry hint, the current version if the client is behind, then changes."""
    try:
        yield f"retry: {int(retry_ms)}\n: linli kiosk stream\n\n"
        sent = last_event_id
        if sent != version:
            yield event("version", {"version": version}, version)
            sent = version
        start = clock()
        deadline = start + lifetime
        next_beat = start + heartbeat
        while True:
            now = clock()
            if now >= deadline:
                yield event("bye", {"reconnect": True})
                return
            if now >= next_beat:
                yield ": heartbeat\n\n"
                next_beat = now + heartbeat
                continue
            message = sub.get(timeout=max(0.0, min(next_beat, deadline) - now))
            if message is None:
                continue
            _channel, data = message
            if data.get("type") == "revoked":
                yield event("revoked", {})
                return
            new = data.get("version")
            if isinstance(new, int) and (sent is None or new > sent):
                yield event("version", {"version": new}, new)
                sent = new
    finally:
        sub.close()
