"""Speech out: pyttsx3 on espeak-ng, in ONE synthesizer, cached on disk.

Why one file (~650 lines): the worker, its one synthesizer process and the disk cache share one
set of invariants (serialized synthesis, complete files under final names, one cache key).

pyttsx3 keeps one espeak engine per process and is not thread-safe (parallel use crashed the
process), so all synthesis is serialized: any thread may call :class:`TTSWorker`, which queues
the job for one dispatcher thread, which hands it to one synthesizer *process*. The process is
spawned (not forked) on first use, so it never inherits espeak-ng's state: espeak-ng runs its
own background thread, which does not survive ``fork()``, so an engine initialized in the
gunicorn master would hang in every worker. A separate process also means a crash or hang of
espeak-ng costs one restart, not the web worker.

``save_to_file`` + ``runAndWait()`` may return before the WAV exists or is complete, so the
synthesizer waits until the file's RIFF header is valid and its data length matches the file
size, then moves it into the cache atomically: a file under its final name is always complete.

Output is 22 050 Hz 16-bit mono WAV; Ogg/Opus (24 kHz, 32 kb/s) and MP3 (22.05 kHz, 48 kb/s)
are encoded from it with PyAV for phones. The cache key (also the ETag) is a hash of
text + voice + rate + format, and the cache is shared by all processes.
"""

from __future__ import annotations

import hashlib
import logging
import os
import queue
import struct
import threading
import time
import uuid
import wave
from collections.abc import Callable, Iterable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import TTSUnavailable

if TYPE_CHECKING:
    from .nlu import LanguagePack

log = logging.getLogger(__name__)

#: Speaking rates in words per minute (espeak-ng's default is 175). 慢 / 中 / 快, plus the
#: "even slower" step a resident reaches by saying 说慢一点 at the slow rate.
RATES: dict[str, int] = {"slower": 110, "slow": 135, "normal": 165, "fast": 195}
RATE_ORDER: tuple[str, ...] = ("slower", "slow", "normal", "fast")
RATE_LABELS: dict[str, str] = {"slower": "很慢", "slow": "慢", "normal": "中", "fast": "快"}
DEFAULT_RATE = "slow"  # older listeners first
FORMATS: dict[str, tuple[str, str]] = {  # format -> (file extension, MIME type)
    "wav": ("wav", "audio/wav"),
    "ogg": ("ogg", "audio/ogg"),
    "mp3": ("mp3", "audio/mpeg"),
}
TTS_SAMPLE_RATE = 22_050
CACHE_VERSION = "pyttsx3-espeak-1"  # bump to invalidate every cached file
DEFAULT_TIMEOUT = 30.0


def slower_rate(rate: str) -> str:
    """The next slower rate (stays at the slowest)."""
    i = RATE_ORDER.index(rate) if rate in RATE_ORDER else RATE_ORDER.index(DEFAULT_RATE)
    return RATE_ORDER[max(0, i - 1)]


@dataclass(frozen=True)
class Speech:
    """A rendered utterance in the cache."""

    path: str
    etag: str
    mime: str
    fmt: str
    size: int
    cached: bool  # True if it was already on disk

    def to_dict(self) -> dict[str, Any]:
        """Return the speech as a JSON-ready dict."""
        return asdict(self)


@dataclass
class _Job:
    text: str
    voice: str
    wpm: int
    final: Path
    future: Future


