"""Factories for community-affairs tests: categories, cases in any state, images and sounds."""

from __future__ import annotations

import io
import struct
import zlib
from datetime import timedelta

import pytest
from PIL import Image

from app.affairs import intake
from app.extensions import db
from app.models.base import utcnow
from app.models.case import ASSIGNED, IN_PROGRESS, RESOLVED, Case, CaseCategory
from app.people.actors import Actor
from tests.live import ThreadedServer


def actor(person=None, *, device=None, act_for=None) -> Actor:
    """The service-layer actor for a person (optionally acting for a resident) or a device."""
    if device is not None:
        return Actor.for_device(device)
    return Actor.for_person(person, on_behalf_of=act_for)


def category(side, code: str = "repair") -> CaseCategory:
    """One of the standard categories of a world side's community."""
    return db.session.query(CaseCategory).filter_by(community_id=side.community.id, code=code).one()


def submit(side, *, by=None, code: str = "repair", **kwargs) -> Case:
    """A case raised in the app by the side's resident (or `by`)."""
    who = by if isinstance(by, Actor) else actor(by or side.resident)
    kwargs.setdefault("description", "楼道灯不亮了，晚上看不清。")
    case = intake.submit_case(who, category_id=category(side, code).id, **kwargs)
    db.session.commit()
    return case


def put_in_state(case: Case, side, status: str) -> Case:
    """Force a case into a status (with what that status implies), bypassing the rules."""
    now = utcnow()
    case.status = status
    if status in (ASSIGNED, IN_PROGRESS, RESOLVED, "closed"):
        case.assignee_organization_id = side.organization.id
        case.assigned_at = now
    if status in (RESOLVED, "closed"):
        case.resolved_at = now
    if status in ("closed", "rejected"):
        case.closed_at = now
        case.closed_reason = "confirmed" if status == "closed" else None
    db.session.commit()
    return case


def backdate(case: Case, **deltas: timedelta) -> None:
    """Move a case's timestamps into the past in the database (no sleeping)."""
    for field, delta in deltas.items():
        setattr(case, field, getattr(case, field) - delta)
    db.session.commit()


# --- media -------------------------------------------------------------------------------


def image_bytes(fmt: str = "JPEG", size=(64, 48), color=(200, 30, 30), exif=None) -> bytes:
    """A small real image in the given format."""
    out = io.BytesIO()
    image = Image.new("RGB", size, color)
    kwargs = {"exif": exif} if exif is not None else {}
    image.save(out, fmt, **kwargs)
    return out.getvalue()


def gps_exif() -> bytes:
    """EXIF with a GPS position (北京) and a camera make."""
    exif = Image.Exif()
    exif[0x010F] = "LinliCam"  # Make
    exif[0x0112] = 1  # Orientation
    gps = exif.get_ifd(0x8825)
    gps[1] = "N"
    gps[2] = (39.0, 54.0, 27.0)
    gps[3] = "E"
    gps[4] = (116.0, 23.0, 29.0)
    return exif.tobytes()


def png_bomb(width: int = 20_000, height: int = 20_000) -> bytes:
    """A tiny PNG that claims (and really holds) width×height black pixels: a decompression bomb."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    row = b"\x00" + b"\x00" * ((width + 7) // 8)
    raw = zlib.compress(row * height, 9)
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", raw) + chunk(b"IEND", b"")


def wav_bytes(seconds: float = 0.2) -> bytes:
    """A short real WAV (16 kHz mono, a quiet tone)."""
    import math
    import wave

    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
        frames = b"".join(
            struct.pack("<h", int(3000 * math.sin(i / 8))) for i in range(int(16000 * seconds))
        )
        w.writeframes(frames)
    return out.getvalue()


# --- a real server ------------------------------------------------------------------------


@pytest.fixture()
def live_server(app, db):
    """The app served by a threaded werkzeug server on 127.0.0.1 (for concurrency tests)."""
    with ThreadedServer(app) as server:
        yield server.url
