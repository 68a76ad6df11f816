"""Recognition with the real Korean Vosk model on espeak-ng speech."""

from __future__ import annotations

import os
import threading
import time

import pytest

import voice
from voice import asr
from voice.audio import decode_audio, iter_frames
from voice.errors import AudioTooLong, ModelUnavailable

pytestmark = pytest.mark.voice

PHRASES = ["네", "아니요", "공지 사항", "다시", "살려 주세요", "도움말"]


def pcm_of(say, text: str) -> bytes:
    return decode_audio(say(text)).pcm


def test_model_is_loaded_once_and_shared(model_path, ko_model):
    assert voice.load_model(model_path) is ko_model
    assert voice.load_model(model_path + os.sep) is ko_model  # same folder, same model
    info = voice.model_info(model_path)
    assert info.language == "ko"
    assert info.grammar_supported is True
    assert info.vocabulary == "embedded"  # the small model ships no graph/words.txt
    assert info.load_seconds > 0
    assert info.to_dict()["path"] == os.path.realpath(model_path)


def test_loading_from_many_threads_gives_one_model(model_path, ko_model):
    seen = []
    threads = [
        threading.Thread(target=lambda: seen.append(voice.load_model(model_path))) for _ in range(8)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(seen) == 8 and all(m is ko_model for m in seen)


def test_missing_model_says_how_to_install(tmp_path):
    with pytest.raises(ModelUnavailable) as err:
        voice.load_model(tmp_path / "nope")
    assert err.value.status == 503
    assert err.value.code == "asr_model_unavailable"
    assert "vosk-model-small-cn-0.22" in err.value.message
    assert "VOSK_MODEL_PATH" in err.value.message
    with pytest.raises(ModelUnavailable):
        voice.load_model("")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelUnavailable, match="not a Vosk model folder"):
        voice.load_model(tmp_path / "empty")


def test_grammar_keeps_only_words_the_model_knows(ko_model):
    grammar = ko_model.grammar(["네", "공지사항", "공지 사항", "hello world", "넘어졌어요"], "t")
    assert "네" in grammar.phrases
    assert "공지사항" in grammar.phrases and "공지 사항" in grammar.phrases
    assert "hello world" in grammar.dropped  # a Latin word is never split into letters
    # an unknown compound is segmented into known words (longest match first)
    segmented = ko_model.segment("넘어졌어요")
    assert segmented and "".join(segmented) == "넘어졌어요"
    assert all(ko_model.knows(w) for w in segmented)
    assert not ko_model.knows("[unk]")  # this model has no [unk]: nothing is added for it
    assert "[unk]" not in grammar.phrases


def test_unknown_word_is_dropped_not_sent_to_vosk(ko_model):
    assert ko_model.segment("qwertyuiop") is None
    grammar = ko_model.grammar(["qwertyuiop", "네"], "t")
    assert grammar.phrases == ("네",)
    assert grammar.dropped == ("qwertyuiop",)


@pytest.mark.parametrize("phrase", PHRASES)
def test_grammar_recognition_of_espeak_phrases(ko_model, say, phrase):
    grammar = ko_model.grammar(PHRASES, "test")
    result = ko_model.recognize(pcm_of(say, phrase), grammar)
    assert result.text == phrase
    assert result.grammar == "test"
    assert result.confidence > 0.5
    assert result.decode_seconds < 5


def test_open_recognition_returns_text(ko_model, say):
    result = ko_model.recognize(pcm_of(say, "공지 사항"))
    assert result.grammar is None
    assert result.text  # the small model mishears espeak in open mode, but hears something
    assert result.words


def test_streaming_gives_partials_then_a_final(ko_model, say):
    grammar = ko_model.grammar(PHRASES, "stream")
    session = ko_model.stream(grammar)
    partials = []
    for chunk in iter_frames(pcm_of(say, "공지 사항"), 20):
        event = session.feed(chunk)
        assert event.kind == "partial"
        if event.text:
            partials.append(event.text)
    final = session.finish()
    assert final.text == "공지 사항"
    assert partials and partials[-1] == "공지 사항"
    assert any(p != "공지 사항" for p in partials) or len(partials) > 1
    assert final.latency_seconds < 0.3  # end of input -> final transcript
    assert session.done
    assert session.finish() is final


