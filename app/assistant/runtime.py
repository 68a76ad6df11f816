"""The voice assistant's runtime in the app: the bridge between the voice library and the
services, speech out, background rendering, and the wiring (`init_app`, `check`).

- One `VoiceRuntime` per app (app.extensions["linli_voice"]). The Vosk model is preloaded in
  `init_app` when VOSK_MODEL_PATH is set — under gunicorn (preload_app) that is the master, so
  the forked workers share its pages. Everything with threads or child processes (the TTS
  worker, the Redis client, the dialog) is built lazily in each worker, never in the master.
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
from datetime import timedelta
from pathlib import Path
from typing import Any

from flask import Flask, current_app
from flask_babel import force_locale
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

import voice
from app.assistant.services import AppServices, _babel_context
from app.assistant.stores import DatabaseDialogStore, RedisDialogStore
from app.extensions import db
from app.infra import events, offload, ratelimit, uow
from app.infra.errors import Invalid, NotFound
from app.models import Community
from app.models.announcement import Announcement
from app.notices import announcements
from app.notices import common as notices
from app.people.actors import Actor
from app.screens import feed

log = logging.getLogger("linli.voice")

EXTENSION = "linli_voice"
SPEECH_FORMATS = {"wav": "audio/wav", "ogg": "audio/ogg", "mp3": "audio/mpeg"}
SPEECH_ID = re.compile(r"^[0-9a-f]{32}$")
PRERENDER_RATES = ("slower", "slow", "normal", "fast")
ANNOUNCEMENT_RATE = "slow"
SPEECH_TEXT_MAX = 2000
STORE_KINDS = ("redis", "database", "memory")  # VOICE_CONVERSATIONS


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
        self.limits = voice.AudioLimits(
            max_bytes=int(cfg["VOICE_MAX_BYTES"]), max_seconds=float(cfg["VOICE_MAX_SECONDS"])
        )
        self.cache_dir = Path(cfg.get("VOICE_CACHE") or Path(cfg["MEDIA_CACHE_FOLDER"]) / "voice")
        self.ttl = float(cfg["VOICE_CONVERSATION_SECONDS"])
        self.tts_timeout = float(cfg["VOICE_TTS_TIMEOUT"])
        self.redis_url = cfg.get("REDIS_URL") or None
        self.store_kind = cfg.get("VOICE_CONVERSATIONS") or (
            "redis" if self.redis_url else "database"
        )
        if self.store_kind not in STORE_KINDS or (
            self.store_kind == "redis" and not self.redis_url
        ):
            raise ValueError(
                f"VOICE_CONVERSATIONS={self.store_kind!r}: one of "
                f"{', '.join(STORE_KINDS)} (redis needs REDIS_URL)"
            )
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
                dialog = voice.Dialog(
                    AppServices(),
                    self.packs,
                    store=self.dialog_store(),
                    ttl=self.ttl,
                    default_language=self.default_language,
                )
                tts = voice.TTSWorker(self.cache_dir / "tts", timeout=self.tts_timeout)
                self._assistant = voice.VoiceAssistant(
                    dialog,
                    model=self._model(),
                    tts=tts,
                    limits=self.limits,
                    run_blocking=offload.off_loop,
                )
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
            tmp.write_text(
                json.dumps(
                    {"text": " ".join(text.split()), "voice": voice_id, "rate": rate},
                    ensure_ascii=False,
                ),
                encoding="utf-8",
            )
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

    def say(
        self,
        text: str,
        *,
        language: str | None = None,
        rate: str = "slow",
        fmt: str = "wav",
        caller: str | None = None,
    ) -> tuple[str, voice.Speech]:
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
            urls = db.session.scalars(
                select(Announcement.speech_url).where(
                    Announcement.status.in_(notices.LIVE), Announcement.speech_url.is_not(None)
                )
            ).all()
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
                    [self.cache_dir / "tts", self.cache_dir / "speech"], limit, self._kept, target
                )
        except TimeoutError:
            return 0
        if deleted:
            log.info(
                "voice: speech cache trimmed: %d files deleted, %d MB left",
                deleted,
                left // (1024 * 1024),
            )
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
            self._bg_thread = threading.Thread(
                target=self._background, name="linli-voice", daemon=True
            )
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
            text = " ".join(pack.speakable(notices.spoken_text(a)).split())
        text = text[:SPEECH_TEXT_MAX]
        return text, self.speech_url(text, pack.tts_voice, ANNOUNCEMENT_RATE)

    def render_announcement_speech(self, community_id: int | None = None) -> int:
        """Render and attach speech to live announcements whose speech is missing or stale
        (an edit clears it); returns how many were attached. Commits."""
        pack = self.packs[self.default_language]
        attached = 0
        with self.app.app_context(), self._file_lock("announcements"):
            query = select(Announcement).where(Announcement.status.in_(notices.LIVE))
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
    limit = cfg[
        "VOICE_RENDER_PER_HOUR_DEVICE" if caller.startswith("d:") else "VOICE_RENDER_PER_HOUR"
    ]
    if limit > 0:
        ratelimit.hit(
            f"speech:{caller}",
            limit=limit,
            window=timedelta(hours=1),
            message=_l(
                "That is a lot of new text to read aloud just now. Please wait a while and try "
                "again."
            ),
        )


def runtime(app: Flask | None = None) -> VoiceRuntime:
    """The app's voice runtime."""
    app = app or current_app._get_current_object()
    return app.extensions[EXTENSION]


# --- errors, checks, wiring ------------------------------------------------------------------


def check(app: Flask) -> dict[str, Any]:
    """`flask voice check`: the model (path, language, load time), a self-test, speech out."""
    rt = runtime(app)
    report: dict[str, Any] = {
        "ok": False,
        "model_path": rt.model_path,
        "voice_language": rt.default_language,
        "model": None,
        "self_test": None,
        "tts": None,
        "warnings": [],
    }
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
            f"the model looks {info.language!r} but VOICE_LANGUAGE is {rt.default_language!r}"
        )
    report["self_test"] = voice.self_test(rt.model_path)
    pack = rt.packs[rt.default_language]
    try:
        with voice.TTSWorker(rt.cache_dir / "tts", timeout=rt.tts_timeout) as tts:
            started = time.perf_counter()
            speech = tts.say(pack.reply("greeting"), pack)
            report["tts"] = {
                "ok": True,
                "voice": pack.tts_voice,
                "bytes": speech.size,
                "seconds": round(time.perf_counter() - started, 3),
            }
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
            record.args = tuple(
                self._pattern.sub(r"\1[redacted]", a) if isinstance(a, str) else a
                for a in record.args
            )
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
            log.info(
                "voice: model %s (%s) loaded in %.2f s",
                rt.model_path,
                rt.preloaded.language,
                rt.preloaded.load_seconds,
            )
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
