"""The app's side of the voice dialog: the services a conversation may call.

- `AppServices` implements the library's `Services` protocol over the real services: cases
  (channel "voice", transcript and the original audio as an attachment), announcements and
  activities for the caller's building, the committee's contact, and urgent help (an alert
  that climbs grid worker → committee staff → street office until acknowledged:
  app/affairs/urgent.py).
- `Caller` is what the dialog hands back to them; `owner_of` says whom a conversation belongs to.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from flask import g, has_app_context
from flask_babel import force_locale
from flask_babel import gettext as _

from app.affairs import categories, common, intake, queries, urgent
from app.infra import uow
from app.infra.errors import Invalid, NotFound, Unauthorized
from app.models.activity import ATTENDED, SIGNED_UP, WAITLISTED
from app.notices import audience
from app.notices import common as notices
from app.notices.common import local_zone
from app.participation import activities as participation_activities
from app.participation import votes
from app.people import communities
from app.people.actors import Actor

# Report categories of the language packs -> case category codes, best first. A kiosk files
# anonymously, so only categories that allow it are used for a screen.
CATEGORY_CODES = {
    "lighting": ("repair",),
    "elevator": ("repair",),
    "water": ("repair",),
    "noise": ("dispute", "suggestion"),
    "sanitation": ("environment",),
    "parking": ("environment",),
    "safety": ("safety",),
    "greenery": ("environment",),
    "road": ("environment", "repair"),
}
FALLBACK_CODES = ("suggestion", "environment", "safety", "repair", "help", "dispute")
# A screen files anonymously; where the understood category needs a name (报修, 求助, 邻里纠纷 by
# default), the nearest one that takes anonymous reports and keeps the matter moving: the same
# handler where possible (报修 → 环境卫生: the property), a short deadline for a plea for help
# (求助 → 安全隐患: the grid worker, 24 h), never 意见建议 (168 h) for those two.
NEAREST_ANONYMOUS = {
    "repair": ("environment", "safety"),
    "help": ("safety",),
    "dispute": ("suggestion",),
}


# --- who is speaking ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Caller:
    """What the dialog hands back to the services: the actor and the conversation's language."""

    actor: Actor
    language: str

    @property
    def locale(self) -> str:
        """The gettext locale of service texts (status sentences, labels) for this language."""
        return "en" if self.language.startswith("en") else "zh_CN"


def owner_of(actor: Actor) -> str:
    """Who a conversation belongs to: the device, or the person (and whom they act for)."""
    if actor.device is not None:
        return f"device:{actor.device.id}"
    if actor.person is None:
        raise Unauthorized()
    if actor.on_behalf_of is not None:
        return f"person:{actor.person.id}>{actor.on_behalf_of.id}"
    return f"person:{actor.person.id}"


def _building_of(actor: Actor):
    if actor.device is not None:
        return actor.device.building
    subject = actor.subject
    if subject is not None and subject.household is not None:
        return subject.household.building
    return None


# --- the app's side of the dialog ------------------------------------------------------------


