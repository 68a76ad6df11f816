"""Voice conversations kept in the database (no REDIS_URL): stored and loaded on the request's
session, expired ones not found and purged by housekeeping, a write of a stale state refused
(compare-and-swap), two turns of one conversation at once answered one after the other (row
lock on PostgreSQL, the write lock on SQLite), another caller's id not found. Runs on SQLite and
on PostgreSQL (TEST_DATABASE_URL)."""

from __future__ import annotations

import threading
import time
from datetime import UTC, timedelta

import pytest
from sqlalchemy import func, select

import voice
from app.assistant import conversations, runtime
from app.assistant import services as voice_services
from app.assistant import stores as voice_stores
from app.extensions import db as _db
from app.infra import housekeeping
from app.models import Person
from app.models.base import utcnow
from app.models.case import Case
from app.models.voice import VoiceConversation
from app.people.actors import Actor


def _state(owner: str, **extra) -> dict:
    return {
        "v": 1,
        "id": "x",
        "language": "zh-CN",
        "state": "idle",
        "rate": "normal",
        "failures": 0,
        "last_reply": "您好",
        "slots": {},
        "owner": owner,
        "turns": 0,
        **extra,
    }


@pytest.fixture()
def store(db):
    return voice_stores.DatabaseDialogStore()


def test_the_app_keeps_conversations_in_the_database_without_redis(app):
    rt = runtime.runtime(app)
    assert rt.redis_url is None and rt.store_kind == "database"
    assert isinstance(rt.dialog_store(), voice_stores.DatabaseDialogStore)


def test_the_backend_is_chosen_in_one_place(app, monkeypatch):
    monkeypatch.setitem(app.config, "VOICE_CONVERSATIONS", "memory")
    assert isinstance(runtime.VoiceRuntime(app).dialog_store(), voice.MemoryDialogStore)
    monkeypatch.setitem(app.config, "REDIS_URL", "redis://127.0.0.1:6379/0")
    monkeypatch.setitem(app.config, "VOICE_CONVERSATIONS", None)
    assert isinstance(runtime.VoiceRuntime(app).dialog_store(), voice_stores.RedisDialogStore)
    monkeypatch.setitem(app.config, "REDIS_URL", None)
    for wrong in ("redis", "disk"):  # redis without REDIS_URL; no such backend
        monkeypatch.setitem(app.config, "VOICE_CONVERSATIONS", wrong)
        with pytest.raises(ValueError, match="VOICE_CONVERSATIONS"):
            runtime.VoiceRuntime(app)


def test_store_then_load_with_the_callers_scope_and_expiry(store, world):
    person, device = world.a.resident, world.a.device
    before = utcnow()
    store.put("conversation-one-0001", _state(f"person:{person.id}", slots={"a": "楼道灯"}), 120)
    store.put("conversation-two-0002", _state(f"device:{device.id}"), 120)
    relative = f"person:{world.a.relative.id}>{world.a.elder.id}"
    store.put("conversation-three-03", _state(relative), 120)
    _db.session.commit()
    _db.session.expire_all()

    loaded = store.get("conversation-one-0001")
    assert loaded["slots"] == {"a": "楼道灯"} and loaded["owner"] == f"person:{person.id}"
    assert loaded[voice_stores.VERSION_KEY] == 1
    rows = {r.id: r for r in _db.session.scalars(select(VoiceConversation))}
    one, two, three = (
        rows["conversation-one-0001"],
        rows["conversation-two-0002"],
        rows["conversation-three-03"],
    )
    assert (one.person_id, one.device_id) == (person.id, None)
    assert (two.person_id, two.device_id) == (None, device.id)
    assert (three.person_id, three.owner) == (world.a.relative.id, relative)
    assert voice_stores.VERSION_KEY not in one.state  # the version is a column, never in the state
    assert one.expires_at.tzinfo == UTC and one.created_at.tzinfo == UTC
    assert before + timedelta(seconds=119) < one.expires_at <= utcnow() + timedelta(seconds=120)

    loaded["turns"] = 1
    store.put("conversation-one-0001", loaded, 120)
    assert loaded[voice_stores.VERSION_KEY] == 2
    assert store.get("conversation-one-0001")["turns"] == 1
    store.delete("conversation-one-0001")
    assert store.get("conversation-one-0001") is None
    assert store.get("never-was-a-conversation") is None


def test_expired_conversations_are_not_found_and_housekeeping_purges_them(store, world):
    owner = f"person:{world.a.resident.id}"
    store.put("conversation-old-00001", _state(owner), 60)
    store.put("conversation-new-00001", _state(owner), 60)
    _db.session.flush()
    old = _db.session.get(VoiceConversation, "conversation-old-00001")
    old.expires_at = utcnow() - timedelta(seconds=1)
    _db.session.commit()

    assert store.get("conversation-old-00001") is None
    assert store.get_for_update("conversation-old-00001") is None
    assert store.get("conversation-new-00001") is not None
    _db.session.rollback()
    counts = housekeeping.purge_expired()
    _db.session.commit()
    assert counts["voice_conversations"] == 1
    assert _db.session.scalars(select(VoiceConversation.id)).all() == ["conversation-new-00001"]
    # an hour later the other one has expired too
    assert housekeeping.purge_expired(utcnow() + timedelta(hours=1))["voice_conversations"] == 1


