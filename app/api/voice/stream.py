"""The voice WebSocket (/api/v1/voice/stream): PCM16 frames in, transcripts and replies out.

The protocol is described in the /api/v1/voice/text operation of the OpenAPI document.

Who is calling is settled when the socket opens (a bearer token in the first message or in
?token=, or a same-origin session cookie) and checked again on every turn, so a revoked token
stops working mid-conversation. No database connection is held between turns: each turn loads
its actor, runs, commits and gives the connection back.

Press-and-hold: the resident may pause while holding the button. When Vosk ends an utterance on
its own (end-of-speech), the audio so far is kept and a new recognizer continues; on release a
single utterance is finished from its stream (fast), one with pauses is recognized again as a
whole, so what the dialog hears is everything said while the button was held.
"""

from __future__ import annotations

import json
import logging
import re
from http import HTTPStatus
from typing import Any

from flask import Blueprint, current_app, request
from flask_login import current_user
from simple_websocket import ConnectionClosed
from werkzeug.exceptions import HTTPException

import voice
from app import jsonbody
from app.api.voice.errors import describe
from app.assistant import conversations, runtime
from app.assistant import services as voice_services
from app.extensions import db, sock
from app.infra import audit, uow
from app.infra.errors import DomainError, Invalid, Unauthorized
from app.models import Person
from app.people.actors import Actor
from app.security import current_session

log = logging.getLogger("linli.voice")

ws_bp = Blueprint("voice_stream", __name__)

FIRST_MESSAGE_SECONDS = 15
MAX_FRAME_BYTES = 64 * 1024  # 2 s of PCM16 at 16 kHz: frames are much shorter
_TOKEN_IN_QUERY = re.compile(r"((?:^|[?&])token=)[^&]*")
_TOKEN_KEY = "linli.voice.token"  # the ?token= credential, kept out of QUERY_STRING


