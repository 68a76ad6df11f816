"""Chinese first, English complete: every message is translated, and the locale choice works."""

import re
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


def _catalogs() -> list[Path]:
    return sorted((ROOT / "app/translations").glob("*/zh_CN/LC_MESSAGES/messages.po"))


def _translated() -> dict:
    merged = {}
    for po in _catalogs():
        with po.open("rb") as fh:
            catalog = read_po(fh, locale="zh_CN")
        for m in catalog:
            if m.id and m.string and "fuzzy" not in m.flags:
                merged[m.id] = m.string
    return merged


def test_every_message_has_a_chinese_translation(tmp_path):
    missing = sorted(_extracted(tmp_path) - set(_translated()))
    assert not missing, f"untranslated msgids: {missing[:20]}"


def test_msgids_are_english(tmp_path):
    # Chinese inside an English msgid ("(代办)") shows on English pages whatever the catalog says.
    chinese = sorted(
        m for m in _extracted(tmp_path) if re.search(r"[\u3000-\u303f\u4e00-\u9fff]", str(m))
    )
    assert not chinese, chinese[:20]


def test_every_catalog_folder_has_a_chinese_catalog():
    # app.i18n.catalog_dirs() hands every folder to Flask-Babel: one without zh_CN is a feature
    # whose strings would silently stay English in the Chinese UI.
    from app.i18n import catalog_dirs

    folders = [p for p in catalog_dirs() if p.name != "__pycache__"]
    assert folders
    missing = [p.name for p in folders if not (p / "zh_CN/LC_MESSAGES/messages.po").is_file()]
    assert not missing, missing


def test_every_entry_of_every_catalog_is_translated_and_not_fuzzy():
    # The extraction test above sees only msgids the code uses; this one reads each catalog as it
    # is, so an entry left empty or marked fuzzy (which gettext ignores) fails wherever it is.
    problems = []
    for po in _catalogs():
        with po.open("rb") as fh:
            catalog = read_po(fh, locale="zh_CN")
        feature = po.parts[-4]
        for m in catalog:
            if not m.id:
                continue  # the header
            strings = m.string if isinstance(m.string, tuple) else (m.string,)
            if not all(strings) or "fuzzy" in m.flags:
                problems.append((feature, m.id, "fuzzy" if m.string else "empty"))
    assert not problems, problems[:20]


def test_translations_keep_the_placeholders_of_their_msgid():
    # "%(name)s" missing or renamed in a translation raises KeyError, or drops the value, only
    # when the page is shown: babel's python-format checker finds it in the catalog.
    from babel.messages.catalog import TranslationError
    from babel.messages.checkers import python_format

    problems = []
    for po in _catalogs():
        with po.open("rb") as fh:
            catalog = read_po(fh, locale="zh_CN")
        for m in catalog:
            if not m.id or not m.string:
                continue
            ids = m.id if isinstance(m.id, tuple) else (m.id,)
            if not any(_PLACEHOLDER.search(i) for i in ids) and "python-format" not in m.flags:
                continue
            try:
                python_format(catalog, m)
            except TranslationError as error:
                problems.append((po.parts[-4], m.id, str(error)))
            names = {n for i in ids for n in _PLACEHOLDER.findall(i)}
            strings = m.string if isinstance(m.string, tuple) else (m.string,)
            if any(set(_PLACEHOLDER.findall(s)) != names for s in strings):
                problems.append((po.parts[-4], m.id, "placeholders differ"))
    assert not problems, problems[:20]


_PLACEHOLDER = re.compile(r"%\((\w+)\)[sdif]")


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
    page = client.get("/staff/login?lang=en").get_data(as_text=True)
    assert 'lang="en"' in page
    # Only the language switch is Chinese on an English page (the brand is "Linli").
    leftover = set(re.findall(r"[\u4e00-\u9fff]+", page)) - {"中文"}
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
