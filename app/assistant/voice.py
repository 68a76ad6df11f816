"""The voice assistant in the app: the bridge between the voice library and the services.

- One `VoiceRuntime` per app (app.extensions["linli_voice"]). The Vosk model is preloaded in
  `init_app` when VOSK_MODEL_PATH is set — under gunicorn (preload_app) that is the master, so
  the forked workers share its pages. Everything with threads or child processes (the TTS
  worker, the Redis client, the dialog) is built lazily in each worker, never in the master.
- `AppServices` implements the library's `Services` protocol over the real services: cases
  (channel "voice", transcript and the original audio as an attachment), announcements and
  activities for the caller's building, the committee's contact, and urgent help (immediate
  notices to the committee staff and the resident's grid worker, plus an audit entry).
- Conversations live where every worker finds them: in Redis when REDIS_URL is set, else in
  the database (table voice_conversation, on the request's own session; a turn locks its
  conversation until it is committed, and every write is a compare-and-swap). Memory (one
  process only) when VOICE_CONVERSATIONS=memory. `VoiceRuntime.dialog_store` is the one place
  this is chosen. A conversation belongs to its caller: another caller's id is not found.
- Speech out: a reply's URL names a small sidecar (text, voice, rate) by an HMAC, so nobody can
  mint URLs for text of their choosing; the audio is rendered on first request in the format
  asked for (WAV for screens, Ogg/Opus or MP3 for phones) and cached on disk by the TTS worker.
- In each worker a background thread pre-renders the fixed prompts and keeps announcement
  speech current: it listens to the kiosk feed doorbell on the event bus and renders live
  announcements whose speech is missing or stale, then attaches it with
  `announcements.set_speech_url` (which rings the screens again).
"""

from __future__ import annotations

import fcntl
import hashlib
import hmac
import json
import logging
import os
import re
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path
from typing import Any

from flask import Flask, current_app, g, has_app_context
from flask_babel import force_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, select, update

import voice
from app.affairs import categories, common, intake, queries
from app.extensions import db
from app.infra import audit, events, ratelimit, uow
from app.infra.errors import DomainError, Invalid, NotFound, Unauthorized, Unavailable
from app.infra.ratelimit import upsert
from app.infra.text import clean_text
from app.models import Community, Person, RoleAssignment
from app.models.announcement import Announcement
from app.models.base import utcnow
from app.models.voice import VoiceConversation
from app.notices import announcements
from app.notices.announcements import local_zone
from app.people import authz, communities, notifications
from app.people.actors import Actor
from app.residents import easy
from app.screens import feed

log = logging.getLogger("linli.voice")

EXTENSION = "linli_voice"
SPEECH_FORMATS = {"wav": "audio/wav", "ogg": "audio/ogg", "mp3": "audio/mpeg"}
CONVERSATION_ID = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
SPEECH_ID = re.compile(r"^[0-9a-f]{32}$")
PRERENDER_RATES = ("slower", "slow", "normal", "fast")
ANNOUNCEMENT_RATE = "slow"
SPEECH_TEXT_MAX = 2000
STORE_KINDS = ("redis", "database", "memory")  # VOICE_CONVERSATIONS

# Report categories of the language packs -> case category codes, best first. A kiosk files
# anonymously, so only categories that allow it are used for a screen.
CATEGORY_CODES = {
    "lighting": ("repair",), "elevator": ("repair",), "water": ("repair",),
    "noise": ("dispute", "suggestion"), "sanitation": ("environment",),
    "parking": ("environment",), "safety": ("safety",), "greenery": ("environment",),
    "road": ("environment", "repair"),
}
FALLBACK_CODES = ("suggestion", "environment", "safety", "repair", "help", "dispute")
# A screen files anonymously; where the understood category needs a name (报修, 求助, 邻里纠纷 by
# default), the nearest one that takes anonymous reports and keeps the matter moving: the same
# handler where possible (报修 → 环境卫生: the property), a short deadline for a plea for help
# (求助 → 安全隐患: the grid worker, 24 h), never 意见建议 (168 h) for those two.
NEAREST_ANONYMOUS = {"repair": ("environment", "safety"), "help": ("safety",),
                     "dispute": ("suggestion",)}

# What people read when a voice error reaches them (by the library's error code).
ERROR_MESSAGES = {
    "audio_unsupported": _l("This recording format is not supported. Please send WAV, WebM, "
                            "Ogg, MP3 or M4A."),
    "audio_undecodable": _l("The recording could not be read. Please try again."),
    "audio_empty": _l("The recording is empty. Please hold the button while you speak."),
    "audio_silent": _l("We heard nothing. Please hold the button and speak."),
    "audio_too_long": _l("The recording is too long. Please say it more briefly."),
    "audio_too_large": _l("The recording is too large."),
    "asr_model_unavailable": _l(
        "Speech recognition is not installed on this server. Download a Vosk model "
        "(vosk-model-small-cn-0.22 from https://alphacephei.com/vosk/models), unzip it and set "
        "VOSK_MODEL_PATH to its folder."),
    "asr_failed": _l("Speech recognition failed. Please try again."),
    "tts_unavailable": _l("Speech output is not available right now."),
    "conversation_not_found": _l("This conversation has ended. Please start again."),
    "conversation_busy": _l("Your last words were still being answered. Please say it again."),
}
ERROR_FIELDS = {"asr_model_unavailable": "model", "tts_unavailable": "speech",
                "conversation_not_found": "conversation_id", "asr_failed": "audio",
                "conversation_busy": "conversation_id"}


