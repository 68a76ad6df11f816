"""Multi-turn voice dialog: a server-side state machine per conversation.

Why one file (~700 lines): it is one state machine — the `Dialog` class is most of it, and its
states, read-backs and store contract only make sense read together.

States: ``idle`` → (intent) → ``ask_description`` / ``confirm_report`` / ``ask_reference`` →
``done`` (``done`` behaves like ``idle``: the resident may ask for something else).

Rules that matter to residents:

* nothing is filed without an explicit "yes" to a read-back that names the understood
  category ("您说的是报修：楼道灯坏了，对吗？"); "不对，是求助" changes only the category;
* a sign-up is made or withdrawn (报名 / 取消报名) only after a read-back naming the activity;
  a bare "取消" to "您要取消报名的是…，确认吗？" keeps the sign-up, and says so;
* urgent help acts at once, without confirmation, and the reply always tells them to call
  120/110 if in danger — even if alerting the staff failed;
* "再说一遍" repeats the last reply; "说慢一点" slows speech for the rest of the conversation;
* after two not-understood turns in a row the resident is offered touch input or a phone call;
* a conversation expires only after ``ttl`` (≥ 60 s, default 120 s) without input.

The app acts through the :class:`Services` protocol and stores conversations through a
:class:`DialogStore`; conversation state is plain JSON so a Redis or database store can replace
the in-memory one. A turn reads its state through the store's ``get_for_update`` when it has one
(a store shared by processes locks the conversation there until the turn's work is committed),
else through ``get`` under a lock of this process.
"""

from __future__ import annotations

import base64
import json
import logging
import re
import secrets
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any, Protocol, runtime_checkable

from .errors import ConversationNotFound
from .nlu import (
    CONTROL_INTENTS,
    UNKNOWN,
    Intent,
    LanguagePack,
    ReferenceFormat,
    Understander,
)
from .tts import DEFAULT_RATE, slower_rate

log = logging.getLogger(__name__)

MIN_TTL = 60.0
DEFAULT_TTL = 120.0
STATE_VERSION = 1


@runtime_checkable
class Services(Protocol):
    """What the app provides to the dialog. ``caller`` is the app's actor/device, opaque here."""

    def announcements(self, caller: Any) -> list[dict[str, str]]:
        """Recent announcements for the caller: ``[{"title", "body"}]``, newest first."""
        ...

    def activities(self, caller: Any) -> list[dict[str, str]]:
        """Upcoming activities: ``[{"title", "when"}]`` (``when`` already human-readable)."""
        ...

    def committee_contact(self, caller: Any) -> dict[str, str] | None:
        """The caller's residents' committee: ``{"name", "phone", "hours", "address"}``."""
        ...

    def submit_case(
        self,
        caller: Any,
        description: str,
        transcript: str,
        audio: bytes | None,
        audio_mime: str | None,
        category_hint: str | None,
    ) -> str:
        """File a case and return its reference (``YYYY-NNNNNN``)."""
        ...

    def case_status(self, caller: Any, reference: str) -> dict[str, Any] | None:
        """``{"reference", "status_text", "updated"}`` or None if not found / not visible."""
        ...

    def urgent_help(self, caller: Any, transcript: str) -> None:
        """Alert staff that the caller needs help now."""
        ...

    # Optional (议事投票; the "votes" intent answers only when the services have them):
    # open_votes(caller) -> [{"id", "title", "options": [label, …]}], soonest closing first;
    # cast_vote(caller, vote_id, position) -> {"replaced": bool}.
    # Optional (活动报名; the "signup" intent answers only when the services have them):
    # signup_activities(caller) -> [{"id", "title", "when", "open": bool}] in the order
    # `activities` reads them, or None when the caller cannot sign up (a screen);
    # sign_up_activity(caller, activity_id) -> {"status": "signed_up" | "waitlisted",
    # "position": int | None, "already": bool}.
    # Optional (取消报名; the "cancel_signup" intent answers only when the services have them):
    # my_signups(caller) -> [{"id", "title", "when"}] the caller is signed up or waiting for,
    # soonest first, or None when the caller cannot sign up (a screen);
    # cancel_signup_activity(caller, activity_id) -> {"status": "cancelled"}.


@dataclass(frozen=True)
class TurnResult:
    """What one turn produced; the app renders ``reply_text`` and speaks ``speech_text``."""

    conversation_id: str
    intent: str
    reply_text: str
    speech_text: str
    state: str
    rate: str
    language: str
    listen: str = "commands"  # how to recognize the next utterance: commands/yesno/reference/free
    ended: bool = False
    case_ref: str | None = None
    confidence: float = 0.0
    transcript: str = ""
    fallback: str | None = None  # "touch_or_call" after repeated misunderstanding
    alerted: bool | None = None  # urgent turns: did the alert reach the app?
    error: str | None = None  # "service_failed" when the app's service raised

    def to_dict(self) -> dict[str, Any]:
        """Return the result as a JSON-ready dict."""
        return asdict(self)


