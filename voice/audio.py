"""Audio in and out: sniff, decode, resample, measure loudness, encode.

Everything the recognizer consumes is 16 kHz mono signed 16-bit little-endian PCM ("PCM16").
Uploaded files are decoded with PyAV (FFmpeg). The container is detected from the bytes
themselves: a file's name or its declared MIME type are chosen by the client and often lie
(a browser's MediaRecorder says ``audio/webm`` for Ogg on some platforms, and anyone can rename
a text file to ``.wav``). Only known containers are handed to FFmpeg, with the demuxer forced, so
FFmpeg never guesses on hostile input.
"""

from __future__ import annotations

import io
import math
import operator
import sys
from array import array
from collections.abc import Iterator
from dataclasses import dataclass

import av

from .errors import (
    AudioTooLarge,
    AudioTooLong,
    EmptyAudio,
    SilentAudio,
    UndecodableAudio,
    UnsupportedAudio,
)

SAMPLE_RATE = 16_000
SAMPLE_WIDTH = 2  # bytes per sample, PCM16
BYTES_PER_SECOND = SAMPLE_RATE * SAMPLE_WIDTH
FRAME_MS = 20
WINDOW_MS = 30  # loudness window

# FFmpeg's WAV probe reads seconds of samples to "analyze" PCM (5 ms per upload); the header says
# everything already.
_PROBE_OPTIONS = {"wav": {"probesize": "32768", "analyzeduration": "0"}}

# container -> (FFmpeg demuxer, MIME type we report)
CONTAINERS: dict[str, tuple[str, str]] = {
    "wav": ("wav", "audio/wav"),
    "ogg": ("ogg", "audio/ogg"),
    "webm": ("matroska", "audio/webm"),
    "matroska": ("matroska", "audio/x-matroska"),
    "mp3": ("mp3", "audio/mpeg"),
    "mp4": ("mov", "audio/mp4"),
    "aac": ("aac", "audio/aac"),
    "flac": ("flac", "audio/flac"),
}


# More than this is not a voice recording (and costs more to decode than it could be worth).
MAX_CHANNELS = 8
MAX_SAMPLE_RATE = 192_000


@dataclass(frozen=True)
class AudioLimits:
    """Limits applied to one utterance; the app builds one from its config."""

    max_bytes: int = 10 * 1024 * 1024
    max_seconds: float = 60.0
    silence_dbfs: float = -45.0  # a 30 ms window louder than this counts as voiced
    min_voiced_ms: int = 60  # less voiced time than this is "silent"


DEFAULT_LIMITS = AudioLimits()


@dataclass(frozen=True)
class Loudness:
    """Loudness of PCM16 audio in dBFS (0 is full scale; -inf for digital silence)."""

    rms_dbfs: float
    peak_window_dbfs: float
    voiced_ms: int


@dataclass(frozen=True)
class DecodedAudio:
    """Decoded utterance: 16 kHz mono PCM16 plus what was learnt about the input."""

    pcm: bytes
    container: str
    codec: str
    mime: str
    duration: float
    loudness: Loudness
    truncated: bool = False
    sample_rate: int = SAMPLE_RATE


def sniff_container(data: bytes) -> str | None:
    """Return the container name detected from the leading bytes, or None if unknown."""
    head = bytes(data[:64])
    if len(head) < 4:
        return None
    if head[:4] in (b"RIFF", b"RIFX", b"RF64") and head[8:12] == b"WAVE":
        return "wav"
    if head[:4] == b"OggS":
        return "ogg"
    if head[:4] == b"\x1a\x45\xdf\xa3":
        return "webm" if b"webm" in head else "matroska"
    if head[4:8] == b"ftyp":
        return "mp4"
    if head[:4] == b"fLaC":
        return "flac"
    if head[:3] == b"ID3":
        return "mp3"
    if head[0] == 0xFF and (head[1] & 0xE0) == 0xE0:
        layer = (head[1] >> 1) & 0x03
        if layer == 0:  # ADTS: same sync word as MPEG audio, layer bits zero
            return "aac" if (head[1] & 0xF6) == 0xF0 else None
        version = (head[1] >> 3) & 0x03
        bitrate = head[2] >> 4
        rate = (head[2] >> 2) & 0x03
        if version != 1 and bitrate not in (0, 15) and rate != 3:
            return "mp3"
    return None