# --- who is speaking ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Caller:
    """What the dialog hands back to the services: the actor and the conversation's language."""

    actor: Actor
    language: str

    @property
    def locale(self) -> str:
        """The gettext locale of service texts (status sentences, labels) for this language."""
        return "en" if self.language.startswith("en") else "zh_CN"


def owner_of(actor: Actor) -> str:
    """Who a conversation belongs to: the device, or the person (and whom they act for)."""
    if actor.device is not None:
        return f"device:{actor.device.id}"
    if actor.person is None:
        raise Unauthorized()
    if actor.on_behalf_of is not None:
        return f"person:{actor.person.id}>{actor.on_behalf_of.id}"
    return f"person:{actor.person.id}"


def _building_of(actor: Actor):
    if actor.device is not None:
        return actor.device.building
    subject = actor.subject
    if subject is not None and subject.household is not None:
        return subject.household.building
    return None


# --- the app's side of the dialog ------------------------------------------------------------

class AppServices:
    """voice.Services over the real services; ``caller`` is a `Caller`."""

    @contextmanager
    def _call(self, caller: Caller) -> Iterator[None]:
        # The dialog turns a failing service into a spoken apology; the failed unit of work
        # must not be committed with the rest of the request.
        _babel_context()
        try:
            with force_locale(caller.locale):
                yield
        except Exception:
            uow.rollback()
            raise

    def announcements(self, caller: Caller) -> list[dict[str, str]]:
        """Live announcements for the caller's building (voice channel), newest first."""
        with self._call(caller):
            items = announcements.current_for(caller.actor, "voice")
            return [{"title": a.title, "body": " ".join(announcements.paragraphs(a.body))}
                    for a in items if a.category != "activity"]

    def activities(self, caller: Caller) -> list[dict[str, str]]:
        """Announced activities for the caller, with a spoken "when"."""
        with self._call(caller):
            items = announcements.current_for(caller.actor, "voice")
            return [{"title": a.title, "when": _when(a)} for a in items
                    if a.category == "activity"]

    def committee_contact(self, caller: Caller) -> dict[str, str] | None:
        """The residents' committee of the caller's community."""
        with self._call(caller):
            community = communities.community_of(caller.actor)
            if community is None:
                return None
            return {"name": community.name, "phone": community.phone or "",
                    "hours": community.office_hours or "", "address": community.address or ""}

    def submit_case(self, caller: Caller, description: str, transcript: str,
                    audio: bytes | None, audio_mime: str | None,
                    category_hint: str | None) -> str:
        """File a case on the voice channel with the transcript and the recording."""
        with self._call(caller):
            actor = caller.actor
            community = communities.community_of(actor)
            if community is None:
                raise Invalid(errors={"community_id": ["no community"]})
            category = _category_for(actor, community.id, category_hint)
            case = intake.submit_case(
                actor, description=description, transcript=transcript or description,
                category_id=category.id, community_id=community.id, channel="voice",
                audio=(bytes(audio), audio_mime) if audio else None)
            return case.reference

    def case_status(self, caller: Caller, reference: str) -> dict[str, Any] | None:
        """The progress sentence the caller may hear (a screen hears only the public status)."""
        with self._call(caller):
            normal = common.normalize_reference(reference)
            if normal is None:
                return None
            try:
                # The reply already says "编号<reference>：": the sentence without it.
                sentence = queries.case_status_for_reference(caller.actor, normal,
                                                             with_reference=False)
            except (NotFound, Invalid):
                return None
            return {"reference": normal, "status_text": sentence, "updated": None}

    def urgent_help(self, caller: Caller, transcript: str) -> None:
        """Alert the committee staff and the grid worker now; audited."""
        with self._call(caller):
            alert_for_help(caller.actor, transcript)


def _babel_context() -> None:
    # Flask-Babel ignores an empty g (background threads) and would speak English.
    if has_app_context() and not g:
        g.linli_babel = True


def alert_for_help(actor: Actor, transcript: str) -> list[int]:
    """Urgent help (救命 / 我摔倒了): a notice to every committee staff member of the caller's
    community and to the grid worker of their building, plus an audit entry. Returns who was
    told; raises Unavailable when nobody could be (the dialog then says so)."""
    community = communities.community_of(actor)
    if community is None:
        raise Unavailable()
    building = _building_of(actor)
    staff = _people_with_role(role="committee_staff", community_id=community.id)
    grid = (_people_with_role(role="grid_worker", grid_id=building.grid_id)
            if building is not None and building.grid_id else [])
    recipients = sorted(set(staff) | set(grid))
    said = (transcript or "").strip()[:200]
    for person_id in recipients:
        with notifications.in_locale_of(person_id):
            who, place, phone = _who_and_where(actor, building)
            body = _("%(who)s (%(place)s) asked for help by voice: “%(said)s”.",
                     who=who, place=place, said=said or "…")
            if phone:
                body += " " + _("Phone: %(phone)s.", phone=phone)
            body += " " + _("Please call or go there now.")
            notifications.notify(person_id, "urgent_help",
                                 _("Urgent help: %(who)s", who=who), body)
    target = ("device", actor.device.id) if actor.device is not None else \
        ("person", actor.subject.id)
    audit.record(actor, "urgent_help", target[0], target[1], community.id,
                 {"channel": "voice", "said": said, "notified": recipients})
    db.session.flush()
    if not recipients:
        raise Unavailable(_l("Nobody could be alerted."))
    return recipients


