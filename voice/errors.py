"""Typed errors of the voice library.

Every error carries a stable machine-readable ``code`` and the HTTP ``status`` the app should
answer with, so one error handler in the app can map them into the JSON error envelope without
knowing the library's internals. Messages are English and meant for logs and developers; the
app shows the user a localized text chosen by ``code``.
"""

from __future__ import annotations

from typing import Any


class VoiceError(Exception):
    """Base class of every error raised on purpose by the voice library."""

    code = "voice_error"
    status = 500

    def __init__(self, message: str | None = None, **details: Any) -> None:
        self.message = message or self.__class__.__doc__ or self.code
        self.details = details
        super().__init__(self.message)

    def to_dict(self) -> dict[str, Any]:
        """Return ``{"code", "status", "message", "details"}`` for logs and error envelopes."""
        return {
            "code": self.code,
            "status": self.status,
            "message": self.message,
            "details": dict(self.details),
        }


class AudioError(VoiceError):
    """The uploaded or streamed audio cannot be used."""

    code = "audio_invalid"
    status = 422


class UnsupportedAudio(AudioError):
    """The bytes are not audio in a supported container (WAV, WebM, Ogg, MP3, M4A)."""

    code = "audio_unsupported"
    status = 415


class UndecodableAudio(AudioError):
    """The container was recognized but no audio could be decoded from it (corrupt file)."""

    code = "audio_undecodable"
    status = 422


class EmptyAudio(AudioError):
    """The audio is empty (no bytes, or no samples after decoding)."""

    code = "audio_empty"
    status = 422


class SilentAudio(AudioError):
    """The audio holds only silence: nothing was said."""

    code = "audio_silent"
    status = 422


class AudioTooLong(AudioError):
    """The audio lasts longer than the configured maximum duration."""

    code = "audio_too_long"
    status = 413


class AudioTooLarge(AudioError):
    """The audio file is larger than the configured maximum number of bytes."""

    code = "audio_too_large"
    status = 413


class ModelUnavailable(VoiceError):
    """No usable Vosk model at the configured path."""

    code = "asr_model_unavailable"
    status = 503


class RecognitionFailed(VoiceError):
    """The recognizer failed on valid audio."""

    code = "asr_failed"
    status = 500


class TTSUnavailable(VoiceError):
    """Speech synthesis (pyttsx3 on espeak-ng) is not available or did not finish."""

    code = "tts_unavailable"
    status = 503


class LanguagePackError(VoiceError):
    """A language pack file is missing, malformed or incomplete."""

    code = "language_pack_invalid"
    status = 500


class ConversationNotFound(VoiceError):
    """The conversation does not exist, expired, or belongs to another caller."""

    code = "conversation_not_found"
    status = 404


class ConversationBusy(VoiceError):
    """Another turn of the same conversation changed it first (a store's compare-and-swap)."""

    code = "conversation_busy"
    status = 409


ALL_ERRORS: tuple[type[VoiceError], ...] = (
    VoiceError,
    AudioError,
    UnsupportedAudio,
    UndecodableAudio,
    EmptyAudio,
    SilentAudio,
    AudioTooLong,
    AudioTooLarge,
    ModelUnavailable,
    RecognitionFailed,
    TTSUnavailable,
    LanguagePackError,
    ConversationNotFound,
    ConversationBusy,
)
