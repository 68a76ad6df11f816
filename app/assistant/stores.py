"""Where voice conversations live, so every worker finds them.

In Redis when REDIS_URL is set, else in the database (table voice_conversation, on the request's
own session; a turn locks its conversation until it is committed, and every write is a
compare-and-swap). Memory (one process only) when VOICE_CONVERSATIONS=memory.
`VoiceRuntime.dialog_store` (app/assistant/runtime.py) is the one place this is chosen.
"""

from __future__ import annotations

import json
import logging
import os
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, select, update

import voice
from app.extensions import db
from app.infra.errors import Unavailable
from app.infra.ratelimit import upsert
from app.infra.text import ascii_number
from app.models.base import utcnow
from app.models.voice import VoiceConversation

log = logging.getLogger("linli.voice")

# --- conversations in Redis ------------------------------------------------------------------


class RedisDialogStore:
    """voice.DialogStore in Redis (JSON with expiry), so any worker can take the next turn."""

    def __init__(self, url: str, prefix: str) -> None:
        self.url = url
        self.prefix = prefix
        self._redis = None
        self._pid: int | None = None

    def _client(self):
        if self._redis is None or self._pid != os.getpid():  # never share a pool across fork
            import redis

            self._redis = redis.Redis.from_url(
                self.url, socket_connect_timeout=2, socket_timeout=5, health_check_interval=30
            )
            self._pid = os.getpid()
        return self._redis

    def _do(self, fn):
        import redis

        try:
            return fn(self._client())
        except redis.RedisError as exc:
            log.warning("voice conversations: redis failed: %s", exc)
            raise Unavailable() from exc

    def get(self, conversation_id: str) -> dict[str, Any] | None:
        """The state, or None if unknown or expired."""
        raw = self._do(lambda r: r.get(self.prefix + conversation_id))
        return json.loads(raw) if raw else None

    def put(self, conversation_id: str, state: dict[str, Any], ttl: float) -> None:
        """Store the state for ``ttl`` seconds."""
        text = json.dumps(state, ensure_ascii=False)
        self._do(lambda r: r.set(self.prefix + conversation_id, text, px=max(1, int(ttl * 1000))))

    def delete(self, conversation_id: str) -> None:
        """Forget the conversation."""
        self._do(lambda r: r.delete(self.prefix + conversation_id))


# --- conversations in the database -----------------------------------------------------------

VERSION_KEY = "_version"  # in a state read from the database: the version it was read at


class DatabaseDialogStore:
    """voice.DialogStore in the table voice_conversation, on the request's own session (one
    request = one connection), so any worker of the host takes the next turn without Redis.

    A turn reads its conversation with `get_for_update`: PostgreSQL locks the row (SELECT …
    FOR UPDATE), SQLite takes its one write lock with a no-change UPDATE of the row; either way
    a second turn of the same conversation waits until the first one is committed, then reads
    what it left. Every `put` is also a compare-and-swap on `version` (the version read travels
    in the state as "_version", never stored): a state changed by another turn since it was
    read is refused with ConversationBusy (409) rather than overwriting that turn. Expired
    conversations are not found; `purge_expired_conversations` (housekeeping) deletes them.
    Writes flush with the request's transaction: the caller commits, as for any service."""

    def get(self, conversation_id: str) -> dict[str, Any] | None:
        """The state, or None if unknown or expired."""
        return self._load(conversation_id, lock=False)

    def get_for_update(self, conversation_id: str) -> dict[str, Any] | None:
        """The state for a turn: other turns of it wait until this transaction ends."""
        return self._load(conversation_id, lock=True)

    def _load(self, conversation_id: str, *, lock: bool) -> dict[str, Any] | None:
        table = VoiceConversation.__table__
        alive = (table.c.id == conversation_id) & (table.c.expires_at > utcnow())
        query = select(table.c.state, table.c.version).where(alive)
        if lock and db.session.get_bind().dialect.name == "sqlite":
            # SQLite has no row locks: its write lock, taken now, serves (Python's sqlite3
            # begins the transaction with this first write, so the read below is current).
            db.session.execute(update(table).where(alive).values(version=table.c.version))
        elif lock:
            query = query.with_for_update()
        row = db.session.execute(query).first()
        if row is None:
            return None
        state = dict(row.state)
        state[VERSION_KEY] = row.version
        return state

    def put(self, conversation_id: str, state: dict[str, Any], ttl: float) -> None:
        """Store the state for ``ttl`` seconds; a state read from here must still be current
        (else ConversationBusy). Sets the state's new version."""
        table = VoiceConversation.__table__
        data = {k: v for k, v in state.items() if k != VERSION_KEY}
        json.dumps(data)  # TypeError now, like the other stores, not at the flush
        read = state.get(VERSION_KEY)
        owner = str(data.get("owner") or "")
        now = utcnow()
        stmt = upsert(table).values(
            id=conversation_id,
            owner=owner,
            person_id=_owner_id(owner, "person"),
            device_id=_owner_id(owner, "device"),
            state=data,
            version=1,
            created_at=now,
            updated_at=now,
            expires_at=now + timedelta(seconds=ttl),
        )
        # (a row missing although read, e.g. its insert rolled back with a failed service call
        # in the same request, is written again)
        stmt = stmt.on_conflict_do_update(
            index_elements=[table.c.id],
            set_={
                "state": stmt.excluded.state,
                "version": table.c.version + 1,
                "expires_at": stmt.excluded.expires_at,
                "updated_at": now,
            },
            where=None if read is None else table.c.version == read,
        ).returning(table.c.version)
        version = db.session.execute(stmt).scalar()
        if version is None:
            raise voice.ConversationBusy(
                "the conversation changed since it was read", conversation_id=conversation_id
            )
        state[VERSION_KEY] = version

    def delete(self, conversation_id: str) -> None:
        """Forget the conversation."""
        db.session.execute(delete(VoiceConversation).where(VoiceConversation.id == conversation_id))


def _owner_id(owner: str, kind: str) -> int | None:
    """The person's or screen's id in an owner string of `owner_of` ("person:5>7" → 5)."""
    prefix = f"{kind}:"
    if not owner.startswith(prefix):
        return None
    number = owner[len(prefix) :].split(">", 1)[0]
    return ascii_number(number)


def purge_expired_conversations(now=None) -> int:
    """Delete the conversations kept in the database that have expired; returns how many.
    Flushes; the caller commits."""
    result = db.session.execute(
        delete(VoiceConversation).where(VoiceConversation.expires_at <= (now or utcnow()))
    )
    return result.rowcount or 0