def _people_with_role(**filters) -> list[int]:
    query = select(RoleAssignment.person_id).join(Person, Person.id == RoleAssignment.person_id)
    query = query.where(Person.is_active.is_(True), *(
        getattr(RoleAssignment, name) == value for name, value in filters.items()))
    return sorted(set(db.session.scalars(query)))


def _who_and_where(actor: Actor, building) -> tuple[str, str, str | None]:
    if actor.device is not None:
        device = actor.device
        where = device.location or (building.name if building is not None else "")
        return _("Someone at the screen %(name)s", name=device.name), where or "-", None
    person = actor.subject
    place = ""
    if person.household is not None:
        place = person.household.label
    elif building is not None:
        place = building.name
    # Staff and grid workers may see the phone of a resident of their community; in an
    # emergency they need it at once (the notice itself is audited above).
    return person.display_name, place or "-", person.phone


def _category_for(actor: Actor, community_id: int, hint: str | None):
    rows = categories.list_categories(actor, community_id)
    anonymous_only = actor.device is not None
    usable = [c for c in rows if c.allow_anonymous or not anonymous_only]
    by_code = {c.code: c for c in usable}
    # a pack names either a topic (lighting → repair) or the category code itself (repair)
    wanted = CATEGORY_CODES.get(hint or "", (hint,) if hint else ())
    if anonymous_only:
        wanted += tuple(near for code in wanted for near in NEAREST_ANONYMOUS.get(code, ()))
    for code in wanted + FALLBACK_CODES:
        if code in by_code:
            return by_code[code]
    if usable:
        return usable[0]
    raise Invalid(errors={"category_id": ["no category can take a voice report here"]})


def _when(a) -> str:
    """A short spoken "when" for an activity: its weekly window, else until when it runs."""
    from babel.dates import get_day_names
    from flask_babel import format_date, get_locale

    parts = []
    if a.window_days:
        names = get_day_names("wide", locale=str(get_locale() or "zh_CN"))
        parts.append("、".join(names[(d - 1) % 7] for d in a.window_days))
    if a.window_start and a.window_end:
        parts.append(f"{a.window_start}-{a.window_end}")
    if parts:
        return " ".join(parts)
    if a.expire_at is not None:
        return _("before %(date)s", date=format_date(a.expire_at.astimezone(local_zone()),
                                                     "long"))
    when = a.publish_at or a.published_at
    return format_date(when.astimezone(local_zone()), "long") if when else _("soon")


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

            self._redis = redis.Redis.from_url(self.url, socket_connect_timeout=2,
                                               socket_timeout=5, health_check_interval=30)
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
        self._do(lambda r: r.set(self.prefix + conversation_id, text,
                                 px=max(1, int(ttl * 1000))))

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
            id=conversation_id, owner=owner, person_id=_owner_id(owner, "person"),
            device_id=_owner_id(owner, "device"), state=data, version=1, created_at=now,
            updated_at=now, expires_at=now + timedelta(seconds=ttl))
        # (a row missing although read, e.g. its insert rolled back with a failed service call
        # in the same request, is written again)
        stmt = stmt.on_conflict_do_update(
            index_elements=[table.c.id],
            set_={"state": stmt.excluded.state, "version": table.c.version + 1,
                  "expires_at": stmt.excluded.expires_at, "updated_at": now},
            where=None if read is None else table.c.version == read,
        ).returning(table.c.version)
        version = db.session.execute(stmt).scalar()
        if version is None:
            raise voice.ConversationBusy("the conversation changed since it was read",
                                         conversation_id=conversation_id)
        state[VERSION_KEY] = version

    def delete(self, conversation_id: str) -> None:
        """Forget the conversation."""
        db.session.execute(delete(VoiceConversation).where(
            VoiceConversation.id == conversation_id))


def _owner_id(owner: str, kind: str) -> int | None:
    """The person's or screen's id in an owner string of `owner_of` ("person:5>7" → 5)."""
    prefix = f"{kind}:"
    if not owner.startswith(prefix):
        return None
    number = owner[len(prefix):].split(">", 1)[0]
    return int(number) if number.isdigit() else None


def purge_expired_conversations(now=None) -> int:
    """Delete the conversations kept in the database that have expired; returns how many.
    Flushes; the caller commits."""
    result = db.session.execute(delete(VoiceConversation).where(
        VoiceConversation.expires_at <= (now or utcnow())))
    return result.rowcount or 0


def trim_speech_cache(now=None, sweep: bool = True) -> dict:
    """The job "speech_cache": bring the speech cache within VOICE_CACHE_MAX_MB (least recently
    used first); returns how many files were deleted (0 without the voice runtime)."""
    runtime = current_app.extensions.get(EXTENSION)
    return {"speech_files": runtime.trim_cache() if runtime is not None else 0}


# --- the runtime -------------------------------------------------------------------------------