class AppServices:
    """voice.Services over the real services; ``caller`` is a `Caller`."""

    @contextmanager
    def _call(self, caller: Caller) -> Iterator[None]:
        # The dialog turns a failing service into a spoken apology; the failed unit of work
        # must not be committed with the rest of the request.
        _babel_context()
        try:
            with force_locale(caller.locale):
                yield
        except Exception:
            uow.rollback()
            raise

    def announcements(self, caller: Caller) -> list[dict[str, str]]:
        """Live announcements for the caller's building (voice channel), newest first."""
        with self._call(caller):
            items = audience.current_for(caller.actor, "voice")
            return [
                {"title": a.title, "body": " ".join(notices.paragraphs(a.body))}
                for a in items
                if a.category != "activity"
            ]

    def activities(self, caller: Caller) -> list[dict[str, str]]:
        """Coming activities with sign-up (app/participation), then announced activities, with
        a spoken "when"."""
        with self._call(caller):
            found = [
                {"title": a.title, "when": _activity_when(a)}
                for a in participation_activities.list_activities(caller.actor)[:5]
            ]
            items = audience.current_for(caller.actor, "voice")
            return found + [
                {"title": a.title, "when": _when(a)} for a in items if a.category == "activity"
            ]

    def open_votes(self, caller: Caller) -> list[dict[str, Any]]:
        """The open votes of the caller's household (议事投票), soonest closing first. A screen
        has no household: it hears that there is nothing to vote on here."""
        with self._call(caller):
            if caller.actor.person is None:
                return []
            return [
                {"id": c.id, "title": c.title, "options": [o.label for o in c.options]}
                for c in votes.list_for_resident(caller.actor)
            ]

    def cast_vote(self, caller: Caller, vote_id: int, position: int) -> dict[str, Any]:
        """Cast (or change) the household's vote after the resident confirmed it."""
        with self._call(caller):
            _vote, replaced = votes.cast_vote(caller.actor, vote_id, position=position)
            return {"replaced": replaced}

    def signup_activities(self, caller: Caller) -> list[dict[str, Any]] | None:
        """The activities with sign-up, in the order `activities` reads them out ("报名第二个"
        means the second one heard). None for a screen: only a person can sign up."""
        with self._call(caller):
            if caller.actor.person is None:
                return None
            return [
                {
                    "id": a.id,
                    "title": a.title,
                    "when": _activity_when(a),
                    "open": participation_activities.signup_open(a),
                }
                for a in participation_activities.list_activities(caller.actor)[:5]
            ]

    def sign_up_activity(self, caller: Caller, activity_id: int) -> dict[str, Any]:
        """Sign the resident (or the elder a family member acts for) up after they confirmed:
        ``{"status": "signed_up" | "waitlisted", "position": N | None, "already": bool}``."""
        with self._call(caller):
            actor = caller.actor
            before = participation_activities.activity_view(
                actor, participation_activities.get_activity(actor, activity_id)
            )["my_status"]
            signup = participation_activities.sign_up(actor, activity_id)
            return {
                "status": signup.status,
                "position": participation_activities.waitlist_position(signup),
                "already": before in (SIGNED_UP, WAITLISTED, ATTENDED),
            }

    def my_signups(self, caller: Caller) -> list[dict[str, Any]] | None:
        """The coming activities the resident (or the elder a family member acts for) is signed
        up or waiting for: ``[{"id", "title", "when"}]``. None for a screen."""
        with self._call(caller):
            if caller.actor.person is None:
                return None
            return [
                {"id": a.id, "title": a.title, "when": _activity_time_place(a)}
                for a in participation_activities.my_signups(caller.actor)[:5]
            ]

    def cancel_signup_activity(self, caller: Caller, activity_id: int) -> dict[str, Any]:
        """Withdraw the sign-up after the resident confirmed; the first on the waiting list
        gets the place (participation's `cancel`, as on every channel)."""
        with self._call(caller):
            signup = participation_activities.cancel(caller.actor, activity_id)
            return {"status": signup.status}

    def committee_contact(self, caller: Caller) -> dict[str, str] | None:
        """The residents' committee of the caller's community."""
        with self._call(caller):
            community = communities.community_of(caller.actor)
            if community is None:
                return None
            return {
                "name": community.name,
                "phone": community.phone or "",
                "hours": community.office_hours or "",
                "address": community.address or "",
            }

    def submit_case(
        self,
        caller: Caller,
        description: str,
        transcript: str,
        audio: bytes | None,
        audio_mime: str | None,
        category_hint: str | None,
    ) -> str:
        """File a case on the voice channel with the transcript and the recording."""
        with self._call(caller):
            actor = caller.actor
            community = communities.community_of(actor)
            if community is None:
                raise Invalid(errors={"community_id": ["no community"]})
            category = _category_for(actor, community.id, category_hint)
            case = intake.submit_case(
                actor,
                description=description,
                transcript=transcript or description,
                category_id=category.id,
                community_id=community.id,
                channel="voice",
                audio=(bytes(audio), audio_mime) if audio else None,
            )
            return case.reference

    def case_status(self, caller: Caller, reference: str) -> dict[str, Any] | None:
        """The progress sentence the caller may hear (a screen hears only the public status)."""
        with self._call(caller):
            normal = common.normalize_reference(reference)
            if normal is None:
                return None
            try:
                # The reply already says "编号<reference>：": the sentence without it.
                sentence = queries.case_status_for_reference(
                    caller.actor, normal, with_reference=False
                )
            except (NotFound, Invalid):
                return None
            return {"reference": normal, "status_text": sentence, "updated": None}

    def urgent_help(self, caller: Caller, transcript: str) -> None:
        """Alert the grid worker (else the committee staff) now; it climbs until acknowledged."""
        with self._call(caller):
            alert_for_help(caller.actor, transcript)


