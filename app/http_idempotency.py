"""Idempotency-Key over HTTP: a view a client may retry (a kiosk or phone on a flaky network)
answers a retry with the first request's stored response.

The rules and the stored rows are the service's (app/infra/idempotency.py); this channel part
reads the header and the body and builds the replayed response.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable

from flask import Response, request
from werkzeug.exceptions import HTTPException

from app import jsonbody
from app.infra import idempotency
from app.infra.idempotency import HEADER, KEEP_HEADERS


def _actor_scope() -> str | None:
    from app.security import current_actor

    return idempotency.actor_scope(current_actor())


def request_fingerprint() -> str:
    """The fingerprint of this request: method, path and body (form fields and files by
    content, else the raw body)."""
    if request.mimetype in ("multipart/form-data", "application/x-www-form-urlencoded"):
        files = []
        for name, storage in request.files.items(multi=True):
            data = storage.stream.read()
            storage.stream.seek(0)
            files.append((name, data))
        return idempotency.fingerprint(
            request.method, request.path, form=list(request.form.items(multi=True)), files=files
        )
    raw = request.get_data(cache=True)
    try:
        # The bounded parser: a hostile body is answered by the view's own parsing.
        canonical = json.dumps(jsonbody.loads(raw), sort_keys=True, separators=(",", ":"))
    except HTTPException:
        canonical = None
    return idempotency.fingerprint(request.method, request.path, raw=raw, canonical=canonical)


def _replay(answer: idempotency.StoredAnswer) -> Response:
    response = Response(answer.body, status=answer.status_code, content_type=answer.content_type)
    for name, value in answer.headers.items():
        response.headers[name] = value
    response.headers["Idempotent-Replayed"] = "true"
    return response


def _kept_headers(response: Response) -> dict:
    return {h: response.headers[h] for h in KEEP_HEADERS if h in response.headers}


def _late(view, who: str, key: str, fingerprint: str, args, kwargs):
    # The key row is written just before the work's first write (idempotency.claim_late).
    row = idempotency.claim_late(who, key, fingerprint)
    if row is not None:
        return _replay(idempotency.stored_answer(row, fingerprint))
    try:
        response = view(*args, **kwargs)
        if response.status_code < 400 and not response.is_streamed:
            idempotency.remember_late(
                response.status_code,
                response.content_type,
                response.get_data(as_text=True),
                _kept_headers(response),
            )
    except Exception:
        # KeyTaken, or whatever failed after it (PostgreSQL refuses a transaction's statements
        # after its failed insert): a concurrent request with this key committed first.
        row = idempotency.taken()
        if row is None:
            raise
        return _replay(idempotency.stored_answer(row, fingerprint))
    finally:
        idempotency.forget_late()
    row = idempotency.taken()  # signalled, but swallowed on the way
    if row is not None:
        return _replay(idempotency.stored_answer(row, fingerprint))
    return response


def idempotent(scope: Callable[[], str | None] | None = None, *, late: bool = False):
    """Make a create endpoint safe to retry with an Idempotency-Key header (optional).

    Put it outermost, above flask-smorest's decorators. The key row and the stored answer are
    committed with the request's work by the unit of work (app/infra/uow.py), on success only:
    a request that fails stores nothing, so it can be retried with the same key.
    `late`: the key row is written just before the work's first write instead of first thing,
    so the reads and checks before it do not hold SQLite's write lock (for work that writes
    no file or other outside state before its first database write).
    """

    def decorator(view):
        @functools.wraps(view)
        def wrapper(*args, **kwargs):
            key = request.headers.get(HEADER)
            if key is None:
                return view(*args, **kwargs)
            idempotency.check_key(key)
            who = (scope or _actor_scope)()
            if who is None:  # not signed in: the view answers 401/403 by itself
                return view(*args, **kwargs)
            fingerprint = request_fingerprint()
            if late:
                return _late(view, who, key, fingerprint, args, kwargs)
            row, first = idempotency.claim(who, key, fingerprint)
            if not first:
                return _replay(idempotency.stored_answer(row, fingerprint))
            response = view(*args, **kwargs)
            if response.status_code < 400 and not response.is_streamed:
                idempotency.remember(
                    row,
                    response.status_code,
                    response.content_type,
                    response.get_data(as_text=True),
                    _kept_headers(response),
                )
            return response

        return wrapper

    return decorator
