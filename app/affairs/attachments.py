"""Case attachments: photos and audio recordings, checked from their bytes and stored safely.

- The type is decided from the bytes alone; a file's name and declared MIME type are ignored
  (a PNG called .jpg is a PNG; a text file called .jpg is refused with 415).
- Photos (JPEG, PNG, WebP) are decoded and re-encoded with Pillow into a fresh image, so EXIF
  (GPS position, camera serial), XMP and ICC data never reach the disk; the EXIF orientation is
  applied first. Oversize files (413), too many pixels / decompression bombs (413) and broken
  images (422) are refused before anything is written.
- Audio (WAV, Ogg, WebM, MP3, M4A) is kept exactly as uploaded, for the record.
- Files get random names under UPLOAD_FOLDER/cases/. A file written in a transaction that does
  not commit is deleted again, so a failed request leaves neither a file nor a row.
- Who sees what: the reporter, the assignee and the community's workers see every attachment of
  a case they may read in full. Photos are private by default; staff may mark a photo public,
  and public photos of public cases are shown with the public view. Audio is never public.
"""

from __future__ import annotations

import hashlib
import io
import os
import secrets
from pathlib import Path

from flask import current_app
from flask_babel import lazy_gettext as _l
from PIL import Image
from sqlalchemy import event
from sqlalchemy.orm import Session

from app.extensions import db
from app.infra import images
from app.infra.errors import DomainError, Invalid
from app.infra.images import TooLarge
from app.models.case import CaseAttachment

IMAGE_TYPES = {
    "JPEG": ("image/jpeg", ".jpg"),
    "PNG": ("image/png", ".png"),
    "WEBP": ("image/webp", ".webp"),
}
AUDIO_TYPES = {
    "wav": ("audio/wav", ".wav"),
    "ogg": ("audio/ogg", ".ogg"),
    "webm": ("audio/webm", ".webm"),
    "mp3": ("audio/mpeg", ".mp3"),
    "mp4": ("audio/mp4", ".m4a"),
}
_PENDING = "linli_pending_files"


class UnsupportedMedia(DomainError):
    """The bytes are not a photo or recording we accept (415)."""

    status_code = 415
    default_message = _l(
        "This type of file is not supported. Please send a JPEG, PNG or WebP "
        "photo, or a WAV, Ogg, WebM, MP3 or M4A recording."
    )


def sniff_image(data: bytes) -> str | None:
    """JPEG, PNG or WEBP from the leading bytes, or None (a GIF is no photo)."""
    fmt = images.sniff(data)
    return fmt if fmt in ("JPEG", "PNG", "WEBP") else None


def sniff_audio(data: bytes) -> str | None:
    """wav, ogg, webm, mp3 or mp4 (M4A) from the leading bytes, or None."""
    from voice.audio import sniff_container  # the voice library's sniffer, one truth

    kind = sniff_container(data)
    return kind if kind in AUDIO_TYPES else None


def _folder() -> Path:
    folder = Path(current_app.config["UPLOAD_FOLDER"]) / "cases"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def path_of(attachment: CaseAttachment) -> Path:
    """Where an attachment's file is stored."""
    return _folder() / attachment.storage_name


def _reencode(data: bytes, fmt: str) -> tuple[bytes, int, int]:
    cfg = current_app.config
    return images.decode(
        data,
        fmt,
        max_pixels=cfg["CASE_PHOTO_MAX_PIXELS"],
        edge=cfg["CASE_PHOTO_MAX_EDGE"],
        too_large=_l("This photo has too many pixels. Please send a smaller one."),
        broken=lambda: Invalid(
            _l("This photo could not be read. Please take it again."),
            errors={"file": [str(_l("Damaged or incomplete image."))]},
        ),
        finish=lambda image: _clean_copy(image, fmt),
    )


