"""Voice conversations as the API and the WebSocket call them: start, hear text or audio,
end, dictation (`transcribe`), `status`, and a turn's view (`reply_view`); what people read when a
voice error reaches them. A conversation belongs to its caller: another caller's id is not found.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

from flask_babel import force_locale
from flask_babel import lazy_gettext as _l

import voice
from app.assistant.runtime import runtime
from app.assistant.services import Caller, _babel_context, owner_of
from app.infra import offload
from app.infra.errors import DomainError
from app.infra.text import clean_text
from app.people import authz
from app.people.actors import Actor
from app.residents import easy

CONVERSATION_ID = re.compile(r"^[A-Za-z0-9_-]{16,64}$")

# What people read when a voice error reaches them (by the library's error code).
ERROR_MESSAGES = {
    "audio_unsupported": _l(
        "This recording format is not supported. Please send WAV, WebM, Ogg, MP3 or M4A."
    ),
    "audio_undecodable": _l("The recording could not be read. Please try again."),
    "audio_empty": _l("The recording is empty. Please hold the button while you speak."),
    "audio_silent": _l("We heard nothing. Please hold the button and speak."),
    "audio_too_long": _l("The recording is too long. Please say it more briefly."),
    "audio_too_large": _l("The recording is too large."),
    "asr_model_unavailable": _l(
        "Speech recognition is not installed on this server. Download a Vosk model "
        "(vosk-model-small-cn-0.22 from https://alphacephei.com/vosk/models), unzip it and set "
        "VOSK_MODEL_PATH to its folder."
    ),
    "asr_failed": _l("Speech recognition failed. Please try again."),
    "tts_unavailable": _l("Speech output is not available right now."),
    "conversation_not_found": _l("This conversation has ended. Please start again."),
    "conversation_busy": _l("Your last words were still being answered. Please say it again."),
}
ERROR_FIELDS = {
    "asr_model_unavailable": "model",
    "tts_unavailable": "speech",
    "conversation_not_found": "conversation_id",
    "asr_failed": "audio",
    "conversation_busy": "conversation_id",
}


# --- conversations (what the API and the websocket call) -------------------------------------


def _preferred_rate(actor: Actor) -> str:
    person = actor.person
    rate = getattr(person, "speech_rate", None) if person is not None else None
    return rate if rate in voice.RATES else voice.DEFAULT_RATE


def _language_for(actor: Actor, language: str | None) -> str:
    rt = runtime()
    if language:
        return rt.pack(language).code
    locale = getattr(actor.person, "locale", None) if actor.person is not None else None
    if locale and locale.startswith("en") and "en" in rt.packs:
        return "en"
    return rt.default_language


def _caller(actor: Actor, language: str) -> Caller:
    return Caller(actor, language)


def reply_view(result: voice.TurnResult) -> dict[str, Any]:
    """A turn as the API answers it (the audio URL serves WAV, Ogg/Opus or MP3)."""
    rt = runtime()
    pack = rt.packs[result.language]
    url = (
        rt.speech_url(result.speech_text, pack.tts_voice, result.rate)
        if result.speech_text
        else None
    )
    return {
        "conversation_id": result.conversation_id,
        "intent": result.intent,
        "reply_text": result.reply_text,
        "reply_audio_url": url,
        "case_ref": result.case_ref,
        "transcript": result.transcript,
        "state": result.state,
        "listen": result.listen,
        "ended": result.ended,
        "rate": result.rate,
        "language": result.language,
        "fallback": result.fallback,
        "alerted": result.alerted,
    }


def _check_id(conversation_id: str) -> None:
    if not CONVERSATION_ID.fullmatch(conversation_id or ""):
        raise voice.ConversationNotFound("malformed conversation id")


def start_conversation(actor: Actor, *, language: str | None = None) -> voice.TurnResult:
    """Open a conversation for the caller (at their speech rate) and return the greeting; a
    resident with matters waiting for their confirmation hears how many (as easy mode's home
    shows them)."""
    authz.require_signed_in(actor)
    assistant = runtime().assistant()
    code = _language_for(actor, language)
    notice = waiting_notice(actor, code)
    result = assistant.start(_caller(actor, code), language=code, owner=owner_of(actor))
    rate = _preferred_rate(actor)
    if rate != result.rate or notice:
        reply = result.reply_text
        if notice:
            pack = runtime().packs[result.language]
            reply = f"{reply}{'' if pack.script == 'han' else ' '}{notice}"
            result = replace(result, reply_text=reply, speech_text=pack.speakable(reply))
        store = assistant.dialog.store
        state = store.get(result.conversation_id)
        if state is not None:
            state["rate"] = rate
            state["last_reply"] = reply  # "再说一遍" says the notice again
            store.put(result.conversation_id, state, assistant.dialog.ttl)
        result = replace(result, rate=rate)
    return result


def waiting_notice(actor: Actor, language: str) -> str | None:
    """ "有两件事等您确认。" for a signed-in resident whose matters staff say are done and wait
    for them to confirm (the count of `easy.awaiting_confirmation`, as easy mode's home shows);
    None when there are none, for a screen, and in languages without a text for it."""
    if actor.device is not None or actor.person is None:
        return None
    if not (language.startswith("zh") or language.startswith("en")):
        return None
    try:
        count = len(easy.awaiting_confirmation(actor))
    except DomainError:  # the greeting never fails over it
        return None
    if not count:
        return None
    locale = Caller(actor, language).locale
    _babel_context()
    with force_locale(locale):
        return easy.waiting_words(count)


def conversation_for(
    actor: Actor, conversation_id: str | None, language: str | None = None
) -> tuple[str, str]:
    """(conversation id, language): the caller's own conversation (else 404), or a new one."""
    if conversation_id is None:
        started = start_conversation(actor, language=language)
        return started.conversation_id, started.language
    _check_id(conversation_id)
    state = runtime().assistant().dialog.get(conversation_id)
    if state is None or state.get("owner") != owner_of(actor):
        raise voice.ConversationNotFound("no such conversation", conversation_id=conversation_id)
    return conversation_id, state["language"]


def hear_text(
    actor: Actor, text: str, *, conversation_id: str | None = None, language: str | None = None
) -> voice.TurnResult:
    """A typed (or already recognized) utterance: the same dialog as speech."""
    authz.require_signed_in(actor)
    text = clean_text(text or "", "text", max_length=500, required=False)
    cid, code = conversation_for(actor, conversation_id, language)
    return runtime().assistant().hear_text(cid, _caller(actor, code), text, owner=owner_of(actor))


def hear_audio(
    actor: Actor, data: bytes, *, conversation_id: str | None = None, language: str | None = None
) -> voice.TurnResult:
    """An uploaded recording (WAV, WebM/Opus, Ogg/Opus, MP3, M4A): recognize, then answer."""
    authz.require_signed_in(actor)
    assistant = runtime().assistant()
    require_model(assistant)
    cid, code = conversation_for(actor, conversation_id, language)
    require_model(assistant, code)
    return assistant.hear_audio(cid, _caller(actor, code), data, owner=owner_of(actor))


def require_model(assistant: voice.VoiceAssistant, language: str | None = None) -> voice.AsrModel:
    """The recognizer, or ModelUnavailable (503) saying how to install one; also when the
    model does not know the conversation's language (a Korean model, a Mandarin dialog)."""
    model = assistant.model
    if model is None:
        raise voice.ModelUnavailable("no speech recognition model. " + voice.asr.INSTALL_HINT)
    if language is not None:
        grammar = assistant.grammar(language, "commands")
        if grammar is not None and not grammar.phrases:
            raise voice.ModelUnavailable(
                f"the speech model ({model.language}) does not know {language}. "
                + voice.asr.INSTALL_HINT,
                language=language,
            )
    return model


def end_conversation(actor: Actor, conversation_id: str) -> None:
    """Close the caller's conversation now (the resident walked away)."""
    cid, _code = conversation_for(actor, conversation_id)
    runtime().assistant().dialog.end(cid)


def transcribe(actor: Actor, data: bytes, *, language: str | None = None) -> dict[str, Any]:
    """Dictation for a text field (open vocabulary): {text, confidence, seconds}."""
    authz.require_signed_in(actor)
    rt = runtime()
    model = require_model(rt.assistant())
    decoded = offload.off_loop(voice.decode_audio, data, rt.limits)
    result = offload.off_loop(model.recognize, decoded.pcm, None)
    text = result.text
    pack = rt.pack(_language_for(actor, language))
    if pack.script == "han":  # Vosk separates Chinese words with spaces
        text = re.sub(r"(?<=[\u3400-\u9fff]) (?=[\u3400-\u9fff])", "", text)
    return {
        "text": text,
        "confidence": round(result.confidence, 3),
        "seconds": round(decoded.duration, 2),
    }


def status(actor: Actor) -> dict[str, Any]:
    """What a client needs to know before showing a 按住说话 button."""
    authz.require_signed_in(actor)
    rt = runtime()
    model = rt.assistant().model
    info = model.info() if model is not None else None
    return {
        "asr": model is not None,
        "model_language": info.language if info else None,
        "grammar": bool(info and info.grammar_supported),
        "languages": list(rt.packs),
        "default_language": rt.default_language,
        "sample_rate": 16000,
        "max_seconds": rt.limits.max_seconds,
        "stream_url": "/api/v1/voice/stream",
        "hint": None if model is not None else str(ERROR_MESSAGES["asr_model_unavailable"]),
    }
