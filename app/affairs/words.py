"""A case put into words, per audience, in the request's language (Flask-Babel): the one place
that says what a status means to whom.

* staff (API, notifications, Open311): `STATUS_LABELS` / `status_label` ("已派单")
* the staff console's pages: `STAFF_STATUS_LABELS` / `staff_status_label` ("已派单·未开始")
* a resident reading easy mode: `resident_words` — plain words and what happens next
* a resident at the lobby screen: `HANDLER_KINDS` (who has it, as a kind) and `next_step`
* ears (the lobby screen's speech, the phone dialog): `spoken_reference` (digit by digit, in the
  voice language pack's words), `screen_speech`, and `progress_sentence` — the 查进度 sentence,
  with its reference for a screen or without it for a dialog that has already said it.

No database, no other affairs module: everything here is given the case or its parts.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from app.models.case import (
    ACCEPTED,
    ASSIGNED,
    CLOSED,
    IN_PROGRESS,
    REJECTED,
    REOPENED,
    RESOLVED,
    SUBMITTED,
    Case,
)
from voice import nlu

# --- staff -------------------------------------------------------------------------------------

STATUS_LABELS = {
    SUBMITTED: _l("Submitted"),
    ACCEPTED: _l("Accepted"),
    ASSIGNED: _l("Assigned to a handler"),
    IN_PROGRESS: _l("Being handled"),
    RESOLVED: _l("Resolved, waiting for confirmation"),
    CLOSED: _l("Closed"),
    REJECTED: _l("Not accepted"),
    REOPENED: _l("Reopened"),
}


# The staff console's own words for where a case stands and what it waits for (a resident's
# "已办结，请您确认" speaks to the resident; the committee reads "已办结·待居民确认").
STAFF_STATUS_LABELS = {
    SUBMITTED: _l("New, to accept"),
    ACCEPTED: _l("Accepted, to assign"),
    ASSIGNED: _l("Assigned, not started"),
    IN_PROGRESS: _l("In progress"),
    RESOLVED: _l("Resolved, resident to confirm"),
    CLOSED: _l("Closed"),
    REJECTED: _l("Rejected"),
    REOPENED: _l("Reopened, to handle again"),
}


def staff_status_label(status: str) -> str:
    """A status as the staff console shows it (tabs, badges, the timeline)."""
    return str(STAFF_STATUS_LABELS[status])


def status_label(status: str) -> str:
    """A status as staff (and the API, notifications, partner systems) name it."""
    return str(STATUS_LABELS[status])


# --- a resident reading (easy mode) ------------------------------------------------------------

# What a resident is told about a case, in plain words, with what happens next.
STATUS_WORDS = {
    SUBMITTED: (
        _l("Received by the committee"),
        _l("The residents' committee will look at it soon."),
    ),
    ACCEPTED: (_l("Accepted"), _l("The committee is finding someone to handle it.")),
    ASSIGNED: (_l("Someone is assigned"), _l("A worker will come and handle it.")),
    IN_PROGRESS: (_l("Being handled"), _l("The worker is handling it now.")),
    RESOLVED: (
        _l("Done — please check"),
        _l("Please tell us if it is really fixed, and how satisfied you are."),
    ),
    CLOSED: (_l("Finished"), _l("This matter is closed. Thank you.")),
    REJECTED: (_l("Not accepted"), _l("See the reason below. You can call the committee.")),
    REOPENED: (_l("Being handled again"), _l("The committee will look at it again.")),
}


def resident_words(status: str) -> tuple:
    """A case's status as a resident reads it (easy mode): plain words, and what happens next."""
    return STATUS_WORDS.get(status, (status_label(status), ""))


# --- a resident at the lobby screen ------------------------------------------------------------

HANDLER_KINDS = {
    "property": _l("Property management"),
    "social_org": _l("Social organization"),
    "vendor": _l("Service company"),
    "grid_worker": _l("Grid worker"),
    "committee": _l("Residents' committee"),
}


def next_step(case: Case, handler: str) -> str:
    """What happens next, in plain kind words a resident can act on."""
    who = str(HANDLER_KINDS[handler])
    status = case.status
    if status == CLOSED and case.merged_into is not None:
        return _(
            "It is handled together with request %(ref)s: please look that one up.",
            ref=case.merged_into.reference,
        )
    if status == SUBMITTED:
        return _("The residents' committee will look at it soon.")
    if status == ACCEPTED:
        return _("The residents' committee has it and is finding someone to handle it.")
    if status == ASSIGNED:
        return _("%(who)s will come to handle it soon.", who=who)
    if status == REOPENED:
        return _("It is being looked at again. The residents' committee will arrange it.")
    if status == IN_PROGRESS:
        return _("%(who)s is working on it. You will be told when it is done.", who=who)
    if status == RESOLVED:
        return _("It has been fixed. If it is not right yet, please tell the residents' committee.")
    if status == REJECTED:
        return _("It was not taken on. To hear why, please call the residents' committee.")
    return _("It is finished. If there is still a problem, you can report it again.")


# --- ears --------------------------------------------------------------------------------------


def _locale() -> str:
    return str(get_locale() or "zh_CN")


def spoken_reference(reference: str, locale: str | None = None) -> str:
    """Digit by digit for text-to-speech, in the words the voice dialog uses on the phone (the
    voice language pack): '二零二六，杠，零零零一二三' (English: 'two zero two six, dash, …')."""
    return nlu.speak_reference(reference, locale or _locale())


def screen_speech(view: dict) -> str:
    """What the lobby screen says aloud about one case (a `kiosk_progress.progress_view`)."""
    ref = spoken_reference(view["reference"])
    if _locale().startswith("zh"):
        return (
            f"编号{ref}。{view['status_label']}。处理方：{view['handler_label']}。"
            f"{view['next_step']}"
        )
    return (
        f"Request {ref}. {view['status_label']}. Handled by: {view['handler_label']}. "
        f"{view['next_step']}"
    )


_HAN = re.compile(r"[\u4e00-\u9fff]")


def progress_sentence(
    reference: str | None, status: str, category: str | None = None, more: Sequence[str] = ()
) -> str:
    """The 查进度 sentence: 'Request 2026-000123 (报修): Accepted.' and `more` (who handles it,
    the latest public note …), as a screen or the API shows it.

    Without a reference (the voice dialog's reply already says "编号<reference>："): the
    category, the status and `more`, without the closing full stop the reply adds itself —
    "报修，已派单。由…办理。最新进展：…"; with no category (the status only): "已派单".
    """
    label = status_label(status)
    sep = "" if _locale().startswith("zh") else " "
    if reference is not None:
        if category is None:
            return _("Request %(ref)s: %(status)s.", ref=reference, status=label)
        head = _(
            "Request %(ref)s (%(category)s): %(status)s.",
            ref=reference,
            category=category,
            status=label,
        )
        return sep.join([head, *more])
    stop = "。" if _locale().startswith("zh") else "."
    rest = sep.join([label + stop, *more]).rstrip()
    rest = rest[:-1] if rest.endswith(("。", ".")) else rest
    if category is None:
        return rest
    comma = "，" if _HAN.search(category) else ", "
    return f"{category}{comma}{rest}"
