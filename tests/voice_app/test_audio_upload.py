"""Speech in over HTTP (POST /api/v1/voice/utterances): espeak-ng Korean speech as WAV, Ogg/Opus,
MP3 and WebM, recognized by the real Korean Vosk model, answered by the dialog, and the reply
spoken by pyttsx3; bad recordings get the right 4xx; no model gets 503 with the install hint."""

from __future__ import annotations

import io

import pytest
from sqlalchemy import select

from app.models.case import Case, CaseAttachment
from tests.voice_app.conftest import as_format, assert_real_speech


def upload(client, headers, data, *, cid=None, multipart=True, expected=200, fmt="wav"):
    """Send a recording; returns the JSON."""
    if multipart:
        form = {"audio": (io.BytesIO(data), f"speech.{fmt}"), "language": "ko"}
        if cid:
            form["conversation_id"] = cid
        response = client.post(
            "/api/v1/voice/utterances",
            data=form,
            headers=headers,
            content_type="multipart/form-data",
        )
    else:
        query = {"language": "ko", **({"conversation_id": cid} if cid else {})}
        response = client.post(
            "/api/v1/voice/utterances",
            query_string=query,
            data=data,
            headers=headers,
            content_type="application/octet-stream",
        )
    assert response.status_code == expected, response.get_json()
    return response.get_json()


@pytest.mark.parametrize("fmt", ["wav", "ogg", "mp3", "webm"])
def test_spoken_request_in_each_format_gets_a_spoken_reply(client, auth, cats, say, fmt):
    wav = say("공지 사항")
    data = wav if fmt == "wav" else as_format(wav, fmt)
    reply = upload(client, auth.headers(cats.a.resident), data, fmt=fmt, multipart=fmt != "mp3")
    assert reply["transcript"].replace(" ", "") == "공지사항"
    assert reply["intent"] == "announcements" and reply["language"] == "ko"
    audio = client.get(reply["reply_audio_url"], buffered=True)
    assert audio.status_code == 200 and audio.mimetype == "audio/wav"
    assert_real_speech(audio.data)


def test_report_by_voice_files_the_case_with_its_recording(client, auth, cats, say, db):
    a = cats.a
    headers = auth.headers(a.resident)
    ask = upload(client, headers, as_format(say("문제 있어요"), "webm"), fmt="webm")
    assert ask["intent"] == "report" and ask["listen"] == "free"
    description = as_format(say("엘리베이터 고장"), "ogg")
    confirm = upload(client, headers, description, cid=ask["conversation_id"], fmt="ogg")
    assert confirm["state"] == "confirm_report" and confirm["transcript"]
    assert db.session.scalar(select(Case.id)) is None  # nothing before the yes
    filed = upload(
        client, headers, as_format(say("네"), "mp3"), cid=ask["conversation_id"], multipart=False
    )
    assert filed["intent"] == "yes" and filed["case_ref"]
    db.session.expire_all()
    case = db.session.scalar(select(Case).where(Case.reference == filed["case_ref"]))
    assert case.channel == "voice" and case.transcript and case.reporter_id == a.resident.id
    (attachment,) = db.session.scalars(
        select(CaseAttachment).where(CaseAttachment.case_id == case.id)
    ).all()
    assert attachment.kind == "audio" and attachment.mime == "audio/ogg"
    assert not attachment.public
    # staff can play the original recording in the console (and through the API)
    played = client.get(
        f"/api/v1/cases/{case.id}/attachments/{attachment.id}",
        headers=auth.headers(a.staff),
        buffered=True,
    )
    assert played.status_code == 200 and played.mimetype == "audio/ogg"
    assert played.data == description
    page = client.get(f"/staff/cases/{case.id}", headers=auth.headers(a.staff))
    if page.status_code == 200:  # the console shows an audio player for it
        assert f"/attachments/{attachment.id}" in page.get_data(as_text=True)


