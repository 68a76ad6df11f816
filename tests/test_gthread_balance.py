"""gunicorn's threaded workers share out new connections by free threads (app/infra/gthread.py).

A real gunicorn, two gthread workers of two threads each. Four clients connect one after the
other and each keeps a thread busy (headers, then a body that trickles until the body-read
deadline answers 408). A worker with both threads busy takes no new connection, so each worker
must have served exactly two; gunicorn's own worker takes whatever comes to the worker that
wakes first (2 + 2 in only 6 of 16 orders). Then a fifth client, once a thread is free again,
is served at once.
"""

from __future__ import annotations

import socket
import time
import urllib.request

import pytest

from tests.live import WORKER_ACCESS_LOG, LiveServer

DEADLINE = 3  # BODY_READ_TIMEOUT, seconds
PATH = "/api/v1/auth/token"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    server = LiveServer(
        tmp_path_factory.mktemp("gthread-balance"),
        workers=2,
        env={
            "LINLI_WORKER_CLASS": "gthread",
            "GUNICORN_CMD_ARGS": WORKER_ACCESS_LOG["GUNICORN_CMD_ARGS"] + " --threads 2",
            "BODY_READ_TIMEOUT": str(DEADLINE),
            "BODY_MIN_RATE": str(10**9),
        },
    )
    server.start()
    yield server
    server.stop()


def _busy_client(port: int) -> socket.socket:
    """A connection whose request holds a server thread: headers and the first body byte."""
    conn = socket.create_connection(("127.0.0.1", port), timeout=30)
    conn.sendall(
        (
            f"POST {PATH} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            "Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"
        ).encode()
    )
    return conn


@pytest.mark.slow
def test_a_worker_with_every_thread_busy_leaves_new_connections_to_the_others(server):
    clients = []
    try:
        for _ in range(4):
            clients.append(_busy_client(server.port))
            time.sleep(0.3)  # accepted and being read before the next one connects
        served = server.wait_workers_of("POST", PATH, 4, timeout=DEADLINE + 10)
        assert sorted(len(statuses) for statuses in served.values()) == [2, 2], served
        assert {s for statuses in served.values() for s in statuses} == {"408"}
    finally:
        for conn in clients:
            conn.close()
    started = time.monotonic()
    with urllib.request.urlopen(server.url + "/healthz", timeout=10) as response:
        assert response.status == 200
    assert time.monotonic() - started < 2


def test_the_limit_counts_only_connections_being_served():
    """Idle keep-alive and not-yet-readable connections do not hold a thread: with 4 threads,
    3 idle keep-alive and 1 pending connections, a worker takes new ones until 4 are served,
    and never more than the configured worker_connections."""
    from types import SimpleNamespace

    from app.infra.gthread import BalancedThreadWorker

    worker = BalancedThreadWorker.__new__(BalancedThreadWorker)
    worker.cfg = SimpleNamespace(threads=4)
    worker.worker_connections = 4000  # what gunicorn's __init__ sets from its settings
    worker.keepalived_conns = [object()] * 3
    worker.pending_conns = [object()]
    assert worker.worker_connections == 3 + 1 + 4
    worker.worker_connections = 6
    assert worker.worker_connections == 6
