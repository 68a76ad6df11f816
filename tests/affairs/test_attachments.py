"""Photos and recordings: the type comes from the bytes, metadata is stripped, limits hold, and
nothing is stored half-way. Files are read back from disk to check."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from app.affairs import attachments, intake
from app.extensions import db
from app.infra.errors import DomainError
from app.models.case import Case, CaseAttachment
from tests.affairs.conftest import actor, gps_exif, image_bytes, png_bomb, submit, wav_bytes


def _folder(app) -> Path:
    return Path(app.config["UPLOAD_FOLDER"]) / "cases"


def _files(app) -> set[str]:
    folder = _folder(app)
    return {p.name for p in folder.iterdir()} if folder.exists() else set()


def _upload(client, headers, case_id, data, name="photo.jpg", mime="image/jpeg", **form):
    return client.post(
        f"/api/v1/cases/{case_id}/attachments",
        headers=headers,
        data={"file": (io.BytesIO(data), name, mime), **form},
        content_type="multipart/form-data",
    )


@pytest.fixture()
def case(cats):
    return submit(cats.a)


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"])
def test_exif_and_gps_are_gone_from_the_stored_file(app, client, auth, cats, case, fmt):
    original = image_bytes(fmt, exif=gps_exif())
    assert Image.open(io.BytesIO(original)).getexif().get_ifd(0x8825)  # the input has GPS
    r = _upload(client, auth.headers(cats.a.resident), case.id, original)
    assert r.status_code == 201, r.get_json()
    row = db.session.get(CaseAttachment, r.get_json()["id"])
    stored = attachments.path_of(row).read_bytes()
    image = Image.open(io.BytesIO(stored))
    assert image.format == fmt and image.size == (64, 48)
    exif = image.getexif()
    assert not exif.get_ifd(0x8825) and 0x010F not in exif and len(exif) == 0
    assert b"LinliCam" not in stored and b"Exif" not in stored
    assert row.mime == {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}[fmt]
    assert row.sha256 and row.size == len(stored) and not row.public


def test_orientation_is_applied_before_the_exif_is_dropped(client, auth, cats, case):
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to display
    r = _upload(
        client,
        auth.headers(cats.a.resident),
        case.id,
        image_bytes("JPEG", size=(80, 40), exif=exif.tobytes()),
    )
    row = db.session.get(CaseAttachment, r.get_json()["id"])
    with Image.open(attachments.path_of(row)) as image:
        assert image.size == (40, 80)


def test_a_png_named_jpg_is_a_png(client, auth, cats, case):
    r = _upload(
        client,
        auth.headers(cats.a.resident),
        case.id,
        image_bytes("PNG"),
        name="IMG_0001.jpg",
        mime="image/jpeg",
    )
    assert r.status_code == 201 and r.get_json()["mime"] == "image/png"
    row = db.session.get(CaseAttachment, r.get_json()["id"])
    assert attachments.path_of(row).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert row.storage_name.endswith(".png") and "IMG_0001" not in row.storage_name


@pytest.mark.parametrize(
    ("data", "name", "mime"),
    [
        (b"just some text, honestly\n" * 20, "photo.jpg", "image/jpeg"),
        (b"<svg xmlns='http://www.w3.org/2000/svg'/>", "x.png", "image/png"),
        (b"GIF89a" + b"\x00" * 50, "x.gif", "image/gif"),
        (b"%PDF-1.7\n" + b"0" * 50, "x.wav", "audio/wav"),
        (b"MZ\x90\x00" + b"\x00" * 60, "voice.m4a", "audio/mp4"),
    ],
)
def test_unsupported_bytes_are_415_whatever_the_name(
    app, client, auth, cats, case, data, name, mime
):
    before = _files(app)
    r = _upload(client, auth.headers(cats.a.resident), case.id, data, name=name, mime=mime)
    assert r.status_code == 415 and r.get_json()["code"] == 415
    assert db.session.query(CaseAttachment).count() == 0 and _files(app) == before


def test_a_decompression_bomb_is_refused_before_decoding(app, client, auth, cats, case):
    bomb = png_bomb()  # 20000 × 20000 pixels in a few kilobytes
    assert len(bomb) < app.config["CASE_PHOTO_MAX_BYTES"]
    before = _files(app)
    r = _upload(
        client, auth.headers(cats.a.resident), case.id, bomb, name="bomb.png", mime="image/png"
    )
    assert r.status_code == 413 and r.get_json()["code"] == 413
    assert db.session.query(CaseAttachment).count() == 0 and _files(app) == before


def test_too_many_pixels_below_pillows_own_limit_are_refused_too(app, client, auth, cats, case):
    app.config["CASE_PHOTO_MAX_PIXELS"] = 1000
    try:
        r = _upload(client, auth.headers(cats.a.resident), case.id, image_bytes("PNG"))
    finally:
        app.config["CASE_PHOTO_MAX_PIXELS"] = 40_000_000
    assert r.status_code == 413


def test_oversize_files_are_413(app, client, auth, cats, case):
    headers = auth.headers(cats.a.resident)
    app.config["CASE_PHOTO_MAX_BYTES"] = 500
    app.config["CASE_AUDIO_MAX_BYTES"] = 500
    try:
        assert (
            _upload(
                client, headers, case.id, image_bytes("PNG", size=(300, 300), color=(1, 2, 3))
            ).status_code
            == 413
        )
        assert (
            _upload(
                client, headers, case.id, wav_bytes(), name="a.wav", mime="audio/wav"
            ).status_code
            == 413
        )
    finally:
        app.config["CASE_PHOTO_MAX_BYTES"] = 8 * 1024 * 1024
        app.config["CASE_AUDIO_MAX_BYTES"] = 8 * 1024 * 1024
    # Beyond the request limit the server refuses the body itself, in the same envelope.
    huge = b"\xff\xd8\xff" + b"0" * (app.config["MAX_CONTENT_LENGTH"] + 10)
    big = FileStorage(io.BytesIO(huge), "big.jpg", content_type="image/jpeg")
    boundary, body = encode_multipart({"file": big})
    r = client.post(
        f"/api/v1/cases/{case.id}/attachments",
        headers=headers,
        data=body,
        content_type=f"multipart/form-data; boundary={boundary}",
    )
    assert r.status_code == 413 and r.get_json()["code"] == 413
    assert db.session.query(CaseAttachment).count() == 0


def test_a_damaged_image_is_422(app, client, auth, cats, case):
    broken = image_bytes("JPEG", size=(400, 300))[:300]
    r = _upload(client, auth.headers(cats.a.resident), case.id, broken)
    assert r.status_code == 422 and r.get_json()["code"] == 422
    assert db.session.query(CaseAttachment).count() == 0


@pytest.mark.parametrize(
    ("data", "mime"),
    [
        (None, "audio/wav"),
        (b"OggS\x00\x02" + b"\x00" * 60, "audio/ogg"),
        (b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\x82\x84webm" + b"\x00" * 40, "audio/webm"),
        (b"ID3\x04\x00\x00\x00\x00\x00\x00" + b"\x00" * 60, "audio/mpeg"),
        (b"\x00\x00\x00\x20ftypM4A \x00\x00\x00\x00" + b"\x00" * 40, "audio/mp4"),
    ],
)
def test_recordings_are_kept_exactly_as_uploaded(client, auth, cats, case, data, mime):
    data = data or wav_bytes()
    r = _upload(
        client, auth.headers(cats.a.resident), case.id, data, name="voice.mp3", mime="audio/mpeg"
    )
    assert r.status_code == 201, r.get_json()
    assert r.get_json()["kind"] == "audio" and r.get_json()["mime"] == mime
    row = db.session.get(CaseAttachment, r.get_json()["id"])
    assert attachments.path_of(row).read_bytes() == data
    got = client.get(r.get_json()["url"], headers=auth.headers(cats.a.staff), buffered=True)
    assert got.status_code == 200 and got.data == data and got.mimetype == mime
    assert got.headers["X-Content-Type-Options"] == "nosniff"


def test_nothing_is_stored_half_way_when_one_photo_of_a_case_is_bad(app, cats):
    before = _files(app)
    with pytest.raises(DomainError) as error:
        intake.submit_case(
            actor(cats.a.resident),
            category_code="repair",
            description="漏水",
            photos=[image_bytes("JPEG"), png_bomb()],
        )
    assert error.value.status_code == 413
    db.session.rollback()
    assert db.session.query(Case).count() == 0 and _files(app) == before


def test_a_file_written_in_a_transaction_that_rolls_back_is_deleted(app, cats, case):
    prepared = attachments.prepare(image_bytes("PNG"))
    row = attachments.store(case, prepared)
    path = attachments.path_of(row)
    assert path.exists()
    db.session.rollback()
    assert not path.exists()
    # …and one that commits stays.
    row = attachments.store(db.session.get(Case, case.id), attachments.prepare(image_bytes("PNG")))
    path = attachments.path_of(row)
    db.session.commit()
    assert path.exists()


def test_who_may_open_photos_and_public_photos(client, auth, cats, case):
    upload = _upload(client, auth.headers(cats.a.resident), case.id, image_bytes("JPEG"))
    photo_url = upload.get_json()["url"]
    audio = _upload(
        client, auth.headers(cats.a.resident), case.id, wav_bytes(), name="v.wav", mime="audio/wav"
    ).get_json()
    neighbour = auth.headers(cats.a.elder)
    for headers in (
        auth.headers(cats.a.resident),
        auth.headers(cats.a.staff),
        auth.headers(cats.a.grid_worker),
    ):
        assert client.get(photo_url, headers=headers, buffered=True).status_code == 200
    # Private until staff make it public: the public view does not list it, nor serve it.
    assert client.get(photo_url, headers=neighbour).status_code == 404
    assert client.get(f"/api/v1/cases/{case.id}", headers=neighbour).get_json()["attachments"] == []
    assert client.get(photo_url, headers=auth.headers(cats.b.staff)).status_code == 404
    aid = upload.get_json()["id"]
    r = client.patch(
        f"/api/v1/cases/{case.id}/attachments/{aid}",
        json={"public": True},
        headers=auth.headers(cats.a.resident),
    )
    assert r.status_code == 403
    r = client.patch(
        f"/api/v1/cases/{case.id}/attachments/{aid}",
        json={"public": True},
        headers=auth.headers(cats.a.staff),
    )
    assert r.status_code == 200 and r.get_json()["public"] is True
    got = client.get(photo_url, headers=neighbour, buffered=True)
    assert got.status_code == 200 and got.mimetype == "image/jpeg"
    r = client.patch(
        f"/api/v1/cases/{case.id}/attachments/{audio['id']}",
        json={"public": True},
        headers=auth.headers(cats.a.staff),
    )
    assert r.status_code == 422  # recordings are never public
    assert client.get(audio["url"], headers=neighbour).status_code == 404


def test_upload_needs_a_file_and_a_right_to_add(client, auth, cats, case):
    r = client.post(
        f"/api/v1/cases/{case.id}/attachments",
        headers=auth.headers(cats.a.resident),
        data={},
        content_type="multipart/form-data",
    )
    assert r.status_code == 422
    r = _upload(client, auth.headers(cats.a.elder), case.id, image_bytes())  # a neighbour
    assert r.status_code == 403
    r = _upload(client, auth.headers(cats.b.resident), case.id, image_bytes())
    assert r.status_code == 404
