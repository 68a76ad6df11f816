"""Decoding uploads: formats detected from bytes, resampled to 16 kHz, bad input refused cleanly."""

from __future__ import annotations

import random

import pytest

import voice
from voice.audio import AudioLimits, decode_audio, pcm_loudness, sniff_container, wav_bytes
from voice.errors import (
    AudioTooLarge,
    AudioTooLong,
    EmptyAudio,
    SilentAudio,
    UnsupportedAudio,
    VoiceError,
)

from .conftest import convert_wav, silence_wav

pytestmark = pytest.mark.voice


@pytest.fixture(scope="module")
def phrase_wav(say) -> bytes:
    return say("공지 사항")


@pytest.mark.parametrize(
    ("fmt", "container", "mime"),
    [
        ("ogg", "ogg", "audio/ogg"),
        ("webm", "webm", "audio/webm"),
        ("mp3", "mp3", "audio/mpeg"),
        ("m4a", "mp4", "audio/mp4"),
    ],
)
def test_compressed_uploads_decode_to_16k_mono(phrase_wav, fmt, container, mime):
    data = convert_wav(phrase_wav, fmt)
    decoded = decode_audio(data)
    reference = decode_audio(phrase_wav)
    assert decoded.container == container
    assert decoded.mime == mime
    assert decoded.sample_rate == 16_000
    assert len(decoded.pcm) % 2 == 0
    # codec priming/padding may add a few ms, never a different length of speech
    assert abs(decoded.duration - reference.duration) < 0.12
    assert decoded.loudness.voiced_ms > 300


def test_wav_from_espeak_is_resampled(phrase_wav):
    decoded = decode_audio(phrase_wav)
    assert decoded.container == "wav"
    assert decoded.codec == "pcm_s16le"
    assert 0.8 < decoded.duration < 2.0
    assert decoded.loudness.peak_window_dbfs > -30


def test_container_comes_from_bytes_not_name_or_mime(phrase_wav):
    ogg = convert_wav(phrase_wav, "ogg")
    # the API takes no name or mime at all: a mislabelled upload still decodes by its bytes
    assert sniff_container(ogg) == "ogg"
    assert sniff_container(phrase_wav) == "wav"
    assert sniff_container(convert_wav(phrase_wav, "webm")) == "webm"
    assert sniff_container(convert_wav(phrase_wav, "m4a")) == "mp4"
    assert sniff_container(b"hello, this is a text file renamed to .wav\n") is None


def test_text_file_renamed_wav_is_unsupported():
    with pytest.raises(UnsupportedAudio) as err:
        decode_audio("这不是音频，只是改了扩展名的文本文件。\n".encode())
    assert err.value.code == "audio_unsupported"
    assert err.value.status == 415


def test_empty_upload():
    with pytest.raises(EmptyAudio) as err:
        decode_audio(b"")
    assert (err.value.code, err.value.status) == ("audio_empty", 422)


def test_wav_header_without_samples_is_empty():
    with pytest.raises(EmptyAudio):
        decode_audio(wav_bytes(b""))


def test_silence_is_refused():
    with pytest.raises(SilentAudio) as err:
        decode_audio(silence_wav(2.0))
    assert (err.value.code, err.value.status) == ("audio_silent", 422)


def test_faint_noise_is_silent_but_speech_is_not(phrase_wav):
    rnd = random.Random(7)
    hiss = b"".join(rnd.randint(-40, 40).to_bytes(2, "little", signed=True) for _ in range(16000))
    with pytest.raises(SilentAudio):
        decode_audio(wav_bytes(hiss))
    assert decode_audio(phrase_wav).loudness.voiced_ms >= 300


def test_silent_audio_allowed_when_asked():
    decoded = decode_audio(silence_wav(1.0), allow_silent=True)
    assert decoded.loudness.voiced_ms == 0


def test_too_long_by_duration():
    limits = AudioLimits(max_seconds=3)
    with pytest.raises(AudioTooLong) as err:
        decode_audio(silence_wav(5.0), limits)
    assert err.value.code == "audio_too_long"
    assert err.value.status == 413


def test_default_limit_is_sixty_seconds(phrase_wav):
    decoded = decode_audio(phrase_wav)
    pcm = decoded.pcm * (int(61 / decoded.duration) + 1)
    with pytest.raises(AudioTooLong):
        decode_audio(wav_bytes(pcm))