class VoiceRuntime:
    """Per app: packs and limits from the config; per process: the assistant and TTS worker."""

    def __init__(self, app: Flask) -> None:
        cfg = app.config
        self.app = app
        self.model_path: str | None = cfg.get("VOSK_MODEL_PATH") or None
        self.model_error: str | None = None
        self.preloaded: voice.ModelInfo | None = None
        specs = [s.strip() for s in str(cfg["VOICE_LANGUAGES"]).split(",") if s.strip()]
        default = cfg["VOICE_LANGUAGE"]
        if default not in specs:
            specs.insert(0, default)
        self.packs: dict[str, voice.LanguagePack] = {}
        for spec in specs:
            pack = voice.load_pack(spec)
            self.packs[pack.code] = pack
        self.default_language = voice.load_pack(default).code
        self.limits = voice.AudioLimits(max_bytes=int(cfg["VOICE_MAX_BYTES"]),
                                        max_seconds=float(cfg["VOICE_MAX_SECONDS"]))
        self.cache_dir = Path(cfg.get("VOICE_CACHE")
                              or Path(cfg["MEDIA_CACHE_FOLDER"]) / "voice")
        self.ttl = float(cfg["VOICE_CONVERSATION_SECONDS"])
        self.tts_timeout = float(cfg["VOICE_TTS_TIMEOUT"])
        self.redis_url = cfg.get("REDIS_URL") or None
        self.store_kind = cfg.get("VOICE_CONVERSATIONS") or (
            "redis" if self.redis_url else "database")
        if self.store_kind not in STORE_KINDS or (self.store_kind == "redis"
                                                  and not self.redis_url):
            raise ValueError(f"VOICE_CONVERSATIONS={self.store_kind!r}: one of "
                             f"{', '.join(STORE_KINDS)} (redis needs REDIS_URL)")
        self.store_prefix = f"{cfg.get('EVENTS_CHANNEL_PREFIX', 'linli')}:voice:conversation:"
        self._secret = str(cfg["SECRET_KEY"]).encode()
        self._metas: dict[str, dict] = {}
        self._touched: dict[str, float] = {}
        self._trim_due = 0.0
        self._lock = threading.Lock()
        self._pid: int | None = None
        self._assistant: voice.VoiceAssistant | None = None
        self._bg_pid: int | None = None
        self._bg_thread: threading.Thread | None = None
        self._bg_stop = threading.Event()
        self.background_done = threading.Event()

    # --- per process ------------------------------------------------------------------------
    def assistant(self) -> voice.VoiceAssistant:
        """This process's assistant (built on first use after a fork, never in the master)."""
        pid = os.getpid()
        found = self._assistant
        if found is not None and self._pid == pid:
            return found
        with self._lock:
            if self._assistant is None or self._pid != pid:
                dialog = voice.Dialog(AppServices(), self.packs, store=self.dialog_store(),
                                      ttl=self.ttl,
                                      default_language=self.default_language)
                tts = voice.TTSWorker(self.cache_dir / "tts", timeout=self.tts_timeout)
                self._assistant = voice.VoiceAssistant(dialog, model=self._model(), tts=tts,
                                                       limits=self.limits)
                self._pid = pid
        return self._assistant

    def dialog_store(self) -> voice.DialogStore:
        """Where conversations live (chosen here only): Redis with REDIS_URL, else the
        database, so any worker takes the next turn; memory only when VOICE_CONVERSATIONS
        says so (one process)."""
        if self.store_kind == "redis":
            return RedisDialogStore(self.redis_url, self.store_prefix)
        if self.store_kind == "memory":
            return voice.MemoryDialogStore()
        return DatabaseDialogStore()

    def _model(self) -> voice.AsrModel | None:
        if not self.model_path:
            return None
        try:
            return voice.load_model(self.model_path)  # the preloaded one: shared after fork
        except voice.ModelUnavailable as exc:
            self.model_error = exc.message
            log.error("voice: no usable model: %s", exc.message)
            return None

    @property
    def tts(self) -> voice.TTSWorker:
        """This process's TTS worker."""
        return self.assistant().tts

    def pack(self, language: str | None) -> voice.LanguagePack:
        """A loaded language pack (422 for an unknown language)."""
        code = language or self.default_language
        if code not in self.packs:
            raise Invalid(errors={"language": [", ".join(self.packs)]})
        return self.packs[code]

    # --- speech out -------------------------------------------------------------------------
    def speech_id(self, text: str, voice_id: str, rate: str) -> str:
        """The id in a speech URL: an HMAC of what is said, so URLs cannot be made up."""
        text = " ".join(text.split())
        raw = f"{voice_id}\0{rate}\0{text}".encode()
        return hmac.new(self._secret, raw, hashlib.sha256).hexdigest()[:32]

    def _sidecar(self, speech_id: str) -> Path:
        return self.cache_dir / "speech" / speech_id[:2] / f"{speech_id}.json"

    def speech_url(self, text: str, voice_id: str, rate: str) -> str:
        """The URL of `text` spoken (rendered on first request); writes its small sidecar."""
        speech_id = self.speech_id(text, voice_id, rate)
        path = self._sidecar(speech_id)
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f".{speech_id}.{uuid.uuid4().hex[:8]}.tmp")
            tmp.write_text(json.dumps({"text": " ".join(text.split()), "voice": voice_id,
                                       "rate": rate}, ensure_ascii=False), encoding="utf-8")
            os.replace(tmp, path)
        return f"/api/v1/voice/speech/{speech_id}"

    def _meta(self, speech_id: str) -> dict | None:
        meta = self._metas.get(speech_id)
        if meta is None:
            try:
                meta = json.loads(self._sidecar(speech_id).read_text(encoding="utf-8"))
            except (OSError, ValueError):
                return None
            if len(self._metas) > 4096:  # what a sidecar says never changes: a plain cache
                self._metas.clear()
            self._metas[speech_id] = meta
        return meta

    def speech(self, speech_id: str, fmt: str, caller: str | None = None) -> voice.Speech:
        """The rendered audio behind a speech URL (cached; 404 for unknown ids). Rendering
        what is not cached yet counts against `caller` (see `speech_caller`): 429 past
        VOICE_RENDER_PER_HOUR."""
        if not SPEECH_ID.fullmatch(speech_id or "") or fmt not in SPEECH_FORMATS:
            raise NotFound()
        meta = self._meta(speech_id)
        if meta is None:
            raise NotFound()
        self._touch_sidecar(speech_id)
        text = " ".join(meta["text"].split())
        if caller is not None and self.tts.lookup(text, meta["voice"], meta["rate"], fmt) is None:
            _count_rendering(caller)
        # a hit is a hash and a stat; a miss renders (WAV) or encodes (Ogg/MP3) once
        speech = self.tts.synthesize(text, meta["voice"], meta["rate"], fmt)
        if not speech.cached:
            self.trim_soon()
        return speech

    def cached_speech(self, speech_id: str, fmt: str) -> voice.Speech | None:
        """The audio behind a speech URL if it is already on disk (never renders)."""
        if fmt not in SPEECH_FORMATS:
            return None
        meta = self._meta(speech_id)
        if meta is None:
            return None
        found = self.tts.lookup(" ".join(meta["text"].split()), meta["voice"], meta["rate"], fmt)
        if found is not None:
            self._touch_sidecar(speech_id)
        return found

    def say(self, text: str, *, language: str | None = None, rate: str = "slow",
            fmt: str = "wav", caller: str | None = None) -> tuple[str, voice.Speech]:
        """Render any text (the easy pages' 朗读): returns its speech id and the audio."""
        pack = self.pack(language)
        spoken = pack.speakable(text)
        if not spoken:
            raise Invalid(errors={"text": [str(_l("Nothing to read."))]})
        speech_id = self.speech_id(spoken, pack.tts_voice, rate)
        self.speech_url(spoken, pack.tts_voice, rate)
        return speech_id, self.speech(speech_id, fmt, caller=caller)

    # --- the cache's size -------------------------------------------------------------------
    def _touch_sidecar(self, speech_id: str) -> None:
        # The sidecar is read once per process (then kept in memory): mark its use now and
        # then, so the cache's trimming sees that its URL is still wanted.
        now = time.monotonic()
        if now - self._touched.get(speech_id, -1e9) < voice.tts.TOUCH_SECONDS:
            return
        if len(self._touched) > 4096:
            self._touched.clear()
        self._touched[speech_id] = now
        voice.tts.touch(self._sidecar(speech_id))

    def _kept(self) -> set[Path]:
        """What trimming never deletes: the fixed prompts and live announcements' speech."""
        tts = self.tts
        keep: set[Path] = set()
        for pack in self.packs.values():
            for prompt in pack.prompts():
                text = " ".join(pack.speakable(prompt).split())
                for rate in PRERENDER_RATES:
                    keep.add(tts.path_for(tts.key(text, pack.tts_voice, rate, "wav"), "wav"))
        with self.app.app_context():
            urls = db.session.scalars(select(Announcement.speech_url).where(
                Announcement.status.in_(announcements.LIVE),
                Announcement.speech_url.is_not(None))).all()
            db.session.remove()
        for url in urls:
            speech_id = url.rsplit("/", 1)[-1]
            meta = self._meta(speech_id)
            if not SPEECH_ID.fullmatch(speech_id) or meta is None:
                continue
            keep.add(self._sidecar(speech_id))
            text = " ".join(meta["text"].split())
            for fmt in SPEECH_FORMATS:
                keep.add(tts.path_for(tts.key(text, meta["voice"], meta["rate"], fmt), fmt))
        return keep

    def trim_cache(self, target: float = 0.9) -> int:
        """Keep rendered speech and its sidecars within VOICE_CACHE_MAX_MB: when over, delete
        the least recently used (never the prompts or live announcements' speech) down to
        `target` of it; returns how many files went. One process of a host at a time; the
        others skip."""
        limit = int(self.app.config.get("VOICE_CACHE_MAX_MB") or 0) * 1024 * 1024
        if limit <= 0:
            return 0
        try:
            with self._file_lock("trim", timeout=0):
                deleted, left = voice.trim_cache(
                    [self.cache_dir / "tts", self.cache_dir / "speech"], limit, self._kept,
                    target)
        except TimeoutError:
            return 0
        if deleted:
            log.info("voice: speech cache trimmed: %d files deleted, %d MB left", deleted,
                     left // (1024 * 1024))
        return deleted

    def trim_soon(self) -> None:
        """After a new rendering: trim the cache, at most once a minute per process."""
        now = time.monotonic()
        if now < self._trim_due:
            return
        self._trim_due = now + 60.0
        try:
            self.trim_cache()
        except Exception:
            log.warning("voice: trimming the speech cache failed", exc_info=True)

    # --- background work (per worker) -------------------------------------------------------
    def ensure_background(self) -> None:
        """Start this worker's background thread once (prompts, announcement speech)."""
        if not self.app.config.get("VOICE_BACKGROUND"):
            return
        pid = os.getpid()
        if self._bg_pid == pid:
            return
        with self._lock:
            if self._bg_pid == pid:
                return
            self._bg_pid = pid
            self._bg_stop.clear()
            self.background_done.clear()
            self._bg_thread = threading.Thread(target=self._background, name="linli-voice",
                                               daemon=True)
            self._bg_thread.start()

    def stop_background(self) -> None:
        """Stop the background thread (tests, shutdown)."""
        self._bg_stop.set()
        thread = self._bg_thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=30)
        self._bg_thread = None
        self._bg_pid = None

    def _background(self) -> None:
        try:
            self.prerender()
        except Exception:
            log.warning("voice: pre-rendering the prompts failed", exc_info=True)
        sub = None
        subscribed: set[int] = set()
        refreshed: float | None = None
        try:
            bus = events.get_bus(self.app)
            while not self._bg_stop.is_set():
                if refreshed is None or time.monotonic() - refreshed > 300:  # new communities
                    with self.app.app_context():
                        ids = set(db.session.scalars(select(Community.id)))
                        db.session.remove()
                    refreshed = time.monotonic()
                    if ids != subscribed:
                        if sub is not None:
                            sub.close()
                        sub = bus.subscribe([feed.feed_channel(i) for i in sorted(ids)])
                        subscribed = ids
                        feed.watcher(self.app).ensure_running()
                        self._sweep(None)  # anything published while nobody listened
                    self.background_done.set()
                got = sub.get(timeout=1.0) if sub is not None else None
                if got is None:
                    continue
                community_id = (got[1] or {}).get("community_id")
                self._sweep(community_id if isinstance(community_id, int) else None)
        except Exception:
            log.exception("voice: the announcement speech thread stopped")
        finally:
            if sub is not None:
                sub.close()
            self.background_done.set()

    def _sweep(self, community_id: int | None) -> None:
        try:
            self.render_announcement_speech(community_id)
        except Exception:
            log.warning("voice: rendering announcement speech failed", exc_info=True)

    def prerender(self) -> int:
        """Render every pack's fixed prompts at every rate (WAV); returns how many exist."""
        tts = self.tts
        done = 0
        with self._file_lock("prompts"):
            for pack in self.packs.values():
                prompts = [pack.speakable(p) for p in pack.prompts()]
                done += len(tts.prerender(prompts, pack.tts_voice, PRERENDER_RATES))
        return done

    def announcement_speech(self, a) -> tuple[str, str]:
        """(text, url) of an announcement's speech, as the screens and the voice line say it."""
        pack = self.packs[self.default_language]
        _babel_context()
        with force_locale("en" if pack.code.startswith("en") else "zh_CN"):
            text = " ".join(pack.speakable(announcements.spoken_text(a)).split())
        text = text[:SPEECH_TEXT_MAX]
        return text, self.speech_url(text, pack.tts_voice, ANNOUNCEMENT_RATE)

    def render_announcement_speech(self, community_id: int | None = None) -> int:
        """Render and attach speech to live announcements whose speech is missing or stale
        (an edit clears it); returns how many were attached. Commits."""
        pack = self.packs[self.default_language]
        attached = 0
        with self.app.app_context(), self._file_lock("announcements"):
            query = select(Announcement).where(Announcement.status.in_(announcements.LIVE))
            if community_id is not None:
                query = query.where(Announcement.community_id == community_id)
            todo = []
            for a in db.session.scalars(query):
                text, url = self.announcement_speech(a)
                cached = self.tts.lookup(text, pack.tts_voice, ANNOUNCEMENT_RATE) is not None
                if a.speech_url != url or not cached:
                    todo.append((a.id, a.revision, text, url))
            # A background job (its own app context): each announcement is its own unit of
            # work, and no transaction is held while synthesizing.
            uow.rollback()
            for announcement_id, revision, text, url in todo:
                self.tts.synthesize(text, pack.tts_voice, ANNOUNCEMENT_RATE)
                if announcements.set_speech_url(announcement_id, url, revision=revision):
                    uow.commit()
                    attached += 1
                else:
                    uow.rollback()
            db.session.remove()
        return attached

    @contextmanager
    def _file_lock(self, name: str, timeout: float = 120.0) -> Iterator[None]:
        # One worker of a host renders at a time; the others then find the cache filled.
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        with open(self.cache_dir / f".{name}.lock", "a") as fh:
            deadline = time.monotonic() + timeout
            while True:
                try:
                    fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() > deadline:
                        raise TimeoutError(f"voice {name} lock") from None
                    time.sleep(0.1)  # cooperative under gevent, unlike a blocking flock
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)


