"""Image decode bombs (issue #9): a small file declaring a huge picture is refused from its header
or decoded in a bounded way, in both picture pipelines (case photos and announcement pictures),
and decodes at once per process are bounded."""

from __future__ import annotations

import io
import struct
import threading
import time
import zlib

import pytest
from PIL import Image, JpegImagePlugin
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from app.infra import images
from app.infra.errors import Unavailable
from app.models.case import CaseAttachment
from tests.affairs.conftest import submit


def _chunk(kind: bytes, data: bytes) -> bytes:
    return (
        struct.pack(">I", len(data))
        + kind
        + data
        + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    )


def rgb_png(width: int, height: int, *, declared_only: bool = False) -> bytes:
    """An RGB PNG of width×height black pixels that really decompresses to all of them (a
    few hundred KB), or, `declared_only`, just the header's claim over one row of data."""
    row = b"\x00" + b"\x00" * (width * 3)
    compressor = zlib.compressobj(9)
    rows = 1 if declared_only else height
    raw = b"".join(compressor.compress(row) for _ in range(rows)) + compressor.flush()
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", raw) + _chunk(b"IEND", b"")
    )


def big_jpeg(width: int = 6000, height: int = 6000) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (90, 120, 200)).save(out, "JPEG", quality=50)
    return out.getvalue()


def many_frames_gif(frames: int = 3000) -> bytes:
    """A GIF with thousands of small frames (a few hundred KB)."""
    first = Image.new("P", (64, 64), 0)
    rest = [Image.new("P", (64, 64), i % 200) for i in range(1, frames)]
    out = io.BytesIO()
    first.save(out, "GIF", save_all=True, append_images=rest, duration=10, loop=0)
    return out.getvalue()


@pytest.fixture()
def case(cats):
    return submit(cats.a)


@pytest.fixture()
def announcement(client, auth, cats):
    headers = auth.headers(cats.a.staff)
    r = client.post(
        "/api/v1/announcements",
        headers=headers,
        json={"title": "停水通知", "body": "明天停水。", "priority": "normal"},
    )
    assert r.status_code == 201, r.get_json()
    return r.get_json()["id"], headers


def _multipart(field, data, name, mime):
    # Encoded here, in memory: the test client would spool a large upload to a temporary file
    # it never closes (a ResourceWarning, an error under filterwarnings=error).
    boundary, body = encode_multipart(
        {field: FileStorage(io.BytesIO(data), name, content_type=mime)}
    )
    return {"data": body, "content_type": f"multipart/form-data; boundary={boundary}"}


def _photo(client, auth, cats, case, data, name="bomb.png", mime="image/png"):
    return client.post(
        f"/api/v1/cases/{case.id}/attachments",
        headers=auth.headers(cats.a.resident),
        **_multipart("file", data, name, mime),
    )


def _picture(client, announcement, data):
    announcement_id, headers = announcement
    return client.put(
        f"/api/v1/announcements/{announcement_id}/image",
        headers=headers,
        **_multipart("image", data, "bomb", "application/octet-stream"),
    )


def _refused(response):
    assert response.status_code == 413, response.get_data(as_text=True)[:300]
    body = response.get_json()
    assert (
        body["code"] == 413
        and body["message"]
        and set(body) <= {"code", "status", "message", "errors"}
    )


def test_the_reported_png_bomb_is_refused_cheaply_by_both_pipelines(
    client, auth, cats, case, announcement, db
):
    """154 KB declaring 6300×6300 (below the 40 MP limit) cost 1.8 s and 380 MB to decode."""
    bomb = rgb_png(6300, 6300)
    assert len(bomb) < 200_000
    for send in (
        lambda: _photo(client, auth, cats, case, bomb),
        lambda: _picture(client, announcement, bomb),
    ):
        started = time.perf_counter()
        _refused(send())
        assert time.perf_counter() - started < 1.0  # the header only: milliseconds
    assert db.session.query(CaseAttachment).count() == 0


