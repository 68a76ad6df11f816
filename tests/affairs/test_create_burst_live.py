"""A burst of creates on the scaled install: gunicorn with two gevent workers on PostgreSQL
(tests/live.py ScaledServer), where a request in a write transaction waits for the server
without yielding, for a bounded time (app/database.py HoldingWaits). Every create of the burst
is answered, the references stay gapless and unique across the workers, a retry with the same
Idempotency-Key is answered with the first one's case, and nothing fails in the server's log.
Skipped, with the reason, when PostgreSQL or Redis does not answer."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from tests.live import scaled_install

CLIENTS = 16
CREATES = 64


@pytest.fixture(scope="module")
def scaled(tmp_path_factory):
    # The hourly limit per resident off: the burst is more than a resident may send an hour.
    with scaled_install(
        tmp_path_factory.mktemp("burst"), env={"CASE_CREATE_PER_HOUR": "0"}
    ) as server:
        yield server


def _tokens(server) -> list[str]:
    tokens = []
    for account in server.summary["accounts"]:
        if account["role"] == "resident" and account.get("pin"):
            r = requests.post(
                server.url + "/api/v1/auth/token",
                json={"login": account["login"], "pin": account["pin"]},
                timeout=30,
            )
            assert r.status_code == 201, r.text
            tokens.append(r.json()["token"])
    assert len(tokens) >= 2
    return tokens


def test_a_burst_of_creates_is_answered_with_gapless_references(scaled):
    tokens = _tokens(scaled)
    keys = [uuid.uuid4().hex for _ in range(CREATES)]

    def create(i: int, key: str) -> requests.Response:
        return requests.post(
            scaled.url + "/api/v1/cases",
            json={"category_code": "environment", "description": f"楼道里堆了纸箱 {i}"},
            headers={
                "Authorization": f"Bearer {tokens[i % len(tokens)]}",
                "Idempotency-Key": key,
            },
            timeout=60,
        )

    with ThreadPoolExecutor(CLIENTS) as pool:
        answers = list(pool.map(create, range(CREATES), keys))
        # The same keys again, at once: each is answered with its first case.
        retries = list(pool.map(create, range(8), keys[:8]))

    problems = [(r.status_code, r.text[:200]) for r in answers if r.status_code != 201]
    assert not problems
    references = sorted(r.json()["reference"] for r in answers)
    serials = [int(ref.split("-")[1]) for ref in references]
    assert len(set(serials)) == CREATES
    assert serials == list(range(serials[0], serials[0] + CREATES))  # gapless
    for first, again in zip(answers[:8], retries, strict=True):
        assert again.status_code == 201
        assert again.headers.get("Idempotent-Replayed") == "true"
        assert again.json()["reference"] == first.json()["reference"]
    # Every request went through the server (which worker took each is the kernel's choice),
    # and no worker logged a failure.
    seen = scaled.wait_workers_of("POST", "/api/v1/cases", CREATES + 8)
    assert sum(map(len, seen.values())) == CREATES + 8
    log = scaled.log.read_text(errors="replace")
    assert "Traceback" not in log and "[ERROR]" not in log, log[-3000:]
