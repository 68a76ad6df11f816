"""The production path: gunicorn with gevent workers (monkey-patched), the model preloaded in
the master, conversations in Redis shared by two workers, the WebSocket, pyttsx3 replies in
each worker, announcement speech from the event bus, and no token in the access log."""

from __future__ import annotations

import json
import time
import urllib.request

import pytest
from websockets.sync.client import connect

from tests.voice_app.conftest import assert_real_speech, pcm_of
from voice.audio import iter_frames

pytestmark = pytest.mark.slow


def call(server, path, *, token=None, body=None, method=None):
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        server.url + path, data=data, headers=headers, method=method or ("POST" if data else "GET")
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        raw = response.read()
        kind = response.headers.get("Content-Type", "")
        return response.status, (json.loads(raw) if kind.startswith("application/json") else raw)


def test_websocket_stream_under_gevent(gunicorn, say):
    token = gunicorn.summary["kiosk_token"]
    host = gunicorn.url.removeprefix("http://")
    with connect(f"ws://{host}/api/v1/voice/stream?token={token}", open_timeout=20) as ws:
        ws.send(json.dumps({"type": "start", "language": "ko"}))
        ready = json.loads(ws.recv(timeout=30))
        assert ready["type"] == "ready", ready
        # (a Korean reply: the demo's Chinese announcements would be spelled out by the
        # Korean voice for minutes)
        for frame in iter_frames(pcm_of(say("도움말")), 20):
            ws.send(frame)
        ws.send(json.dumps({"type": "end"}))
        seen = []
        while not seen or seen[-1]["type"] not in ("reply", "error"):
            seen.append(json.loads(ws.recv(timeout=60)))
    kinds = [m["type"] for m in seen]
    assert "partial" in kinds and "final" in kinds and kinds[-1] == "reply", seen
    reply = seen[-1]
    assert reply["intent"] == "help"
    status, audio = call(gunicorn, reply["reply_audio_url"])
    assert status == 200
    assert_real_speech(audio)  # pyttsx3's process, spawned from a gevent worker
    time.sleep(1.0)  # an access line of the socket would be written when it closes
    assert token not in gunicorn.access_log.read_text()
    assert token not in (gunicorn.workdir / "server.log").read_text()


def test_one_conversation_across_workers_through_redis(gunicorn):
    import redis

    token = gunicorn.token("resident", 1)
    _s, first = call(
        gunicorn,
        "/api/v1/voice/text",
        token=token,
        body={"text": "联系居委会", "language": "zh-CN"},
    )
    cid = first["conversation_id"]
    for text in ["再说一遍", "听公告", "说慢一点", "最近有什么活动", "再说一遍"] * 3:
        status, reply = call(
            gunicorn, "/api/v1/voice/text", token=token, body={"text": text, "conversation_id": cid}
        )
        assert status == 200 and reply["conversation_id"] == cid
    assert reply["rate"] == "slower"
    keys = list(
        redis.Redis.from_url(gunicorn.env["REDIS_URL"]).scan_iter(
            f"{gunicorn.prefix}:voice:conversation:*"
        )
    )
    assert keys


def test_published_announcement_gets_speech_on_the_screens(gunicorn):
    staff = gunicorn.token("committee_staff")
    _s, item = call(
        gunicorn,
        "/api/v1/announcements",
        token=staff,
        body={"title": "明天停电", "body": "明天上午九点到十一点停电。"},
    )
    kiosk = gunicorn.summary["kiosk_token"]
    deadline = time.monotonic() + 90
    url = None
    while time.monotonic() < deadline and not url:
        _s, snap = call(gunicorn, "/kiosk/snapshot", token=kiosk)
        url = next((i["speech_url"] for i in snap["items"] if i["id"] == item["id"]), None)
        if not url:
            time.sleep(0.5)
    assert url and url.startswith("/api/v1/voice/speech/")
    status, audio = call(gunicorn, url)
    assert status == 200
    assert_real_speech(audio)


def test_a_long_recording_does_not_hold_up_its_worker(tmp_path_factory, say):
    # Decoding and recognizing a recording are long C calls. In a gevent worker they ran on
    # its event loop: for seconds, nothing else on that worker (a lobby screen's stream, an
    # urgent alert, /healthz) was answered. They run in the hub's threads now (offload.off_loop).
    import threading

    from tests.voice_app.conftest import Gunicorn

    server = Gunicorn(tmp_path_factory.mktemp("voice-one-worker"), workers=1, redis=False)
    server.prepare()
    server.start()
    try:
        token = server.token("resident")
        # About 20 s of speech, written down with open vocabulary (dictation): seconds of work.
        recording = say("공지 사항 도움말 다시 말해 주세요 " * 12)
        finished = {}

        def upload():
            request = urllib.request.Request(
                server.url + "/api/v1/voice/transcriptions?language=ko",
                data=recording,
                headers={"Authorization": f"Bearer {token}", "Content-Type": "audio/wav"},
                method="POST",
            )
            started = time.monotonic()
            with urllib.request.urlopen(request, timeout=120) as response:
                assert response.status == 200
                response.read()
            finished["seconds"] = time.monotonic() - started

        uploading = threading.Thread(target=upload)
        uploading.start()
        answered = [time.monotonic()]
        while uploading.is_alive():
            with urllib.request.urlopen(server.url + "/healthz", timeout=120) as response:
                response.read()
            answered.append(time.monotonic())
            time.sleep(0.02)
        uploading.join()
        took = finished["seconds"]
        assert took > 1.5, f"the recording took only {took:.2f} s: too short to tell"
        longest_wait = max(b - a for a, b in zip(answered, answered[1:], strict=False))
        assert longest_wait < took / 3, (longest_wait, took)
    finally:
        server.stop()
