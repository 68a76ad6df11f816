"""语音留言: a problem reported at a lobby screen by touch and a recorded voice message, for
people without a smartphone, on servers with or without a speech model.

The screen shows big picture tiles of the community's categories that take anonymous reports
(plus 不知道: the committee sorts it), asks where (in my building / here in the lobby / somewhere
else), records a voice message and, if the person wants, a call-back number. `file_report`
files it through `intake.submit_case` like every other channel: channel "kiosk" (社区大屏), the
screen as the actor, anonymous unless a call-back number is left (then that number is the
case's self-declared contact, shown unmasked only to those who may see contact), the recording
kept as the case's audio attachment. The recording is decoded once here to prove it is real
audio within the length limit: a file that only looks like audio is refused before anything is
stored, and a failed request leaves neither a row nor a file (attachments follow the
transaction).
"""

from __future__ import annotations

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

import voice
from app.affairs import categories, common, intake
from app.assistant import runtime
from app.infra import offload
from app.infra.errors import invalid_field
from app.infra.text import normalize_phone
from app.models.case import Case, CaseCategory
from app.people.actors import Actor
from app.screens import kiosk

UNKNOWN = "unknown"  # 不知道: the committee chooses the category
PLACES = ("home", "lobby", "elsewhere")
PLACE_LABELS = {
    "home": _l("In the building where I live"),
    "lobby": _l("Here in the lobby"),
    "elsewhere": _l("Somewhere else"),
}
# What the screen says at each step (read aloud with server speech, shown in big letters).
PROMPTS = {
    "category": _l("What is it about? Touch a picture."),
    "place": _l("Where is it?"),
    "record": _l("Press and hold the big button and speak. Let go when you have finished."),
    "review": _l("Listen to your message. If it is fine, touch Next step."),
    "phone": _l("Shall we call you back? Type your mobile number or touch No phone number."),
    "confirm": _l("Touch Send the message to pass it to the residents' committee."),
}


def _anonymous_categories(actor: Actor, community_id: int) -> list[CaseCategory]:
    return [c for c in categories.list_categories(actor, community_id) if c.allow_anonymous]


def _committee_category(rows: list[CaseCategory]) -> CaseCategory | None:
    """Where 不知道 goes: a category the committee itself handles (it then sorts the case),
    the shortest deadline first; else the first one that takes anonymous reports."""
    committee = [
        c for c in rows if c.handler_role == "committee_staff" and c.handler_organization_id is None
    ]
    if committee:
        return min(committee, key=lambda c: (c.deadline_hours, c.sort_order, c.id))
    return rows[0] if rows else None


def _speech(language: str | None, text: str) -> str | None:
    """The URL of `text` spoken by the server (rendered on first request), or None."""
    rt = runtime.runtime()
    try:
        pack = rt.pack(language)
    except Exception:  # an unknown language: the screen shows the words only
        return None
    spoken = pack.speakable(text)
    try:
        return rt.speech_url(spoken, pack.tts_voice, runtime.ANNOUNCEMENT_RATE) if spoken else None
    except OSError:  # the speech folder full or read-only: the words are shown all the same
        return None


def _language(locale: str | None) -> str | None:
    return "en" if (locale or "").startswith("en") else None


def report_options(actor: Actor, *, locale: str | None = None) -> dict:
    """What the screen offers: category tiles, places, the spoken prompts, the length limit."""
    device = kiosk.require_device(actor)
    language = _language(locale)
    rows = _anonymous_categories(actor, device.community_id)
    tiles = [{"code": c.code, "name": categories.shown(c), "icon": c.icon or "other"} for c in rows]
    if rows:
        tiles.append({"code": UNKNOWN, "name": _("I don't know"), "icon": "unknown"})
    prompts = {}
    for key, text in PROMPTS.items():
        prompts[key] = {"text": str(text), "speech_url": _speech(language, str(text))}
    lobby = device.location or (device.building.name if device.building else None)
    return {
        "categories": tiles,
        "places": [
            {"code": p, "name": str(PLACE_LABELS[p]), "detail": lobby if p == "lobby" else None}
            for p in PLACES
        ],
        "prompts": prompts,
        "max_seconds": int(runtime.runtime().limits.max_seconds),
    }


def _check_recording(data: bytes) -> float:
    """Decode the recording once: real audio, not empty or silent, within the limits.
    Returns its length in seconds; raises the voice library's 4xx errors."""
    from flask import current_app

    limits = runtime.runtime().limits
    max_bytes = min(limits.max_bytes, current_app.config["CASE_AUDIO_MAX_BYTES"])
    limits = voice.AudioLimits(
        max_bytes=max_bytes,
        max_seconds=limits.max_seconds,
        silence_dbfs=limits.silence_dbfs,
        min_voiced_ms=limits.min_voiced_ms,
    )
    # FFmpeg decoding is CPU work: off a gevent worker's loop, so the worker keeps answering.
    return offload.off_loop(voice.decode_audio, data, limits).duration


def file_report(
    actor: Actor,
    *,
    category: str,
    place: str,
    audio: bytes,
    phone: str | None = None,
    locale: str | None = None,
) -> dict:
    """File a screen's voice message as a case; returns its reference, said aloud."""
    device = kiosk.require_device(actor)
    community_id = device.community_id
    rows = _anonymous_categories(actor, community_id)
    if category == UNKNOWN:
        chosen = _committee_category(rows)
    else:
        chosen = next((c for c in rows if c.code == category), None)
    if chosen is None:
        raise invalid_field("category", _l("Please choose what the matter is about."))
    if place not in PLACES:
        raise invalid_field("place", _l("Please choose where it is."))
    phone = normalize_phone(phone, "phone") if phone else None
    seconds = _check_recording(audio)

    where = str(PLACE_LABELS[place])
    building_id = None
    if place == "lobby":
        building_id = device.building_id
        address = device.location or where
    else:
        address = where
    lines = [
        _(
            "Voice message left at the lobby screen %(name)s (%(seconds)d s).",
            name=device.name,
            seconds=max(1, round(seconds)),
        ),
        _("Where: %(place)s", place=address),
    ]
    if category == UNKNOWN:
        lines.append(_("The caller did not know the category: please choose one."))
    if phone is None:
        lines.append(_("No call-back number was left."))
    case: Case = intake.submit_case(
        actor,
        description="\n".join(lines),
        category_id=chosen.id,
        community_id=community_id,
        channel="kiosk",
        building_id=building_id,
        address=address,
        contact_phone=phone,
        audio=audio,
    )
    spoken = _("Your message has been sent. Your reference is %(ref)s.", ref=case.reference)
    return {
        "reference": case.reference,
        "category": chosen.code,
        "reference_digits": common.reference_digits(case.reference),
        "text": spoken,
        "speech_url": _speech(_language(locale), spoken),
    }