def speech_caller(actor: Actor, ip: str | None) -> str | None:
    """Whom new speech renderings count against: the person or screen, else the address."""
    if actor.device is not None:
        return f"d:{actor.device.id}"
    if actor.person is not None:
        return f"p:{actor.person.id}"
    return ratelimit.address_key("ip", ip)


def _count_rendering(caller: str) -> None:
    cfg = current_app.config
    limit = cfg["VOICE_RENDER_PER_HOUR_DEVICE" if caller.startswith("d:")
                else "VOICE_RENDER_PER_HOUR"]
    if limit > 0:
        ratelimit.hit(f"speech:{caller}", limit=limit, window=timedelta(hours=1), message=_l(
            "That is a lot of new text to read aloud just now. Please wait a while and try "
            "again."))


def runtime(app: Flask | None = None) -> VoiceRuntime:
    """The app's voice runtime."""
    app = app or current_app._get_current_object()
    return app.extensions[EXTENSION]


# --- conversations (what the API and the websocket call) -------------------------------------

def _preferred_rate(actor: Actor) -> str:
    person = actor.person
    rate = getattr(person, "speech_rate", None) if person is not None else None
    return rate if rate in voice.RATES else voice.DEFAULT_RATE


def _language_for(actor: Actor, language: str | None) -> str:
    rt = runtime()
    if language:
        return rt.pack(language).code
    locale = getattr(actor.person, "locale", None) if actor.person is not None else None
    if locale and locale.startswith("en") and "en" in rt.packs:
        return "en"
    return rt.default_language


