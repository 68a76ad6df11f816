"""Easy-mode (长辈版) use cases that no other service offers: what the resident's screens show.

Each function takes the Actor first and only reads; changes go through the owning services
(acknowledgements.acknowledge, intake.submit_case / confirm_case, proxies.*, accounts.update_me).
"""

from __future__ import annotations

import re

from flask_babel import get_locale, ngettext
from flask_babel import lazy_gettext as _l

from app.affairs import policy, queries, views, words
from app.infra.errors import NotFound
from app.infra.text import mask_phone, zh_quantity
from app.notices import acknowledgements, audience
from app.people import authz, communities, proxies
from app.people.actors import Actor

# Timeline steps as a resident reads them; other kinds fall back to the affairs labels.
EVENT_WORDS = {
    "submitted": _l("You reported it"),
    "accept": _l("The committee accepted it"),
    "reject": _l("The committee did not accept it"),
    "assigned": _l("A handler was assigned"),
    "start": _l("Work started"),
    "resolve": _l("The handler says it is done"),
    "confirm": _l("You confirmed it is fixed"),
    "reopen": _l("Sent back to be handled again"),
    "close": _l("Closed"),
    "auto_closed": _l("Closed automatically"),
    "note": _l("Message"),
    "attachment": _l("Photo or recording added"),
}
# 满意 / 一般 / 不满意 → the 1–5 rating the affairs service keeps.
RATINGS = (
    ("satisfied", 5, _l("Satisfied")),
    ("okay", 3, _l("Okay")),
    ("unsatisfied", 1, _l("Not satisfied")),
)


def tel_uri(phone: str | None) -> str | None:
    """A tap-to-call link for a landline or mobile number as written on a notice board."""
    if not phone:
        return None
    digits = re.sub(r"[^\d+]", "", phone)
    return f"tel:{digits}" if len(digits.lstrip("+")) >= 5 else None


# Numbers a notice asks people to call: mobiles and landlines with an area code anywhere; short
# hotlines (120, 119, 96777, 12345…) only right after a word that says to call, so that "120 人"
# or "周六 8:00" never become links.
_PHONE_IN_TEXT = re.compile(
    r"(?<![\d.:/-])(?P<long>(?:\+?86[ -]?)?"
    r"(?:1[3-9]\d(?:[ -]?\d{4}){2}|0\d{2,3}-?\d{7,8}))(?![\d:])"
    r"|(?:拨打|致电|电话|热线|请打|打给|call|dial)[:：]?\s*(?P<short>\d{3,8})(?![\d:.])",
    re.IGNORECASE,
)
_ANOTHER_NUMBER = re.compile(r"\s*(?:或|、|和|/|or)\s*(\d{3,8})(?![\d:.])", re.IGNORECASE)


def phone_parts(text: str | None) -> list[tuple[str, str | None]]:
    """Text cut into (piece, tel: link or None): the numbers in it that a tap should call."""
    text = text or ""
    parts: list[tuple[str, str | None]] = []
    rest = 0
    for match in _PHONE_IN_TEXT.finditer(text):
        if match.start() < rest:
            continue
        group = "long" if match.group("long") else "short"
        start, end = match.span(group)
        if start > rest:
            parts.append((text[rest:start], None))
        number = match.group(group)
        parts.append((number, "tel:" + re.sub(r"[^\d+]", "", number)))
        rest = end
        # "拨打 119 或 120": the second number is to call as well.
        while group == "short" and (more := _ANOTHER_NUMBER.match(text, rest)):
            parts.append((text[rest : more.start(1)], None))
            parts.append((more.group(1), "tel:" + more.group(1)))
            rest = more.end()
    if rest < len(text):
        parts.append((text[rest:], None))
    return parts


def contact_card(actor: Actor) -> dict | None:
    """How to reach the residents' committee: phone (tap to call), office hours, address."""
    community = communities.home_community(actor)
    if community is None:
        return None
    return {
        "name": community.name,
        "phone": community.phone,
        "tel": tel_uri(community.phone),
        "office_hours": community.office_hours,
        "address": community.address,
    }


def home_place(actor: Actor) -> str | None:
    """The resident's flat as they know it (e.g. 1号楼1单元101), a place a report can name."""
    subject = actor.subject
    if subject is None or subject.household is None:
        return None
    return subject.household.label


def home_building(actor: Actor):
    """The building the resident lives in (its stairwells, lift, doorway), or None."""
    subject = actor.subject
    if subject is None or subject.household is None:
        return None
    return subject.household.building