def _clean_copy(image, fmt: str) -> tuple[bytes, int, int]:
    """The decoded (upright) photo re-encoded from its bare pixels (runs off the event loop)."""
    if fmt == "JPEG":
        image = image.convert("L" if image.mode in ("L", "1") else "RGB")
    elif image.mode not in ("RGB", "RGBA", "L", "LA"):
        image = image.convert(
            "RGBA" if "A" in image.mode or "transparency" in image.info else "RGB"
        )
    # A fresh image from raw pixels: no EXIF, XMP, ICC or text chunks can survive.
    clean = Image.frombytes(image.mode, image.size, image.tobytes())
    out = io.BytesIO()
    if fmt == "JPEG":
        clean.save(out, "JPEG", quality=85, optimize=True)
    elif fmt == "PNG":
        clean.save(out, "PNG", optimize=True)
    else:
        clean.save(out, "WEBP", quality=82)
    return out.getvalue(), clean.size[0], clean.size[1]


def prepare(data: bytes, expect: str | None = None) -> dict:
    """Check and convert an upload (expect: "photo", "audio" or either); returns what to store.
    Raises 413/415/422."""
    cfg = current_app.config
    if not isinstance(data, bytes | bytearray) or not data:
        raise Invalid(errors={"file": [str(_l("The file is empty."))]})
    data = bytes(data)
    fmt = sniff_image(data) if expect in (None, "photo") else None
    if fmt is not None:
        if len(data) > cfg["CASE_PHOTO_MAX_BYTES"]:
            raise TooLarge()
        body, width, height = _reencode(data, fmt)
        mime, ext = IMAGE_TYPES[fmt]
        return {
            "kind": "photo",
            "mime": mime,
            "ext": ext,
            "body": body,
            "width": width,
            "height": height,
        }
    kind = sniff_audio(data) if expect in (None, "audio") else None
    if kind is not None:
        if len(data) > cfg["CASE_AUDIO_MAX_BYTES"]:
            raise TooLarge()
        mime, ext = AUDIO_TYPES[kind]
        return {
            "kind": "audio",
            "mime": mime,
            "ext": ext,
            "body": data,
            "width": None,
            "height": None,
        }
    raise UnsupportedMedia()


def store(
    case,
    prepared: dict,
    *,
    uploaded_by_id=None,
    device_id=None,
    uploader_role="reporter",
    public: bool = False,
) -> CaseAttachment:
    """Write a prepared file under a random name and add its row (deleted again on rollback)."""
    body = prepared["body"]
    name = secrets.token_urlsafe(24) + prepared["ext"]
    final = _folder() / name
    tmp = final.with_name(f".{name}.part")
    try:
        with open(tmp, "wb") as fh:
            fh.write(body)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, final)
    except OSError:
        tmp.unlink(missing_ok=True)
        raise
    db.session.info.setdefault(_PENDING, []).append(str(final))
    attachment = CaseAttachment(
        case=case,
        kind=prepared["kind"],
        mime=prepared["mime"],
        size=len(body),
        width=prepared["width"],
        height=prepared["height"],
        storage_name=name,
        sha256=hashlib.sha256(body).hexdigest(),
        public=bool(public) and prepared["kind"] == "photo",
        uploaded_by_id=uploaded_by_id,
        device_id=device_id,
        uploader_role=uploader_role,
    )
    db.session.add(attachment)
    db.session.flush()
    return attachment


# --- files follow the transaction ---------------------------------------------------------


def _after_commit(session: Session) -> None:
    session.info.pop(_PENDING, None)


def _after_transaction_end(session: Session, transaction) -> None:
    # Only the outermost transaction decides; a commit has already claimed the files.
    if transaction.parent is not None:
        return
    for path in session.info.pop(_PENDING, []):
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass


def install() -> None:
    """Attach the session hooks that delete files of transactions that did not commit."""
    if not event.contains(Session, "after_commit", _after_commit):
        event.listen(Session, "after_commit", _after_commit)
    if not event.contains(Session, "after_transaction_end", _after_transaction_end):
        event.listen(Session, "after_transaction_end", _after_transaction_end)


install()