def pcm_loudness(pcm: bytes, limits: AudioLimits = DEFAULT_LIMITS) -> Loudness:
    """Measure RMS energy overall and in 30 ms windows of 16 kHz PCM16 audio."""
    samples = _samples(pcm)
    n = len(samples)
    if n == 0:
        return Loudness(-math.inf, -math.inf, 0)
    win = SAMPLE_RATE * WINDOW_MS // 1000
    threshold = (10 ** (limits.silence_dbfs / 20) * 32768) ** 2 * win
    total = 0
    peak = 0
    voiced = 0
    for start in range(0, n, win):
        w = samples[start : start + win]
        energy = sum(map(operator.mul, w, w))
        total += energy
        if energy > peak:
            peak = energy
        if energy >= threshold * len(w) / win:
            voiced += 1
    return Loudness(
        rms_dbfs=_dbfs(total / n),
        peak_window_dbfs=_dbfs(peak / min(win, n)),
        voiced_ms=voiced * WINDOW_MS,
    )


def check_not_silent(pcm: bytes, limits: AudioLimits = DEFAULT_LIMITS) -> Loudness:
    """Return the loudness of ``pcm``; raise EmptyAudio or SilentAudio if nothing was said."""
    if len(pcm) < SAMPLE_WIDTH:
        raise EmptyAudio("the audio holds no samples")
    loud = pcm_loudness(pcm, limits)
    if loud.voiced_ms < limits.min_voiced_ms:
        raise SilentAudio(
            "the audio is silent",
            peak_window_dbfs=round(loud.peak_window_dbfs, 1),
            threshold_dbfs=limits.silence_dbfs,
        )
    return loud


