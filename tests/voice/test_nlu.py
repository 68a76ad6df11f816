"""Understanding Mandarin (and English, Korean) text, including recognition-like errors."""

from __future__ import annotations

import json

import pytest

import voice
from voice.errors import LanguagePackError
from voice.nlu import INTENTS, REPLIES, Understander, normalize, pack_for_locale, speak_reference


@pytest.fixture(scope="module")
def zh(zh_pack) -> Understander:
    return Understander(zh_pack)


@pytest.fixture(scope="module")
def en(en_pack) -> Understander:
    return Understander(en_pack)


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("听公告", "announcements"),
        ("今天有什么通知", "announcements"),
        ("今天有啥通知", "announcements"),
        ("我要反映", "report"),
        ("报修", "report"),
        ("投诉", "report"),
        ("查进度", "progress"),
        ("最近有什么活动", "activities"),
        ("联系居委会", "committee"),
        ("救命", "urgent"),
        ("我摔倒了", "urgent"),
        ("求助", "urgent"),
        ("再说一遍", "repeat"),
        ("说慢一点", "slower"),
        ("对", "yes"),
        ("对的", "yes"),
        ("是的", "yes"),
        ("好", "yes"),
        ("不对", "no"),
        ("不是", "no"),
        ("算了", "cancel"),
        ("取消", "cancel"),
        ("重新开始", "restart"),
    ],
)
def test_zh_intents(zh, text, intent):
    result = zh.parse(text)
    assert result.name == intent
    assert result.confidence >= 0.72


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("厅公告", "announcements"),  # homophone of 听
        ("听公高", "announcements"),  # homophone of 告
        ("听公", "announcements"),  # missing character
        ("听 公告", "announcements"),  # Vosk's word spaces
        ("我要饭映", "report"),  # 反 misheard as 饭
        ("保修", "report"),  # 报修 → 保修 (same pinyin)
        ("茶进度", "progress"),  # 查 → 茶 (cha, different tone)
        ("就命啊", "urgent"),  # 救命 → 就命
        ("我摔到了", "urgent"),  # 倒 → 到
        ("在说一遍", "repeat"),  # 再 → 在
        ("说慢一点儿", "slower"),
        ("好的好的", "yes"),
        ("嗯，对的", "yes"),
        ("联系居为会", "committee"),
        ("最近有什么活懂", "activities"),
        ("蒜了", "cancel"),  # 算了 → 蒜了 (same pinyin)
        ("不队", "no"),
    ],
)
def test_zh_intents_survive_recognition_errors(zh, text, intent):
    assert zh.parse(text).name == intent


@pytest.mark.parametrize(
    "text",
    ["天气怎么样", "你好啊小朋友", "嗯嗯嗯嗯嗯嗯今天天气不错出去走走", "", "   ", "[unk] [unk]"],
)
def test_zh_out_of_domain_is_unknown(zh, text):
    result = zh.parse(text)
    assert result.name == "unknown"
    assert not result.known
    assert result.confidence < 0.72


def test_not_good_is_not_yes(zh):
    assert zh.parse("不好").name != "yes"
    assert zh.parse("不对").name == "no"


def test_report_extracts_the_description(zh):
    result = zh.parse("我 要 反映 楼道 灯 坏 了")
    assert result.name == "report"
    assert result.slots["description"] == "楼道灯坏了"
    assert result.slots["category"] == "repair"
    assert zh.parse("我要投诉一下，楼下太吵了").slots["description"] == "楼下太吵了"
    assert zh.parse("报修 水管 漏水").slots == {"description": "水管漏水", "category": "repair"}


def test_report_without_description_has_no_slot(zh):
    assert zh.parse("我要反映").slots == {}


def test_a_problem_said_straight_away_is_a_report(zh):
    result = zh.parse("电梯坏了")
    assert result.name == "report"
    assert result.slots["description"] == "电梯坏了"
    assert result.slots["category"] == "repair"