class DialogStore(Protocol):
    """Where conversation states live; values are JSON-serialisable dicts."""

    def get(self, conversation_id: str) -> dict[str, Any] | None:
        """The state, or None if unknown or expired."""
        ...

    def put(self, conversation_id: str, state: dict[str, Any], ttl: float) -> None:
        """Store the state; it expires ``ttl`` seconds after this call."""
        ...

    def delete(self, conversation_id: str) -> None:
        """Forget the conversation."""
        ...

    # Optional: ``get_for_update(conversation_id)`` — the state for a turn that will ``put`` it
    # back; a store shared by processes keeps other turns of the conversation waiting until
    # this one is done, and may refuse a ``put`` of a state changed meanwhile by raising
    # ConversationBusy.


class MemoryDialogStore:
    """Thread-safe in-process store with expiry; states are kept as JSON text."""

    def __init__(self, clock: Callable[[], float] = time.monotonic, max_items: int = 10_000):
        self._clock = clock
        self._max = max_items
        self._data: dict[str, tuple[float, str]] = {}
        self._lock = threading.Lock()

    def get(self, conversation_id: str) -> dict[str, Any] | None:
        """The state, or None if unknown or expired."""
        with self._lock:
            item = self._data.get(conversation_id)
            if item is None:
                return None
            expires, text = item
            if self._clock() >= expires:
                del self._data[conversation_id]
                return None
        return json.loads(text)

    def put(self, conversation_id: str, state: dict[str, Any], ttl: float) -> None:
        """Store the state for ``ttl`` seconds (raises TypeError if not JSON-serialisable)."""
        text = json.dumps(state, ensure_ascii=False)
        with self._lock:
            now = self._clock()
            self._data[conversation_id] = (now + ttl, text)
            if len(self._data) > self._max:
                self._purge(now)

    def delete(self, conversation_id: str) -> None:
        """Forget the conversation."""
        with self._lock:
            self._data.pop(conversation_id, None)

    def __len__(self) -> int:
        with self._lock:
            self._purge(self._clock())
            return len(self._data)

    def _purge(self, now: float) -> None:
        for key in [k for k, (exp, _) in self._data.items() if exp <= now]:
            del self._data[key]
        while len(self._data) > self._max:  # drop the ones closest to expiry
            del self._data[min(self._data, key=lambda k: self._data[k][0])]


