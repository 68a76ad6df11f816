"""Speech out: WAV for screens, Ogg/Opus or MP3 for phones (Accept or ?format=), ETag and 304,
text read aloud for the easy pages, and announcement speech rendered when published."""

from __future__ import annotations

import json
import time

import pytest
from sqlalchemy import select

from app.assistant import runtime
from app.models.announcement import Announcement
from tests.voice_app.conftest import assert_real_speech


def greeting(client, headers):
    response = client.post("/api/v1/voice/conversations", json={}, headers=headers)
    assert response.status_code == 201
    return response.get_json()


def test_reply_audio_formats_etags_and_304(client, auth, cats):
    url = greeting(client, auth.headers(cats.a.resident))["reply_audio_url"]
    wav = client.get(url, buffered=True)
    assert wav.status_code == 200 and wav.mimetype == "audio/wav"
    assert_real_speech(wav.data)
    assert wav.headers["ETag"] and "Accept" in wav.headers["Vary"]
    assert "immutable" in wav.headers["Cache-Control"]
    again = client.get(url, headers={"If-None-Match": wav.headers["ETag"]}, buffered=True)
    assert again.status_code == 304 and again.data == b""
    ogg = client.get(url, query_string={"format": "ogg"}, buffered=True)
    assert ogg.mimetype == "audio/ogg" and ogg.data[:4] == b"OggS"
    mp3 = client.get(url, headers={"Accept": "audio/mpeg"}, buffered=True)
    assert mp3.mimetype == "audio/mpeg"
    assert mp3.data[:3] == b"ID3" or (mp3.data[0] == 0xFF and mp3.data[1] & 0xE0 == 0xE0)
    assert len({wav.headers["ETag"], ogg.headers["ETag"], mp3.headers["ETag"]}) == 3
    assert (
        client.get(
            url,
            headers={"If-None-Match": ogg.headers["ETag"]},
            query_string={"format": "ogg"},
            buffered=True,
        ).status_code
        == 304
    )
    # the phone formats are a fraction of the WAV
    assert len(ogg.data) < len(wav.data) / 4 and len(mp3.data) < len(wav.data) / 4
    missing = client.get("/api/v1/voice/speech/" + "0" * 32)
    assert missing.status_code == 404 and missing.get_json()["code"] == 404
    assert client.get("/api/v1/voice/speech/not-an-id").status_code == 404
    assert client.get(url, query_string={"format": "flac"}).status_code == 422


def test_reading_text_aloud_for_the_easy_pages(client, auth, cats, app):
    headers = auth.headers(cats.a.elder)
    assert client.get("/api/v1/voice/speech", query_string={"text": "您好"}).status_code == 401
    slow = client.get(
        "/api/v1/voice/speech",
        query_string={"text": "社区电话 010-12345678"},
        headers=headers,
        buffered=True,
    )
    assert slow.status_code == 200 and slow.mimetype == "audio/wav"
    assert_real_speech(slow.data)
    assert slow.headers["Cache-Control"].startswith("private")
    fast = client.get(
        "/api/v1/voice/speech",
        headers=headers,
        buffered=True,
        query_string={"text": "社区电话 010-12345678", "rate": "fast", "format": "mp3"},
    )
    assert fast.status_code == 200 and fast.mimetype == "audio/mpeg"
    said = runtime.runtime(app).packs["zh-CN"].speakable("社区电话 010-12345678")
    assert "零一零" in said and "一二三四五六七八" in said  # digit by digit
    assert (
        client.get(
            "/api/v1/voice/speech", query_string={"text": "x", "rate": "warp"}, headers=headers
        ).status_code
        == 422
    )