def test_urgent_anywhere_in_the_sentence_wins(zh):
    assert zh.parse("我摔倒了起不来").name == "urgent"
    assert zh.parse("快来人啊救命").name == "urgent"
    assert zh.parse("我要反映有人摔倒了").name == "urgent"  # safety first on a tie


def test_no_with_a_correction_keeps_the_rest(zh):
    result = zh.parse("不对，是电梯坏了", ["yes", "no"])
    assert result.name == "no"
    assert result.slots["rest"] == "是电梯坏了"


def test_expect_restricts_to_state_intents_plus_controls(zh):
    assert zh.parse("听公告", ["yes", "no"]).name == "unknown"
    assert zh.parse("救命", ["yes", "no"]).name == "urgent"
    assert zh.parse("再说一遍", ["yes", "no"]).name == "repeat"


@pytest.mark.parametrize(
    ("text", "reference"),
    [
        ("查进度 二零二六 杠 幺二三", "2026-000123"),
        ("查进度二零二六幺二三", "2026-000123"),
        ("查 进度 2026-000123", "2026-000123"),
        ("查进度 2026 000123", "2026-000123"),
        ("二〇二六横杠零零零幺二三", "2026-000123"),
        ("两零两六杠洞洞洞幺两三", "2026-000123"),
        ("查一下进度两千零二十六杠一百二十三", "2026-000123"),
        ("二零二六年一二三号", "2026-000123"),
        ("编号是二零二六 杠 九九九九九九", "2026-999999"),
    ],
)
def test_zh_spoken_references(zh, text, reference):
    assert zh.extract_reference(text) == reference


def test_progress_intent_carries_the_reference(zh):
    result = zh.parse("查进度 二零二六 杠 幺二三")
    assert result.name == "progress"
    assert result.slots["reference"] == "2026-000123"


@pytest.mark.parametrize(
    "text", ["查进度", "一二三", "二零二六杠", "我要查一下进度", "二零杠一二三"]
)
def test_no_reference_when_digits_do_not_fit(zh, text):
    assert zh.extract_reference(text) is None


def test_custom_reference_format(zh_pack):
    nlu = Understander(zh_pack, voice.ReferenceFormat(year_digits=2, serial_digits=4))
    assert nlu.extract_reference("二六杠一二三") == "26-0123"


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("hear announcements", "announcements"),
        ("any news today", "announcements"),
        ("I want to report the stairway light is broken", "report"),
        ("check progress", "progress"),
        ("what activities are coming up", "activities"),
        ("contact the committee", "committee"),
        ("help me", "urgent"),
        ("I fell down", "urgent"),
        ("say that again", "repeat"),
        ("speak slower", "slower"),
        ("yes", "yes"),
        ("yeah", "yes"),
        ("no", "no"),
        ("that's wrong", "no"),
        ("never mind", "cancel"),
        ("start over", "restart"),
        ("what is the weather like", "unknown"),
        ("i know", "unknown"),  # "no" inside "know" is not a word
    ],
)
def test_en_intents(en, text, intent):
    assert en.parse(text).name == intent


def test_en_slots(en):
    report = en.parse("I want to report the stairway light is broken")
    assert report.slots["description"] == "stairway light is broken"
    assert report.slots["category"] == "lighting"
    progress = en.parse("check progress two zero two six dash one two three")
    assert progress.slots["reference"] == "2026-000123"
    assert en.extract_reference("two oh two six one two three") == "2026-000123"


def test_korean_test_pack(ko_pack):
    ko = Understander(ko_pack)
    assert ko.parse("공지 사항").name == "announcements"
    assert ko.parse("공지사항").name == "announcements"  # Vosk may or may not split it
    assert ko.parse("민원 접수 엘리베이터 고장").slots["description"] == "엘리베이터 고장"
    assert ko.parse("네").name == "yes"
    assert ko.parse("아니요").name == "no"
    assert ko.extract_reference("이 공 이 육 하이픈 일 이 삼") == "2026-000123"
    assert ko.extract_reference("이공이육 일이삼") == "2026-000123"


