"""Speech in over the WebSocket (/api/v1/voice/stream) on a real server (werkzeug, threaded):
16 kHz PCM16 frames in, partial and final transcripts and replies out, the same dialog as the
HTTP paths; the reply's audio is fetched over HTTP and is real speech."""

from __future__ import annotations

import json
import time
import urllib.request

import pytest
from sqlalchemy import select
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from app.models.case import Case, CaseAttachment
from tests.voice_app.conftest import assert_real_speech, pcm_of
from voice.audio import iter_frames

SILENCE = b"\0\0" * 16000


def token_for(auth, person=None, device=None) -> str:
    return auth.headers(person, device=device)["Authorization"][7:]


class Talk:
    """A WebSocket conversation with helpers to stream speech and read messages."""

    def __init__(self, ws):
        self.ws = ws
        self.seen: list[dict] = []

    def send(self, **message):
        self.ws.send(json.dumps(message))

    def next(self, timeout=20.0) -> dict:
        message = json.loads(self.ws.recv(timeout=timeout))
        self.seen.append(message)
        return message

    def until(self, kind: str, timeout=30.0) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            message = self.next(max(0.1, deadline - time.monotonic()))
            if message["type"] == kind:
                return message
            if message["type"] == "error" and kind != "error":
                raise AssertionError(message)

    def speak(self, pcm: bytes, ms: int = 20) -> None:
        for frame in iter_frames(pcm, ms):
            self.ws.send(frame)

    def turn(self, pcm: bytes) -> tuple[list[str], dict, dict]:
        """Stream an utterance, release: (partials, final, reply)."""
        start = len(self.seen)
        self.speak(pcm)
        self.send(type="end")
        final = self.until("final")
        reply = self.until("reply")
        partials = [m["text"] for m in self.seen[start:] if m["type"] == "partial"]
        return partials, final, reply


def open_talk(live_app, token=None, *, query_token=False, **start):
    url = f"ws://{live_app}/api/v1/voice/stream"
    if query_token:
        url += f"?token={token}"
    ws = connect(url, open_timeout=10, legacy=True)  # closed by each test
    talk = Talk(ws)
    if not query_token and token:
        start["token"] = token
    talk.send(type="start", **start)
    return talk


def fetch(live_app, path, **headers):
    request = urllib.request.Request(f"http://{live_app}{path}", headers=headers)
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.status, dict(response.headers), response.read()


def test_streamed_speech_gets_partials_a_final_and_a_spoken_reply(live_app, auth, cats, say):
    talk = open_talk(live_app, token_for(auth, cats.a.resident), language="ko")
    ready = talk.until("ready")
    assert ready["sample_rate"] == 16000 and ready["language"] == "ko"
    assert ready["reply"]["intent"] == "greeting" and ready["listen"] == "commands"
    partials, final, reply = talk.turn(pcm_of(say("공지 사항")) + SILENCE[:8000])
    assert partials  # live text while the button is held
    assert final["text"].replace(" ", "") == "공지사항"
    assert reply["intent"] == "announcements"
    assert reply["conversation_id"] == ready["conversation_id"]
    status, headers, body = fetch(live_app, reply["reply_audio_url"])
    assert status == 200 and headers["Content-Type"] == "audio/wav"
    assert_real_speech(body)
    # the same conversation continues by text over the socket
    talk.send(type="text", text="다시")
    again = talk.until("reply")
    assert again["intent"] == "repeat" and again["reply_text"] == reply["reply_text"]
    talk.ws.close()


def test_report_by_stream_with_a_pause_files_the_recording(live_app, auth, cats, say, db):
    a = cats.a
    talk = open_talk(live_app, token_for(auth, device=a.device), query_token=True, language="ko")
    talk.until("ready")
    _p, _f, ask = talk.turn(pcm_of(say("문제 있어요")))
    assert ask["intent"] == "report" and ask["listen"] == "free"
    # the resident pauses while holding the button: everything said is heard
    description = pcm_of(say("엘리베이터")) + SILENCE + pcm_of(say("고장"))
    _p, final, confirm = talk.turn(description)
    assert confirm["state"] == "confirm_report"
    assert final["text"] and len(final["text"].split()) >= 2, final
    assert db.session.scalar(select(Case.id)) is None
    _p, _f, filed = talk.turn(pcm_of(say("네")))
    assert filed["intent"] == "yes" and filed["case_ref"]
    db.session.expire_all()
    case = db.session.scalar(select(Case).where(Case.reference == filed["case_ref"]))
    assert case.channel == "voice" and case.device_id == a.device.id and case.transcript
    attachment = db.session.scalar(select(CaseAttachment).where(CaseAttachment.case_id == case.id))
    assert attachment.kind == "audio" and attachment.mime == "audio/ogg"
    assert attachment.size > 1000
    talk.ws.close()