class TTSWorker:
    """Serializes all pyttsx3 work in one synthesizer process; any thread may call it."""

    def __init__(
        self,
        cache_dir: str | os.PathLike[str],
        *,
        timeout: float = DEFAULT_TIMEOUT,
        driver: str = "espeak",
    ) -> None:
        self.cache_dir = Path(cache_dir)
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        self.timeout = timeout
        self.driver = driver
        self._queue: queue.Queue[_Job | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._pid: int | None = None
        self._lock = threading.Lock()
        self._inflight: dict[str, Future] = {}
        self._broken: str | None = None
        self._rendered = 0

    # --- public --------------------------------------------------------------------------------

    def key(self, text: str, voice: str, rate: str = DEFAULT_RATE, fmt: str = "wav") -> str:
        """The cache key / ETag of an utterance."""
        wpm = _wpm(rate)
        raw = "\0".join((CACHE_VERSION, voice, str(wpm), fmt, text))
        return hashlib.sha256(raw.encode("utf-8")).hexdigest()[:32]

    def path_for(self, etag: str, fmt: str = "wav") -> Path:
        """Where the cached file of ``etag`` lives."""
        return self.cache_dir / etag[:2] / f"{etag}.{FORMATS[fmt][0]}"

    def lookup(
        self, text: str, voice: str, rate: str = DEFAULT_RATE, fmt: str = "wav"
    ) -> Speech | None:
        """The cached speech, or None; never synthesizes (cheap: a hash and a stat)."""
        _check_fmt(fmt)
        etag = self.key(text, voice, rate, fmt)
        path = self.path_for(etag, fmt)
        try:
            st = path.stat()
        except OSError:
            return None
        touch(path, st)
        return Speech(str(path), etag, FORMATS[fmt][1], fmt, st.st_size, True)

    def synthesize(
        self,
        text: str,
        voice: str,
        rate: str = DEFAULT_RATE,
        fmt: str = "wav",
        *,
        timeout: float | None = None,
    ) -> Speech:
        """Render ``text`` with ``voice`` at ``rate`` as ``fmt`` (wav/ogg/mp3), cached.

        Safe to call from any number of threads; identical concurrent requests share one
        rendering. Raises TTSUnavailable if espeak-ng/pyttsx3 fail or time out.
        """
        text = " ".join((text or "").split())
        if not text:
            raise ValueError("nothing to say: empty text")
        hit = self.lookup(text, voice, rate, fmt)
        if hit is not None:
            return hit
        timeout = self.timeout if timeout is None else timeout
        deadline = time.monotonic() + timeout
        if fmt == "wav":
            path = self._render_wav(text, voice, rate, deadline)
        else:
            path = self._render_compressed(text, voice, rate, fmt, deadline)
        etag = self.key(text, voice, rate, fmt)
        return Speech(str(path), etag, FORMATS[fmt][1], fmt, path.stat().st_size, False)

    def say(
        self, text: str, pack: LanguagePack, rate: str = DEFAULT_RATE, fmt: str = "wav"
    ) -> Speech:
        """Render a reply in a language pack's voice (numbers read the pack's way)."""
        return self.synthesize(pack.speakable(text), pack.tts_voice, rate, fmt)

    def speak_reference(
        self, reference: str, pack: LanguagePack, rate: str = DEFAULT_RATE, fmt: str = "wav"
    ) -> Speech:
        """Render a case reference digit by digit (二零二六，杠，零零零一二三)."""
        return self.synthesize(pack.speak_reference(reference), pack.tts_voice, rate, fmt)

    def prerender(
        self,
        prompts: Iterable[str],
        voice: str,
        rates: Iterable[str] = (DEFAULT_RATE,),
        fmts: Iterable[str] = ("wav",),
    ) -> list[Speech]:
        """Render fixed prompts ahead of time (start-up); returns what is now cached."""
        out = []
        rates, fmts = list(rates), list(fmts)
        for text in prompts:
            for rate in rates:
                for fmt in fmts:
                    out.append(self.synthesize(text, voice, rate, fmt))
        return out

    def health(self) -> dict[str, Any]:
        """State of the worker for health checks."""
        alive = bool(self._thread and self._thread.is_alive() and self._pid == os.getpid())
        return {
            "running": alive,
            "broken": self._broken,
            "queued": self._queue.qsize(),
            "rendered": self._rendered,
            "cache_dir": str(self.cache_dir),
        }

    def close(self, timeout: float = 5.0) -> None:
        """Stop the worker thread after the queued jobs."""
        thread = self._thread
        if thread and thread.is_alive() and self._pid == os.getpid():
            self._queue.put(None)
            thread.join(timeout)
        self._thread = None

    def __enter__(self) -> TTSWorker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- rendering -----------------------------------------------------------------------------

    def _render_wav(self, text: str, voice: str, rate: str, deadline: float) -> Path:
        etag = self.key(text, voice, rate, "wav")
        final = self.path_for(etag, "wav")

        def submit() -> Future:
            self._ensure_thread()
            fut: Future = Future()
            self._queue.put(_Job(text, voice, _wpm(rate), final, fut))
            return fut

        self._wait(self._shared(etag, submit), deadline, text)
        return final

    def _render_compressed(
        self, text: str, voice: str, rate: str, fmt: str, deadline: float
    ) -> Path:
        etag = self.key(text, voice, rate, fmt)
        final = self.path_for(etag, fmt)

        def submit() -> Future:
            fut: Future = Future()
            try:
                wav = self._render_wav(text, voice, rate, deadline)
                _encode_file(wav, final, fmt)
                fut.set_result(final)
            except BaseException as exc:
                fut.set_exception(exc)
            return fut

        self._wait(self._shared(etag, submit), deadline, text)
        return final

    def _shared(self, etag: str, submit: Any) -> Future:
        """One rendering per key: later callers wait on the first caller's future."""
        with self._lock:
            fut = self._inflight.get(etag)
            if fut is not None:
                return fut
            fut = Future()
            self._inflight[etag] = fut
        try:
            inner = submit()
            inner.add_done_callback(lambda f: _chain(f, fut))
        except BaseException as exc:
            fut.set_exception(exc)
        fut.add_done_callback(lambda _: self._forget(etag))
        return fut

    def _forget(self, etag: str) -> None:
        with self._lock:
            self._inflight.pop(etag, None)

    def _wait(self, fut: Future, deadline: float, text: str) -> None:
        try:
            fut.result(timeout=max(0.0, deadline - time.monotonic()))
        except FutureTimeout as exc:
            raise TTSUnavailable(
                "speech synthesis timed out", text=text[:40], timeout=self.timeout
            ) from exc
        except TTSUnavailable:
            raise
        except ValueError:
            raise
        except Exception as exc:
            raise TTSUnavailable(f"speech synthesis failed: {exc}") from exc

    def _ensure_thread(self) -> None:
        if self._broken:
            raise TTSUnavailable(f"speech synthesis is unavailable: {self._broken}")
        with self._lock:
            pid = os.getpid()
            if self._thread is not None and self._thread.is_alive() and self._pid == pid:
                return
            if self._pid is not None and self._pid != pid:
                self._queue = queue.Queue()  # a forked copy: the parent's thread is gone
                self._inflight = {}
            self._pid = pid
            self._thread = threading.Thread(target=self._run, name="voice-tts", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        """Dispatcher thread: hands jobs one at a time to the synthesizer process."""
        proc: Any = None
        conn: Any = None
        while True:
            job = self._queue.get()
            if job is None:
                break
            if not job.future.set_running_or_notify_cancel():
                continue
            try:
                if proc is None or not proc.is_alive():
                    proc, conn = self._spawn()
                conn.send((job.text, job.voice, job.wpm, str(job.final), self.timeout))
                if not conn.poll(self.timeout + 5):
                    proc.kill()
                    proc = None
                    raise TTSUnavailable("the synthesizer process stopped answering; restarted")
                status, payload = conn.recv()
                if status != "ok":
                    raise TTSUnavailable(payload, voice=job.voice)
                self._rendered += 1
                job.future.set_result(job.final)
            except (EOFError, OSError) as exc:
                proc = None
                job.future.set_exception(
                    TTSUnavailable(f"the synthesizer process died: {exc!r}; restarting")
                )
            except Exception as exc:
                log.warning("speech synthesis failed for %r: %s", job.text[:40], exc)
                job.future.set_exception(
                    exc
                    if isinstance(exc, TTSUnavailable)
                    else TTSUnavailable(f"speech synthesis failed: {exc}", voice=job.voice)
                )
                if self._broken:
                    self._fail_queue()
        if proc is not None and proc.is_alive():
            try:
                conn.send(None)
                proc.join(5)
            except (OSError, EOFError):
                pass
            if proc.is_alive():
                proc.kill()

    def _fail_queue(self) -> None:
        """The synthesizer cannot start: every job still waiting is told so now, not at its
        deadline as a time-out. A pending `close()` (None) is kept for the loop to see."""
        while True:
            try:
                job = self._queue.get_nowait()
            except queue.Empty:
                return
            if job is None:
                self._queue.put(None)
                return
            if job.future.set_running_or_notify_cancel():
                job.future.set_exception(
                    TTSUnavailable(f"speech synthesis is unavailable: {self._broken}")
                )

    def _spawn(self) -> tuple[Any, Any]:
        """Start a fresh synthesizer process (spawned, so no espeak state is inherited)."""
        import multiprocessing

        ctx = multiprocessing.get_context("spawn")
        ours, theirs = ctx.Pipe()
        # Under gevent's monkey-patching the pipe is a patched socketpair with non-blocking
        # ends; the (unpatched) synthesizer then got EAGAIN from recv() and exited between jobs.
        # Blocking ends are right for both: the parent only reads after poll() said readable.
        for end in (ours, theirs):
            os.set_blocking(end.fileno(), True)
        proc = ctx.Process(target=_serve, args=(theirs, self.driver), name="voice-tts", daemon=True)
        proc.start()
        theirs.close()
        if not ours.poll(60):
            proc.kill()
            raise TTSUnavailable("the synthesizer process did not start in 60 s")
        status, payload = ours.recv()
        if status != "ready":
            proc.join(5)
            self._broken = payload
            log.error("pyttsx3/espeak-ng cannot start: %s", payload)
            raise TTSUnavailable(f"speech synthesis is unavailable: {payload}")
        return proc, ours


class _Engine:
    """The one pyttsx3 engine of the synthesizer process.

    pyttsx3 2.99's espeak driver is racy: ``runAndWait()`` returns as soon as espeak-ng has
    *queued* the text; the WAV is written later from espeak's own thread, which also pumps
    pyttsx3's command queue. Starting the next job early loses or mixes audio, and a rate set
    just before ``save_to_file`` may apply to the utterance after. So each job: set voice and
    rate and wait until espeak reports the rate; synthesize; wait for pyttsx3's
    ``finished-utterance`` and for its proxy to go idle; then wait for the file to be complete.
    """

    ATTEMPTS = 3

    def __init__(self, driver: str) -> None:
        import pyttsx3

        self.engine = pyttsx3.init(driver)
        self.voices = {v.id for v in self.engine.getProperty("voices")}
        self.finished = threading.Event()
        self.engine.connect("finished-utterance", lambda name, completed: self.finished.set())
        self._get_rate = None
        try:  # pyttsx3 prints "Audio saved to …" for every file: send that to the log instead
            from pyttsx3.drivers import _espeak
            from pyttsx3.drivers import espeak as espeak_driver

            espeak_driver.print = lambda *a, **k: log.debug(" ".join(map(str, a)))
            self._get_rate = lambda: _espeak.dll.espeak_GetParameter(_espeak.RATE, 1)
        except Exception:  # not the espeak driver: nothing to silence or poll
            pass
        # the first runAndWait() leaves pyttsx3's proxy idle; until then setProperty is deferred
        import tempfile

        with tempfile.TemporaryDirectory(prefix="voice-tts-") as tmp:
            self.engine.save_to_file(".", os.path.join(tmp, "warm.wav"))
            self.engine.runAndWait()
            self.finished.wait(2.0)
            self._idle(2.0)

    def render(self, text: str, voice: str, wpm: int, final: Path, timeout: float) -> None:
        """Synthesize ``text`` into ``final`` (atomically), retrying pyttsx3's lost jobs."""
        deadline = time.monotonic() + timeout
        final.parent.mkdir(parents=True, exist_ok=True)
        problem = "no attempt"
        for _attempt in range(self.ATTEMPTS):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            tmp = final.with_name(f".{final.stem}.{uuid.uuid4().hex[:8]}.tmp.wav")
            try:
                if voice not in self.voices:
                    raise TTSUnavailable(f"voice {voice!r} is not available")
                self.engine.setProperty("voice", voice)
                self.engine.setProperty("rate", wpm)
                self._rate_applied(wpm, min(1.0, remaining))
                self.finished.clear()
                self.engine.save_to_file(text, str(tmp))
                self.engine.runAndWait()
                budget = min(remaining, 3.0 + 0.05 * len(text))
                if not self.finished.wait(budget):
                    problem = "espeak-ng never finished the utterance"
                    continue
                self._idle(1.0)
                _wait_for_wav(tmp, min(1.0, max(0.05, deadline - time.monotonic())))
                _check_wav(tmp)
                os.replace(tmp, final)
                return
            except TTSUnavailable as exc:
                if "not available" in exc.message:
                    raise
                problem = exc.message
            finally:
                if tmp.exists():
                    tmp.unlink()
        raise TTSUnavailable(f"speech synthesis failed: {problem}", voice=voice)

    def _rate_applied(self, wpm: int, timeout: float) -> None:
        if self._get_rate is None:
            return
        end = time.monotonic() + timeout
        while self._get_rate() != wpm and time.monotonic() < end:
            time.sleep(0.001)

    def _idle(self, timeout: float) -> None:
        end = time.monotonic() + timeout
        while self.engine.proxy.isBusy() and time.monotonic() < end:
            time.sleep(0.001)
        time.sleep(0.002)  # let espeak's callback return before the next job touches pyttsx3


def _serve(conn: Any, driver: str) -> None:
    """Body of the synthesizer process: one pyttsx3 engine, one job at a time."""
    try:
        engine = _Engine(driver)
    except Exception as exc:
        conn.send(("broken", f"{type(exc).__name__}: {exc}"))
        return
    conn.send(("ready", None))
    while True:
        try:
            job = conn.recv()
        except (EOFError, OSError):
            return
        if job is None:
            return
        text, voice, wpm, final, timeout = job
        try:
            engine.render(text, voice, wpm, Path(final), timeout)
            conn.send(("ok", final))
        except Exception as exc:
            message = exc.message if isinstance(exc, TTSUnavailable) else str(exc)
            conn.send(("error", message))


def _chain(src: Future, dst: Future) -> None:
    if dst.done():
        return
    exc = src.exception()
    if exc is not None:
        dst.set_exception(exc)
    else:
        dst.set_result(src.result())


TOUCH_SECONDS = 60.0
BLOCK = 4096


def touch(path: str | os.PathLike[str], st: os.stat_result | None = None) -> None:
    """Mark a cached file as just used (its access time, which `trim_cache` evicts by): at most
    once a minute per file, so a cache hit stays a hash and a stat."""
    try:
        st = st or os.stat(path)
        now = time.time()
        if now - st.st_atime > TOUCH_SECONDS:
            os.utime(path, (now, st.st_mtime))
    except OSError:
        pass


def trim_cache(
    dirs: Iterable[str | os.PathLike[str]],
    max_bytes: int,
    keep: Iterable[str | os.PathLike[str]] | Callable[[], Iterable[Any]] = (),
    target: float = 0.9,
) -> tuple[int, int]:
    """Bound a cache: when the files under ``dirs`` take more than ``max_bytes`` (counted in
    4 KiB blocks, as the disk holds them), delete the least recently used (last access, see
    `touch`) until they take ``target`` of it. Files in ``keep`` (or what it returns, called
    only when over) stay, and so do temporary and lock files (names starting with a dot).
    Returns (files deleted, bytes left)."""
    entries: list[tuple[float, int, str]] = []
    total = 0
    for top in dirs:
        for root, _dirs, files in os.walk(top):
            for name in files:
                if name.startswith("."):
                    continue
                path = os.path.join(root, name)
                try:
                    st = os.stat(path)
                except OSError:
                    continue
                size = -(-st.st_size // BLOCK) * BLOCK
                total += size
                entries.append((max(st.st_atime, st.st_mtime), size, path))
    if total <= max_bytes:
        return 0, total
    kept = {os.fspath(p) for p in (keep() if callable(keep) else keep)}
    entries = sorted(e for e in entries if e[2] not in kept)
    goal = int(max_bytes * target)
    deleted = 0
    for _used, size, path in entries:
        if total <= goal:
            break
        try:
            os.unlink(path)
        except OSError:
            continue
        total -= size
        deleted += 1
    return deleted, total


def _wpm(rate: str) -> int:
    try:
        return RATES[rate]
    except KeyError:
        raise ValueError(f"unknown rate {rate!r}; use one of {list(RATES)}") from None


def _check_fmt(fmt: str) -> None:
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; use one of {list(FORMATS)}")


def wav_complete(path: str | os.PathLike[str]) -> bool:
    """True if the file is a RIFF/WAVE whose data chunk is fully written."""
    try:
        with open(path, "rb") as f:
            head = f.read(4096)
            size = os.fstat(f.fileno()).st_size
    except OSError:
        return False
    if len(head) < 44 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
        return False
    riff_len = struct.unpack_from("<I", head, 4)[0]
    if riff_len + 8 != size:
        return False
    pos = 12
    while pos + 8 <= len(head):
        cid, clen = head[pos : pos + 4], struct.unpack_from("<I", head, pos + 4)[0]
        if cid == b"data":
            return clen > 0 and pos + 8 + clen <= size
        pos += 8 + clen + (clen & 1)
    return False


def _wait_for_wav(path: Path, timeout: float) -> None:
    """Wait until the WAV exists, is complete and its size has stopped changing."""
    deadline = time.monotonic() + timeout
    last = -1
    while time.monotonic() < deadline:
        try:
            size = path.stat().st_size
        except OSError:
            size = -1
        if size > 44 and size == last and wav_complete(path):
            return
        last = size
        time.sleep(0.005)
    raise TTSUnavailable("the synthesizer did not produce a complete WAV file in time")


def _check_wav(path: Path) -> None:
    with wave.open(str(path), "rb") as w:
        ok = w.getnchannels() == 1 and w.getsampwidth() == 2 and w.getnframes() > 0
        if not ok:
            raise TTSUnavailable(
                "unexpected synthesizer output",
                channels=w.getnchannels(),
                width=w.getsampwidth(),
                frames=w.getnframes(),
            )


def _encode_file(wav_path: Path, final: Path, fmt: str) -> None:
    from .audio import encode_pcm

    with wave.open(str(wav_path), "rb") as w:
        pcm = w.readframes(w.getnframes())
        rate = w.getframerate()
    data = encode_pcm(pcm, rate, fmt)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = final.with_name(f".{final.stem}.{uuid.uuid4().hex[:8]}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, final)