def test_compressed_long_audio_stops_early(phrase_wav):
    long_wav = wav_bytes(decode_audio(phrase_wav).pcm * 60)  # ~70 s
    with pytest.raises(AudioTooLong):
        decode_audio(convert_wav(long_wav, "ogg"))


def test_too_large_by_bytes(phrase_wav):
    limits = AudioLimits(max_bytes=10_000)
    with pytest.raises(AudioTooLarge) as err:
        decode_audio(phrase_wav, limits)
    assert (err.value.code, err.value.status) == ("audio_too_large", 413)
    assert err.value.details["max_bytes"] == 10_000


@pytest.mark.parametrize("fmt", ["wav", "ogg", "webm", "mp3", "m4a"])
def test_truncated_files_never_crash(phrase_wav, fmt):
    data = phrase_wav if fmt == "wav" else convert_wav(phrase_wav, fmt)
    for cut in (1, 4, 12, 44, 100, len(data) // 3, len(data) // 2, len(data) - 1):
        try:
            decoded = decode_audio(data[:cut])
        except VoiceError as exc:
            assert exc.code in {
                "audio_unsupported",
                "audio_undecodable",
                "audio_empty",
                "audio_silent",
            }
        else:
            assert decoded.duration > 0


def test_random_garbage_never_crashes():
    rnd = random.Random(2024)
    prefixes = [
        b"",
        b"RIFF\x24\x08\x00\x00WAVEfmt ",
        b"OggS\x00\x02",
        b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01webm",
        b"ID3\x04\x00\x00",
        b"\x00\x00\x00\x1cftypM4A ",
        b"\xff\xfb\x90\x64",
        b"\xff\xf1\x50\x80",
        b"fLaC",
    ]
    outcomes = set()
    for i in range(250):
        body = rnd.randbytes(rnd.randint(0, 4000))
        data = prefixes[i % len(prefixes)] + body
        try:
            decode_audio(data)
            outcomes.add("decoded")
        except VoiceError as exc:
            outcomes.add(exc.code)
    assert outcomes <= {
        "decoded",
        "audio_unsupported",
        "audio_undecodable",
        "audio_empty",
        "audio_silent",
    }
    assert "audio_unsupported" in outcomes


def test_loudness_of_digital_silence_is_minus_infinity():
    loud = pcm_loudness(b"\0\0" * 1600)
    assert loud.rms_dbfs == float("-inf")
    assert loud.voiced_ms == 0


@pytest.mark.parametrize("fmt", ["ogg", "webm", "mp3", "m4a"])
def test_encode_round_trip(phrase_wav, fmt):
    pcm = decode_audio(phrase_wav).pcm
    encoded = voice.encode_pcm(pcm, 16_000, fmt)
    back = decode_audio(encoded)
    assert abs(back.duration - len(pcm) / 32_000) < 0.12
    assert back.loudness.voiced_ms > 300


def test_iter_frames_are_20_ms():
    frames = list(voice.iter_frames(b"\1\0" * 16_000))
    assert len(frames) == 50
    assert {len(f) for f in frames} == {640}


def test_every_error_has_a_stable_code_and_status():
    seen = set()
    for cls in voice.errors.ALL_ERRORS:
        assert cls.code and isinstance(cls.code, str)
        assert 400 <= cls.status < 600
        assert cls.code not in seen
        seen.add(cls.code)
        err = cls("x", extra=1)
        assert err.to_dict()["details"] == {"extra": 1}


@pytest.mark.parametrize("size", [0, 0x7FFFFFFF, 0xFFFFFFFF])
def test_a_wav_streamed_without_its_length_is_read_to_the_end(phrase_wav, size):
    # arecord writing to a pipe (and FFmpeg) cannot go back to fill in the data size: it says
    # 0 or the largest number. It was refused as empty or too long.
    data = bytearray(phrase_wav)
    at = data.find(b"data")
    assert at > 0
    data[at + 4 : at + 8] = size.to_bytes(4, "little")
    if size:
        data[4:8] = (0xFFFFFFFF).to_bytes(4, "little")  # the RIFF size too
    decoded = decode_audio(bytes(data))
    reference = decode_audio(phrase_wav)
    assert abs(decoded.duration - reference.duration) < 0.05
    assert decoded.loudness.voiced_ms > 300
