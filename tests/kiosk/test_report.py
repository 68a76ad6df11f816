"""语音留言 at the lobby screen: POST /kiosk/api/report files a voice message as a case."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import pytest
from sqlalchemy import func, select

import voice
from app.affairs import categories
from app.assistant import runtime
from app.extensions import db as _db
from app.models.case import Case, CaseAttachment, CaseCategory
from app.people.actors import Actor
from tests.matrix import ANON
from tests.matrix import ROLES as MATRIX_ROLES

URL = "/kiosk/api/report"


@pytest.fixture(scope="session")
def speech_wav() -> bytes:
    """A real short recording: espeak-ng saying something, as WAV."""
    if shutil.which("espeak-ng") is None:
        pytest.fail("espeak-ng is missing: apt-get install espeak-ng", pytrace=False)
    return voice.asr.espeak_wav("lou dao deng huai le", "cmn-latn-pinyin")


@pytest.fixture(scope="session")
def speech_webm(speech_wav) -> bytes:
    """The same speech as WebM/Opus (what Chromium's MediaRecorder sends)."""
    return voice.encode_pcm(voice.decode_audio(speech_wav).pcm, 16_000, "webm")


@pytest.fixture()
def screen(auth, world):
    return auth.headers(device=world.a.device)


def _files(app) -> list[Path]:
    folder = Path(app.config["UPLOAD_FOLDER"]) / "cases"
    return sorted(p for p in folder.glob("*") if p.is_file()) if folder.exists() else []


def _send(client, headers, audio: bytes, *, name="message.webm", mime="audio/webm", **form):
    form.setdefault("category", "environment")
    form.setdefault("place", "lobby")
    data = {k: v for k, v in form.items() if v is not None}
    data["audio"] = (io.BytesIO(audio), name, mime)
    return client.post(URL, data=data, headers=headers, content_type="multipart/form-data")


def _count(model) -> int:
    _db.session.expire_all()
    return _db.session.scalar(select(func.count()).select_from(model))


def test_options_offer_anonymous_categories_places_and_spoken_prompts(client, cats, screen):
    r = client.get(URL, headers=screen)
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    codes = [t["code"] for t in body["categories"]]
    # 报修, 邻里纠纷 and 求助 need a name: a public screen cannot file them.
    assert codes == ["environment", "safety", "suggestion", "unknown"]
    assert [p["code"] for p in body["places"]] == ["home", "lobby", "elsewhere"]
    assert body["places"][1]["detail"] == cats.a.device.building.name
    for prompt in body["prompts"].values():
        assert prompt["text"] and prompt["speech_url"].startswith("/api/v1/voice/speech/")
    assert body["max_seconds"] == 60
    # The prompt's speech really plays: espeak-ng renders it on first request.
    audio = client.get(body["prompts"]["category"]["speech_url"])
    try:
        assert audio.status_code == 200 and audio.data[:4] == b"RIFF"
    finally:
        audio.close()


@pytest.mark.parametrize("fmt", ["webm", "wav"])
def test_a_voice_message_becomes_a_kiosk_case_with_the_recording(
    client, app, cats, screen, auth, speech_wav, speech_webm, fmt
):
    audio = speech_webm if fmt == "webm" else speech_wav
    r = _send(
        client,
        screen,
        audio,
        name=f"m.{fmt}",
        mime=f"audio/{fmt}",
        category="environment",
        place="lobby",
    )
    assert r.status_code == 201, r.get_json()
    body = r.get_json()
    case = _db.session.scalar(select(Case).where(Case.reference == body["reference"]))
    assert case.channel == "kiosk"
    assert case.category.code == "environment" and body["category"] == "environment"
    assert case.community_id == cats.a.community.id
    assert case.device_id == cats.a.device.id
    assert case.anonymous and case.reporter_id is None and case.contact_phone is None
    assert case.building_id == cats.a.device.building_id
    assert case.status == "submitted"
    [attachment] = case.attachments
    assert attachment.kind == "audio" and attachment.mime == f"audio/{fmt}"
    assert Path(app.config["UPLOAD_FOLDER"], "cases", attachment.storage_name).read_bytes() == audio
    # The reference is read aloud: the reply carries it spoken, digit by digit.
    assert body["reference"] in body["text"]
    assert body["speech_url"].startswith("/api/v1/voice/speech/")
    # Staff hear the recording in the console (served with their sign-in only).
    staff = auth.headers(cats.a.staff)
    view = client.get(f"/api/v1/cases/{case.id}", headers=staff).get_json()
    [row] = view["attachments"]
    got = client.get(f"/api/v1/cases/{case.id}/attachments/{row['id']}", headers=staff)
    try:
        assert got.status_code == 200 and got.data == audio
    finally:
        got.close()
    assert client.get(f"/api/v1/cases/{case.id}/attachments/{row['id']}").status_code == 401


def test_i_dont_know_goes_to_the_committee_to_sort(client, cats, screen, speech_webm):
    r = _send(client, screen, speech_webm, category="unknown", place="elsewhere")
    assert r.status_code == 201, r.get_json()
    case = _db.session.scalar(select(Case).where(Case.reference == r.get_json()["reference"]))
    assert case.category.handler_role == "committee_staff"
    assert case.category.allow_anonymous
    assert case.building_id is None and case.address  # not the screen's building
    assert "类别" in case.description or "category" in case.description


def test_wrong_or_missing_device_token_is_401_and_people_are_refused(
    client, app, cats, auth, speech_webm
):
    before = _files(app)
    assert _send(client, {"Authorization": "Bearer nope"}, speech_webm).status_code == 401
    assert _send(client, {}, speech_webm).status_code == 401
    assert client.get(URL, headers={"Authorization": "Bearer nope"}).status_code == 401
    # A signed-in person is not a screen.
    assert _send(client, auth.headers(cats.a.staff), speech_webm).status_code == 403
    assert _count(Case) == 0 and _files(app) == before


def _png() -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (8, 8), "red").save(out, "PNG")
    return out.getvalue()


