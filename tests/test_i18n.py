"""Chinese first, English complete: every message is translated, and the locale choice works."""

import subprocess
import sys
from pathlib import Path

from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parent.parent


def _extracted(tmp_path) -> set[str]:
    pot = tmp_path / "all.pot"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "babel.messages.frontend",
            "--quiet",
            "extract",
            "-F",
            str(ROOT / "babel.cfg"),
            "-k",
            "_l",
            "-k",
            "lazy_gettext",
            "-o",
            str(pot),
            str(ROOT),
        ],
        check=True,
        cwd=ROOT,
    )
    with pot.open("rb") as fh:
        return {m.id for m in read_po(fh) if m.id}


def _translated() -> dict:
    merged = {}
    for po in (ROOT / "app/translations").glob("*/zh_CN/LC_MESSAGES/messages.po"):
        with po.open("rb") as fh:
            catalog = read_po(fh, locale="zh_CN")
        for m in catalog:
            if m.id and m.string and "fuzzy" not in m.flags:
                merged[m.id] = m.string
    return merged


def test_every_message_has_a_chinese_translation(tmp_path):
    missing = sorted(_extracted(tmp_path) - set(_translated()))
    assert not missing, f"untranslated msgids: {missing[:20]}"


def test_api_errors_follow_the_requested_locale(client):
    zh = client.get("/api/v1/me")
    en = client.get("/api/v1/me?lang=en")
    assert zh.get_json()["message"] == "请先登录。"
    assert en.get_json()["message"] == "Please sign in first."
    by_header = client.get("/api/v1/me", headers={"Accept-Language": "en-US,en;q=0.9"})
    assert by_header.get_json()["message"] == "Please sign in first."


def test_chinese_is_the_default_for_pages(client):
    page = client.get("/staff/login").get_data(as_text=True)
    assert 'lang="zh-CN"' in page and "工作人员登录" in page


def test_english_pages_have_no_untranslated_chinese(client):
    import re

    page = client.get("/staff/login?lang=en").get_data(as_text=True)
    assert 'lang="en"' in page
    # Only the brand name and the language switch are Chinese on an English page.
    leftover = set(re.findall(r"[\u4e00-\u9fff]+", page)) - {"邻里", "中文"}
    assert not leftover, leftover


def test_no_message_is_translated_two_ways():
    # Flask-Babel merges every feature's catalog: one msgid with two translations would
    # silently show one feature's wording in another's page.
    seen: dict[str, tuple[str, str]] = {}
    clashes = []
    for po in sorted((ROOT / "app/translations").glob("*/zh_CN/LC_MESSAGES/messages.po")):
        with po.open("rb") as fh:
            catalog = read_po(fh, locale="zh_CN")
        feature = po.parts[-4]
        for m in catalog:
            if not m.id or not m.string:
                continue
            if m.id in seen and seen[m.id][1] != m.string:
                clashes.append((m.id, seen[m.id], (feature, m.string)))
            seen.setdefault(m.id, (feature, m.string))
    assert not clashes, clashes[:10]
