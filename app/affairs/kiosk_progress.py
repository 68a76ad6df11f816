"""查进度 at the lobby screen without a speech model: a resident types the last digits of their
request's number (e.g. 1234 of 2026-001234) on the big keypad, or signs in with their phone
number and PIN, and reads (and hears) where the request stands.

The screen is public. A lookup by digits answers only with the request's number, its status,
who handles it as a kind (物业 / 网格员 / 居委会 …, never a name) and the next step in plain
words: never the reporter, a phone, a flat, a description or a note. Phone + PIN is the
resident's own sign-in (`auth.authenticate`: its address throttle and account lock) and shows
their own open requests by category and date. Every lookup counts against the screen
(KIOSK_PROGRESS_PER_HOUR), so guessing numbers is not practical.

Why four digits: references are `<year>-<serial>` with one serial counter for the whole city
(app/affairs/common.py next_reference), so a community holds a small share of the serials. The
last four serial digits repeat only every 10 000 requests city-wide; within one community two
requests rarely share them. When they do, the screen asks for all six digits; with six digits
and still more than one (the same serial in different years), each is shown with its full
number so the resident can tell theirs by its year.
"""

from __future__ import annotations

import re
from datetime import timedelta
from zoneinfo import ZoneInfo

from flask import current_app, has_app_context
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from app.affairs import categories, deadlines, words
from app.extensions import db
from app.infra import ratelimit
from app.infra.errors import DomainError, Invalid, Unauthorized
from app.models import Person
from app.models.case import (
    OPEN_STATUSES,
    RESOLVED,
    Case,
)
from app.people import auth
from app.people.actors import Actor
from app.residents import easy
from app.screens import kiosk

DIGITS_MIN = 4
DIGITS_MAX = 6
SHOWN_MAX = 3  # requests listed at once (six digits, several years; one resident's own)
_DIGITS = re.compile(rf"^[0-9]{{{DIGITS_MIN},{DIGITS_MAX}}}$")

HANDLER_KINDS = words.HANDLER_KINDS


# --- what a screen may say about one case ------------------------------------------------------
def handler_kind(case: Case) -> str:
    """Who has the case, as a kind: the organization's kind (property, social_org, vendor), a
    grid worker, or the residents' committee (its staff, or nobody yet: the committee sorts
    new requests)."""
    org = case.assignee_organization
    if org is not None:
        return org.kind if org.kind in HANDLER_KINDS else "committee"
    person = case.assignee_person
    if person is not None:
        for role in person.roles:
            if (
                role.role == "grid_worker"
                and role.grid is not None
                and role.grid.community_id == case.community_id
            ):
                return "grid_worker"
    return "committee"


def progress_view(case: Case) -> dict:
    """Number, status, handler kind and next step of one case: nothing about who reported it."""
    handler = handler_kind(case)
    return {
        "reference": case.reference,
        "status": case.status,
        "status_label": words.status_label(case.status),
        "handler_kind": handler,
        "handler_label": str(HANDLER_KINDS[handler]),
        "next_step": words.next_step(case, handler),
        "overdue": deadlines.is_overdue(case),
    }


def speech_url(text: str) -> str | None:
    """The server's speech (espeak-ng, in the page's language) of `text`, rendered when first
    played; None when this server speaks no such language."""
    from app.assistant import runtime

    if not has_app_context():
        return None
    try:
        rt = runtime.runtime()
        code = "zh-CN" if str(get_locale() or "zh_CN").startswith("zh") else "en"
        pack = rt.packs.get(code) or rt.pack(None)
        spoken = pack.speakable(text)
        return rt.speech_url(spoken, pack.tts_voice, runtime.ANNOUNCEMENT_RATE) if spoken else None
    except (KeyError, OSError, DomainError):
        return None


# --- the two lookups ---------------------------------------------------------------------------
def _count_lookup(device_id: int) -> None:
    ratelimit.hit(
        f"kiosk-progress:{device_id}",
        limit=current_app.config["KIOSK_PROGRESS_PER_HOUR"],
        window=timedelta(hours=1),
        message=_l(
            "This screen has looked up many requests in the last hour. "
            "Please try again later, or call the residents' committee."
        ),
    )


def _checked_digits(digits) -> str:
    text = digits.strip() if isinstance(digits, str) else ""
    if not _DIGITS.match(text):
        raise Invalid(
            _l("Please type the last 4 to 6 digits of your request's number."),
            errors={
                "digits": [str(_l("Please type the last 4 to 6 digits of your request's number."))]
            },
        )
    return text