def _babel_context() -> None:
    # Flask-Babel ignores an empty g (background threads) and would speak English.
    if has_app_context() and not g:
        g.linli_babel = True


def alert_for_help(actor: Actor, transcript: str) -> list[int]:
    """Urgent help (救命 / 我摔倒了): the alert starts its chain at the grid worker of the caller's
    building (else the committee staff) and climbs while nobody acknowledges it
    (app/affairs/urgent.py). Returns who was told now; raises Unavailable when nobody could be
    (the dialog then says so)."""
    return urgent.raise_urgent_help(actor, transcript)


def _category_for(actor: Actor, community_id: int, hint: str | None):
    rows = categories.list_categories(actor, community_id)
    anonymous_only = actor.device is not None
    usable = [c for c in rows if c.allow_anonymous or not anonymous_only]
    by_code = {c.code: c for c in usable}
    # a pack names either a topic (lighting → repair) or the category code itself (repair)
    wanted = CATEGORY_CODES.get(hint or "", (hint,) if hint else ())
    if anonymous_only:
        wanted += tuple(near for code in wanted for near in NEAREST_ANONYMOUS.get(code, ()))
    for code in wanted + FALLBACK_CODES:
        if code in by_code:
            return by_code[code]
    if usable:
        return usable[0]
    raise Invalid(errors={"category_id": ["no category can take a voice report here"]})


def _activity_time_place(a) -> str:
    """When and where an activity with sign-up is, to be said."""
    from flask_babel import format_datetime, get_locale

    pattern = "MMM d, HH:mm" if str(get_locale() or "zh_CN") == "en" else "M月d日 HH:mm"
    when = format_datetime(a.starts_at.astimezone(local_zone()), pattern)
    return f"{when}, {a.place}"


def _activity_when(a) -> str:
    """When and where an activity with sign-up is, and whether places are left, to be said."""
    left = max(0, a.capacity - a.taken)
    places = _("%(n)d places left", n=left) if left else _("Full. You can join the waiting list.")
    return f"{_activity_time_place(a)}, {places}"


def _when(a) -> str:
    """A short spoken "when" for an activity: its weekly window, else until when it runs."""
    from babel.dates import get_day_names
    from flask_babel import format_date, get_locale

    parts = []
    if a.window_days:
        names = get_day_names("wide", locale=str(get_locale() or "zh_CN"))
        parts.append("、".join(names[(d - 1) % 7] for d in a.window_days))
    if a.window_start and a.window_end:
        parts.append(f"{a.window_start}-{a.window_end}")
    if parts:
        return " ".join(parts)
    if a.expire_at is not None:
        return _("before %(date)s", date=format_date(a.expire_at.astimezone(local_zone()), "long"))
    when = a.publish_at or a.published_at
    return format_date(when.astimezone(local_zone()), "long") if when else _("soon")