class Stream:
    """One WebSocket connection: a conversation, fed turn by turn."""

    def __init__(self, ws) -> None:
        self.ws = ws
        self.rt = runtime.runtime()
        self.assistant = self.rt.assistant()
        self.token: str | None = None
        self.cookie_session_id: int | None = None  # the sign-in (web_session) of the cookie
        self.act_for: int | None = None
        self.owner: str | None = None
        self.conversation_id: str | None = None
        self.language: str | None = None
        self.session: voice.StreamSession | None = None
        self.segments: list[tuple[str, bytes]] = []
        self.voiced_ms = 0
        self.last_partial = ""
        self.dropping = False  # an utterance failed: ignore its frames until the release

    # --- sending -----------------------------------------------------------------------------
    def send(self, kind: str, **fields: Any) -> None:
        """Send one JSON message."""
        self.ws.send(json.dumps({"type": kind, **fields}, ensure_ascii=False))

    def send_error(self, code: int, message, errors: dict | None = None) -> None:
        """The JSON error envelope as a message."""
        try:
            status = HTTPStatus(code).phrase
        except ValueError:
            status = "Error"
        body: dict[str, Any] = {"code": code, "status": status, "message": str(message)}
        if errors:
            body["errors"] = errors
        self.send("error", **body)

    def fail(self, error: Exception) -> bool:
        """Report an error; returns True when the socket should close."""
        uow.rollback()  # a socket turn is its own unit of work: this one failed
        if isinstance(error, voice.VoiceError):
            self.send_error(*describe(error))
            return error.status == 404
        if isinstance(error, DomainError):
            errors = {
                k: [str(m) for m in v] if isinstance(v, list) else v
                for k, v in error.errors.items()
            }
            self.send_error(error.status_code, error.message, errors or None)
            return error.status_code in (401, 403)
        log.exception("voice stream failed")
        from app.errors import HTTP_MESSAGES

        self.send_error(500, HTTP_MESSAGES[500])
        return False

    # --- who is calling ------------------------------------------------------------------------
    def identify(self, token: str | None, act_for: Any) -> None:
        """Settle the caller from a token (message or ?token=) or a same-origin session."""
        self.token = token or None
        if self.token is None:
            user = current_user._get_current_object() if current_user else None
            origin = request.headers.get("Origin")
            same_origin = origin is None or origin.rstrip("/") == request.host_url.rstrip("/")
            signed_in = current_session()
            if isinstance(user, Person) and same_origin and signed_in is not None:
                self.cookie_session_id = signed_in.id
        if act_for not in (None, ""):
            from app.people.proxies import act_for_id

            self.act_for = act_for_id(act_for, "act_for")
        self.owner = voice_services.owner_of(self.actor())

    def actor(self) -> Actor:
        """The caller, loaded afresh (every turn: revoked tokens stop working)."""
        from app.people.auth import live_session, resolve_token
        from app.people.proxies import acting_for

        person = device = kind = None
        if self.token is not None:
            row = resolve_token(self.token)
            if row is None:
                raise Unauthorized()
            person, device = row.person, row.device
        elif self.cookie_session_id is not None:
            # The sign-in, not just the person: a sign-out or a new PIN ends the stream too.
            signed_in = live_session(self.cookie_session_id)
            if signed_in is None:
                raise Unauthorized()
            person, kind = signed_in.person, signed_in.kind
        else:
            raise Unauthorized()
        if device is not None:
            actor = Actor.for_device(device)
        else:
            on_behalf = acting_for(person, self.act_for) if self.act_for is not None else None
            actor = Actor.for_person(person, on_behalf_of=on_behalf, sign_in=kind)
        audit.bind_actor(actor)
        return actor

    def caller(self) -> voice_services.Caller:
        """The caller as the dialog's services see it."""
        return voice_services.Caller(self.actor(), self.language or self.rt.default_language)

    # --- the conversation --------------------------------------------------------------------
    def start(self, message: dict) -> None:
        """Authenticate and open (or resume) the conversation."""
        token = message.get("token") or request.environ.get(_TOKEN_KEY) or _bearer()
        if self.owner is None or token or message.get("act_for") is not None:
            self.identify(
                token if isinstance(token, str) else self.token,
                message.get("act_for", self.act_for),
            )
        actor = self.actor()
        cid = message.get("conversation_id")
        reply = None
        if cid:
            self.conversation_id, self.language = conversations.conversation_for(actor, str(cid))
        else:
            greeting = conversations.start_conversation(actor, language=message.get("language"))
            self.conversation_id, self.language = greeting.conversation_id, greeting.language
            reply = conversations.reply_view(greeting)
        listen = self.assistant.dialog.listen_mode(self.conversation_id)
        self.done_with_database()
        self.send(
            "ready",
            conversation_id=self.conversation_id,
            language=self.language,
            listen=listen,
            sample_rate=16000,
            max_seconds=self.rt.limits.max_seconds,
            reply=reply,
        )

    def done_with_database(self) -> None:
        """Commit the turn and give the connection back while the socket waits."""
        uow.commit()  # a socket turn is its own unit of work: saved before the socket waits
        db.session.remove()

    def reset_audio(self) -> None:
        """Drop the utterance in progress."""
        if self.session is not None:
            self.session.close()
        self.session = None
        self.segments = []
        self.voiced_ms = 0
        self.last_partial = ""

    def audio(self, chunk: bytes) -> None:
        """A frame of 16 kHz mono PCM16."""
        if self.dropping:
            return
        if len(chunk) > MAX_FRAME_BYTES:
            raise voice.AudioTooLarge("frame too large", max_bytes=MAX_FRAME_BYTES)
        if self.session is None:
            conversations.require_model(self.assistant, self.language)
            self.session = self.assistant.open_stream(self.conversation_id, owner=self.owner)
            self.done_with_database()  # no connection held while the button is held
        self.voiced_ms += voice.audio.pcm_loudness(chunk, self.rt.limits).voiced_ms
        held = sum(len(pcm) for _t, pcm in self.segments)
        if held + len(chunk) > self.rt.limits.max_seconds * voice.audio.BYTES_PER_SECOND:
            raise voice.AudioTooLong(
                "the stream is too long", max_seconds=self.rt.limits.max_seconds
            )
        event = self.session.feed(chunk)
        if event.kind == "final":  # Vosk heard a pause: keep it, listen on
            self.segments.append((event.text, self.session.pcm))
            self.session = self.assistant.open_stream(self.conversation_id, owner=self.owner)
            self.done_with_database()
            text = self._joined("")
        else:
            text = self._joined(event.text)
        if text and text != self.last_partial:
            self.last_partial = text
            self.send("partial", text=text)

    def _joined(self, current: str) -> str:
        parts = [t for t, _pcm in self.segments if t] + ([current] if current else [])
        return " ".join(parts)

    def end(self) -> None:
        """The button was released: finish the utterance and answer it."""
        session, segments = self.session, self.segments
        if session is None and not segments:
            raise voice.EmptyAudio("nothing was streamed")
        if self.voiced_ms < self.rt.limits.min_voiced_ms:
            self.reset_audio()
            raise voice.SilentAudio("the stream is silent")
        # the final transcript first (what the resident waits to see), then the database work
        if not segments:
            self.send("final", text=session.finish().text)
            result = self.assistant.finish_stream(
                self.conversation_id, self.caller(), session, owner=self.owner
            )
        else:
            last = session.finish().text if session is not None else ""
            pcm = b"".join(p for _t, p in segments) + (session.pcm if session else b"")
            self.send("final", text=self._joined(last))
            result = self.assistant.hear_pcm(
                self.conversation_id, self.caller(), pcm, owner=self.owner
            )
        self.session, self.segments, self.voiced_ms, self.last_partial = None, [], 0, ""
        self.answer(result)

    def text(self, message: dict) -> None:
        """A typed turn over the socket."""
        actor = self.actor()
        result = conversations.hear_text(
            actor, str(message.get("text") or ""), conversation_id=self.conversation_id
        )
        self.answer(result)

    def answer(self, result: voice.TurnResult) -> None:
        """Send the reply (with its audio URL) and end the turn's database work."""
        reply = conversations.reply_view(result)
        self.done_with_database()
        self.send("reply", **reply)
        if result.ended:
            self.conversation_id = None

    # --- the loop --------------------------------------------------------------------------------
    def run(self) -> None:
        """Serve the socket until it closes."""
        idle = float(current_app.config.get("VOICE_STREAM_IDLE_SECONDS") or 120)
        first = self.ws.receive(timeout=FIRST_MESSAGE_SECONDS)
        try:
            if isinstance(first, str):
                self.start(_json(first))
            elif first is not None and (request.environ.get(_TOKEN_KEY) or _bearer()):
                self.start({})
                self.audio(first)
            else:
                raise Unauthorized()
        except Exception as error:  # noqa: BLE001 - reported to the client, then closed
            self.fail(error)
            self.ws.close(reason=1008)
            return
        try:
            while True:
                message = self.ws.receive(timeout=idle)
                if message is None:
                    self.send("bye", reason="idle")
                    break
                try:
                    if self.conversation_id is None:
                        self.start(_json(message) if isinstance(message, str) else {})
                        if isinstance(message, bytes):
                            self.audio(message)
                    elif isinstance(message, bytes):
                        self.audio(message)
                    else:
                        self.control(_json(message))
                except ConnectionClosed:
                    raise
                except Exception as error:  # noqa: BLE001 - one bad turn does not end the talk
                    self.reset_audio()
                    self.dropping = isinstance(message, bytes)
                    if self.fail(error):
                        break
        finally:
            self.reset_audio()
            db.session.remove()

    def control(self, message: dict) -> None:
        """A JSON message during the conversation."""
        kind = message.get("type")
        if kind in ("end", "cancel") and self.dropping:
            self.dropping = False  # the error was reported when the utterance failed
            self.reset_audio()
        elif kind == "end":
            self.end()
        elif kind == "text":
            self.text(message)
        elif kind == "cancel":
            self.reset_audio()
            self.send("cancelled")
        elif kind == "start":
            self.start(message)
        elif kind == "ping":
            self.send("pong")
        else:
            raise Invalid(errors={"type": ["start, end, text, cancel or ping"]})


def _json(text: str) -> dict:
    try:
        value = jsonbody.loads(text)
    except HTTPException:
        raise Invalid(errors={"message": ["not JSON"]}) from None
    if not isinstance(value, dict):
        raise Invalid(errors={"message": ["a JSON object"]})
    return value


def _bearer() -> str | None:
    header = request.headers.get("Authorization", "")
    return header[7:].strip() if header[:7].lower() == "bearer " else None


def _scrub_token() -> None:
    # gunicorn writes its access log from this environ after the socket closes.
    for key in ("QUERY_STRING", "RAW_URI", "REQUEST_URI"):
        value = request.environ.get(key)
        if value and "token=" in value:
            request.environ[key] = _TOKEN_IN_QUERY.sub(r"\1[redacted]", value)


@sock.route("/api/v1/voice/stream", bp=ws_bp)
def voice_stream(ws):
    """WebSocket: stream PCM16 audio in, get partial/final transcripts and replies out."""
    token = request.args.get("token")
    _scrub_token()
    if token:
        request.environ[_TOKEN_KEY] = token
    Stream(ws).run()
