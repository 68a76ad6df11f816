"""The voice assistant: talk by text, upload a recording, stream (WebSocket), hear replies."""

import marshmallow as ma
from flask import request, send_file
from flask.views import MethodView
from flask_smorest import Blueprint

from app.api import PUBLIC
from app.api.common import actor, error_response
from app.api.voice.schemas import (
    CONVERSATION_PATTERN,
    LANGUAGES,
    ConversationCreateSchema,
    SayArgsSchema,
    SpeechArgsSchema,
    TranscriptionSchema,
    UtteranceArgsSchema,
    VoiceReplySchema,
    VoiceStatusSchema,
    VoiceTextSchema,
)
from app.assistant import conversations, runtime
from app.infra.errors import Invalid

blp = Blueprint(
    "voice",
    __name__,
    url_prefix="/api/v1",
    description="The voice assistant (语音助手) for residents and lobby screens",
)


_AUDIO_TYPES = ("audio/wav", "audio/ogg", "audio/mpeg")
_AUDIO_OUT = {
    "200": {
        "description": "The speech (WAV, Ogg/Opus or MP3), with an ETag.",
        "content": {t: {"schema": {"type": "string", "format": "binary"}} for t in _AUDIO_TYPES},
    },
    "304": {"description": "Not modified (If-None-Match)."},
    "503": error_response("Speech output is not available on this server."),
}
_ASR_ERRORS = {
    "413": error_response("Longer than VOICE_MAX_SECONDS or larger than VOICE_MAX_BYTES."),
    "415": error_response("Not a recording in a known format."),
    "503": error_response("No speech recognition model is installed (with install instructions)."),
}
_AUDIO_IN = {
    "required": True,
    "content": {
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "required": ["audio"],
                "properties": {
                    "audio": {"type": "string", "format": "binary"},
                    "conversation_id": {"type": "string", "pattern": CONVERSATION_PATTERN},
                    "language": {"type": "string", "enum": list(LANGUAGES)},
                },
            }
        },
        **{
            t: {"schema": {"type": "string", "format": "binary"}}
            for t in (
                "audio/wav",
                "audio/webm",
                "audio/ogg",
                "audio/mpeg",
                "audio/mp4",
                "application/octet-stream",
            )
        },
    },
}


def _upload(args: dict) -> tuple[bytes, dict]:
    """The recording (multipart field "audio", or the raw body) and its conversation fields."""
    if request.mimetype == "multipart/form-data":
        stored = request.files.get("audio") or next(iter(request.files.values()), None)
        if stored is None:
            raise Invalid(errors={"audio": ['Send the recording in the field "audio".']})
        try:
            fields = UtteranceArgsSchema().load(
                {k: request.form[k] for k in ("conversation_id", "language") if k in request.form}
            )
        except ma.ValidationError as error:
            raise Invalid(errors=error.messages) from None
        merged = {**args, **{k: v for k, v in fields.items() if v is not None}}
        return stored.read(), merged
    return request.get_data(cache=False), args


def _speech_response(speech, *, public: bool):
    response = send_file(
        speech.path,
        mimetype=speech.mime,
        etag=speech.etag,
        conditional=True,
        max_age=31536000 if public else 86400,
    )
    response.headers["Cache-Control"] = (
        "public, max-age=31536000, immutable" if public else "private, max-age=86400"
    )
    response.headers["Vary"] = "Accept"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def _format(args: dict) -> str:
    if args.get("format"):
        return args["format"]
    best = request.accept_mimetypes.best_match(_AUDIO_TYPES, default="audio/wav")
    return {"audio/wav": "wav", "audio/ogg": "ogg", "audio/mpeg": "mp3"}[best]