@pytest.mark.parametrize(
    ("data", "status", "code"),
    [
        (_png(), 415, "audio_unsupported"),  # a picture called .webm
        ("我要反映楼道灯坏了".encode() * 20, 415, "audio_unsupported"),  # text called .webm
        (b"\x1a\x45\xdf\xa3" + b"webm" + b"\x00\x17garbage" * 200, 422, "audio_undecodable"),
        (b"RIFF\x24\x00\x00\x00WAVEfmt " + b"\x00" * 300, 422, None),  # a broken WAV header
        (b"", 422, None),
    ],
)
def test_files_that_are_not_real_audio_are_refused_and_nothing_is_stored(
    client, app, cats, screen, data, status, code
):
    before = _files(app)
    r = _send(client, screen, data)
    assert r.status_code == status, r.get_json()
    body = r.get_json()
    assert body["code"] == status and body["message"]
    if code:
        assert code in json.dumps(body)
    assert _count(Case) == 0 and _count(CaseAttachment) == 0 and _files(app) == before


def test_silence_is_refused(client, app, cats, screen):
    silent = voice.encode_pcm(b"\x00\x00" * 16_000 * 2, 16_000, "webm")
    r = _send(client, screen, silent)
    assert r.status_code == 422 and "audio_silent" in json.dumps(r.get_json())
    assert _count(Case) == 0


