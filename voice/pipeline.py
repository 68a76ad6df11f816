"""The whole voice path in one object: audio → recognition → understanding → dialog → speech.

The app builds one :class:`VoiceAssistant` per process (after ``asr.preload`` in the gunicorn
master, and with a :class:`~voice.tts.TTSWorker` started lazily in each worker) and calls it from
its views; nothing here knows about HTTP or Flask.

How each utterance is recognized follows the dialog's ``listen`` mode: grammar-restricted for
commands, yes/no and reference numbers (robust with the small models), open vocabulary for a
free description. When a command utterance holds a report *and* speech outside the grammar
(Vosk's ``[unk]``), the same audio is decoded a second time with open vocabulary to capture the
description in one breath ("我要反映楼道灯坏了").
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from .asr import AsrModel, Grammar, StreamSession, Transcript, load_model
from .audio import DEFAULT_LIMITS, SAMPLE_RATE, AudioLimits, decode_audio, encode_pcm
from .dialog import Dialog, TurnResult
from .errors import ConversationNotFound
from .nlu import Intent
from .tts import Speech, TTSWorker


class VoiceAssistant:
    """Glue between the ASR model, the dialog and the TTS worker (thread-safe)."""

    def __init__(
        self,
        dialog: Dialog,
        *,
        model: AsrModel | None = None,
        model_path: str | None = None,
        tts: TTSWorker | None = None,
        limits: AudioLimits = DEFAULT_LIMITS,
        min_grammar_confidence: float = 0.5,
        run_blocking: Callable[..., Any] | None = None,
    ) -> None:
        if model is None and model_path is not None:
            model = load_model(model_path)
        self.dialog = dialog
        self.model = model
        self.tts = tts
        self.limits = limits
        self.min_grammar_confidence = min_grammar_confidence
        # How to run a long C call (decoding, recognizing a whole utterance): by default here;
        # an app under gevent passes one that runs it off the event loop, so the worker's other
        # requests go on meanwhile (app.infra.offload.off_loop).
        self.run_blocking = run_blocking or (lambda fn, *args: fn(*args))
        self._grammars: dict[tuple[str, str], Grammar | None] = {}
        self._lock = threading.Lock()

    # --- conversation ----------------------------------------------------------------------------

    def start(
        self, caller: Any, *, language: str | None = None, owner: str | None = None
    ) -> TurnResult:
        """Open a conversation and return the greeting."""
        return self.dialog.start(caller, language=language, owner=owner)

    def hear_text(
        self, conversation_id: str, caller: Any, text: str, *, owner: str | None = None
    ) -> TurnResult:
        """A typed or already-recognized utterance (touch/keyboard fallback, tests)."""
        return self.dialog.turn(conversation_id, caller, text, owner=owner)

    def hear_audio(
        self, conversation_id: str, caller: Any, data: bytes, *, owner: str | None = None
    ) -> TurnResult:
        """An uploaded recording (WAV/WebM/Ogg/MP3/M4A): decode, recognize, answer.

        Raises the audio errors of :func:`voice.audio.decode_audio`, ModelUnavailable and
        ConversationNotFound.
        """
        state = self._state(conversation_id, owner)
        decoded = self.run_blocking(decode_audio, data, self.limits)
        transcript = self.run_blocking(
            self.recognize, decoded.pcm, state["language"], _listen(state)
        )
        return self._answer(
            conversation_id, caller, state, transcript, decoded.pcm, data, decoded.mime, owner
        )

    def hear_pcm(
        self,
        conversation_id: str,
        caller: Any,
        pcm: bytes,
        *,
        owner: str | None = None,
        audio: bytes | None = None,
        audio_mime: str | None = None,
    ) -> TurnResult:
        """A whole utterance of 16 kHz mono PCM16 (e.g. collected from a websocket)."""
        state = self._state(conversation_id, owner)
        transcript = self.run_blocking(self.recognize, pcm, state["language"], _listen(state))
        return self._answer(
            conversation_id, caller, state, transcript, pcm, audio, audio_mime, owner
        )

    def open_stream(self, conversation_id: str, *, owner: str | None = None) -> StreamSession:
        """A streaming recognizer set up for what the conversation expects next."""
        state = self._state(conversation_id, owner)
        grammar = self.grammar(state["language"], _listen(state))
        return self._model().stream(grammar, max_seconds=self.limits.max_seconds, keep_audio=True)

    def finish_stream(
        self,
        conversation_id: str,
        caller: Any,
        session: StreamSession,
        *,
        owner: str | None = None,
    ) -> TurnResult:
        """End of speech on a stream: take its final transcript and answer."""
        state = self._state(conversation_id, owner)
        transcript = session.finish()
        return self._answer(
            conversation_id, caller, state, transcript, session.pcm, None, None, owner
        )

    # --- recognition -----------------------------------------------------------------------------

    def grammar(self, language: str, listen: str) -> Grammar | None:
        """The (cached) recognition grammar of a language's listening mode; None = open."""
        key = (language, listen)
        if key not in self._grammars:
            model = self._model()
            phrases = self.dialog.packs[language].grammar_phrases(listen)
            built = None
            if phrases is not None and model.grammar_supported:
                built = model.grammar(phrases, f"{language}:{listen}")
            with self._lock:
                self._grammars.setdefault(key, built)
        return self._grammars[key]

    def recognize(self, pcm: bytes, language: str, listen: str = "commands") -> Transcript:
        """Recognize PCM the way a conversation in ``listen`` mode would."""
        return self._model().recognize(pcm, self.grammar(language, listen))

    # --- speech out ------------------------------------------------------------------------------

    def speech(self, result: TurnResult, fmt: str = "wav") -> Speech:
        """The reply of a turn as audio (cached), at the conversation's rate."""
        if self.tts is None:
            from .errors import TTSUnavailable

            raise TTSUnavailable("no TTS worker was configured")
        pack = self.dialog.packs[result.language]
        return self.tts.synthesize(result.speech_text, pack.tts_voice, result.rate, fmt)

    # --- internals -------------------------------------------------------------------------------

    def _model(self) -> AsrModel:
        if self.model is None:
            from .asr import INSTALL_HINT
            from .errors import ModelUnavailable

            raise ModelUnavailable("no speech recognition model is configured. " + INSTALL_HINT)
        return self.model

    def _state(self, conversation_id: str, owner: str | None) -> dict[str, Any]:
        state = self.dialog.get(conversation_id)
        if state is None or (state.get("owner") is not None and state["owner"] != owner):
            raise ConversationNotFound(
                "no such conversation (it may have expired)", conversation_id=conversation_id
            )
        return state

    def _answer(
        self,
        conversation_id: str,
        caller: Any,
        state: dict[str, Any],
        transcript: Transcript,
        pcm: bytes,
        audio: bytes | None,
        audio_mime: str | None,
        owner: str | None,
    ) -> TurnResult:
        listen = _listen(state)
        grammar = self.grammar(state["language"], listen)
        text = transcript.text
        if grammar is not None and text and transcript.confidence < self.min_grammar_confidence:
            # a model without [unk] forces any speech onto the nearest phrase; low confidence
            # is the tell that the resident said something else
            text = ""
        intent: Intent | None = None
        nlu = self.dialog.understander(state["language"])
        if grammar is not None and listen == "commands" and text:
            parsed = intent = nlu.parse(text)
            if (
                parsed.name == "report"
                and not parsed.slots.get("description")
                and transcript.unknown_words
            ):
                spoken = self.run_blocking(self._model().recognize, pcm, None).text
                again = nlu.parse(spoken, ("report",))
                description = again.slots.get("description") or nlu.clean_description(spoken)
                slots = {"description": description} if description else {}
                intent = Intent("report", parsed.confidence, slots, parsed.phrase, spoken)
                text = spoken
            elif (
                parsed.name == "progress"
                and not parsed.slots.get("reference")
                and transcript.unknown_words
            ):
                # "查进度 二零二六杠幺二三" in one breath: read the digits with the number grammar
                digits = self.recognize(pcm, state["language"], "reference").text
                reference = nlu.extract_reference(digits)
                if reference:
                    slots = {"reference": reference}
                    intent = Intent("progress", parsed.confidence, slots, parsed.phrase, digits)
                    text = f"{text} {digits}"
        captures = listen == "free" or bool(intent and intent.slots.get("description"))
        if captures and audio is None and pcm:
            audio, audio_mime = encode_pcm(pcm, SAMPLE_RATE, "ogg"), "audio/ogg"
        return self.dialog.turn(
            conversation_id,
            caller,
            text,
            owner=owner,
            audio=audio if captures else None,
            audio_mime=audio_mime if captures else None,
            intent=intent,
        )


def _listen(state: dict[str, Any]) -> str:
    from .dialog import _LISTEN

    return _LISTEN.get(state.get("state", "idle"), "commands")
