"""Which category a spoken report is filed under, measured on the Mandarin evaluation set.

tests/voice/data/category_eval.tsv holds 250 kiosk utterances (varied wording, sound-alike
recognition errors, elderly and dialect-ish phrasing, one word to a long story) with the
expected intent and case category code. Its ``heldout`` part was written after the last change
to the language pack: its figure shows how the understanding does on phrasing nobody tuned for.
bench/category_accuracy.py prints the same figures per category with the confusions.
"""

from __future__ import annotations

import importlib.util
from collections import Counter
from pathlib import Path

import pytest

import voice
from voice.dialog import Dialog
from voice.nlu import Understander

from .conftest import RecordingServices

ROOT = Path(__file__).resolve().parents[2]
CODES = ("repair", "environment", "safety", "dispute", "suggestion", "help")


def _bench():
    spec = importlib.util.spec_from_file_location(
        "category_accuracy", ROOT / "bench" / "category_accuracy.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


bench = _bench()
ROWS = bench.load_set()


@pytest.fixture(scope="module")
def nlu() -> Understander:
    return Understander(voice.load_pack("zh-CN"))


def _part(split: str) -> list[dict[str, str]]:
    return [r for r in ROWS if r["split"] == split]


def test_the_set_is_large_varied_and_has_a_held_out_part():
    assert len(ROWS) >= 150
    assert {r["category"] for r in ROWS} == set(CODES)
    assert {r["split"] for r in ROWS} == {"tune", "heldout"}
    per = Counter(r["category"] for r in ROWS)
    assert min(per.values()) >= 25, per
    held = _part("heldout")
    assert len(held) >= 30 and {r["category"] for r in held} == set(CODES)
    assert len({r["text"] for r in ROWS}) == len(ROWS)  # no utterance twice
    assert {r["intent"] for r in ROWS} <= {"report", "urgent"}


def test_category_accuracy_on_the_set(nlu):
    whole = bench.evaluate(ROWS, nlu)
    tune = bench.evaluate(_part("tune"), nlu)
    held = bench.evaluate(_part("heldout"), nlu)
    assert whole["accuracy"] >= 0.90, whole["wrong"]
    assert whole["intent_accuracy"] >= 0.90, whole["wrong"]
    assert tune["accuracy"] >= 0.95, tune["wrong"]
    # phrasing nobody tuned for: measured 77% (24/31); a floor, so a change that makes
    # unseen speech worse fails here even if it helps the tuned part
    assert held["accuracy"] >= 0.70, held["wrong"]


def test_no_danger_or_plea_for_help_is_understood_as_a_suggestion(nlu):
    figures = bench.evaluate(ROWS, nlu)
    assert figures["danger_as_suggestion"] == []
    assert bench.evaluate(_part("tune"), nlu)["danger_not_understood"] == []


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("楼道灯坏了", "repair"),
        ("电梯坏了", "repair"),
        ("我一个人住想请人帮忙买菜", "help"),
        ("电题 坏 了", "repair"),  # recognized by sound
        ("厨房水管楼水了", "repair"),
    ],
)
def test_the_reports_from_the_issue(nlu, text, category):
    result = nlu.parse(text)
    assert result.name == "report"
    assert result.slots["category"] == category


def test_danger_and_help_win_over_a_politely_worded_suggestion(nlu):
    assert nlu.category_hint("建议多组织一些活动") == "suggestion"
    assert nlu.category_hint("希望有人来看看，楼道里有煤气味") == "safety"
    assert nlu.category_hint("能不能有人帮我买点菜，我一个人住") == "help"
    # but danger does not swallow everything: a fault with a danger word nearby stays a repair
    assert nlu.category_hint("电梯坏了，卡在三楼不动了") == "repair"


def test_the_read_back_names_the_category_and_files_it(zh_pack):
    services = RecordingServices()
    dialog = Dialog(services, zh_pack)
    cid = dialog.start("resident-1").conversation_id
    confirm = dialog.turn(cid, "resident-1", "我一个人住想请人帮忙买菜")
    assert confirm.state == "confirm_report"
    assert confirm.reply_text == "您说的是求助：我一个人住想请人帮忙买菜，对吗？"
    unclear = dialog.turn(cid, "resident-1", "今天天气不错")
    assert unclear.reply_text.endswith(
        "请说“对”或者“不对”。您说的是求助：我一个人住想请人帮忙买菜，对吗？"
    )
    filed = dialog.turn(cid, "resident-1", "对")
    assert filed.case_ref
    assert services.named("submit_case")[0][5] == "help"


def test_the_resident_corrects_only_the_category(zh_pack):
    services = RecordingServices()
    dialog = Dialog(services, zh_pack)
    cid = dialog.start("resident-1").conversation_id
    first = dialog.turn(cid, "resident-1", "我要报修，楼道里的灯坏了")
    assert first.reply_text == "您说的是报修：楼道里的灯坏了，对吗？"
    corrected = dialog.turn(cid, "resident-1", "不对，是安全隐患")
    assert corrected.state == "confirm_report"
    assert corrected.reply_text == "您说的是安全隐患：楼道里的灯坏了，对吗？"
    dialog.turn(cid, "resident-1", "对的")
    (call,) = services.named("submit_case")
    assert call[1] == "楼道里的灯坏了" and call[5] == "safety"


def test_without_an_understood_category_the_read_back_is_the_matter_alone(zh_pack):
    services = RecordingServices()
    dialog = Dialog(services, zh_pack)
    cid = dialog.start("resident-1").conversation_id
    dialog.turn(cid, "resident-1", "我要反映")
    confirm = dialog.turn(cid, "resident-1", "今天的事情很奇怪")
    assert confirm.reply_text == "您要反映的是：今天的事情很奇怪，对吗？"