def test_oversize_and_overlong_recordings_are_refused(
    client, app, cats, screen, speech_webm, speech_wav, monkeypatch
):
    before = _files(app)
    monkeypatch.setitem(app.config, "CASE_AUDIO_MAX_BYTES", len(speech_webm) - 1)
    r = _send(client, screen, speech_webm)
    assert r.status_code == 413, r.get_json()
    monkeypatch.setitem(app.config, "CASE_AUDIO_MAX_BYTES", 8 * 1024 * 1024)
    rt = runtime.runtime(app)
    monkeypatch.setattr(
        rt, "limits", voice.AudioLimits(max_bytes=rt.limits.max_bytes, max_seconds=0.5)
    )
    r = _send(client, screen, speech_wav, name="m.wav", mime="audio/wav")
    assert r.status_code == 413 and "audio_too_long" in json.dumps(r.get_json())
    assert _count(Case) == 0 and _files(app) == before
    # Larger than the request limit: refused before the body is read.
    monkeypatch.setitem(app.config, "MAX_CONTENT_LENGTH", 4096)
    assert _send(client, screen, speech_wav + b"\x00" * 8192).status_code == 413


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("category", "repair"),  # needs a name: not from a public screen
        ("category", "help"),
        ("category", "no-such-thing"),
        ("category", ""),
        ("place", "roof"),
        ("phone", "12345"),
    ],
)
def test_bad_choices_are_422_and_nothing_is_stored(
    client, app, cats, screen, speech_webm, field, value
):
    before = _files(app)
    r = _send(client, screen, speech_webm, **{field: value})
    assert r.status_code == 422, r.get_json()
    assert field in r.get_json()["errors"]
    assert _count(Case) == 0 and _files(app) == before


def test_unknown_fields_and_missing_audio_are_refused(client, cats, screen, speech_webm):
    r = client.post(
        URL,
        data={"category": "environment", "place": "lobby"},
        headers=screen,
        content_type="multipart/form-data",
    )
    assert r.status_code == 422 and "audio" in r.get_json()["errors"]
    r = _send(client, screen, speech_webm, community_id="2")
    assert r.status_code == 422 and "community_id" in r.get_json()["errors"]
    r = client.post(URL, json={"category": "environment"}, headers=screen)
    assert r.status_code == 422


def test_each_screen_is_rate_limited(client, app, cats, screen, speech_webm, monkeypatch):
    monkeypatch.setitem(app.config, "CASE_CREATE_PER_HOUR_DEVICE", 2)
    for _ in range(2):
        assert _send(client, screen, speech_webm).status_code == 201
    files = _files(app)
    r = _send(client, screen, speech_webm)
    assert r.status_code == 429 and r.headers["Retry-After"]
    assert _count(Case) == 2 and _files(app) == files
    # Another screen has its own count.
    other = client.post(
        URL,
        data={
            "category": "environment",
            "place": "lobby",
            "audio": (io.BytesIO(speech_webm), "m.webm"),
        },
        headers=_headers_for_b(cats),
        content_type="multipart/form-data",
    )
    assert other.status_code == 201


def _headers_for_b(world):
    from app.people.auth import issue_token

    token, _ = issue_token(device=world.b.device)
    _db.session.commit()
    return {"Authorization": f"Bearer {token}"}


def test_a_screen_files_only_into_its_own_community(client, cats, auth, speech_webm):
    # Community A has a category of its own; community B's screen cannot use it.
    categories.create_category(
        Actor.for_person(cats.a.staff),
        cats.a.community.id,
        code="lift-a",
        name="电梯（A 小区）",
        allow_anonymous=True,
    )
    _db.session.commit()
    b_screen = auth.headers(device=cats.b.device)
    r = _send(client, b_screen, speech_webm, category="lift-a")
    assert r.status_code == 422
    assert _count(Case) == 0
    r = _send(client, b_screen, speech_webm, category="environment")
    assert r.status_code == 201
    case = _db.session.scalar(select(Case))
    assert case.community_id == cats.b.community.id
    assert case.category.community_id == cats.b.community.id
    # A's staff cannot see it at all.
    assert (
        client.get(f"/api/v1/cases/{case.id}", headers=auth.headers(cats.a.staff)).status_code
        == 404
    )


