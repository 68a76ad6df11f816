"""Speech out through the real pyttsx3 + espeak-ng, one worker thread, disk cache."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

import voice
from voice.audio import decode_audio
from voice.errors import TTSUnavailable
from voice.tts import wav_complete

from .conftest import contour_distance, speech_contour, wav_info

pytestmark = pytest.mark.voice

ZH = "sit/cmn-latn-pinyin"


def test_wav_is_22050_mono_16bit_and_not_silent(tts):
    speech = tts.synthesize("您要反映的是：楼道灯坏了，对吗？", ZH, "normal")
    assert speech.mime == "audio/wav" and speech.fmt == "wav"
    assert wav_complete(speech.path)
    rate, channels, width, frames = wav_info(speech.path)
    assert (rate, channels, width) == (22_050, 1, 2)
    assert frames > 22_050  # more than a second of speech
    decoded = decode_audio(Path(speech.path).read_bytes())  # raises SilentAudio if silent
    assert decoded.loudness.voiced_ms > 1000


def test_cache_hit_returns_the_same_etag_without_synthesizing(tts):
    # how fast a hit is served is bench/voice.py's business, not a timed test's
    first = tts.synthesize("请说一下您的编号。", ZH, "slow")
    mtime = os.stat(first.path).st_mtime_ns
    again = tts.synthesize("请说一下您的编号。", ZH, "slow")
    assert again.cached and not first.cached
    assert again.etag == first.etag and again.path == first.path
    assert os.stat(again.path).st_mtime_ns == mtime  # the file was not rendered again
    assert tts.lookup("请说一下您的编号。", ZH, "slow").etag == first.etag
    assert tts.lookup("从来没有说过的话", ZH, "slow") is None


def test_rate_changes_the_audio_and_the_key(tts):
    text = "最近有两个活动。"
    slow = tts.synthesize(text, ZH, "slower")
    fast = tts.synthesize(text, ZH, "fast")
    assert slow.etag != fast.etag
    assert wav_info(slow.path)[3] > wav_info(fast.path)[3] * 1.3
    assert voice.RATES["slower"] < voice.RATES["slow"] < voice.RATES["normal"] < voice.RATES["fast"]


@pytest.mark.parametrize(
    ("fmt", "mime", "container"), [("ogg", "audio/ogg", "ogg"), ("mp3", "audio/mpeg", "mp3")]
)
def test_compressed_speech_for_phones(tts, fmt, mime, container):
    wav = tts.synthesize("好的，已经帮您登记了。", ZH, "slow")
    small = tts.synthesize("好的，已经帮您登记了。", ZH, "slow", fmt)
    assert small.mime == mime and small.etag != wav.etag
    assert small.size < os.path.getsize(wav.path) / 3
    decoded = decode_audio(Path(small.path).read_bytes())
    assert decoded.container == container
    wav_seconds = wav_info(wav.path)[3] / 22_050
    assert abs(decoded.duration - wav_seconds) < 0.15
    assert tts.synthesize("好的，已经帮您登记了。", ZH, "slow", fmt).cached


def test_speak_reference_digit_by_digit(tts, zh_pack, en_pack):
    zh = tts.speak_reference("2026-000123", zh_pack)
    en = tts.speak_reference("2026-000123", en_pack)
    assert zh.etag == tts.key("二零二六，杠，零零零一二三", ZH, "slow")
    assert en.etag == tts.key(
        "two zero two six, dash, zero zero zero one two three", en_pack.tts_voice, "slow"
    )
    for speech in (zh, en):
        assert decode_audio(Path(speech.path).read_bytes()).duration > 2


def test_prerender_fixed_prompts(tts, zh_pack):
    prompts = zh_pack.prompts()
    assert "您好" in prompts[0]
    rendered = tts.prerender(prompts[:4], zh_pack.tts_voice, rates=("slow", "slower"))
    assert len(rendered) == 8
    for text in prompts[:4]:
        assert tts.lookup(text, zh_pack.tts_voice, "slower") is not None


def test_many_threads_each_get_their_own_complete_file(tts, tmp_path):
    phrases = ["공지 사항", "네", "아니요", "다시", "살려 주세요", "도움말"]
    rates = ("slow", "normal", "fast")
    # one at a time, through a worker of its own: what each phrase sounds like at each rate
    with voice.TTSWorker(tmp_path / "reference") as alone:
        reference = {
            (phrase, rate): speech_contour(alone.synthesize(phrase, "ko", rate).path)
            for phrase in phrases
            for rate in rates
        }
    results: dict[int, voice.Speech] = {}
    errors: list[BaseException] = []

    def work(i: int) -> None:
        try:
            phrase = phrases[i % len(phrases)]
            rate = rates[i % 3]
            fmt = ("wav", "wav", "ogg", "mp3")[i % 4]
            results[i] = (phrase, rate, tts.synthesize(phrase, "ko", rate, fmt))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(36)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors
    assert len(results) == 36
    same: dict[tuple, str] = {}
    for phrase, rate, speech in results.values():
        key = (phrase, rate, speech.fmt)
        assert same.setdefault(key, speech.etag) == speech.etag
        decoded = decode_audio(Path(speech.path).read_bytes())
        if speech.fmt == "wav":
            assert wav_complete(speech.path)
            # the file holds THIS phrase at THIS rate, not a neighbour's audio: its contour is
            # nearest to the one rendered alone. (Not checked by recognition: the small Korean
            # model hears fast 도움말 as "아니요 네" even when it is rendered alone.)
            contour = speech_contour(speech.path)
            distances = {key: contour_distance(contour, ref) for key, ref in reference.items()}
            nearest = min(distances, key=distances.get)
            assert nearest == (phrase, rate), (phrase, rate, nearest)
            assert distances[nearest] < 0.15, (phrase, rate, distances[nearest])
        else:  # encoded from the same phrase at the same rate
            wav = tts.lookup(phrase, "ko", rate, "wav")
            assert wav is not None
            assert abs(wav_info(wav.path)[3] / 22_050 - decoded.duration) < 0.1
    assert tts.health()["running"] and tts.health()["broken"] is None


def test_bad_requests(tts):
    with pytest.raises(ValueError):
        tts.synthesize("   ", ZH)
    with pytest.raises(ValueError):
        tts.synthesize("你好", ZH, "presto")
    with pytest.raises(ValueError):
        tts.synthesize("你好", ZH, "slow", "flac")
    with pytest.raises(TTSUnavailable) as err:
        tts.synthesize("你好", "no-such-voice-xyz")
    assert err.value.status == 503 and err.value.code == "tts_unavailable"
    assert tts.synthesize("你好", ZH).size > 44  # the worker survives a bad job


def test_worker_restarts_in_a_forked_child(tmp_path):
    worker = voice.TTSWorker(tmp_path)
    try:
        assert worker.synthesize("네", "ko").size > 44
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:  # a gunicorn worker forked after the parent used TTS
            code = 1
            try:
                speech = worker.synthesize("아니요", "ko", timeout=20)
                os.write(write, str(speech.size).encode())
                code = 0
            finally:
                os._exit(code)
        os.close(write)
        _, status = os.waitpid(pid, 0)
        size = os.read(read, 50)
        os.close(read)
        assert os.waitstatus_to_exitcode(status) == 0
        assert int(size) > 44
    finally:
        worker.close()


def test_a_synthesizer_that_cannot_start_fails_every_waiting_request_at_once(tmp_path):
    # a pyttsx3 driver that does not exist stands in for a machine without espeak-ng: the
    # synthesizer process reports "broken" instead of "ready"
    worker = voice.TTSWorker(tmp_path / "cache", driver="no-such-driver", timeout=30)
    outcomes: list[BaseException | None] = []
    start = threading.Barrier(8)

    def ask(i: int) -> None:
        start.wait()
        try:
            worker.synthesize(f"第{i}条", ZH, "normal")
            outcomes.append(None)
        except BaseException as exc:  # noqa: BLE001 - checked below
            outcomes.append(exc)

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    with worker:
        assert len(outcomes) == 8
        for exc in outcomes:
            # told that speech is unavailable, not left waiting for the 30 s time-out
            assert isinstance(exc, TTSUnavailable), exc
            assert "unavailable" in exc.message and "timed out" not in exc.message
        assert worker.health()["broken"] and worker.health()["queued"] == 0
        with pytest.raises(TTSUnavailable, match="unavailable"):
            worker.synthesize("还有吗", ZH, "normal")  # later requests are refused at once
