"""Idempotency-Key: retries create a case once — also when the retries arrive at the same time at
a real server (threads over TCP), on SQLite and on PostgreSQL alike."""

from __future__ import annotations

import io
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests
from sqlalchemy import event

from app.extensions import db
from app.infra import idempotency
from app.models.case import Case, CaseAttachment
from app.models.idempotency import IdempotencyKey
from tests.affairs.conftest import image_bytes, submit

BODY = {"category_code": "repair", "description": "单元门禁坏了，门关不上"}


def _hammer(url, n, make_kwargs):
    barrier = threading.Barrier(n)

    def one(i):
        barrier.wait(timeout=30)
        return requests.post(url, timeout=120, **make_kwargs(i))

    with ThreadPoolExecutor(n) as pool:
        return list(pool.map(one, range(n)))


def test_a_retry_gets_the_same_answer_and_one_case(client, cats, auth):
    headers = {**auth.headers(cats.a.resident), "Idempotency-Key": "phone-7f3a"}
    first = client.post("/api/v1/cases", json=BODY, headers=headers)
    again = client.post("/api/v1/cases", json=dict(reversed(list(BODY.items()))), headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.get_json() == first.get_json()
    assert again.headers["Location"] == first.headers["Location"]
    assert db.session.query(Case).count() == 1


def test_same_key_with_another_body_is_refused(client, cats, auth):
    headers = {**auth.headers(cats.a.resident), "Idempotency-Key": "k-1"}
    assert client.post("/api/v1/cases", json=BODY, headers=headers).status_code == 201
    r = client.post("/api/v1/cases", json={**BODY, "description": "另一件事"}, headers=headers)
    assert r.status_code == 422 and "Idempotency-Key" in r.get_json()["errors"]
    assert db.session.query(Case).count() == 1


def test_keys_are_scoped_to_the_caller(client, cats, auth):
    key = {"Idempotency-Key": "same-key"}
    a = client.post("/api/v1/cases", json=BODY, headers={**auth.headers(cats.a.resident), **key})
    b = client.post("/api/v1/cases", json=BODY, headers={**auth.headers(cats.a.elder), **key})
    kiosk = client.post(
        "/api/v1/cases",
        json={**BODY, "category_code": "environment"},
        headers={**auth.headers(device=cats.a.device), **key},
    )
    assert a.status_code == b.status_code == kiosk.status_code == 201
    assert len({a.get_json()["id"], b.get_json()["id"], kiosk.get_json()["id"]}) == 3


def test_a_failed_attempt_stores_nothing_and_may_be_retried(client, cats, auth):
    headers = {**auth.headers(cats.a.resident), "Idempotency-Key": "retry-after-fix"}
    bad = client.post("/api/v1/cases", json={**BODY, "description": "\x00"}, headers=headers)
    assert bad.status_code == 422
    assert db.session.query(IdempotencyKey).count() == 0
    good = client.post("/api/v1/cases", json=BODY, headers=headers)
    assert good.status_code == 201


def test_malformed_keys_are_422(client, cats, auth):
    for key in ("", " ", "x" * 201, "键"):
        r = client.post(
            "/api/v1/cases",
            json=BODY,
            headers={**auth.headers(cats.a.resident), "Idempotency-Key": key},
        )
        assert r.status_code == 422, key
    assert db.session.query(Case).count() == 0


def test_concurrent_retries_on_a_live_server_create_one_case(live_server, cats, auth):
    headers = {**auth.headers(cats.a.resident), "Idempotency-Key": "kiosk-net-flaky-1"}
    responses = _hammer(
        f"{live_server}/api/v1/cases", 8, lambda i: {"json": BODY, "headers": headers}
    )
    assert [r.status_code for r in responses] == [201] * 8, [r.text[:200] for r in responses]
    assert len({r.json()["id"] for r in responses}) == 1
    assert len({r.json()["reference"] for r in responses}) == 1
    assert sum(r.headers.get("Idempotent-Replayed") == "true" for r in responses) == 7
    db.session.expire_all()
    assert db.session.query(Case).count() == 1
    assert db.session.query(IdempotencyKey).count() == 1


def test_concurrent_submissions_get_distinct_consecutive_references(live_server, cats, auth):
    people = [cats.a.resident, cats.a.elder, cats.b.resident, cats.b.elder]
    headers = [auth.headers(p) for p in people]
    responses = _hammer(
        f"{live_server}/api/v1/cases",
        12,
        lambda i: {"json": BODY, "headers": {**headers[i % 4], "Idempotency-Key": f"distinct-{i}"}},
    )
    assert [r.status_code for r in responses] == [201] * 12, [r.text[:200] for r in responses]
    serials = sorted(int(r.json()["reference"].split("-")[1]) for r in responses)
    assert serials == list(range(serials[0], serials[0] + 12))
    db.session.expire_all()
    assert db.session.query(Case).count() == 12


def test_concurrent_upload_retries_store_one_file(live_server, app, cats, auth):
    case = submit(cats.a)
    folder = Path(app.config["UPLOAD_FOLDER"]) / "cases"
    before = set(folder.iterdir()) if folder.exists() else set()
    photo = image_bytes("JPEG")
    headers = {**auth.headers(cats.a.resident), "Idempotency-Key": "photo-retry"}
    url = f"{live_server}/api/v1/cases/{case.id}/attachments"
    responses = _hammer(
        url,
        6,
        lambda i: {
            "headers": headers,
            "files": {"file": (f"retry-{i}.jpg", io.BytesIO(photo), "image/jpeg")},
        },
    )
    assert [r.status_code for r in responses] == [201] * 6, [r.text[:200] for r in responses]
    assert len({r.json()["id"] for r in responses}) == 1
    db.session.expire_all()
    assert db.session.query(CaseAttachment).count() == 1
    assert len(set(folder.iterdir()) - before) == 1


def test_concurrent_retries_from_test_clients_in_threads(app, cats, auth):
    headers = {**auth.headers(cats.a.elder), "Idempotency-Key": "threads-2"}
    barrier = threading.Barrier(6)

    def one(_):
        with app.app_context():
            barrier.wait(timeout=30)
            return app.test_client().post("/api/v1/cases", json=BODY, headers=headers)

    with ThreadPoolExecutor(6) as pool:
        responses = list(pool.map(one, range(6)))
    assert [r.status_code for r in responses] == [201] * 6
    assert len({r.get_json()["id"] for r in responses}) == 1
    db.session.expire_all()
    assert db.session.query(Case).count() == 1


def _statements_of(request):
    """The SQL statements `request()` runs, in order (this thread's only)."""
    seen, me = [], threading.get_ident()

    def on_execute(_conn, _cursor, statement, _params, _context, _many):
        if threading.get_ident() == me:
            seen.append(" ".join(statement.split())[:40])

    event.listen(db.engine, "before_cursor_execute", on_execute)
    try:
        response = request()
    finally:
        event.remove(db.engine, "before_cursor_execute", on_execute)
    return response, seen


def test_a_create_writes_its_key_row_first_but_after_its_reads(client, cats, auth):
    headers = {**auth.headers(cats.a.resident), "Idempotency-Key": "late-claim"}
    response, seen = _statements_of(
        lambda: client.post("/api/v1/cases", json={**BODY, "with_similar": True}, headers=headers)
    )
    assert response.status_code == 201, response.get_json()
    writes = [s for s in seen if not s.startswith("SELECT")]
    # The key row is the transaction's first write (a concurrent retry waits on it) ...
    assert writes[0].startswith("INSERT INTO idempotency_key"), writes
    # ... and the reads and checks, the similar cases included, come before it.
    first_write = seen.index(writes[0])
    assert any("case_category" in s for s in seen[:first_write]), seen
    # (On PostgreSQL the similar cases are read as a merge of one walk per open status.)
    similar = ("SELECT case_record.id", "SELECT anon_1.id")
    assert sum(s.startswith(similar) for s in seen[:first_write]) >= 1, seen


def test_a_retry_that_loses_the_race_for_its_key_answers_as_the_first(
    client, cats, auth, monkeypatch
):
    headers = {**auth.headers(cats.a.resident), "Idempotency-Key": "raced"}
    first = client.post("/api/v1/cases", json=BODY, headers=headers)
    assert first.status_code == 201
    # The retry looks before the first committed (it finds nothing), then writes the same key.
    looked = []
    real = idempotency._lookup

    def lookup(hashed):
        looked.append(hashed)
        return None if len(looked) == 1 else real(hashed)

    monkeypatch.setattr(idempotency, "_lookup", lookup)
    again = client.post("/api/v1/cases", json=BODY, headers=headers)
    assert again.status_code == 201, again.get_json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.get_json() == first.get_json()
    assert len(looked) == 2
    db.session.expire_all()
    assert db.session.query(Case).count() == 1
    assert db.session.query(IdempotencyKey).count() == 1