def decode_audio(
    data: bytes, limits: AudioLimits = DEFAULT_LIMITS, *, allow_silent: bool = False
) -> DecodedAudio:
    """Decode an uploaded audio file to 16 kHz mono PCM16, enforcing ``limits``.

    Raises AudioTooLarge, EmptyAudio, UnsupportedAudio, UndecodableAudio, AudioTooLong and
    (unless ``allow_silent``) SilentAudio; never any other exception for bad input.
    """
    if data is None or len(data) == 0:
        raise EmptyAudio("no audio was sent")
    if len(data) > limits.max_bytes:
        raise AudioTooLarge(
            f"the audio is larger than {limits.max_bytes} bytes",
            size=len(data),
            max_bytes=limits.max_bytes,
        )
    container = sniff_container(data)
    if container is None:
        raise UnsupportedAudio("the bytes are not a supported audio container")
    demuxer, mime = CONTAINERS[container]
    if container == "wav":
        fast = _decode_plain_wav(data, limits)
        if fast is not None:
            pcm, codec = fast
            if not pcm:
                raise EmptyAudio("the wav file holds no audio samples")
            loud = pcm_loudness(pcm, limits) if allow_silent else check_not_silent(pcm, limits)
            return DecodedAudio(
                pcm=pcm,
                container=container,
                codec=codec,
                mime=mime,
                duration=len(pcm) / BYTES_PER_SECOND,
                loudness=loud,
            )
    max_samples = int(limits.max_seconds * SAMPLE_RATE)
    chunks: list[bytes] = []
    got = 0
    truncated = False
    codec = "?"
    try:
        source = av.open(
            io.BytesIO(bytes(data)),
            mode="r",
            format=demuxer,
            options=_PROBE_OPTIONS.get(container),
            metadata_errors="ignore",
        )
    except Exception as exc:  # FFmpeg errors, and anything odd in hostile headers
        raise UndecodableAudio(f"cannot open the {container} container", reason=str(exc)) from exc
    try:
        streams = [s for s in source.streams if s.type == "audio"]
        if not streams:
            raise UnsupportedAudio(f"the {container} file holds no audio stream")
        stream = streams[0]
        codec = stream.codec_context.name if stream.codec_context else "?"
        # A voice message has one or two channels at a usual rate; a header claiming dozens of
        # channels or an absurd rate makes every frame costly to decode and mix down.
        channels = stream.codec_context.channels if stream.codec_context else 0
        rate = stream.codec_context.sample_rate if stream.codec_context else 0
        if channels > MAX_CHANNELS or rate > MAX_SAMPLE_RATE:
            raise UnsupportedAudio(
                f"{channels} channels at {rate} Hz is not a voice recording",
                channels=channels,
                sample_rate=rate,
            )
        if stream.duration and stream.time_base:
            declared = float(stream.duration * stream.time_base)
            if declared > limits.max_seconds + 1:
                raise AudioTooLong(
                    f"the audio lasts {declared:.0f} s, more than {limits.max_seconds:g} s",
                    seconds=round(declared, 1),
                    max_seconds=limits.max_seconds,
                )
        resampler = av.AudioResampler(format="s16", layout="mono", rate=SAMPLE_RATE)
        try:
            for packet in source.demux(stream):
                for frame in packet.decode():
                    for out in resampler.resample(frame):
                        got += _append(chunks, out)
                    if got > max_samples:
                        raise AudioTooLong(
                            f"the audio lasts more than {limits.max_seconds:g} s",
                            max_seconds=limits.max_seconds,
                        )
            for out in resampler.resample(None):
                got += _append(chunks, out)
        except AudioTooLong:
            raise
        except Exception as exc:  # a truncated or corrupt tail: keep what decoded cleanly
            if got == 0:
                raise UndecodableAudio(
                    f"cannot decode the {container} audio", reason=str(exc)
                ) from exc
            truncated = True
    except (UnsupportedAudio, AudioTooLong, UndecodableAudio):
        raise
    except Exception as exc:
        raise UndecodableAudio(f"cannot decode the {container} audio", reason=str(exc)) from exc
    finally:
        try:
            source.close()
        except Exception:  # closing a broken demuxer must not mask the real error
            pass
    if got > max_samples:
        raise AudioTooLong(
            f"the audio lasts more than {limits.max_seconds:g} s", max_seconds=limits.max_seconds
        )
    pcm = b"".join(chunks)
    if not pcm:
        raise EmptyAudio(f"the {container} file holds no audio samples")
    loud = pcm_loudness(pcm, limits) if allow_silent else check_not_silent(pcm, limits)
    return DecodedAudio(
        pcm=pcm,
        container=container,
        codec=codec,
        mime=mime,
        duration=len(pcm) / BYTES_PER_SECOND,
        loudness=loud,
        truncated=truncated,
    )


