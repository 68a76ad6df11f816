"""Schemas of the voice assistant API."""

import marshmallow as ma

from app.api.common import text as text_field
from app.assistant.runtime import SPEECH_FORMATS
from voice.nlu import available_packs

CONVERSATION_PATTERN = r"^[A-Za-z0-9_-]{16,64}$"
_CONVERSATION = ma.validate.Regexp(CONVERSATION_PATTERN, error="Not a conversation id.")
# The service answers 422 for a language without a pack (VOICE_LANGUAGES); the document lists
# the built-in packs (voice/lang), which is what a deployment configures.
LANGUAGES = tuple(available_packs())
_LANGUAGE = ma.validate.Length(min=2, max=40)
_LANGUAGE_DOC = {"enum": [*LANGUAGES, None]}
_RATES = ("slower", "slow", "normal", "fast")


class ConversationCreateSchema(ma.Schema):
    """Start a conversation (the greeting comes back)."""

    language = ma.fields.String(
        load_default=None,
        allow_none=True,
        validate=_LANGUAGE,
        metadata={**_LANGUAGE_DOC, "description": "zh-CN (default) or en."},
    )


class VoiceTextSchema(ma.Schema):
    """What the resident said, typed or already recognized."""

    text = text_field(500, required=True, rule="line")
    conversation_id = ma.fields.String(
        load_default=None,
        allow_none=True,
        validate=_CONVERSATION,
        metadata={"description": "Omit to start a conversation."},
    )
    language = ma.fields.String(
        load_default=None,
        allow_none=True,
        validate=_LANGUAGE,
        metadata={**_LANGUAGE_DOC, "description": "For a new conversation only."},
    )


class UtteranceArgsSchema(ma.Schema):
    """Which conversation a recording belongs to (query string, or form fields)."""

    conversation_id = ma.fields.String(load_default=None, allow_none=True, validate=_CONVERSATION)
    language = ma.fields.String(
        load_default=None, allow_none=True, validate=_LANGUAGE, metadata=_LANGUAGE_DOC
    )


class VoiceReplySchema(ma.Schema):
    """The assistant's answer to one turn."""

    conversation_id = ma.fields.String()
    intent = ma.fields.String(
        metadata={
            "description": "What was understood, e.g. "
            "announcements, report, yes, progress, urgent, unknown."
        }
    )
    reply_text = ma.fields.String()
    reply_audio_url = ma.fields.String(
        allow_none=True,
        metadata={
            "description": "The reply spoken: WAV by default, Ogg/Opus "
            "or MP3 by Accept header or ?format=."
        },
    )
    case_ref = ma.fields.String(
        allow_none=True,
        metadata={"description": "The reference of a case filed or looked up in this turn."},
    )
    transcript = ma.fields.String(metadata={"description": "What was heard."})
    state = ma.fields.String(
        metadata={"description": "idle, ask_description, confirm_report, ask_reference or done."}
    )
    listen = ma.fields.String(
        metadata={"description": "What is expected next: commands, yesno, reference or free."}
    )
    ended = ma.fields.Boolean()
    rate = ma.fields.String(metadata={"description": "Speaking rate of the reply."})
    language = ma.fields.String()
    fallback = ma.fields.String(
        allow_none=True, metadata={"description": "touch_or_call after repeated misunderstanding."}
    )
    alerted = ma.fields.Boolean(
        allow_none=True, metadata={"description": "Urgent help: were staff alerted?"}
    )


class TranscriptionSchema(ma.Schema):
    """Dictation: what was said, for a text field."""

    text = ma.fields.String()
    confidence = ma.fields.Float()
    seconds = ma.fields.Float()


class SpeechArgsSchema(ma.Schema):
    """The audio format (otherwise chosen by the Accept header; WAV by default)."""

    format = ma.fields.String(
        load_default=None, allow_none=True, validate=ma.validate.OneOf(tuple(SPEECH_FORMATS))
    )


class SayArgsSchema(SpeechArgsSchema):
    """Text to read aloud (the easy pages' 朗读 button)."""

    text = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=1000))
    rate = ma.fields.String(load_default="slow", validate=ma.validate.OneOf(_RATES))
    lang = ma.fields.String(
        load_default=None, allow_none=True, validate=_LANGUAGE, metadata=_LANGUAGE_DOC
    )


class VoiceStatusSchema(ma.Schema):
    """Whether speech recognition is installed, and how to stream to it."""

    asr = ma.fields.Boolean()
    model_language = ma.fields.String(allow_none=True)
    grammar = ma.fields.Boolean()
    languages = ma.fields.List(ma.fields.String())
    default_language = ma.fields.String()
    sample_rate = ma.fields.Integer()
    max_seconds = ma.fields.Float()
    stream_url = ma.fields.String()
    hint = ma.fields.String(allow_none=True)