def _caller(actor: Actor, language: str) -> Caller:
    return Caller(actor, language)


def reply_view(result: voice.TurnResult) -> dict[str, Any]:
    """A turn as the API answers it (the audio URL serves WAV, Ogg/Opus or MP3)."""
    rt = runtime()
    pack = rt.packs[result.language]
    url = rt.speech_url(result.speech_text, pack.tts_voice, result.rate) \
        if result.speech_text else None
    return {
        "conversation_id": result.conversation_id, "intent": result.intent,
        "reply_text": result.reply_text, "reply_audio_url": url, "case_ref": result.case_ref,
        "transcript": result.transcript, "state": result.state, "listen": result.listen,
        "ended": result.ended, "rate": result.rate, "language": result.language,
        "fallback": result.fallback, "alerted": result.alerted,
    }


def _check_id(conversation_id: str) -> None:
    if not CONVERSATION_ID.fullmatch(conversation_id or ""):
        raise voice.ConversationNotFound("malformed conversation id")


def start_conversation(actor: Actor, *, language: str | None = None) -> voice.TurnResult:
    """Open a conversation for the caller (at their speech rate) and return the greeting; a
    resident with matters waiting for their confirmation hears how many (as easy mode's home
    shows them)."""
    authz.require_signed_in(actor)
    assistant = runtime().assistant()
    code = _language_for(actor, language)
    notice = waiting_notice(actor, code)
    result = assistant.start(_caller(actor, code), language=code, owner=owner_of(actor))
    rate = _preferred_rate(actor)
    if rate != result.rate or notice:
        reply = result.reply_text
        if notice:
            pack = runtime().packs[result.language]
            reply = f"{reply}{'' if pack.script == 'han' else ' '}{notice}"
            result = replace(result, reply_text=reply, speech_text=pack.speakable(reply))
        store = assistant.dialog.store
        state = store.get(result.conversation_id)
        if state is not None:
            state["rate"] = rate
            state["last_reply"] = reply  # "再说一遍" says the notice again
            store.put(result.conversation_id, state, assistant.dialog.ttl)
        result = replace(result, rate=rate)
    return result


