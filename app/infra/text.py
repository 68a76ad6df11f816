"""Input hygiene shared by every channel: plain text, phone numbers, PINs, times of day."""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, datetime, tzinfo

from flask_babel import lazy_gettext as _l

from app.infra.errors import invalid_field

# ASCII digits only: Python's \d would also take full-width １３５ (see `half_width`).
_PHONE = re.compile(r"^1[3-9][0-9]{9}$")
# An address mail can be sent to: dot-atom local part, a host name with at least one dot.
_EMAIL = re.compile(
    r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+"
    r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$"
)
PIN = re.compile(r"^[0-9]{6}$")
_HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")
# Control characters other than tab and newline (C0, DEL and C1), Unicode bidi embeddings,
# overrides and isolates, surrogate code points (a lone one, JSON's "\ud800", is not text and
# PostgreSQL refuses it) and the noncharacters U+FFFE and U+FFFF (not text either; no XML
# document, such as Open311's .xml answers, may hold them).
_FORBIDDEN = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff\ufffe\uffff]"
)
# Line and paragraph separators (and NEL) are line breaks: kept in multi-line text as "\n".
_LINE_BREAKS = str.maketrans({"\u2028": "\n", "\u2029": "\n", "\x85": "\n"})
# Dropped from names: bidi marks (LRM, RLM, ALM) reorder what is shown around a name, and
# zero-width spaces, word joiners and BOMs only hide it.
_NAME_DROPPED = dict.fromkeys(map(ord, "\u200e\u200f\u061c\u200b\u2060\ufeff"))
# Letters that draw nothing (Hangul fillers, braille blank): not enough for a name.
_BLANK_LETTERS = frozenset("\u115f\u1160\u3164\uffa0\u2800")


# The years a date given for community affairs may fall in. Beyond them some times cannot even
# be turned into UTC (0001-01-01 east of UTC, 9999-12-31 west of it), and none means anything.
EARLIEST_YEAR, LATEST_YEAR = 1970, 9000


def utc_time(value, field: str, zone: tzinfo) -> datetime | None:
    """A date and time a person or client gave, in UTC (None stays None). One without a zone is
    in `zone`, the community's time, as people type it. Invalid on `field` unless it is a
    datetime from the year 1970 to 8999."""
    if value is None:
        return None
    if not isinstance(value, datetime):
        raise invalid_field(field, _l("Must be a date and time."))
    if value.tzinfo is None:
        value = value.replace(tzinfo=zone)
    if not EARLIEST_YEAR <= value.year < LATEST_YEAR:
        raise invalid_field(field, _l("Must be a date and time."))
    return value.astimezone(UTC)


def ascii_number(value, max_digits: int = 18) -> int | None:
    """The whole number that 1 to `max_digits` ASCII digits spell, else None. str.isdigit()
    alone is not enough: it is True for "²" and "①", which int() refuses."""
    if not isinstance(value, str) or not value.isascii() or not value.isdigit():
        return None
    return int(value) if len(value) <= max_digits else None


def clean_text(
    value: str, field: str, *, max_length: int, multiline: bool = False, required: bool = True
) -> str:
    """Normalise text (NFC, trimmed) and reject control characters and oversize values."""
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise invalid_field(field, _l("Must be text."))
    value = unicodedata.normalize("NFC", value).replace("\r\n", "\n").translate(_LINE_BREAKS)
    value = value.strip()
    if _FORBIDDEN.search(value) or (not multiline and ("\n" in value or "\t" in value)):
        raise invalid_field(field, _l("Contains characters that are not allowed."))
    if required and not value:
        raise invalid_field(field, _l("This cannot be empty."))
    if len(value) > max_length:
        raise invalid_field(field, _l("Too long: at most %(n)d characters.", n=max_length))
    return value


def _visible(char: str) -> bool:
    # Letters, digits, punctuation and symbols draw something; spaces, format characters
    # (zero-width, joiners), controls and combining marks on their own do not.
    return unicodedata.category(char)[0] in "LNPS" and char not in _BLANK_LETTERS


def is_clean(value: str) -> bool:
    """True when the text holds none of the characters clean_text refuses (the API document's
    TEXT_RULES say the same), for text checked but kept as typed, such as a login."""
    return _FORBIDDEN.search(value) is None


def clean_name(value: str, field: str, *, max_length: int, required: bool = True) -> str:
    """A name people see (a person's, a screen's, an organization's): `clean_text`, without bidi
    marks and zero-width spaces, and with at least one visible character."""
    if isinstance(value, str):
        value = value.translate(_NAME_DROPPED)
    value = clean_text(value, field, max_length=max_length, required=required)
    if value and not any(map(_visible, value)):
        raise invalid_field(field, _l("A name needs at least one letter or digit you can see."))
    return value