@blp.route("/voice/text")
class VoiceText(MethodView):
    """Talk to the assistant by text."""

    @blp.arguments(VoiceTextSchema)
    @blp.response(200, VoiceReplySchema)
    def post(self, data):
        """Say something to the assistant (typed or recognized text); get its reply.

        The same dialog as speech: 听公告, 我要反映… (read back, filed only after 对), 查进度
        <编号>, 最近有什么活动, 报名活动 and 取消报名 (after a read-back and 对), 投票 (open
        votes; a choice is cast after 对), 联系居委会, 救命 (staff and the grid worker are
        alerted at once), 再说一遍, 说慢一点, 取消. Without `conversation_id` a conversation
        is started (the caller's own: another caller's id is not found, 404). The caller is a
        resident's or a lobby screen's bearer token (anonymous: 401). `reply_audio_url` serves
        the reply as WAV, or Ogg/Opus or MP3 (Accept header or `?format=`), read at the
        person's speech rate.

        **Streaming (WebSocket, not an OpenAPI operation):** `GET /api/v1/voice/stream`
        upgraded to a WebSocket. Authenticate with a first text message
        `{"type": "start", "token": "<bearer token>", "conversation_id"?: "…",
        "language"?: "zh-CN", "act_for"?: <resident id>}` (or `?token=` in the URL; never
        logged; a same-origin session cookie also works). The server answers `{"type":
        "ready", "conversation_id", "language", "listen", "sample_rate": 16000, "reply"}`
        (`reply`: the greeting of a new conversation, else null). Then send binary frames of
        16 kHz mono signed 16-bit little-endian PCM (e.g. 20-100 ms each) while the button is
        held; the server sends `{"type": "partial", "text"}` as recognition proceeds. Send
        `{"type": "end"}` when it is released: the server sends `{"type": "final", "text"}`
        and then `{"type": "reply", …}` with the fields of this operation's response
        (including `reply_audio_url`). `{"type": "text", "text"}` takes a typed turn,
        `{"type": "cancel"}` drops the audio so far. Errors come as `{"type": "error",
        "code", "status", "message", "errors"}` (the JSON error envelope); 401/404 also close
        the socket.
        """
        who = actor()
        result = conversations.hear_text(
            who, data["text"], conversation_id=data["conversation_id"], language=data["language"]
        )
        return conversations.reply_view(result)


@blp.route("/voice/conversations")
class VoiceConversations(MethodView):
    """Conversations with the assistant."""

    @blp.arguments(ConversationCreateSchema)
    @blp.response(201, VoiceReplySchema)
    def post(self, data):
        """Start a conversation; the reply is the greeting."""
        return conversations.reply_view(
            conversations.start_conversation(actor(), language=data["language"])
        )


@blp.route("/voice/conversations/<string:conversation_id>")
class VoiceConversationById(MethodView):
    """One conversation."""

    @blp.response(204)
    def delete(self, conversation_id):
        """End a conversation now (the resident walked away)."""
        conversations.end_conversation(actor(), conversation_id)


@blp.route("/voice/utterances")
class VoiceUtterances(MethodView):
    """Recordings for the assistant."""

    @blp.arguments(UtteranceArgsSchema, location="query")
    @blp.doc(requestBody=_AUDIO_IN, responses=_ASR_ERRORS)
    @blp.response(200, VoiceReplySchema)
    def post(self, args):
        """Send a recording (multipart "audio" or the raw body); get the assistant's reply.

        WAV, WebM/Opus, Ogg/Opus, MP3 or M4A, recognized from its bytes. Unknown format 415,
        empty or silent 422, longer than VOICE_MAX_SECONDS or larger than VOICE_MAX_BYTES 413;
        503 with install instructions when no speech model is installed.
        """
        data, fields = _upload(args)
        result = conversations.hear_audio(
            actor(),
            data,
            conversation_id=fields.get("conversation_id"),
            language=fields.get("language"),
        )
        return conversations.reply_view(result)


@blp.route("/voice/transcriptions")
class VoiceTranscriptions(MethodView):
    """Dictation."""

    @blp.arguments(UtteranceArgsSchema, location="query")
    @blp.doc(requestBody=_AUDIO_IN, responses=_ASR_ERRORS)
    @blp.response(200, TranscriptionSchema)
    def post(self, args):
        """Turn a recording into text for a form field (按住说话 next to a text box)."""
        data, fields = _upload(args)
        return conversations.transcribe(actor(), data, language=fields.get("language"))


@blp.route("/voice/status")
class VoiceStatus(MethodView):
    """Voice availability."""

    @blp.response(200, VoiceStatusSchema)
    def get(self):
        """Whether speech recognition is installed (show the 按住说话 button only then)."""
        return conversations.status(actor())


@blp.route("/voice/speech")
class VoiceSay(MethodView):
    """Text to speech."""

    @blp.arguments(SayArgsSchema, location="query")
    @blp.doc(responses=_AUDIO_OUT)
    def get(self, args):
        """Read a text aloud (signed-in callers; numbers and references digit by digit)."""
        from app.people import authz

        who = actor()
        authz.require_signed_in(who)
        _id, speech = runtime.runtime().say(
            args["text"],
            language=args["lang"],
            rate=args["rate"],
            fmt=_format(args),
            caller=runtime.speech_caller(who, request.remote_addr),
        )
        return _speech_response(speech, public=False)


@blp.route("/voice/speech/<string:speech_id>")
class VoiceSpeechById(MethodView):
    """A rendered reply or announcement."""

    @blp.arguments(SpeechArgsSchema, location="query")
    @blp.doc(responses=_AUDIO_OUT, security=PUBLIC)
    def get(self, args, speech_id):
        """Hear a reply or an announcement (the URL is the key: no sign-in, cached for good)."""
        caller = runtime.speech_caller(actor(), request.remote_addr)
        return _speech_response(
            runtime.runtime().speech(speech_id, _format(args), caller=caller), public=True
        )