class Dialog:
    """The conversation engine: ``start`` a conversation, then feed it ``turn`` by turn."""

    def __init__(
        self,
        services: Services,
        packs: LanguagePack | Iterable[LanguagePack] | Mapping[str, LanguagePack],
        *,
        store: DialogStore | None = None,
        ttl: float = DEFAULT_TTL,
        default_language: str | None = None,
        reference_format: ReferenceFormat | None = None,
        max_failures: int = 2,
        max_items: int = 3,
        max_body_chars: int = 80,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if ttl < MIN_TTL:
            raise ValueError(f"a conversation must live at least {MIN_TTL:g} s without input")
        if isinstance(packs, LanguagePack):
            packs = [packs]
        if isinstance(packs, Mapping):
            packs = list(packs.values())
        self.packs: dict[str, LanguagePack] = {p.code: p for p in packs}
        if not self.packs:
            raise ValueError("at least one language pack is needed")
        self.default_language = default_language or next(iter(self.packs))
        self.services = services
        self.store: DialogStore = store if store is not None else MemoryDialogStore()
        self.ttl = float(ttl)
        self.max_failures = max_failures
        self.max_items = max_items
        self.max_body_chars = max_body_chars
        self._clock = clock
        self._nlu = {
            code: Understander(pack, reference_format) for code, pack in self.packs.items()
        }
        self._locks = [threading.Lock() for _ in range(64)]

    # --- public --------------------------------------------------------------------------------

    def understander(self, language: str | None = None) -> Understander:
        """The intent matcher of a language."""
        return self._nlu[self._language(language)]

    def start(
        self, caller: Any, *, language: str | None = None, owner: str | None = None
    ) -> TurnResult:
        """Open a conversation and greet; ``owner`` (e.g. a device id) binds it to a caller."""
        code = self._language(language)
        now = self._clock()
        state = {
            "v": STATE_VERSION,
            "id": secrets.token_urlsafe(18),
            "language": code,
            "state": "idle",
            "rate": DEFAULT_RATE,
            "failures": 0,
            "last_reply": "",
            "slots": {},
            "owner": owner,
            "created": now,
            "updated": now,
            "turns": 0,
        }
        reply = self.packs[code].reply("greeting")
        return self._finish(state, "greeting", reply, confidence=1.0)

    def turn(
        self,
        conversation_id: str,
        caller: Any,
        text: str,
        *,
        owner: str | None = None,
        audio: bytes | None = None,
        audio_mime: str | None = None,
        intent: Intent | None = None,
    ) -> TurnResult:
        """Advance the conversation with what the resident said (recognized ``text``).

        ``audio``/``audio_mime`` (the utterance as uploaded) are kept with a report's
        description and handed to ``submit_case``. ``intent`` skips parsing when the caller
        already understood the text. Raises ConversationNotFound for unknown/expired ids.
        """
        load = getattr(self.store, "get_for_update", None) or self.store.get
        with self._locks[hash(conversation_id) % len(self._locks)]:
            state = load(conversation_id)
            if state is None or (state.get("owner") is not None and state["owner"] != owner):
                raise ConversationNotFound(
                    "no such conversation (it may have expired)", conversation_id=conversation_id
                )
            state["turns"] += 1
            state["updated"] = self._clock()
            return self._turn(state, caller, text or "", audio, audio_mime, intent)

    def get(self, conversation_id: str) -> dict[str, Any] | None:
        """The stored state of a conversation (for the app's debugging views), or None."""
        return self.store.get(conversation_id)

    def listen_mode(self, conversation_id: str) -> str:
        """How the next utterance of a conversation should be recognized."""
        state = self.store.get(conversation_id)
        return _LISTEN.get(state["state"], "commands") if state else "commands"

    def end(self, conversation_id: str) -> None:
        """Close a conversation now (the resident walked away, or the app hung up)."""
        self.store.delete(conversation_id)

    # --- the state machine ---------------------------------------------------------------------

    def _turn(
        self,
        state: dict[str, Any],
        caller: Any,
        text: str,
        audio: bytes | None,
        audio_mime: str | None,
        intent: Intent | None,
    ) -> TurnResult:
        pack = self.packs[state["language"]]
        nlu = self._nlu[pack.code]
        current = state["state"]
        if intent is None:
            intent = nlu.parse(text, _EXPECT.get(current))
        name = intent.name
        kw = {"confidence": intent.confidence, "transcript": text}

        if name in ("cancel", "cancel_signup") and current == "choose_cancel_signup":
            # "取消第二个" while choosing which sign-up to cancel is a choice, not "never mind"
            position = self._cancel_choice(state, pack, text)
            if position is not None:
                return self._confirm_cancel_signup(state, pack, position, kw)
        if name == "cancel" and current == "confirm_cancel_signup":
            # a bare "取消" to "您要取消报名的是…确认吗？" is unclear: the sign-up stays, and
            # they hear so (the control's "已经取消了" would sound like the opposite)
            self._done(state)
            reply = _join(pack.reply("cancel_signup_kept"), pack.reply("anything_else"))
            return self._finish(state, "cancel_signup", reply, **kw)

        # control intents work in every state
        if name == "urgent":
            return self._urgent(state, caller, text, intent)
        if name == "repeat":
            reply = state["last_reply"] or pack.reply("nothing_to_repeat")
            return self._finish(state, name, reply, remember=False, **kw)
        if name == "slower":
            new_rate = slower_rate(state["rate"])
            prefix = pack.reply("slower" if new_rate != state["rate"] else "slowest")
            state["rate"] = new_rate
            state["failures"] = 0
            reply = _join(prefix, state["last_reply"])
            return self._finish(state, name, reply, remember=False, **kw)
        if name == "cancel":
            self._reset(state)
            return self._finish(state, name, pack.reply("cancelled"), **kw)
        if name == "restart":
            self._reset(state)
            reply = _join(pack.reply("restarted"), pack.reply("greeting"))
            return self._finish(state, name, reply, **kw)
        if name == "goodbye":
            self._reset(state)
            return self._finish(state, name, pack.reply("goodbye"), ended=True, **kw)
        if name == "help":
            state["failures"] = 0
            return self._finish(state, name, pack.reply("help"), **kw)

        if current == "ask_description":
            description = intent.slots.get("description") if name == "report" else None
            if name != "report":
                description = nlu.clean_description(text)
            if not description or len(description) < 2:
                return self._not_understood(state, caller, pack, "ask_description", **kw)
            return self._confirm(state, nlu, description, text, audio, audio_mime, kw)

        if current == "confirm_report":
            if name == "yes":
                return self._submit(state, caller, pack, kw)
            if name == "no":
                correction = nlu.clean_description(intent.slots.get("rest", ""))
                category = nlu.category_named(correction)
                if category:  # "不对，是求助": the same matter, another category
                    state["slots"]["category"] = category
                    state["failures"] = 0
                    return self._finish(state, "report", _confirmation(nlu, state["slots"]), **kw)
                if len(correction) >= 2:
                    return self._confirm(state, nlu, correction, text, audio, audio_mime, kw)
                state["state"] = "ask_description"
                state["failures"] = 0
                return self._finish(state, name, pack.reply("report_retry"), **kw)
            prompt = _confirmation(nlu, state["slots"], again=True)
            return self._not_understood(state, caller, pack, prompt=prompt, **kw)

        if current == "ask_reference":
            reference = intent.slots.get("reference") or nlu.extract_reference(text)
            if not reference:
                return self._not_understood(state, caller, pack, "ask_reference", **kw)
            return self._progress(state, caller, pack, reference, kw)

        if current == "choose_vote":
            return self._choose_vote(state, caller, pack, text, kw)

        if current == "confirm_vote":
            if name == "yes":
                return self._cast_vote(state, caller, pack, kw)
            if name == "no":
                state["state"] = "choose_vote"
                state["failures"] = 0
                return self._finish(state, name, _vote_prompt(pack, state["slots"]), **kw)
            slots = state["slots"]
            label = slots["options"][slots["position"] - 1]
            return self._not_understood(
                state, caller, pack, prompt=pack.reply("vote_confirm", label=label), **kw
            )

        if current == "choose_activity":
            return self._choose_activity(state, caller, pack, text, kw)

        if current == "confirm_signup":
            if name == "yes":
                return self._sign_up(state, caller, pack, kw)
            said = text.strip().lower()
            if name == "no" or any(said.startswith(n) for n in pack.negators if n):
                # "不", "不报了": nothing is signed up
                self._done(state)
                reply = _join(pack.reply("signup_cancelled"), pack.reply("anything_else"))
                return self._finish(state, "signup", reply, **kw)
            return self._not_understood(
                state, caller, pack, prompt=_signup_confirmation(pack, state["slots"]), **kw
            )

        if current == "choose_cancel_signup":
            position = self._cancel_choice(state, pack, text)
            if position is None:
                prompt = _cancel_signup_prompt(pack, state["slots"]["activities"], again=True)
                return self._not_understood(state, caller, pack, prompt=prompt, **kw)
            return self._confirm_cancel_signup(state, pack, position, kw)

        if current == "confirm_cancel_signup":
            if name in ("yes", "cancel_signup"):  # "取消报名" again is a yes too
                return self._cancel_signup(state, caller, pack, kw)
            said = text.strip().lower()
            if name == "no" or any(said.startswith(n) for n in pack.negators if n):
                self._done(state)
                reply = _join(pack.reply("cancel_signup_kept"), pack.reply("anything_else"))
                return self._finish(state, "cancel_signup", reply, **kw)
            prompt = _fill(pack.replies["cancel_signup_confirm"], state["slots"])
            return self._not_understood(state, caller, pack, prompt=prompt, **kw)

        # idle / done
        if name == "cancel_signup":
            return self._withdraw(state, caller, pack, text, kw)
        if name == "signup":
            return self._signup(state, caller, pack, text, kw)
        if name == "votes":
            return self._votes(state, caller, pack, kw)
        if name == "announcements":
            return self._announcements(state, caller, pack, kw)
        if name == "activities":
            return self._activities(state, caller, pack, kw)
        if name == "committee":
            return self._committee(state, caller, pack, kw)
        if name == "report":
            description = intent.slots.get("description")
            if description and len(description) >= 2:
                return self._confirm(state, nlu, description, text, audio, audio_mime, kw)
            state["state"] = "ask_description"
            state["failures"] = 0
            return self._finish(state, name, pack.reply("ask_description"), **kw)
        if name == "progress":
            reference = intent.slots.get("reference")
            if reference:
                return self._progress(state, caller, pack, reference, kw)
            state["state"] = "ask_reference"
            state["failures"] = 0
            return self._finish(state, name, pack.reply("ask_reference"), **kw)
        if name in ("yes", "no"):  # nothing to confirm: say what they can do
            state["failures"] = 0
            return self._finish(state, name, pack.reply("help"), **kw)
        return self._not_understood(state, caller, pack, **kw)

    # --- actions -------------------------------------------------------------------------------

    def _urgent(self, state: dict[str, Any], caller: Any, text: str, intent: Intent) -> TurnResult:
        pack = self.packs[state["language"]]
        alerted = True
        try:
            self.services.urgent_help(caller, text)
        except Exception:  # the resident must still hear to call 120/110
            log.exception("urgent_help failed for conversation %s", state["id"])
            alerted = False
        self._reset(state)
        state["state"] = "done"
        return self._finish(
            state,
            "urgent",
            pack.reply("urgent"),
            confidence=intent.confidence,
            transcript=text,
            alerted=alerted,
            error=None if alerted else "service_failed",
        )

    def _confirm(
        self,
        state: dict[str, Any],
        nlu: Understander,
        description: str,
        text: str,
        audio: bytes | None,
        audio_mime: str | None,
        kw: dict[str, Any],
    ) -> TurnResult:
        slots = state["slots"]
        slots["description"] = description
        slots["transcript"] = text
        # the category comes from everything said ("我要报修，…" counts), and is read back
        slots["category"] = nlu.category_hint(f"{text} {description}")
        if audio:
            slots["audio_b64"] = base64.b64encode(bytes(audio)).decode("ascii")
            slots["audio_mime"] = audio_mime
        else:
            slots.pop("audio_b64", None)
            slots.pop("audio_mime", None)
        state["state"] = "confirm_report"
        state["failures"] = 0
        reply = _confirmation(nlu, slots)
        return self._finish(state, "report", reply, **kw)

    def _submit(
        self, state: dict[str, Any], caller: Any, pack: LanguagePack, kw: dict[str, Any]
    ) -> TurnResult:
        slots = state["slots"]
        audio = base64.b64decode(slots["audio_b64"]) if slots.get("audio_b64") else None
        try:
            reference = self.services.submit_case(
                caller,
                slots["description"],
                slots.get("transcript", slots["description"]),
                audio,
                slots.get("audio_mime") if audio else None,
                slots.get("category"),
            )
        except Exception:
            log.exception("submit_case failed for conversation %s", state["id"])
            state["failures"] = 0
            return self._finish(
                state, "yes", pack.reply("service_error"), error="service_failed", **kw
            )
        self._reset(state)
        state["state"] = "done"
        reply = pack.reply("report_filed", reference=reference)
        return self._finish(state, "yes", reply, case_ref=reference, **kw)

    def _progress(
        self,
        state: dict[str, Any],
        caller: Any,
        pack: LanguagePack,
        reference: str,
        kw: dict[str, Any],
    ) -> TurnResult:
        try:
            status = self.services.case_status(caller, reference)
        except Exception:
            log.exception("case_status failed for conversation %s", state["id"])
            return self._service_error(state, pack, "progress", kw)
        if not status:
            state["state"] = "ask_reference"
            reply = pack.reply("reference_not_found", reference=reference)
            return self._finish(state, "progress", reply, **kw)
        self._reset(state)
        state["state"] = "done"
        values = {
            "reference": status.get("reference") or reference,
            "status": status.get("status_text", ""),
            "updated": status.get("updated") or "",
        }
        key = "progress_updated" if values["updated"] else "progress"
        reply = _fill(pack.replies[key], values)
        return self._finish(state, "progress", reply, case_ref=values["reference"], **kw)

    def _announcements(
        self, state: dict[str, Any], caller: Any, pack: LanguagePack, kw: dict[str, Any]
    ) -> TurnResult:
        try:
            items = list(self.services.announcements(caller) or [])
        except Exception:
            log.exception("announcements failed for conversation %s", state["id"])
            return self._service_error(state, pack, "announcements", kw)
        if not items:
            reply = pack.reply("announcements_none")
        else:
            parts = [pack.reply("announcements_intro", count=len(items))]
            for n, item in enumerate(items[: self.max_items], 1):
                body = _shorten(str(item.get("body") or ""), self.max_body_chars)
                values = {"n": n, "title": item.get("title", ""), "body": body}
                parts.append(_fill(pack.replies["announcement_item"], values))
            reply = _join(*parts, pack.reply("anything_else"))
        self._done(state)
        return self._finish(state, "announcements", reply, **kw)

    def _activities(
        self, state: dict[str, Any], caller: Any, pack: LanguagePack, kw: dict[str, Any]
    ) -> TurnResult:
        try:
            items = list(self.services.activities(caller) or [])
        except Exception:
            log.exception("activities failed for conversation %s", state["id"])
            return self._service_error(state, pack, "activities", kw)
        if not items:
            reply = pack.reply("activities_none")
        else:
            parts = [pack.reply("activities_intro", count=len(items))]
            for item in items[: self.max_items]:
                values = {"title": item.get("title", ""), "when": item.get("when", "")}
                parts.append(_fill(pack.replies["activity_item"], values))
            reply = _join(*parts, pack.reply("anything_else"))
        self._done(state)
        return self._finish(state, "activities", reply, **kw)

    def _votes(
        self, state: dict[str, Any], caller: Any, pack: LanguagePack, kw: dict[str, Any]
    ) -> TurnResult:
        open_votes = getattr(self.services, "open_votes", None)
        if open_votes is None:
            return self._not_understood(state, caller, pack, **kw)
        try:
            items = list(open_votes(caller) or [])
        except Exception:
            log.exception("open_votes failed for conversation %s", state["id"])
            return self._service_error(state, pack, "votes", kw)
        if not items:
            self._done(state)
            return self._finish(state, "votes", pack.reply("votes_none"), **kw)
        first = items[0]  # the one closing soonest: one question at a time
        state["state"] = "choose_vote"
        state["failures"] = 0
        state["slots"] = {
            "vote_id": first["id"],
            "title": first["title"],
            "options": [str(o) for o in first["options"]],
        }
        reply = _join(
            pack.reply("votes_intro", count=len(items)), _vote_prompt(pack, state["slots"])
        )
        return self._finish(state, "votes", reply, **kw)

    def _choose_vote(
        self, state: dict[str, Any], caller: Any, pack: LanguagePack, text: str, kw: dict
    ) -> TurnResult:
        slots = state["slots"]
        position = _chosen_option(pack, text, slots["options"])
        if position is None:
            return self._not_understood(
                state, caller, pack, prompt=_vote_prompt(pack, slots, again=True), **kw
            )
        slots["position"] = position
        state["state"] = "confirm_vote"
        state["failures"] = 0
        label = slots["options"][position - 1]
        return self._finish(state, "votes", pack.reply("vote_confirm", label=label), **kw)

    def _cast_vote(
        self, state: dict[str, Any], caller: Any, pack: LanguagePack, kw: dict[str, Any]
    ) -> TurnResult:
        slots = state["slots"]
        try:
            self.services.cast_vote(caller, slots["vote_id"], slots["position"])
        except Exception:
            log.exception("cast_vote failed for conversation %s", state["id"])
            return self._service_error(state, pack, "votes", kw)
        self._done(state)
        reply = _join(pack.reply("vote_cast"), pack.reply("anything_else"))
        return self._finish(state, "votes", reply, **kw)

    def _signup(
        self, state: dict[str, Any], caller: Any, pack: LanguagePack, text: str, kw: dict
    ) -> TurnResult:
        listing = getattr(self.services, "signup_activities", None)
        if listing is None:
            return self._not_understood(state, caller, pack, **kw)
        try:
            items = listing(caller)
        except Exception:
            log.exception("signup_activities failed for conversation %s", state["id"])
            return self._service_error(state, pack, "signup", kw)
        if items is None:  # a screen: only a person can sign up
            self._done(state)
            return self._finish(state, "signup", pack.reply("signup_need_person"), **kw)
        items = [
            {
                "id": i["id"],
                "title": str(i.get("title", "")),
                "when": str(i.get("when", "")),
                "open": bool(i.get("open", True)),
            }
            for i in list(items)[: self.max_items]
        ]
        if not items:
            self._done(state)
            reply = _join(pack.reply("signup_none"), pack.reply("anything_else"))
            return self._finish(state, "signup", reply, **kw)
        # the pending choice lives in the slots, like a vote's: any worker can take the next turn
        state["slots"] = {"activities": items}
        state["failures"] = 0
        position = _chosen_option(pack, text, [i["title"] for i in items])
        if position is None and len(items) == 1:
            position = 1
        if position is None:
            state["state"] = "choose_activity"
            return self._finish(state, "signup", _signup_prompt(pack, items), **kw)
        return self._confirm_signup(state, pack, position, kw)

    def _choose_activity(
        self, state: dict[str, Any], caller: Any, pack: LanguagePack, text: str, kw: dict
    ) -> TurnResult:
        items = state["slots"]["activities"]
        position = _chosen_option(pack, text, [i["title"] for i in items])
        if position is None:
            return self._not_understood(
                state, caller, pack, prompt=_signup_prompt(pack, items, again=True), **kw
            )
        return self._confirm_signup(state, pack, position, kw)

    def _confirm_signup(
        self, state: dict[str, Any], pack: LanguagePack, position: int, kw: dict
    ) -> TurnResult:
        chosen = state["slots"]["activities"][position - 1]
        if not chosen["open"]:
            self._done(state)
            reply = _join(pack.reply("signup_closed", title=chosen["title"]))
            return self._finish(state, "signup", reply, **kw)
        state["slots"] = {
            "activity_id": chosen["id"],
            "title": chosen["title"],
            "when": chosen["when"],
        }
        state["state"] = "confirm_signup"
        state["failures"] = 0
        return self._finish(state, "signup", _signup_confirmation(pack, state["slots"]), **kw)

    def _sign_up(
        self, state: dict[str, Any], caller: Any, pack: LanguagePack, kw: dict[str, Any]
    ) -> TurnResult:
        slots = state["slots"]
        try:
            result = self.services.sign_up_activity(caller, slots["activity_id"]) or {}
        except Exception:
            log.exception("sign_up_activity failed for conversation %s", state["id"])
            return self._service_error(state, pack, "signup", kw)
        waiting = result.get("status") == "waitlisted"
        key = "signup_waitlisted" if waiting else "signup_done"
        if result.get("already"):
            key = "signup_already_waiting" if waiting else "signup_already"
        reply = _fill(
            pack.replies[key], {"title": slots["title"], "position": result.get("position")}
        )
        self._done(state)
        return self._finish(state, "signup", _join(reply, pack.reply("anything_else")), **kw)

    def _withdraw(
        self, state: dict[str, Any], caller: Any, pack: LanguagePack, text: str, kw: dict
    ) -> TurnResult:
        listing = getattr(self.services, "my_signups", None)
        if listing is None or not hasattr(self.services, "cancel_signup_activity"):
            return self._not_understood(state, caller, pack, **kw)
        try:
            items = listing(caller)
        except Exception:
            log.exception("my_signups failed for conversation %s", state["id"])
            return self._service_error(state, pack, "cancel_signup", kw)
        if items is None:  # a screen: only a person has sign-ups
            self._done(state)
            reply = pack.reply("cancel_signup_need_person")
            return self._finish(state, "cancel_signup", reply, **kw)
        items = [
            {"id": i["id"], "title": str(i.get("title", "")), "when": str(i.get("when", ""))}
            for i in list(items)[: self.max_items]
        ]
        if not items:
            self._done(state)
            reply = _join(pack.reply("cancel_signup_none"), pack.reply("anything_else"))
            return self._finish(state, "cancel_signup", reply, **kw)
        state["slots"] = {"activities": items}
        state["failures"] = 0
        position = self._cancel_choice(state, pack, text)
        if position is None and len(items) == 1:
            position = 1
        if position is None:
            state["state"] = "choose_cancel_signup"
            return self._finish(state, "cancel_signup", _cancel_signup_prompt(pack, items), **kw)
        return self._confirm_cancel_signup(state, pack, position, kw)

    @staticmethod
    def _cancel_choice(state: dict[str, Any], pack: LanguagePack, text: str) -> int | None:
        return _chosen_option(pack, text, [i["title"] for i in state["slots"]["activities"]])

    def _confirm_cancel_signup(
        self, state: dict[str, Any], pack: LanguagePack, position: int, kw: dict
    ) -> TurnResult:
        chosen = state["slots"]["activities"][position - 1]
        state["slots"] = {
            "activity_id": chosen["id"],
            "title": chosen["title"],
            "when": chosen["when"],
        }
        state["state"] = "confirm_cancel_signup"
        state["failures"] = 0
        reply = _fill(pack.replies["cancel_signup_confirm"], state["slots"])
        return self._finish(state, "cancel_signup", reply, **kw)

    def _cancel_signup(
        self, state: dict[str, Any], caller: Any, pack: LanguagePack, kw: dict[str, Any]
    ) -> TurnResult:
        slots = state["slots"]
        try:
            self.services.cancel_signup_activity(caller, slots["activity_id"])
        except Exception:
            log.exception("cancel_signup_activity failed for conversation %s", state["id"])
            return self._service_error(state, pack, "cancel_signup", kw)
        self._done(state)
        reply = _join(
            pack.reply("cancel_signup_done", title=slots["title"]), pack.reply("anything_else")
        )
        return self._finish(state, "cancel_signup", reply, **kw)

    def _committee(
        self, state: dict[str, Any], caller: Any, pack: LanguagePack, kw: dict[str, Any]
    ) -> TurnResult:
        try:
            contact = self.services.committee_contact(caller) or {}
        except Exception:
            log.exception("committee_contact failed for conversation %s", state["id"])
            return self._service_error(state, pack, "committee", kw)
        if not contact.get("phone") and not contact.get("address"):
            reply = pack.reply("committee_unknown")
        else:
            reply = _fill(pack.replies["committee"], contact)
        self._done(state)
        return self._finish(state, "committee", reply, **kw)

    def _not_understood(
        self,
        state: dict[str, Any],
        caller: Any,
        pack: LanguagePack,
        reprompt: str | None = None,
        *,
        prompt: str | None = None,
        **kw: Any,
    ) -> TurnResult:
        state["failures"] += 1
        if state["failures"] >= self.max_failures:
            state["failures"] = 0
            phone = self._committee_phone(caller)
            if phone:
                reply = pack.reply("offer_touch_phone", phone=phone)
            else:
                reply = pack.reply("offer_touch")
            return self._finish(state, UNKNOWN, reply, fallback="touch_or_call", **kw)
        if prompt is None:
            prompt = pack.reply(reprompt) if reprompt else ""
        reply = _join(pack.reply("not_understood"), prompt)
        return self._finish(state, UNKNOWN, reply, **kw)

    def _service_error(
        self, state: dict[str, Any], pack: LanguagePack, name: str, kw: dict[str, Any]
    ) -> TurnResult:
        self._done(state)
        return self._finish(state, name, pack.reply("service_error"), error="service_failed", **kw)

    def _committee_phone(self, caller: Any) -> str | None:
        try:
            contact = self.services.committee_contact(caller) or {}
        except Exception:
            log.exception("committee_contact failed while offering a phone call")
            return None
        return contact.get("phone") or None

    # --- bookkeeping ---------------------------------------------------------------------------

    def _language(self, language: str | None) -> str:
        code = language or self.default_language
        if code not in self.packs:
            raise ValueError(f"no language pack {code!r}; loaded: {sorted(self.packs)}")
        return code

    @staticmethod
    def _reset(state: dict[str, Any]) -> None:
        state["state"] = "idle"
        state["slots"] = {}
        state["failures"] = 0

    @staticmethod
    def _done(state: dict[str, Any]) -> None:
        state["state"] = "done"
        state["slots"] = {}
        state["failures"] = 0

    def _finish(
        self,
        state: dict[str, Any],
        intent: str,
        reply: str,
        *,
        remember: bool = True,
        ended: bool = False,
        **extra: Any,
    ) -> TurnResult:
        pack = self.packs[state["language"]]
        if intent != UNKNOWN:
            state["failures"] = 0  # "two failed turns in a row": any understood turn breaks it
        if remember:
            state["last_reply"] = reply
        if ended:
            self.store.delete(state["id"])
        else:
            self.store.put(state["id"], state, self.ttl)
        return TurnResult(
            conversation_id=state["id"],
            intent=intent,
            reply_text=reply,
            speech_text=pack.speakable(reply),
            state=state["state"],
            rate=state["rate"],
            language=state["language"],
            listen=_LISTEN.get(state["state"], "commands"),
            ended=ended,
            **extra,
        )


# what the matcher should expect in each state (None: everything)
_EXPECT: dict[str, tuple[str, ...] | None] = {
    "idle": None,
    "done": None,
    "ask_description": ("report",) + CONTROL_INTENTS,
    "confirm_report": ("yes", "no") + CONTROL_INTENTS,
    "ask_reference": ("progress",) + CONTROL_INTENTS,
    "choose_vote": CONTROL_INTENTS,
    "confirm_vote": ("yes", "no") + CONTROL_INTENTS,
    "choose_activity": CONTROL_INTENTS,
    "confirm_signup": ("yes", "no") + CONTROL_INTENTS,
    "choose_cancel_signup": ("cancel_signup",) + CONTROL_INTENTS,
    "confirm_cancel_signup": ("yes", "no", "cancel_signup") + CONTROL_INTENTS,
}
# how the next utterance should be recognized in each state
_LISTEN: dict[str, str] = {
    "idle": "commands",
    "done": "commands",
    "ask_description": "free",
    "confirm_report": "yesno",
    "ask_reference": "reference",
    "choose_vote": "free",
    "confirm_vote": "yesno",
    "choose_activity": "free",
    "confirm_signup": "yesno",
    "choose_cancel_signup": "free",
    "confirm_cancel_signup": "yesno",
}

_PLACEHOLDER = re.compile(r"{(\w+)}")
_SENTENCE = re.compile(r"(?<=[。！？!?.])\s*")


def _fill(template: str, values: Mapping[str, Any]) -> str:
    """Format a reply, leaving out every sentence whose placeholders have no value."""
    kept = []
    for sentence in _SENTENCE.split(template):
        names = _PLACEHOLDER.findall(sentence)
        if any(values.get(n) in (None, "") for n in names):
            continue
        kept.append(sentence.format(**{n: values[n] for n in names}))
    return _join(*kept)


def _confirmation(nlu: Understander, slots: Mapping[str, Any], again: bool = False) -> str:
    """The read-back before filing, naming the understood category where the pack can
    ("您说的是报修：楼道灯坏了，对吗？"), else the matter alone ("您要反映的是：…，对吗？")."""
    key = "confirm_again" if again else "confirm_report"
    name = nlu.category_name(slots.get("category"))
    if name and nlu.pack.replies.get(f"{key}_category"):
        return nlu.pack.reply(f"{key}_category", category=name, description=slots["description"])
    return nlu.pack.reply(key, description=slots["description"])


def _vote_prompt(pack: LanguagePack, slots: Mapping[str, Any], again: bool = False) -> str:
    """The question and its numbered choices, then how to answer."""
    choices = pack.replies["vote_option_joiner"].join(
        _fill(pack.replies["vote_option"], {"n": n, "label": label})
        for n, label in enumerate(slots["options"], 1)
    )
    item = _fill(pack.replies["vote_item"], {"title": slots["title"], "options": choices})
    return item if again else _join(item, pack.reply("vote_choose"))


def _numbered_prompt(
    pack: LanguagePack, items: list[Mapping[str, Any]], key: str, again: bool = False
) -> str:
    """Activities, numbered (``{key}_list``), then how to choose (``{key}_choose``)."""
    choices = pack.replies["vote_option_joiner"].join(
        _fill(pack.replies["vote_option"], {"n": n, "label": item["title"]})
        for n, item in enumerate(items, 1)
    )
    listed = pack.reply(f"{key}_list", options=choices)
    return listed if again else _join(listed, pack.reply(f"{key}_choose"))


def _signup_prompt(pack: LanguagePack, items: list[Mapping[str, Any]], again: bool = False) -> str:
    """The activities one can sign up for, numbered, then how to choose."""
    return _numbered_prompt(pack, items, "signup", again)


def _cancel_signup_prompt(
    pack: LanguagePack, items: list[Mapping[str, Any]], again: bool = False
) -> str:
    """The caller's sign-ups, numbered, then how to choose the one to cancel."""
    return _numbered_prompt(pack, items, "cancel_signup", again)


def _signup_confirmation(pack: LanguagePack, slots: Mapping[str, Any]) -> str:
    """The read-back before signing up: the activity, when and where (``when`` holds both)."""
    return _fill(pack.replies["signup_confirm"], {"title": slots["title"], "when": slots["when"]})


_EN_NUMBERS = dict(
    one=1,
    two=2,
    three=3,
    four=4,
    five=5,
    six=6,
    seven=7,
    eight=8,
    nine=9,
    first=1,
    second=2,
    third=3,
)
_ORDINAL = re.compile(
    r"([0-9]|[一二两三四五六七八九]|" + "|".join(_EN_NUMBERS) + r")", re.IGNORECASE
)


def _chosen_option(pack: LanguagePack, text: str, options: list[str]) -> int | None:
    """Which choice the resident named: by its label ("不同意" before "同意": the longest label
    said wins) or by its number ("第二个", "2", "the second"), else None."""
    said = text.strip().lower()
    named = [(len(label), n) for n, label in enumerate(options, 1) if label.lower() in said]
    if named:
        return max(named)[1]
    match = _ORDINAL.search(said)
    if match:
        token = match.group(1)
        number = int(token) if token.isdigit() else pack.numerals.get(token, _EN_NUMBERS.get(token))
        if number and 1 <= number <= len(options):
            return number
    return None


def _join(*parts: str) -> str:
    """Join reply sentences: no space after Chinese text, one space otherwise."""
    out = ""
    for part in (p.strip() for p in parts if p and p.strip()):
        if out and not (_is_cjk(out[-1]) or _is_cjk(part[0])):
            out += " "
        out += part
    return out


def _is_cjk(ch: str) -> bool:
    return "\u3000" <= ch <= "\u303f" or "\u3400" <= ch <= "\u9fff" or "\uff00" <= ch <= "\uffef"


def _shorten(text: str, limit: int) -> str:
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[:limit]
    stop = max(cut.rfind(c) for c in "。！？.!?；;，,")
    return cut[: stop + 1] if stop >= limit // 2 else cut + "…"