def half_width(value: str) -> str:
    """What was meant when a Chinese input method typed full-width digits and signs (１３５,
    ＋８６, －): the plain ones (NFKC)."""
    return unicodedata.normalize("NFKC", value)


def normalize_phone(raw: str, field: str = "phone") -> str:
    """Mainland mobile number to 11 digits; accepts spaces, dashes, a +86 prefix and full-width
    digits."""
    if not isinstance(raw, str):
        raise invalid_field(field, _l("Please enter an 11-digit mobile number."))
    digits = re.sub(r"[\s\-()]", "", half_width(raw))
    if digits.startswith("+86"):
        digits = digits[3:]
    elif digits.startswith("0086"):
        digits = digits[4:]
    if not _PHONE.fullmatch(digits):
        raise invalid_field(field, _l("Please enter an 11-digit mobile number."))
    return digits


def normalize_email(raw: str, field: str = "email") -> str:
    """An e-mail address to reply to: trimmed, full-width signs made plain, the domain in lower
    case; at most 254 characters (64 before the @)."""
    if not isinstance(raw, str):
        raise invalid_field(field, _l("Please enter an e-mail address like name@example.com."))
    value = half_width(raw).strip()
    local, _, domain = value.rpartition("@")
    if len(value) > 254 or len(local) > 64 or not _EMAIL.fullmatch(value):
        raise invalid_field(field, _l("Please enter an e-mail address like name@example.com."))
    return f"{local}@{domain.lower()}"


def looks_like_phone(login: str) -> bool:
    """True when a login string is a phone number rather than a username."""
    try:
        normalize_phone(login)
    except Exception:
        return False
    return True


def mask_phone(phone: str | None) -> str | None:
    """138****5678."""
    if not phone:
        return None
    return phone[:3] + "****" + phone[-4:] if len(phone) >= 7 else "****"


def mask_email(email: str | None) -> str | None:
    """w***@example.com."""
    if not email:
        return None
    local, _, domain = email.rpartition("@")
    return f"{local[:1]}***@{domain}"


def group_phone(phone: str | None) -> str:
    """A mobile number as people read it aloud, in groups (138 1234 5678); others as written."""
    phone = phone or ""
    digits = re.sub(r"[\s-]", "", phone)
    if re.fullmatch(r"1[3-9][0-9]{9}", digits):
        return f"{digits[:3]} {digits[3:7]} {digits[7:]}"
    return phone


def check_pin(pin: str, field: str = "pin") -> str:
    """A 6-digit PIN that is not trivially guessable (full-width digits count as digits, and
    are kept as plain ones, so the PIN works however it is typed next time)."""
    if isinstance(pin, str):
        pin = half_width(pin)
    if not isinstance(pin, str) or not PIN.fullmatch(pin):
        raise invalid_field(field, _l("The PIN must be 6 digits."))
    if len(set(pin)) == 1 or pin in {"123456", "654321", "012345", "543210"}:
        raise invalid_field(field, _l("This PIN is too easy to guess. Please choose another."))
    return pin


def check_password(password: str, field: str = "password") -> str:
    """Staff passwords: at least 10 characters."""
    if not isinstance(password, str) or len(password) < 10 or len(password) > 200:
        raise invalid_field(field, _l("The password must be 10 to 200 characters."))
    return password


def check_time_span(start, end, field: str) -> None:
    """A daily span between two local times written HH:MM: both or neither, and different
    (an end before the start runs past midnight)."""
    if (start is None) != (end is None):
        raise invalid_field(field, _l("Give both a start and an end time."))
    for t in (start, end):
        if t is not None and not (isinstance(t, str) and _HHMM.fullmatch(t)):
            raise invalid_field(field, _l("Times are written HH:MM, e.g. 08:30."))
    if start is not None and start == end:
        raise invalid_field(field, _l("The start and end time must differ."))


def zh_quantity(n: int) -> str:
    """A count as said in Chinese before a measure word (两件, not 二件; 十二件)."""
    digits = "零一二三四五六七八九"
    if n == 2:
        return "两"
    if 0 < n < 10:
        return digits[n]
    if 10 <= n < 100:
        tens, ones = divmod(n, 10)
        return ("" if tens == 1 else digits[tens]) + "十" + (digits[ones] if ones else "")
    return str(n)
