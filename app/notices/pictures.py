"""Announcement pictures: sniffed, re-encoded as JPEG without metadata, stored by their SHA-256."""

from __future__ import annotations

import hashlib
import io
import os
import tempfile
from pathlib import Path

from flask import current_app
from flask_babel import lazy_gettext as _l

from app.extensions import db
from app.infra import images
from app.infra.errors import Conflict, invalid_field
from app.models.announcement import Announcement
from app.notices.announcements import _for_manager, _history, _ring
from app.notices.common import IMAGE_MAX_SIDE, LIVE, MAX_IMAGE_PIXELS, effective_status
from app.people.actors import Actor


# --- images --------------------------------------------------------------------------------------
def _reencode(data: bytes) -> tuple[bytes, int, int]:
    fmt = images.sniff(data)
    if fmt is None:
        raise invalid_field("image", _l("Please send a JPEG, PNG, GIF or WebP picture."))
    return images.decode(
        data,
        fmt,
        max_pixels=MAX_IMAGE_PIXELS,
        edge=IMAGE_MAX_SIDE,
        too_large=_l("The picture is too large."),
        broken=lambda: invalid_field("image", _l("The picture could not be read.")),
        finish=_as_jpeg,
    )


def _as_jpeg(img) -> tuple[bytes, int, int]:
    """The decoded (upright) picture on white, as a fresh JPEG (runs off the event loop)."""
    from PIL import Image

    if img.mode in ("RGBA", "LA", "P", "PA"):
        img = img.convert("RGBA")
        flat = Image.new("RGB", img.size, (255, 255, 255))
        flat.paste(img, mask=img.getchannel("A"))
        img = flat
    else:
        img = img.convert("RGB")
    out = io.BytesIO()
    # A fresh encode carries no EXIF (GPS, camera), XMP or ICC data from the upload.
    img.save(out, "JPEG", quality=85, optimize=True, progressive=True)
    return out.getvalue(), img.width, img.height


def image_folder() -> Path:
    """Where announcement pictures are stored."""
    return Path(current_app.config["UPLOAD_FOLDER"]) / "announcements"


def set_image(actor: Actor, announcement_id: int, data: bytes) -> Announcement:
    """Attach a picture: type sniffed from the bytes, re-encoded as JPEG, metadata stripped."""
    a = _for_manager(actor, announcement_id)
    if effective_status(a) in ("withdrawn", "expired"):
        raise Conflict(_l("A withdrawn or expired announcement cannot be edited."))
    if not data:
        raise invalid_field("image", _l("This cannot be empty."))
    jpeg, width, height = _reencode(data)
    key = hashlib.sha256(jpeg).hexdigest()
    folder = image_folder()
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{key}.jpg"
    if not target.exists():
        fd, tmp = tempfile.mkstemp(dir=folder, suffix=".part")
        with os.fdopen(fd, "wb") as fh:
            fh.write(jpeg)
        os.replace(tmp, target)
    old = a.image_key
    a.image_key, a.image_width, a.image_height = key, width, height
    if old != key:
        a.revision += 1
        a.updated_by_id = actor.person_id
        _history(a, actor, "edit", {"image": [old, key]})
        if effective_status(a) in LIVE:
            _ring(a)
    db.session.flush()
    return a


def remove_image(actor: Actor, announcement_id: int) -> Announcement:
    """Take the picture off an announcement."""
    a = _for_manager(actor, announcement_id)
    if a.image_key is None:
        return a
    old = a.image_key
    a.image_key = a.image_width = a.image_height = None
    a.revision += 1
    _history(a, actor, "edit", {"image": [old, None]})
    if effective_status(a) in LIVE:
        _ring(a)
    db.session.flush()
    return a


def image_url(a: Announcement) -> str | None:
    """Public URL of the picture (content-addressed, cached for ever)."""
    return f"/kiosk/media/{a.image_key}.jpg" if a.image_key else None