def _decode_plain_wav(data: bytes, limits: AudioLimits) -> tuple[bytes, str] | None:
    """Fast path for the common case, mono PCM16 WAV (kiosks, espeak): no demuxer, one
    resampling call. Returns None to let FFmpeg handle anything less plain."""
    import wave

    try:
        with wave.open(io.BytesIO(bytes(data)), "rb") as w:
            if w.getsampwidth() != SAMPLE_WIDTH or w.getnchannels() != 1:
                return None
            rate = w.getframerate()
            if not 8_000 <= rate <= 192_000:
                return None
            frames = w.getnframes()
            if frames * SAMPLE_WIDTH > len(data) or (frames == 0 and len(data) > 64):
                # The header does not give the length (a WAV written to a pipe, arecord or
                # FFmpeg: 0 or 0xFFFFFFFF): FFmpeg reads the samples to the end.
                return None
            if frames > limits.max_seconds * rate + rate:
                raise AudioTooLong(
                    f"the audio lasts more than {limits.max_seconds:g} s",
                    seconds=round(w.getnframes() / rate, 1),
                    max_seconds=limits.max_seconds,
                )
            raw = w.readframes(w.getnframes())
    except (wave.Error, EOFError, ValueError, OSError):
        return None
    raw = raw[: len(raw) // SAMPLE_WIDTH * SAMPLE_WIDTH]
    if rate != SAMPLE_RATE and raw:
        frame = av.AudioFrame(format="s16", layout="mono", samples=len(raw) // SAMPLE_WIDTH)
        frame.planes[0].update(raw)
        frame.sample_rate = rate
        resampler = av.AudioResampler(format="s16", layout="mono", rate=SAMPLE_RATE)
        chunks: list[bytes] = []
        for out in resampler.resample(frame) + resampler.resample(None):
            _append(chunks, out)
        raw = b"".join(chunks)
    if len(raw) > limits.max_seconds * BYTES_PER_SECOND:
        raise AudioTooLong(
            f"the audio lasts more than {limits.max_seconds:g} s", max_seconds=limits.max_seconds
        )
    return raw, "pcm_s16le"


def iter_frames(pcm: bytes, ms: int = FRAME_MS) -> Iterator[bytes]:
    """Split 16 kHz PCM16 audio into chunks of ``ms`` milliseconds (the last may be shorter)."""
    size = BYTES_PER_SECOND * ms // 1000
    for start in range(0, len(pcm), size):
        yield pcm[start : start + size]


# format -> (FFmpeg muxer, encoder, sample rate, bit rate, MIME type)
ENCODINGS: dict[str, tuple[str, str, int, int, str]] = {
    "ogg": ("ogg", "libopus", 24_000, 32_000, "audio/ogg"),
    "webm": ("webm", "libopus", 48_000, 32_000, "audio/webm"),
    "mp3": ("mp3", "libmp3lame", 22_050, 48_000, "audio/mpeg"),
    "m4a": ("ipod", "aac", 22_050, 48_000, "audio/mp4"),
}


def encode_pcm(pcm: bytes, sample_rate: int, fmt: str) -> bytes:
    """Encode mono PCM16 at ``sample_rate`` into ``fmt`` (ogg/Opus, webm/Opus, mp3, m4a/AAC)."""
    if fmt == "wav":
        return wav_bytes(pcm, sample_rate)
    if fmt not in ENCODINGS:
        raise ValueError(f"unknown audio format {fmt!r}; use one of {sorted(ENCODINGS)} or wav")
    muxer, encoder, rate, bit_rate, _ = ENCODINGS[fmt]
    buf = io.BytesIO()
    with av.open(buf, mode="w", format=muxer) as out:
        stream = out.add_stream(encoder, rate=rate)
        stream.layout = "mono"
        stream.bit_rate = bit_rate
        ctx = stream.codec_context
        resampler = av.AudioResampler(format=ctx.format.name, layout="mono", rate=rate)
        fifo = av.AudioFifo()
        frame = av.AudioFrame(format="s16", layout="mono", samples=len(pcm) // SAMPLE_WIDTH)
        frame.planes[0].update(pcm[: len(pcm) // SAMPLE_WIDTH * SAMPLE_WIDTH])
        frame.sample_rate = sample_rate
        for part in resampler.resample(frame) + resampler.resample(None):
            fifo.write(part)
        size = ctx.frame_size or 1024
        while fifo.samples:
            chunk = fifo.read(size) or fifo.read()
            for packet in stream.encode(chunk):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return buf.getvalue()


def wav_bytes(pcm: bytes, sample_rate: int = SAMPLE_RATE) -> bytes:
    """Wrap mono PCM16 in a canonical 44-byte-header RIFF/WAVE file."""
    import wave

    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(SAMPLE_WIDTH)
        w.setframerate(sample_rate)
        w.writeframes(pcm)
    return buf.getvalue()


def _append(chunks: list[bytes], frame: av.AudioFrame) -> int:
    n = frame.samples
    if n:
        chunks.append(bytes(frame.planes[0])[: n * SAMPLE_WIDTH])
    return n


def _samples(pcm: bytes) -> array:
    samples = array("h")
    samples.frombytes(pcm[: len(pcm) // SAMPLE_WIDTH * SAMPLE_WIDTH])
    if sys.byteorder == "big":
        samples.byteswap()
    return samples


def _dbfs(mean_square: float) -> float:
    if mean_square <= 0:
        return -math.inf
    return 10 * math.log10(mean_square / (32768.0**2))