def test_bad_recordings_get_clear_errors(client, auth, cats, say, app):
    from tests.voice_app.conftest import pcm_of
    from voice.audio import wav_bytes

    headers = auth.headers(cats.a.resident)
    speech = pcm_of(say("공지 사항"))
    long_pcm = speech * (21 * 32000 // len(speech) + 1)  # more than VOICE_MAX_SECONDS (20) here
    cases = [
        (b"this is not audio at all, just text", 415, "audio_unsupported"),
        (b"", 422, "audio_empty"),
        (wav_bytes(b"\0\0" * 16000 * 2), 422, "audio_silent"),
        (b"OggS" + b"\0" * 200, 422, "audio_undecodable"),
        (wav_bytes(long_pcm), 413, "audio_too_long"),
        (wav_bytes(b"\1\0" * (1_600_000)), 413, "audio_too_large"),  # > 3 MiB here
    ]
    for data, code, error in cases:
        body = upload(client, headers, data, expected=code, multipart=False)
        assert body["code"] == code and body["errors"] == {"audio": [error]}, body
        assert body["message"] and body["status"]
    missing = client.post(
        "/api/v1/voice/utterances",
        data={"language": "ko"},
        headers=headers,
        content_type="multipart/form-data",
    )
    assert missing.status_code == 422 and "audio" in missing.get_json()["errors"]
    huge = client.post(
        "/api/v1/voice/utterances",
        data=b"\0" * (9 * 1024 * 1024),
        headers=headers,
        content_type="application/octet-stream",
    )
    assert huge.status_code == 413 and huge.get_json()["code"] == 413
    english = upload(
        client, {**headers, "Accept-Language": "en"}, b"nope" * 10, expected=415, multipart=False
    )
    assert english["message"].startswith("This recording format is not supported")


def test_dictation_for_a_text_field(client, auth, cats, say):
    response = client.post(
        "/api/v1/voice/transcriptions?language=ko",
        data={"audio": (io.BytesIO(say("엘리베이터 고장")), "a.wav")},
        headers=auth.headers(cats.a.resident),
        content_type="multipart/form-data",
    )
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["text"] and body["seconds"] > 0.3


def test_status_tells_clients_about_the_model(client, auth, cats):
    body = client.get("/api/v1/voice/status", headers=auth.headers(device=cats.a.device))
    assert body.status_code == 200
    status = body.get_json()
    assert status["asr"] is True and status["model_language"] == "ko"
    assert status["grammar"] is True and status["sample_rate"] == 16000
    assert {"zh-CN", "en", "ko"} <= set(status["languages"]) and status["hint"] is None


# --- no model ------------------------------------------------------------------------------------


@pytest.fixture()
def bare(app_without_model):
    """A client and auth helper on the app without a speech model (clean database)."""
    from tests.conftest import Auth, _clean
    from tests.factories import make_world

    _clean(app_without_model)
    with app_without_model.app_context():
        world = make_world()
        client = app_without_model.test_client()
        yield client, Auth(client), world


def test_without_a_model_voice_answers_503_with_the_install_hint(bare, say):
    client, auth, world = bare
    headers = auth.headers(world.a.resident)
    for path in ("/api/v1/voice/utterances", "/api/v1/voice/transcriptions"):
        response = client.post(
            path, data=say("공지 사항"), headers=headers, content_type="audio/wav"
        )
        assert response.status_code == 503
        body = response.get_json()
        assert body["code"] == 503 and body["status"] == "Service Unavailable"
        assert "vosk-model-small-cn-0.22" in body["message"]
        assert "VOSK_MODEL_PATH" in body["message"]
        assert body["errors"] == {"model": ["asr_model_unavailable"]}
    status = client.get("/api/v1/voice/status", headers=headers).get_json()
    assert status["asr"] is False and "VOSK_MODEL_PATH" in status["hint"]
    # the rest of the service runs, and the dialog still answers typed text
    assert client.get("/api/v1/communities", headers=headers).status_code == 200
    typed = client.post("/api/v1/voice/text", json={"text": "联系居委会"}, headers=headers)
    assert typed.status_code == 200 and typed.get_json()["intent"] == "committee"