def waiting_notice(actor: Actor, language: str) -> str | None:
    """"有两件事等您确认。" for a signed-in resident whose matters staff say are done and wait
    for them to confirm (the count of `easy.awaiting_confirmation`, as easy mode's home shows);
    None when there are none, for a screen, and in languages without a text for it."""
    if actor.device is not None or actor.person is None:
        return None
    if not (language.startswith("zh") or language.startswith("en")):
        return None
    try:
        count = len(easy.awaiting_confirmation(actor))
    except DomainError:  # the greeting never fails over it
        return None
    if not count:
        return None
    locale = Caller(actor, language).locale
    _babel_context()
    with force_locale(locale):
        return easy.waiting_words(count)


def conversation_for(actor: Actor, conversation_id: str | None,
                     language: str | None = None) -> tuple[str, str]:
    """(conversation id, language): the caller's own conversation (else 404), or a new one."""
    if conversation_id is None:
        started = start_conversation(actor, language=language)
        return started.conversation_id, started.language
    _check_id(conversation_id)
    state = runtime().assistant().dialog.get(conversation_id)
    if state is None or state.get("owner") != owner_of(actor):
        raise voice.ConversationNotFound("no such conversation", conversation_id=conversation_id)
    return conversation_id, state["language"]


def hear_text(actor: Actor, text: str, *, conversation_id: str | None = None,
              language: str | None = None) -> voice.TurnResult:
    """A typed (or already recognized) utterance: the same dialog as speech."""
    authz.require_signed_in(actor)
    text = clean_text(text or "", "text", max_length=500, required=False)
    cid, code = conversation_for(actor, conversation_id, language)
    return runtime().assistant().hear_text(cid, _caller(actor, code), text,
                                           owner=owner_of(actor))


def hear_audio(actor: Actor, data: bytes, *, conversation_id: str | None = None,
               language: str | None = None) -> voice.TurnResult:
    """An uploaded recording (WAV, WebM/Opus, Ogg/Opus, MP3, M4A): recognize, then answer."""
    authz.require_signed_in(actor)
    assistant = runtime().assistant()
    require_model(assistant)
    cid, code = conversation_for(actor, conversation_id, language)
    require_model(assistant, code)
    return assistant.hear_audio(cid, _caller(actor, code), data, owner=owner_of(actor))


