"""The speech cache is bounded: VOICE_CACHE_MAX_MB with least-recently-used eviction that keeps
the prompts and live announcements' speech; rendering new text is limited per caller (person,
screen or address: 429 + Retry-After), while cached speech is always served."""

from __future__ import annotations

import os
import time

import pytest

from app.assistant import runtime
from app.extensions import db
from app.models.announcement import Announcement

SAY = "/api/v1/voice/speech"


@pytest.fixture()
def two_an_hour(app, monkeypatch):
    monkeypatch.setitem(app.config, "VOICE_RENDER_PER_HOUR", 2)
    monkeypatch.setitem(app.config, "VOICE_RENDER_PER_HOUR_DEVICE", 3)


def _get(client, path, **kwargs):
    return client.get(path, buffered=True, **kwargs)


def _unique(word: str) -> str:
    return f"{word} {time.time_ns() % 10_000_000}"  # never rendered before in this session


def test_reading_new_text_aloud_is_limited_per_person(client, auth, cats, two_an_hour):
    headers = auth.headers(cats.a.elder)
    first = _unique("一")
    for text in (first, _unique("二")):
        got = _get(client, SAY, query_string={"text": text}, headers=headers)
        assert got.status_code == 200
    over = _get(client, SAY, query_string={"text": _unique("三")}, headers=headers)
    assert over.status_code == 429
    assert over.get_json()["code"] == 429 and over.get_json()["message"]
    assert 3500 < int(over.headers["Retry-After"]) <= 3601
    # What is cached is still read, and someone else may render new text.
    assert _get(client, SAY, query_string={"text": first}, headers=headers).status_code == 200
    other = auth.headers(cats.a.resident)
    got = _get(client, SAY, query_string={"text": _unique("四")}, headers=other)
    assert got.status_code == 200


def test_new_speech_urls_are_limited_per_address_and_per_screen(
    client, auth, cats, app, two_an_hour
):
    rt = runtime.runtime(app)
    pack = rt.packs["zh-CN"]
    urls = [rt.speech_url(_unique(w), pack.tts_voice, "slow") for w in "五六七八九"]
    here = {"REMOTE_ADDR": "203.0.113.9"}
    assert _get(client, urls[0], environ_base=here).status_code == 200
    assert _get(client, urls[1], environ_base=here).status_code == 200
    refused = _get(client, urls[2], environ_base=here)
    assert refused.status_code == 429 and refused.headers["Retry-After"]
    assert _get(client, urls[0], environ_base=here).status_code == 200  # cached: served
    elsewhere = {"REMOTE_ADDR": "198.51.100.3"}
    assert _get(client, urls[2], environ_base=elsewhere).status_code == 200
    screen = auth.headers(device=cats.a.device)
    codes = [_get(client, u, headers=screen, environ_base=here).status_code for u in urls[3:]]
    assert codes == [200, 200]


def test_trimming_keeps_prompts_and_live_announcements(client, auth, cats, app, monkeypatch):
    rt = runtime.runtime(app)
    tts = rt.tts
    body = {"title": "停电通知", "body": f"周六上午检修线路。{time.time_ns()}"}
    response = client.post("/api/v1/announcements", headers=auth.headers(cats.a.staff), json=body)
    assert response.status_code == 201, response.get_json()
    row = db.session.get(Announcement, response.get_json()["id"])
    text, url = rt.announcement_speech(row)
    row.speech_url = url
    db.session.commit()
    long_ago = time.time() - 30 * 86400

    def fake(path, size=256 * 1024, when=long_ago):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"\0" * size)
        os.utime(path, (when, when))
        return path

    pack = rt.packs[rt.default_language]
    announcement_wav = fake(tts.path_for(tts.key(text, pack.tts_voice, runtime.ANNOUNCEMENT_RATE)))
    prompt = " ".join(pack.speakable(pack.prompts()[0]).split())
    prompt_wav = tts.path_for(tts.synthesize(prompt, pack.tts_voice, "slow").etag)
    os.utime(prompt_wav, (long_ago, long_ago))
    sidecar = rt._sidecar(url.rsplit("/", 1)[-1])
    os.utime(sidecar, (long_ago, long_ago))
    stale = [
        fake(tts.cache_dir / "ee" / f"ee{i:030d}.wav", 512 * 1024, long_ago + i) for i in range(8)
    ]
    recent = fake(tts.cache_dir / "ef" / f"ef{0:030d}.wav", when=time.time())
    used = 0
    for folder in (rt.cache_dir / "tts", rt.cache_dir / "speech"):
        for root, _dirs, files in os.walk(folder):
            used += sum(
                -(-os.path.getsize(os.path.join(root, f)) // 4096) * 4096
                for f in files
                if not f.startswith(".")
            )
    # A cap 1-2 MB below what is there (trimmed down to the cap itself here): some of the
    # stale files (4 MB) go, the oldest first, and nothing else.
    monkeypatch.setitem(app.config, "VOICE_CACHE_MAX_MB", used // (1024 * 1024) - 1)
    assert 2 <= rt.trim_cache(target=1.0) <= 4
    assert announcement_wav.exists() and sidecar.exists() and prompt_wav.exists()
    assert recent.exists()
    assert not stale[0].exists() and stale[-1].exists()
    # The announcement is still served, from the cache.
    assert _get(client, url).status_code == 200