@pytest.mark.parametrize("size", [(100_000, 100_000), (1, 2_000_000_000), (65_535, 65_535)])
def test_tiny_pngs_declaring_huge_sizes_are_refused_from_the_header(
    client, auth, cats, case, announcement, size
):
    bomb = (
        rgb_png(*size, declared_only=True)
        if size[0] < 70_000
        else rgb_png(size[0], size[1], declared_only=True)[:200]
    )
    _refused(_photo(client, auth, cats, case, bomb))
    _refused(_picture(client, announcement, bomb))


def test_large_jpegs_are_decoded_scaled_down(client, auth, cats, case, announcement, monkeypatch):
    """A 36 MP JPEG is accepted (a phone photo may be that large) but libjpeg decodes it at
    a reduced scale close to the size kept, not all 36 million pixels."""
    loaded = []
    real_load = JpegImagePlugin.JpegImageFile.load

    def spy(self):
        loaded.append(self.size)
        return real_load(self)

    monkeypatch.setattr(JpegImagePlugin.JpegImageFile, "load", spy)
    jpeg = big_jpeg(6000, 6000)
    r = _photo(client, auth, cats, case, jpeg, name="big.jpg", mime="image/jpeg")
    assert r.status_code == 201, r.get_json()
    assert max(r.get_json()["width"], r.get_json()["height"]) <= 2560
    r = _picture(client, announcement, jpeg)
    assert r.status_code == 200, r.get_json()
    assert loaded and all(w * h <= 3000 * 3000 for w, h in loaded), loaded
    # Beyond the pixel limit, refused from the header as before.
    _refused(
        _photo(client, auth, cats, case, big_jpeg(8000, 6000), name="x.jpg", mime="image/jpeg")
    )


def test_a_gif_with_thousands_of_frames_costs_one_frame(client, announcement):
    gif = many_frames_gif()
    started = time.perf_counter()
    r = _picture(client, announcement, gif)
    assert r.status_code == 200, r.get_json()
    assert time.perf_counter() - started < 2.0


def test_pictures_people_send_still_work(client, auth, cats, case, announcement):
    """A 12 MP phone photo and a long (1080×14000) screenshot are not bombs."""
    photo = big_jpeg(4032, 3024)
    assert (
        _photo(client, auth, cats, case, photo, name="p.jpg", mime="image/jpeg").status_code == 201
    )
    screenshot = rgb_png(1080, 14_000)
    assert _photo(client, auth, cats, case, screenshot).status_code == 201
    assert _picture(client, announcement, screenshot).status_code == 200


def test_decodes_at_once_are_bounded_and_a_waiter_gets_503(app, monkeypatch):
    """Eight bombs in parallel run two at a time; a request that cannot get a slot in time is
    told to come back (503 + Retry-After) instead of piling up memory."""
    running, peak, gate = [0], [0], threading.Event()
    lock = threading.Lock()

    def slow_decode(*args):
        with lock:
            running[0] += 1
            peak[0] = max(peak[0], running[0])
        gate.wait(5)
        with lock:
            running[0] -= 1
        return Image.new("RGB", (1, 1))

    monkeypatch.setattr(images, "_decode", slow_decode)
    monkeypatch.setitem(app.config, "IMAGE_DECODE_CONCURRENCY", 2)
    monkeypatch.setitem(app.config, "IMAGE_DECODE_WAIT_SECONDS", 10)
    errors = []

    def call():
        with app.app_context():
            try:
                images.decode(b"", "PNG", max_pixels=10, edge=10, too_large="", broken=None)
            except Exception as exc:  # noqa: BLE001 - collected for the assertion
                errors.append(exc)

    threads = [threading.Thread(target=call) for _ in range(8)]
    for t in threads:
        t.start()
    time.sleep(0.3)
    assert peak[0] == 2
    monkeypatch.setitem(app.config, "IMAGE_DECODE_WAIT_SECONDS", 0.2)
    with app.app_context(), pytest.raises(Unavailable) as waited:
        images.decode(b"", "PNG", max_pixels=10, edge=10, too_large="", broken=None)
    assert waited.value.headers["Retry-After"]
    gate.set()
    for t in threads:
        t.join(10)
    assert peak[0] == 2 and not errors