def test_a_stale_state_is_not_written_over_a_newer_one(store, world):
    store.put("conversation-cas-00001", _state(f"person:{world.a.resident.id}"), 120)
    _db.session.commit()
    first = store.get("conversation-cas-00001")
    second = store.get("conversation-cas-00001")
    first["state"] = "confirm_report"
    store.put("conversation-cas-00001", first, 120)
    second["state"] = "ask_reference"
    with pytest.raises(voice.ConversationBusy):
        store.put("conversation-cas-00001", second, 120)
    _db.session.commit()
    assert store.get("conversation-cas-00001")["state"] == "confirm_report"


def test_a_second_turn_waits_for_the_first_to_commit(app, store, world):
    store.put("conversation-lock-0001", _state(f"person:{world.a.resident.id}"), 120)
    _db.session.commit()
    locked = threading.Event()
    seen: dict = {}

    def first():
        with app.app_context():
            state = voice_stores.DatabaseDialogStore().get_for_update("conversation-lock-0001")
            locked.set()
            time.sleep(0.6)
            state["turns"] = 1
            voice_stores.DatabaseDialogStore().put("conversation-lock-0001", state, 120)
            seen["first_done"] = time.monotonic()
            _db.session.commit()
            _db.session.remove()

    def second():
        with app.app_context():
            locked.wait(10)
            state = voice_stores.DatabaseDialogStore().get_for_update("conversation-lock-0001")
            seen["second_read"] = time.monotonic()
            seen["second_turns"] = state["turns"]
            state["turns"] += 1
            voice_stores.DatabaseDialogStore().put("conversation-lock-0001", state, 120)
            _db.session.commit()
            _db.session.remove()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert seen["second_read"] >= seen["first_done"]
    assert seen["second_turns"] == 1  # it read what the first turn left
    _db.session.expire_all()
    assert store.get("conversation-lock-0001")["turns"] == 2


def test_two_yes_at_once_file_one_case(app, cats):
    """A double tap on 对 (two workers, two requests): both turns are answered, one after the
    other, and the report is filed once."""
    resident_id = cats.a.resident.id
    actor = Actor.for_person(cats.a.resident)
    cid = conversations.hear_text(actor, "我要反映").conversation_id
    confirm = conversations.hear_text(actor, "那个楼道灯坏了，晚上看不见", conversation_id=cid)
    assert confirm.state == "confirm_report"
    _db.session.commit()
    _db.session.remove()
    results: list = []

    def say_yes():
        with app.app_context():
            try:
                who = Actor.for_person(_db.session.get(Person, resident_id))
                results.append(conversations.hear_text(who, "对", conversation_id=cid))
                time.sleep(0.5)  # the rest of the request: the other turn arrives meanwhile
                _db.session.commit()
            except Exception as error:  # noqa: BLE001 - reported by the assertions
                _db.session.rollback()
                results.append(error)
            finally:
                _db.session.remove()

    threads = [threading.Thread(target=say_yes) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert all(isinstance(r, voice.TurnResult) for r in results), results
    assert sorted(bool(r.case_ref) for r in results) == [False, True]
    assert (
        _db.session.scalar(
            select(func.count()).select_from(Case).where(Case.description.contains("楼道灯"))
        )
        == 1
    )


def test_another_callers_id_is_not_found(client, auth, cats):
    headers = auth.headers(cats.a.resident)
    started = client.post("/api/v1/voice/conversations", json={}, headers=headers)
    assert started.status_code == 201
    cid = started.get_json()["conversation_id"]
    for other in (
        auth.headers(cats.a.elder),
        auth.headers(cats.b.resident),
        auth.headers(device=cats.a.device),
        auth.headers(cats.a.relative, act_for=cats.a.elder),
    ):
        response = client.post(
            "/api/v1/voice/text", headers=other, json={"text": "听公告", "conversation_id": cid}
        )
        assert response.status_code == 404, response.get_json()
        assert response.get_json()["errors"] == {"conversation_id": ["conversation_not_found"]}
        gone = client.delete(f"/api/v1/voice/conversations/{cid}", headers=other)
        assert gone.status_code == 404
    mine = client.post(
        "/api/v1/voice/text", headers=headers, json={"text": "听公告", "conversation_id": cid}
    )
    assert mine.status_code == 200 and mine.get_json()["conversation_id"] == cid


def test_a_failing_service_on_the_first_turn_keeps_the_conversation(app, cats, monkeypatch):
    """The dialog rolls a failed service call back (its own insert of the conversation in the
    same request included) and apologizes; the conversation is still there for the next turn."""

    def broken(self, caller):
        with self._call(caller):
            raise RuntimeError("announcements are down")

    monkeypatch.setattr(voice_services.AppServices, "announcements", broken)
    resident_id = cats.a.resident.id
    actor = Actor.for_person(cats.a.resident)
    first = conversations.hear_text(actor, "听公告")
    assert first.error == "service_failed"
    _db.session.commit()
    _db.session.remove()
    monkeypatch.undo()
    who = Actor.for_person(_db.session.get(Person, resident_id))
    again = conversations.hear_text(who, "再说一遍", conversation_id=first.conversation_id)
    assert again.reply_text == first.reply_text
