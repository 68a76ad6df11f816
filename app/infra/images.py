"""Decoding uploaded pictures within bounds, for both picture pipelines (case photos in
app/affairs/attachments.py, announcement pictures in app/notices/pictures.py).

A small file can declare a huge picture (a 154 KB PNG of 6300×6300 cost 1.8 s and 380 MB), so:

- the size comes from the header (`Image.open` reads nothing else): more pixels than the
  caller's limit (or Pillow's `MAX_IMAGE_PIXELS`, whose warning is made an error) → 413;
- a JPEG is decoded at a reduced scale close to the size kept (draft mode: 1/2 … 1/8), other
  formats in full, so the pixels actually decoded are bounded by IMAGE_MAX_DECODE_PIXELS → 413;
- only the first frame of an animation is decoded;
- at most IMAGE_DECODE_CONCURRENCY decodes run at once per process (others wait up to
  IMAGE_DECODE_WAIT_SECONDS, then 503 with Retry-After), so parallel bombs cannot exhaust
  memory; under gevent the decode (and the caller's re-encoding) runs in the hub's thread pool
  (Pillow releases the GIL), so the worker keeps answering other requests meanwhile.
"""

from __future__ import annotations

import io
import struct
import threading
import warnings

from flask import Flask, current_app
from flask_babel import lazy_gettext as _l
from PIL import Image, ImageOps, UnidentifiedImageError

from app.infra import offload
from app.infra.errors import DomainError, Unavailable


class TooLarge(DomainError):
    """The file, or the image it decodes to, is too large (413)."""

    status_code = 413
    default_message = _l("This file is too large.")


class _Refused(Exception):
    """Raised in the decoding thread (no request context there); turned into a DomainError."""

    def __init__(self, kind: str):
        super().__init__(kind)
        self.kind = kind


_lock = threading.Lock()
_slots: dict[int, threading.BoundedSemaphore] = {}


def _semaphore(size: int) -> threading.BoundedSemaphore:
    with _lock:
        if size not in _slots:
            _slots[size] = threading.BoundedSemaphore(size)
        return _slots[size]


def _decode(data: bytes, fmt: str, max_pixels: int, max_decode_pixels: int, edge: int):
    try:
        image = Image.open(io.BytesIO(data), formats=[fmt])
        width, height = image.size
        if width * height > max_pixels:
            raise _Refused("pixels")
        if fmt == "JPEG":
            # Let libjpeg scale down while decoding; the result is still at least `edge`.
            image.draft(image.mode, (edge, edge))
        width, height = image.size
        if width * height > max_decode_pixels:
            raise _Refused("pixels")
        image.load()
        if image.mode == "P":  # palette pictures resize well only as colour
            image = image.convert("RGBA" if "transparency" in image.info else "RGB")
        if max(image.size) > edge:
            image.thumbnail((edge, edge), Image.Resampling.LANCZOS)
        return image
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise _Refused("pixels") from None
    except _Refused:
        raise
    except (
        UnidentifiedImageError,
        OSError,
        SyntaxError,
        ValueError,
        EOFError,
        MemoryError,
        IndexError,
        TypeError,
        struct.error,
    ):
        raise _Refused("broken") from None


def _upright(image):
    """Turned as the camera's orientation tag says (a broken tag is not worth refusing for)."""
    try:
        return ImageOps.exif_transpose(image)
    except Exception:
        return image


def _decode_then(finish, *args):
    image = _upright(_decode(*args))
    return image if finish is None else finish(image)


# Leading bytes of the formats pictures are taken in (never the file name or declared type).
_MAGIC = (
    (b"\xff\xd8\xff", "JPEG"),
    (b"\x89PNG\r\n\x1a\n", "PNG"),
    (b"GIF87a", "GIF"),
    (b"GIF89a", "GIF"),
)


def sniff(data: bytes) -> str | None:
    """The picture format told by the first bytes: JPEG, PNG, GIF or WEBP, else None."""
    for magic, fmt in _MAGIC:
        if data.startswith(magic):
            return fmt
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WEBP"
    return None


def decode(data: bytes, fmt: str, *, max_pixels: int, edge: int, too_large, broken, finish=None):
    """The first frame of the picture in `data` (format `fmt`, see `sniff`), loaded, upright
    (EXIF orientation) and at most `edge` pixels on its longer side, or what `finish(image)`
    makes of it (run in
    the same slot and thread: converting and encoding cost as much as decoding; it must not
    need the app or the request). Raises TooLarge(too_large) for too many pixels, the error
    `broken()` returns for unreadable bytes, Unavailable when every slot stays busy."""
    cfg = current_app.config
    slots = _semaphore(cfg["IMAGE_DECODE_CONCURRENCY"])
    if not slots.acquire(timeout=cfg["IMAGE_DECODE_WAIT_SECONDS"]):
        raise Unavailable(
            _l("Many pictures are being sent right now. Please try again in a moment."),
            headers={"Retry-After": "5"},
        )
    try:
        return offload.off_loop(
            _decode_then, finish, data, fmt, max_pixels, cfg["IMAGE_MAX_DECODE_PIXELS"], edge
        )
    except _Refused as refused:
        if refused.kind == "pixels":
            raise TooLarge(too_large) from None
        raise broken() from None
    finally:
        slots.release()


def init_app(app: Flask) -> None:
    """Pillow's own bomb check (for any Image.open in the process) at the largest limit the
    app uses, its warning an error."""
    Image.MAX_IMAGE_PIXELS = max(
        app.config["CASE_PHOTO_MAX_PIXELS"], app.config["IMAGE_MAX_DECODE_PIXELS"]
    )
    warnings.simplefilter("error", Image.DecompressionBombWarning)