def test_stream_errors(live_app, auth, cats, say):
    # no credentials: an error in the envelope, then the socket closes
    talk = open_talk(live_app, None)
    error = talk.until("error")
    assert error["code"] == 401 and error["status"] == "Unauthorized"
    with pytest.raises(ConnectionClosed):
        talk.next(timeout=5)
    bad = open_talk(live_app, "not-a-real-token")
    assert bad.until("error")["code"] == 401
    # another caller's conversation is not found
    mine = open_talk(live_app, token_for(auth, cats.a.resident), language="ko")
    cid = mine.until("ready")["conversation_id"]
    theirs = open_talk(live_app, token_for(auth, cats.a.elder), conversation_id=cid)
    assert theirs.until("error")["code"] == 404
    # silence is refused, but the conversation goes on
    mine.speak(SILENCE)
    mine.send(type="end")
    silent = mine.until("error")
    assert silent["code"] == 422 and silent["errors"] == {"audio": ["audio_silent"]}
    mine.send(type="end")
    assert mine.until("error")["errors"] == {"audio": ["audio_empty"]}
    mine.send(type="text", text="공지 사항")
    assert mine.until("reply")["intent"] == "announcements"
    mine.send(type="nonsense")
    assert mine.until("error")["code"] == 422
    mine.send(type="ping")
    assert mine.until("pong")["type"] == "pong"
    mine.ws.close()


def test_a_stream_signed_in_by_cookie_ends_with_its_sign_in(app, live_app, cats, say):
    # Easy mode's page opens the socket with its session cookie (no token). Its sign-in is
    # checked on every turn, as a token is: after sign-out the next turn is refused.
    from tests.easy.conftest import EasyClient

    phone = EasyClient(app.test_client())
    phone.sign_in(cats.a.resident)
    cookie = phone.client.get_cookie("session").value
    with connect(
        f"ws://{live_app}/api/v1/voice/stream",
        open_timeout=10,
        additional_headers={"Cookie": f"session={cookie}"},
    ) as ws:
        _signed_out_mid_talk(Talk(ws), phone)


def _signed_out_mid_talk(talk, phone):
    talk.send(type="start", language="ko")
    talk.until("ready")
    talk.send(type="text", text="공지 사항")
    assert talk.until("reply")["intent"] == "announcements"
    assert phone.post("/easy/logout").status_code == 302
    talk.send(type="text", text="공지 사항")
    error = talk.until("error")
    assert error["code"] == 401
    with pytest.raises(ConnectionClosed):
        talk.next(timeout=5)


def test_a_message_too_big_closes_the_socket_before_it_is_held(live_app, auth, cats, say):
    # A message is held whole before the stream sees it: 256 KB at most (SOCK_SERVER_OPTIONS),
    # even before sign-in; the frames of speech are far smaller.
    # (This client reads the server's close frame after its next ping: pings every second.)
    url = f"ws://{live_app}/api/v1/voice/stream"
    with connect(url, open_timeout=10, ping_interval=1) as ws:
        ws.send(b"\0" * (300 * 1024))
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=15)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009
    talk = open_talk(live_app, token_for(auth, cats.a.resident), language="ko")
    assert talk.until("ready")["conversation_id"]
    talk.ws.close()


def test_the_same_conversation_over_http_and_the_socket(live_app, auth, cats, say):
    token = token_for(auth, cats.a.resident)
    talk = open_talk(live_app, token, language="ko")
    cid = talk.until("ready")["conversation_id"]
    _p, _f, ask = talk.turn(pcm_of(say("문제 있어요")))
    assert ask["state"] == "ask_description"
    talk.ws.close()
    body = json.dumps({"text": "엘리베이터 고장", "conversation_id": cid}).encode()
    request = urllib.request.Request(
        f"http://{live_app}/api/v1/voice/text",
        data=body,
        method="POST",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        reply = json.loads(response.read())
    assert reply["state"] == "confirm_report" and reply["conversation_id"] == cid
    resumed = open_talk(live_app, token, conversation_id=cid)
    ready = resumed.until("ready")
    assert ready["reply"] is None and ready["listen"] == "yesno"
    _p, _f, filed = resumed.turn(pcm_of(say("네")))
    assert filed["case_ref"]
    resumed.ws.close()


def test_a_language_the_model_does_not_know_is_503_not_a_crash(live_app, auth, cats, say):
    # the Korean model cannot build a Mandarin grammar (Vosk would crash on an empty one)
    talk = open_talk(live_app, token_for(auth, cats.a.resident), language="zh-CN")
    talk.until("ready")
    talk.speak(pcm_of(say("공지 사항")))
    error = talk.until("error")
    assert error["code"] == 503 and "VOSK_MODEL_PATH" in error["message"]
    talk.send(type="text", text="听公告")  # typed Mandarin still works
    assert talk.until("reply")["intent"] == "announcements"
    talk.ws.close()