def post(client, auth, staff, **body):
    body.setdefault("title", "停水通知")
    body.setdefault("body", "明天上午九点到十二点停水。\n\n请提前储水。")
    response = client.post("/api/v1/announcements", json=body, headers=auth.headers(staff))
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def test_announcement_speech_is_rendered_and_served_to_the_screens(client, auth, cats, app, db):
    a = cats.a
    item = post(client, auth, a.staff, priority="urgent")
    rt = runtime.runtime(app)
    assert rt.render_announcement_speech() == 1
    db.session.expire_all()
    row = db.session.get(Announcement, item["id"])
    first_url = row.speech_url
    assert first_url.startswith("/api/v1/voice/speech/")
    speech_id = row.speech_url.rsplit("/", 1)[-1]
    said = json.loads(rt._sidecar(speech_id).read_text(encoding="utf-8"))["text"]
    assert "停水通知" in said and "储水" in said and said.startswith("紧急通知")
    # the lobby screen's snapshot points at it, and the screen can play it (WAV)
    snap = client.get("/kiosk/snapshot", headers=auth.headers(device=a.device)).get_json()
    (shown,) = [i for i in snap["items"] if i["id"] == item["id"]]
    assert shown["speech_url"] == row.speech_url
    audio = client.get(row.speech_url, buffered=True)
    assert audio.status_code == 200 and audio.mimetype == "audio/wav"
    assert_real_speech(audio.data)
    assert rt.render_announcement_speech() == 0  # nothing new: no re-render, no ring
    # an edit clears the speech; the next pass renders the new words
    edited = client.patch(
        f"/api/v1/announcements/{item['id']}",
        json={"title": "停水改期"},
        headers=auth.headers(a.staff),
    )
    assert edited.status_code == 200, edited.get_json()
    assert rt.render_announcement_speech(a.community.id) == 1
    db.session.expire_all()
    renewed = db.session.get(Announcement, item["id"]).speech_url
    assert renewed and renewed != first_url


@pytest.fixture()
def background(app, monkeypatch):
    """The per-worker background thread, with one rate to keep the prompts quick."""
    monkeypatch.setitem(app.config, "VOICE_BACKGROUND", True)
    monkeypatch.setitem(app.config, "KIOSK_FEED_POLL_SECONDS", 0)
    monkeypatch.setattr(runtime, "PRERENDER_RATES", ("slow",))
    rt = runtime.runtime(app)
    yield rt
    rt.stop_background()


def test_published_announcements_get_speech_from_the_event_bus(
    client, auth, cats, app, db, background
):
    client.get("/healthz")  # the first request starts the worker's background thread
    assert background.background_done.wait(120), "background thread did not start"
    tts = background.tts
    pack = background.packs["zh-CN"]
    for prompt in pack.prompts():  # the fixed prompts are ready
        assert tts.lookup(pack.speakable(prompt), pack.tts_voice, "slow") is not None
    item = post(client, auth, cats.a.staff, title="周六义诊", category="activity")
    deadline = time.monotonic() + 60
    url = None
    while time.monotonic() < deadline and url is None:
        time.sleep(0.2)
        db.session.expire_all()
        url = db.session.scalar(
            select(Announcement.speech_url).where(Announcement.id == item["id"])
        )
    assert url and url.startswith("/api/v1/voice/speech/")
    assert client.get(url, buffered=True).status_code == 200


def test_cached_speech_is_answered_before_flask_with_the_same_headers(client, auth, cats):
    url = greeting(client, auth.headers(cats.a.resident))["reply_audio_url"]
    first = client.get(url + "?format=mp3", buffered=True)  # a miss: Flask renders it
    assert first.status_code == 200 and "Vary" in first.headers
    cached = client.get(url + "?format=mp3", buffered=True)  # a hit: the fast path
    assert cached.data == first.data
    for name in ("ETag", "Content-Type", "Content-Length", "Cache-Control", "Accept-Ranges"):
        assert cached.headers[name] == first.headers[name], name
    assert "Set-Cookie" not in cached.headers
    weak = client.get(url + "?format=mp3", headers={"If-None-Match": "W/" + first.headers["ETag"]})
    assert weak.status_code == 304
    part = client.get(url + "?format=mp3", headers={"Range": "bytes=0-"}, buffered=True)
    assert part.status_code == 206 and part.data == first.data
    assert part.headers["Content-Range"] == f"bytes 0-{len(first.data) - 1}/{len(first.data)}"
    middle = client.get(url + "?format=mp3", headers={"Range": "bytes=10-19"}, buffered=True)
    assert middle.status_code == 206 and middle.data == first.data[10:20]
    # A range that ends before it starts is Flask's to answer (it was a 206 with a negative
    # Content-Length and no body).
    backwards = client.get(url + "?format=mp3", headers={"Range": "bytes=10-5"}, buffered=True)
    assert backwards.status_code in (200, 416)
    assert int(backwards.headers["Content-Length"]) == len(backwards.data)
    head = client.head(url + "?format=mp3")
    assert head.status_code == 200 and head.data == b""
    assert head.headers["Content-Length"] == str(len(first.data))
    # anything else is Flask's: a bad format, an unknown id
    assert client.get(url + "?format=aiff").status_code == 422
    assert client.get("/api/v1/voice/speech/" + "f" * 32).get_json()["code"] == 404