def announcements_for(actor: Actor, category: str | None = None) -> list[dict]:
    """Live announcements for the resident's home, urgent first and then newest first."""
    if communities.home_community(actor) is None:
        return []
    page = audience.list_announcements(
        actor, status="published", category=category, channel="app", per_page=200
    )
    items = list(page.items)
    acked = acknowledgements.acked_by(actor, [a.id for a in items])
    items.sort(key=lambda a: (not a.is_urgent, -(a.publish_at or a.created_at).timestamp(), -a.id))
    return [audience.announcement_view(actor, a, acked) for a in items]


def my_cases(actor: Actor, *, page: int = 1, per_page: int = 20):
    """The resident's own cases (newest first), as list rows with plain-word status."""
    listed = queries.list_cases(actor, mine=True, status="all", page=page, per_page=per_page)
    rows = []
    for case in listed.page.items:
        row = views.case_summary(case, listed.level)
        row["words"], row["hint"] = words.resident_words(case.status)
        rows.append(row)
    return listed.page, rows


def awaiting_confirmation(actor: Actor) -> list[dict]:
    """The resident's matters that staff say are done and that wait for the resident to confirm."""
    if actor.person is None or communities.home_community(actor) is None:
        return []
    listed = queries.list_cases(actor, mine=True, status="resolved", per_page=20)
    return [views.case_summary(case, listed.level) for case in listed.page.items]


def waiting_words(count: int) -> str:
    """ "有两件事等您确认。" / "2 matters wait for you to confirm." in the request's language, for
    the voice greeting and a resident signed in at a lobby screen."""
    word = zh_quantity(count) if str(get_locale() or "zh_CN").startswith("zh") else str(count)
    return ngettext(
        "%(count)s matter waits for you to confirm.",
        "%(count)s matters wait for you to confirm.",
        count,
        count=word,
    )


def case_for_resident(actor: Actor, case_id: int) -> dict:
    """One of the resident's cases with the timeline in plain words (others' cases: not found)."""
    case = queries.get_case(actor, case_id)
    view = views.case_view(actor, case)
    if view["level"] != "reporter":
        # Easy mode shows a resident their own matters only, never a neighbour's.
        raise NotFound()
    view["words"], view["hint"] = words.resident_words(case.status)
    for event in view["timeline"]:
        event["words"] = EVENT_WORDS.get(event["kind"], event["label"])
    view["spoken_reference"] = words.spoken_reference(case.reference)
    view["can_confirm"] = policy.may(actor, "confirm", case)
    view["can_reopen"] = policy.may(actor, "reopen", case) and case.status == "resolved"
    view["can_rate"] = policy.may(actor, "rate", case)
    view["rating_words"] = next(
        (str(words) for _k, value, words in RATINGS if value == view.get("rating")), None
    )
    return view


def family(actor: Actor) -> dict:
    """Family-proxy links seen from this person: whom I help, who helps me, who asks to."""
    authz.require_person(actor)
    me = actor.person.id
    helping, helpers, asking, asked = [], [], [], []
    for link in proxies.links_of(Actor.for_person(actor.person)):
        if link.status == "revoked":
            continue
        if link.proxy_id == me:
            # Until the resident agrees, the relative sees only the number they typed (masked).
            view = proxies.link_view(actor, link)
            entry = {
                "id": link.id,
                "resident_id": view["resident_id"],
                "relation": link.relation,
                "name": view["resident_name"],
                "phone": view["resident_phone"],
            }
            (helping if link.status == "confirmed" else asked).append(entry)
        else:
            entry = {
                "id": link.id,
                "relation": link.relation,
                "name": link.proxy.display_name,
                "phone": mask_phone(link.proxy.phone),
            }
            (helpers if link.status == "confirmed" else asking).append(entry)
    return {"helping": helping, "helpers": helpers, "asking": asking, "asked": asked}


def family_link(actor: Actor, link_id: int) -> dict:
    """One confirmed family link of this person (as `family` shows it), before ending it."""
    links = family(actor)
    for side in ("helping", "helpers"):
        for entry in links[side]:
            if entry["id"] == link_id:
                return dict(entry, side=side)
    raise NotFound()


def pending_requests(actor: Actor) -> int:
    """How many relatives are waiting for this resident to say yes (for the home banner)."""
    if actor.person is None or actor.on_behalf_of is not None:
        return 0
    return len(family(actor)["asking"])
