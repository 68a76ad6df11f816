"""Slow bodies (slowloris, issue #9): a client that sends its headers and then trickles the body
is answered 408 (JSON envelope) and the connection closed within the body-read deadline, by a real
gunicorn with gevent and with gthread workers, and /healthz stays fast meanwhile (gevent: with
eight slow clients; gthread: while threads are left, here 3 slow clients for 4 threads; a
thread held by a slow body is free again at the deadline)."""

from __future__ import annotations

import json
import socket
import threading
import time
import urllib.request

import pytest

from tests.live import LiveServer

DEADLINE = 5  # BODY_READ_TIMEOUT for these servers, seconds


@pytest.fixture(scope="module", params=["gevent", "gthread"])
def server(request, tmp_path_factory):
    server = LiveServer(
        tmp_path_factory.mktemp(f"slow-{request.param}"),
        env={
            "LINLI_WORKER_CLASS": request.param,
            "GUNICORN_CMD_ARGS": "--threads 4",
            "BODY_READ_TIMEOUT": str(DEADLINE),
            "BODY_MIN_RATE": str(10**9),
        },
    )
    server.start()
    _healthz_seconds(server.url)  # the first request warms the worker up (imports, database)
    server.slow_clients = 8 if request.param == "gevent" else 3
    yield server
    server.stop()


def _trickle(port: int, path: str, stop: threading.Event, result: dict) -> None:
    """Headers, then one byte of a 1000-byte body every 0.2 s; records the answer and when."""
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=30) as conn:
        conn.sendall(
            (
                f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                "Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"
            ).encode()
        )
        conn.settimeout(0.2)
        answer = b""
        while not stop.is_set() and time.monotonic() - started < 30:
            try:
                data = conn.recv(65536)
            except TimeoutError:
                try:
                    conn.sendall(b" ")
                except OSError:  # the server closed its side
                    pass
                continue
            except ConnectionResetError:
                result["closed"] = True
                break
            if not data:  # closed by the server
                result["closed"] = True
                break
            answer += data
        result["answer"] = answer
        result["seconds"] = time.monotonic() - started


def _healthz_seconds(url: str) -> float:
    started = time.monotonic()
    with urllib.request.urlopen(url + "/healthz", timeout=10) as response:
        assert response.status == 200
    return time.monotonic() - started


@pytest.mark.slow
@pytest.mark.parametrize("path", ["/api/v1/auth/token", "/kiosk/api/pairing/poll"])
def test_a_trickled_body_is_cut_off_at_the_deadline(server, path):
    stop, results = threading.Event(), [{} for _ in range(server.slow_clients)]
    threads = [
        threading.Thread(target=_trickle, args=(server.port, path, stop, r)) for r in results
    ]
    for t in threads:
        t.start()
    try:
        time.sleep(0.5)
        # The server keeps answering others while the slow bodies are pending (a wide margin
        # for a loaded machine; held up by them it would take until their deadline).
        assert max(_healthz_seconds(server.url) for _ in range(5)) < DEADLINE / 2
    finally:
        for t in threads:
            t.join(30)
        stop.set()
    for result in results:
        head, _, body = result["answer"].partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 408"), result
        envelope = json.loads(body)
        assert envelope["code"] == 408 and envelope["message"]
        assert result.get("closed") and DEADLINE - 0.5 < result["seconds"] < DEADLINE + 5


@pytest.mark.slow
def test_a_body_that_arrives_in_time_is_served(server):
    """A normal request with a body is unaffected (here: a wrong sign-in, 401 or 422)."""
    request = urllib.request.Request(
        server.url + "/api/v1/auth/token",
        method="POST",
        data=json.dumps({"login": "13900000000", "pin": "135790"}).encode(),
        headers={"Content-Type": "application/json"},
    )
    try:
        urllib.request.urlopen(request, timeout=10)
    except urllib.error.HTTPError as error:
        assert error.code != 408
        error.close()