def lookup_by_digits(actor: Actor, digits: str) -> dict:
    """A screen looks up its community's requests whose number ends in `digits` (4 to 6).

    outcome: "found" (one: its progress), "more_digits" (several share four or five digits:
    type six), "several" (six digits in different years: each with its number), "none".
    Counts against the screen (429 past KIOSK_PROGRESS_PER_HOUR)."""
    device = kiosk.require_device(actor)
    text = _checked_digits(digits)
    _count_lookup(device.id)
    # Digits only (checked above), so no LIKE wildcard can come in.
    found = db.session.scalars(
        select(Case)
        .where(Case.community_id == device.community_id, Case.reference.like(f"%{text}"))
        .order_by(Case.id.desc())
        .limit(10)
    ).all()
    # "2026-001234" ends in "1234" but "2026-01234"… is not a reference: compare the serial.
    found = [c for c in found if c.reference.partition("-")[2].endswith(text)]
    if not found:
        message = _(
            "We could not find a request here whose number ends in %(digits)s. "
            "Please check the number on your slip, or call the residents' committee.",
            digits=" ".join(text),
        )
        return {
            "outcome": "none",
            "digits": text,
            "cases": [],
            "message": message,
            "speech_url": speech_url(message),
        }
    if len(found) > 1 and len(text) < DIGITS_MAX:
        message = _(
            "More than one request ends in %(digits)s. Please type the last "
            "%(n)d digits of the number.",
            digits=" ".join(text),
            n=DIGITS_MAX,
        )
        return {
            "outcome": "more_digits",
            "digits": text,
            "cases": [],
            "message": message,
            "need": DIGITS_MAX,
            "speech_url": speech_url(message),
        }
    for case in found:
        deadlines.evaluate_case(case)  # an auto-close that fell due shows as closed
    views = [progress_view(c) for c in found[:SHOWN_MAX]]
    spoken = " ".join(words.screen_speech(v) for v in views)
    if len(views) == 1:
        return {
            "outcome": "found",
            "digits": text,
            "cases": views,
            "message": "",
            "speech_url": speech_url(spoken),
        }
    message = _("Requests from different years end in these digits. Find yours by its year.")
    return {
        "outcome": "several",
        "digits": text,
        "cases": views,
        "message": message,
        "speech_url": speech_url(message + " " + spoken),
    }


def lookup_mine(actor: Actor, phone: str, pin: str, ip: str | None) -> dict:
    """A resident signs in at the screen with phone number and PIN (the easy mode's sign-in,
    with its address throttle and account lock; no session is started) and sees their own open
    requests in the screen's community, newest first: category, date, progress. Never a phone.
    Counts against the screen like a lookup by digits."""
    device = kiosk.require_device(actor)
    if not isinstance(phone, str) or not re.fullmatch(r"[0-9]{11}", phone.strip()):
        raise Invalid(
            _l("Please type your 11-digit phone number."),
            errors={"phone": [str(_l("Please type your 11-digit phone number."))]},
        )
    if not isinstance(pin, str) or not re.fullmatch(r"[0-9]{6}", pin.strip()):
        raise Invalid(
            _l("Please type your 6-digit PIN."),
            errors={"pin": [str(_l("Please type your 6-digit PIN."))]},
        )
    _count_lookup(device.id)
    try:
        person: Person = auth.authenticate(phone.strip(), pin=pin.strip(), ip=ip)
    except Unauthorized:
        # 401 means "this screen is not paired" to the screen: a wrong PIN is a field error,
        # still counted (persist) by the throttle.
        error = Invalid(
            _l("The phone number or PIN is not right."),
            errors={"pin": [str(_l("The phone number or PIN is not right."))]},
        )
        error.persist = True
        raise error from None
    rows = db.session.scalars(
        select(Case)
        .where(
            Case.community_id == device.community_id,
            Case.reporter_id == person.id,
            Case.status.in_((*OPEN_STATUSES, RESOLVED)),
        )
        .order_by(Case.id.desc())
        .limit(SHOWN_MAX + 1)
    ).all()
    for case in rows:
        deadlines.evaluate_case(case)
    views = []
    for case in rows[:SHOWN_MAX]:
        view = progress_view(case)
        view["title"] = categories.shown(case.category)
        view["reported_on"] = case.created_at.astimezone(
            ZoneInfo(current_app.config["TIMEZONE"])
        ).strftime("%Y-%m-%d")
        views.append(view)
    if not views:
        message = _("You have no open requests here. Thank you!")
        spoken = message
    else:
        message = (
            _("Your open requests (the newest %(n)d):", n=len(views))
            if len(rows) > SHOWN_MAX
            else _("Your open requests:")
        )
        spoken = message + " " + " ".join(f"{v['title']}。{words.screen_speech(v)}" for v in views)
    # As on easy mode's home and in the voice greeting: matters staff say are done wait for
    # the resident's word (they confirm on the phone, by voice or with the committee).
    waiting = db.session.scalar(
        select(func.count())
        .select_from(Case)
        .where(
            Case.community_id == device.community_id,
            Case.reporter_id == person.id,
            Case.status == RESOLVED,
        )
    )
    if waiting:
        notice = easy.waiting_words(waiting)
        message, spoken = f"{notice} {message}", f"{notice} {spoken}"
    return {
        "outcome": "mine" if views else "none",
        "cases": views,
        "message": message,
        "waiting": waiting,
        "more": len(rows) > SHOWN_MAX,
        "speech_url": speech_url(spoken),
    }
