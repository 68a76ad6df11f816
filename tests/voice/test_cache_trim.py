"""The speech cache is bounded: least recently used files go first; kept files, temporary files
and locks stay; a cache hit marks its file as used."""

import os
import time

import voice
from voice.tts import touch, trim_cache

KB = 1024


def _file(folder, name, size_kb, used_ago):
    path = folder / name[:2] / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\0" * size_kb * KB)
    when = time.time() - used_ago
    os.utime(path, (when, when))
    return path


def test_trim_deletes_the_least_recently_used_down_to_90_percent(tmp_path):
    audio, side = tmp_path / "tts", tmp_path / "speech"
    oldest = [_file(audio, f"a{i:02d}.wav", 100, 3600 * (50 - i)) for i in range(10)]  # 1000 KB
    kept = _file(audio, "zz-kept.wav", 100, 10 * 86400)  # the oldest of all, but kept
    fresh = _file(audio, "ff-fresh.wav", 100, 5)
    sidecar = _file(side, "ab-old.json", 1, 40 * 3600)  # counts as one 4 KiB block
    temp = _file(audio, ".a00.tmp.wav", 100, 100 * 86400)
    deleted, left = trim_cache([audio, side], 800 * KB, keep=lambda: {kept})
    # 1204 KB > 800 KB: delete the oldest until ≤ 720 KB (kept, temporary files untouched)
    assert left == 704 * KB and deleted == 5
    assert kept.exists() and fresh.exists() and temp.exists() and sidecar.exists()
    assert [p.exists() for p in oldest] == [False] * 5 + [True] * 5


def test_under_the_cap_nothing_is_deleted_and_keep_is_not_even_asked(tmp_path):
    _file(tmp_path, "a1.wav", 100, 86400)

    def keep():
        raise AssertionError("not needed under the cap")

    assert trim_cache([tmp_path], 1024 * KB, keep=keep) == (0, 100 * KB)


def test_a_cache_hit_marks_the_file_as_used(tmp_path):
    tts = voice.TTSWorker(tmp_path)
    etag = tts.key("안녕하세요", "ko", "slow")
    path = tts.path_for(etag)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"RIFF")
    long_ago = time.time() - 86400
    os.utime(path, (long_ago, long_ago))
    assert tts.lookup("안녕하세요", "ko", "slow") is not None
    st = os.stat(path)
    assert st.st_atime > time.time() - 60 and st.st_mtime == long_ago  # content unchanged
    touch(path)  # within the minute: left alone
    assert os.stat(path).st_atime == st.st_atime