def test_streaming_detects_end_of_speech_by_itself(ko_model, say):
    grammar = ko_model.grammar(PHRASES, "stream")
    session = ko_model.stream(grammar)
    pcm = pcm_of(say, "아니요") + b"\0\0" * 16_000 * 3
    final = None
    for chunk in iter_frames(pcm, 20):
        event = session.feed(chunk)
        if event.kind == "final":
            final = event.transcript
            break
    assert final is not None, "Vosk's endpointer should close the utterance within 3 s"
    assert final.text == "아니요"
    assert final.audio_seconds < len(pcm) / 32_000


def test_stream_accepts_odd_chunk_sizes(ko_model, say):
    grammar = ko_model.grammar(PHRASES, "stream")
    pcm = pcm_of(say, "네")
    session = ko_model.stream(grammar)
    for i in range(0, len(pcm), 333):  # odd byte counts split samples
        session.feed(pcm[i : i + 333])
    assert session.finish().text == "네"
    assert abs(session.audio_seconds - len(pcm) / 32_000) < 0.001


def test_stream_enforces_max_duration(ko_model):
    session = ko_model.stream(None, max_seconds=1)
    with pytest.raises(AudioTooLong):
        for chunk in iter_frames(b"\0\0" * 16_000 * 2, 100):
            session.feed(chunk)


def test_threads_share_one_model_with_own_recognizers(ko_model, say):
    grammar = ko_model.grammar(PHRASES, "threads")
    samples = {p: pcm_of(say, p) for p in ("네", "아니요", "공지 사항", "다시")}
    results: list[tuple[str, str]] = []
    errors: list[BaseException] = []

    def work(i: int) -> None:
        try:
            for phrase in list(samples)[i % 4 :] + list(samples)[: i % 4]:
                results.append((phrase, ko_model.recognize(samples[phrase], grammar).text))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len(results) == 24
    assert all(expected == heard for expected, heard in results)


def test_pooled_recognizer_is_reset_between_utterances(ko_model, say):
    grammar = ko_model.grammar(PHRASES, "pool")
    first = ko_model.recognize(pcm_of(say, "공지 사항"), grammar)
    second = ko_model.recognize(pcm_of(say, "네"), grammar)
    assert (first.text, second.text) == ("공지 사항", "네")


def test_preload_then_fork_shares_the_model(model_path, say):
    info = voice.preload(model_path)
    assert info.language == "ko"
    pcm = pcm_of(say, "네")
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: like a gunicorn worker after preload_app
        code = 1
        try:
            model = voice.load_model(model_path)
            text = model.recognize(pcm, model.grammar(PHRASES, "child")).text
            os.write(write, text.encode())
            code = 0
        finally:
            os._exit(code)
    os.close(write)
    _, status = os.waitpid(pid, 0)
    heard = os.read(read, 100).decode()
    os.close(read)
    assert os.waitstatus_to_exitcode(status) == 0
    assert heard == "네"


def test_self_test_synthesizes_and_recognizes(model_path):
    report = voice.self_test(model_path)
    assert report["ok"], report
    assert report["heard"] == report["expected"]
    assert report["model"]["language"] == "ko"
    assert report["recognize_seconds"] < 5


def test_self_test_reports_a_missing_model(tmp_path):
    report = voice.self_test(tmp_path / "missing")
    assert report["ok"] is False
    assert "ModelUnavailable" in report["error"]


def test_recognize_helper(model_path, say):
    started = time.perf_counter()
    result = asr.recognize(model_path, pcm_of(say, "다시"), PHRASES)
    assert result.text == "다시"
    assert time.perf_counter() - started < 5