def require_model(assistant: voice.VoiceAssistant, language: str | None = None
                  ) -> voice.AsrModel:
    """The recognizer, or ModelUnavailable (503) saying how to install one; also when the
    model does not know the conversation's language (a Korean model, a Mandarin dialog)."""
    model = assistant.model
    if model is None:
        raise voice.ModelUnavailable("no speech recognition model. " + voice.asr.INSTALL_HINT)
    if language is not None:
        grammar = assistant.grammar(language, "commands")
        if grammar is not None and not grammar.phrases:
            raise voice.ModelUnavailable(
                f"the speech model ({model.language}) does not know {language}. "
                + voice.asr.INSTALL_HINT, language=language)
    return model


def end_conversation(actor: Actor, conversation_id: str) -> None:
    """Close the caller's conversation now (the resident walked away)."""
    cid, _code = conversation_for(actor, conversation_id)
    runtime().assistant().dialog.end(cid)


def transcribe(actor: Actor, data: bytes, *, language: str | None = None) -> dict[str, Any]:
    """Dictation for a text field (open vocabulary): {text, confidence, seconds}."""
    authz.require_signed_in(actor)
    rt = runtime()
    model = require_model(rt.assistant())
    decoded = voice.decode_audio(data, rt.limits)
    result = model.recognize(decoded.pcm, None)
    text = result.text
    pack = rt.pack(_language_for(actor, language))
    if pack.script == "han":  # Vosk separates Chinese words with spaces
        text = re.sub(r"(?<=[\u3400-\u9fff]) (?=[\u3400-\u9fff])", "", text)
    return {"text": text, "confidence": round(result.confidence, 3),
            "seconds": round(decoded.duration, 2)}


def status(actor: Actor) -> dict[str, Any]:
    """What a client needs to know before showing a 按住说话 button."""
    authz.require_signed_in(actor)
    rt = runtime()
    model = rt.assistant().model
    info = model.info() if model is not None else None
    return {
        "asr": model is not None,
        "model_language": info.language if info else None,
        "grammar": bool(info and info.grammar_supported),
        "languages": list(rt.packs), "default_language": rt.default_language,
        "sample_rate": 16000, "max_seconds": rt.limits.max_seconds,
        "stream_url": "/api/v1/voice/stream",
        "hint": None if model is not None else str(ERROR_MESSAGES["asr_model_unavailable"]),
    }


# --- errors, checks, wiring ------------------------------------------------------------------

def check(app: Flask) -> dict[str, Any]:
    """`flask voice check`: the model (path, language, load time), a self-test, speech out."""
    rt = runtime(app)
    report: dict[str, Any] = {"ok": False, "model_path": rt.model_path,
                              "voice_language": rt.default_language, "model": None,
                              "self_test": None, "tts": None, "warnings": []}
    if not rt.model_path:
        report["error"] = "VOSK_MODEL_PATH is not set. " + voice.asr.INSTALL_HINT
        return report
    try:
        info = voice.model_info(rt.model_path)
    except voice.ModelUnavailable as exc:
        report["error"] = exc.message
        return report
    report["model"] = info.to_dict()
    if info.language != rt.default_language:
        report["warnings"].append(
            f"the model looks {info.language!r} but VOICE_LANGUAGE is {rt.default_language!r}")
    report["self_test"] = voice.self_test(rt.model_path)
    pack = rt.packs[rt.default_language]
    try:
        with voice.TTSWorker(rt.cache_dir / "tts", timeout=rt.tts_timeout) as tts:
            started = time.perf_counter()
            speech = tts.say(pack.reply("greeting"), pack)
            report["tts"] = {"ok": True, "voice": pack.tts_voice, "bytes": speech.size,
                             "seconds": round(time.perf_counter() - started, 3)}
    except (voice.TTSUnavailable, ValueError) as exc:
        report["tts"] = {"ok": False, "error": str(exc)}
    report["ok"] = bool(report["self_test"]["ok"] and report["tts"]["ok"])
    if not report["ok"]:
        report["error"] = report["self_test"].get("error") or report["tts"].get("error")
    return report


class _RedactToken(logging.Filter):
    """Access logs never show ?token= (the websocket's query-string credential)."""

    _pattern = re.compile(r"((?:^|[?&\s])token=)[^&\s\"']+")

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = self._pattern.sub(r"\1[redacted]", record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(self._pattern.sub(r"\1[redacted]", a) if isinstance(a, str)
                                else a for a in record.args)
        return True


def _start_worker_background() -> None:
    runtime().ensure_background()


def init_app(app: Flask) -> VoiceRuntime:
    """Build the runtime, preload the model (VOSK_MODEL_PATH only)."""
    rt = VoiceRuntime(app)
    app.extensions[EXTENSION] = rt
    if rt.model_path:
        try:
            rt.preloaded = voice.preload(rt.model_path)
            log.info("voice: model %s (%s) loaded in %.2f s", rt.model_path,
                     rt.preloaded.language, rt.preloaded.load_seconds)
        except voice.ModelUnavailable as exc:  # the rest of the service still runs
            rt.model_error = exc.message
            log.error("voice: %s", exc.message)
    # Workers start their background thread on their first request (never the master).
    app.before_request(_start_worker_background)
    for name in ("werkzeug", "gunicorn.access"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, _RedactToken) for f in logger.filters):
            logger.addFilter(_RedactToken())
    return rt
