"""Linli voice library: offline speech for residents who cannot use a smartphone.

No Flask here: the app wires these pieces in through the interfaces below.

* audio  — :func:`decode_audio` (bytes of WAV/WebM/Ogg/MP3/M4A → 16 kHz PCM16), limits, errors
* asr    — :func:`load_model` / :func:`preload` (Vosk, shared per process), grammars, streams,
  :func:`model_info`, :func:`self_test`
* tts    — :class:`TTSWorker` (pyttsx3 on espeak-ng in one thread, disk cache, ETags)
* nlu    — :func:`load_pack` (language packs are JSON data), :class:`Understander`
* dialog — :class:`Dialog`, the :class:`Services` protocol the app implements, stores
* pipeline — :class:`VoiceAssistant`: audio → text → intent → dialog → reply speech
"""

from .asr import (
    AsrModel,
    Grammar,
    ModelInfo,
    StreamEvent,
    StreamSession,
    Transcript,
    load_model,
    model_info,
    preload,
    self_test,
)
from .audio import AudioLimits, DecodedAudio, decode_audio, encode_pcm, iter_frames, sniff_container
from .dialog import Dialog, DialogStore, MemoryDialogStore, Services, TurnResult
from .errors import (
    AudioError,
    AudioTooLarge,
    AudioTooLong,
    ConversationBusy,
    ConversationNotFound,
    EmptyAudio,
    LanguagePackError,
    ModelUnavailable,
    RecognitionFailed,
    SilentAudio,
    TTSUnavailable,
    UndecodableAudio,
    UnsupportedAudio,
    VoiceError,
)
from .nlu import Intent, LanguagePack, ReferenceFormat, Understander, available_packs, load_pack
from .pipeline import VoiceAssistant
from .tts import DEFAULT_RATE, RATES, Speech, TTSWorker, trim_cache

__all__ = [
    "DEFAULT_RATE",
    "RATES",
    "AsrModel",
    "AudioError",
    "AudioLimits",
    "AudioTooLarge",
    "AudioTooLong",
    "ConversationBusy",
    "ConversationNotFound",
    "DecodedAudio",
    "Dialog",
    "DialogStore",
    "EmptyAudio",
    "Grammar",
    "Intent",
    "LanguagePack",
    "LanguagePackError",
    "MemoryDialogStore",
    "ModelInfo",
    "ModelUnavailable",
    "RecognitionFailed",
    "ReferenceFormat",
    "Services",
    "SilentAudio",
    "Speech",
    "StreamEvent",
    "StreamSession",
    "TTSUnavailable",
    "TTSWorker",
    "trim_cache",
    "Transcript",
    "TurnResult",
    "UndecodableAudio",
    "UnsupportedAudio",
    "Understander",
    "VoiceAssistant",
    "VoiceError",
    "available_packs",
    "decode_audio",
    "encode_pcm",
    "iter_frames",
    "load_model",
    "load_pack",
    "model_info",
    "preload",
    "self_test",
    "sniff_container",
]