def test_normalize_drops_vosk_spaces_between_chinese_words():
    assert normalize("我 要 反映 楼道 灯 坏 了") == "我要反映楼道灯坏了"
    assert normalize("查进度 2026 000123") == "查进度 2026 000123"
    assert normalize("Hello,  World!") == "hello world"
    assert normalize("[unk] 公告 [unk]") == "公告"


def test_speakable_reads_numbers_digit_by_digit(zh_pack, en_pack):
    assert zh_pack.speak_reference("2026-000123") == "二零二六，杠，零零零一二三"
    assert en_pack.speak_reference("2026-000123") == (
        "two zero two six, dash, zero zero zero one two three"
    )
    spoken = zh_pack.speakable("请打120急救，编号2026-000123，第3条")
    assert "一二零" in spoken and "二零二六，杠，零零零一二三" in spoken and "第3条" in spoken
    assert "一二零" not in zh_pack.speakable("第12条")


def test_a_web_locale_finds_its_pack_and_reads_a_reference():
    assert pack_for_locale("zh_CN").code == pack_for_locale("zh").code == "zh-CN"
    assert pack_for_locale("en_GB").code == pack_for_locale("fr").code == "en"
    assert speak_reference("2026-000123", "zh_CN") == "二零二六，杠，零零零一二三"
    assert speak_reference("2026-000123", "en") == (
        "two zero two six, dash, zero zero zero one two three"
    )


def test_grammar_phrases_per_listen_mode(zh_pack):
    commands = zh_pack.grammar_phrases("commands")
    assert "听公告" in commands and "再说一遍" in commands
    yesno = zh_pack.grammar_phrases("yesno")
    assert "对" in yesno and "不对" in yesno and "救命" in yesno and "听公告" not in yesno
    reference = zh_pack.grammar_phrases("reference")
    assert "幺" in reference and "杠" in reference and "取消" in reference
    assert zh_pack.grammar_phrases("free") is None


def test_builtin_packs_are_complete():
    assert {"zh-CN", "en"} <= set(voice.available_packs())
    for code in ("zh-CN", "en"):
        pack = voice.load_pack(code)
        assert set(INTENTS) <= set(pack.intents)
        assert set(REPLIES) <= set(pack.replies)
        assert pack.prompts()
    assert voice.load_pack("zh-CN").tts_voice == "sit/cmn-latn-pinyin"


def test_incomplete_pack_is_refused(tmp_path, zh_pack):
    data = json.loads((voice.nlu.LANG_DIR / "zh-CN.json").read_text(encoding="utf-8"))
    del data["intents"]["urgent"]
    del data["replies"]["urgent"]
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    with pytest.raises(LanguagePackError) as err:
        voice.LanguagePack.load(path)
    assert "urgent" in err.value.message
    with pytest.raises(LanguagePackError):
        voice.load_pack("xx-XX")
    path.write_text("{not json", encoding="utf-8")
    with pytest.raises(LanguagePackError):
        voice.LanguagePack.load(path)


_OFFERED = ["announcements", "report", "progress", "activities", "signup", "votes", "committee"]


@pytest.mark.parametrize(
    ("key", "intents"),
    [
        ("greeting", _OFFERED),
        ("help", _OFFERED[:5] + ["cancel_signup"] + _OFFERED[5:]),
    ],
)
@pytest.mark.parametrize("code", ["zh", "en"])
def test_what_the_greeting_and_help_offer_is_understood(request, code, key, intents):
    """Each thing "您可以说：…" offers (报名 and 投票 among them) means what it says."""
    nlu = request.getfixturevalue(code)
    text = nlu.pack.replies[key]
    offered = text.split(":" if code == "en" else "：", 1)[1].split("." if code == "en" else "。")[
        0
    ]
    phrases = [p.strip().removeprefix("or ") for p in offered.split("," if code == "en" else "，")]
    assert [nlu.parse(p).name for p in phrases] == intents, phrases