def test_the_call_back_number_is_contact_for_staff_only(client, cats, screen, auth, speech_webm):
    r = _send(client, screen, speech_webm, category="safety", place="home", phone="139 8765 4321")
    assert r.status_code == 201, r.get_json()
    ref = r.get_json()["reference"]
    assert "13987654321" not in json.dumps(r.get_json())
    case = _db.session.scalar(select(Case).where(Case.reference == ref))
    assert case.contact_phone == "13987654321" and not case.anonymous
    assert case.contact_name is None
    staff = client.get(f"/api/v1/cases/{case.id}", headers=auth.headers(cats.a.staff))
    assert staff.get_json()["reporter"]["phone"] == "13987654321"
    # The grid worker handling it sees the number masked; neighbours and screens never see it.
    grid = client.get(f"/api/v1/cases/{case.id}", headers=auth.headers(cats.a.grid_worker))
    assert grid.status_code == 200
    assert grid.get_json()["reporter"]["phone"] == "139****4321"
    for headers in (auth.headers(cats.a.resident), {}):
        for url in (
            f"/api/v1/cases/{case.id}",
            f"/api/v1/cases/by-reference?reference={ref}",
            f"/api/v1/cases?community_id={cats.a.community.id}",
        ):
            got = client.get(url, headers=headers)
            assert "13987654321" not in got.get_data(as_text=True)
            assert "****4321" not in got.get_data(as_text=True)
    snap = client.get("/kiosk/snapshot", headers=screen).get_data(as_text=True)
    assert "13987654321" not in snap and "****4321" not in snap


def test_categories_that_need_a_name_are_never_offered(client, cats, screen):
    _db.session.execute(CaseCategory.__table__.update().values(allow_anonymous=False))
    _db.session.commit()
    body = client.get(URL, headers=screen).get_json()
    assert body["categories"] == []


ROLES = (ANON, *MATRIX_ROLES)


@pytest.mark.parametrize("role", ROLES)
def test_only_a_screen_may_ask_or_file(client, app, cats, auth, speech_webm, role):
    headers = auth.for_role(cats, role)
    expected_get, expected_post = {"anonymous": (401, 401), "device": (200, 201)}.get(
        role, (403, 403)
    )
    assert client.get(URL, headers=headers).status_code == expected_get
    before = _files(app)
    r = _send(client, headers, speech_webm)
    assert r.status_code == expected_post, r.get_json()
    if expected_post != 201:
        assert _count(Case) == 0 and _files(app) == before


def test_a_revoked_screen_cannot_file(client, cats, auth, speech_webm):
    headers = auth.headers(device=cats.a.device)
    from app.models.base import utcnow

    cats.a.device.revoked_at = utcnow()
    _db.session.commit()
    assert _send(client, headers, speech_webm).status_code in (401, 403)
    assert _count(Case) == 0


def test_send_pressed_again_files_the_message_once(client, app, cats, screen, speech_webm):
    # The answer never reached the screen (a Wi-Fi drop); the resident presses Send again.
    headers = {**screen, "Idempotency-Key": "kiosk-report-0123456789abcdef"}
    files = len(_files(app))
    first = _send(client, headers, speech_webm)
    assert first.status_code == 201, first.get_json()
    again = _send(client, headers, speech_webm)
    assert again.status_code == 201
    assert again.get_json()["reference"] == first.get_json()["reference"]
    assert _count(Case) == 1 and len(_files(app)) == files + 1
    # Another message (another place) with another key is another case.
    other = _send(
        client,
        {**screen, "Idempotency-Key": "kiosk-report-fedcba9876543210"},
        speech_webm,
        place="elsewhere",
    )
    assert other.status_code == 201 and _count(Case) == 2


def test_a_full_speech_folder_does_not_stop_reporting(
    client, app, cats, screen, speech_webm, monkeypatch
):
    # The spoken prompts are extras: a read-only or full speech folder (OSError) was a 500.
    from app.assistant import runtime

    def full(*_args, **_kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(runtime.runtime(), "speech_url", full)
    options = client.get(URL, headers=screen)
    assert options.status_code == 200, options.get_json()
    r = _send(client, screen, speech_webm)
    assert r.status_code == 201, r.get_json()
    assert r.get_json()["speech_url"] is None and _count(Case) == 1
