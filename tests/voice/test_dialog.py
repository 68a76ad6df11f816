"""The dialog state machine, driven with Mandarin text (and the Korean test pack)."""

from __future__ import annotations

import json
import threading

import pytest

import voice
from voice.dialog import Dialog, MemoryDialogStore
from voice.errors import ConversationNotFound

from .conftest import RecordingServices


class Clock:
    """A hand-driven clock for expiry tests."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture()
def clock() -> Clock:
    return Clock()


@pytest.fixture()
def dialog(services, zh_pack, en_pack, clock) -> Dialog:
    store = MemoryDialogStore(clock=clock)
    return Dialog(services, [zh_pack, en_pack], store=store, clock=clock)


def talk(dialog: Dialog, *lines: str, caller="resident-1", language=None):
    """Start a conversation and say each line; return every result."""
    results = [dialog.start(caller, language=language)]
    for line in lines:
        results.append(dialog.turn(results[0].conversation_id, caller, line))
    return results


def test_greeting_and_ids(dialog):
    first = dialog.start("resident-1")
    second = dialog.start("resident-1")
    assert first.state == "idle"
    assert first.rate == "slow"
    assert "听公告" in first.reply_text
    assert first.conversation_id != second.conversation_id
    assert len(first.conversation_id) >= 22  # 18 random bytes, url-safe


def test_report_is_confirmed_before_filing(dialog, services):
    cid = dialog.start("resident-1").conversation_id
    asked = dialog.turn(cid, "resident-1", "我要反映")
    assert asked.state == "ask_description"
    assert asked.listen == "free"
    confirm = dialog.turn(cid, "resident-1", "楼道灯坏了")
    assert not services.named("submit_case")
    assert confirm.state == "confirm_report"
    assert confirm.reply_text == "您说的是报修：楼道灯坏了，对吗？"
    assert confirm.listen == "yesno"
    filed = dialog.turn(cid, "resident-1", "对")
    assert filed.state == "done"
    assert filed.case_ref == "2026-000501"
    assert "2026-000501" in filed.reply_text
    assert "二零二六，杠，零零零五零一" in filed.speech_text
    (call,) = services.named("submit_case")
    caller, description, transcript, audio, mime, category = call
    assert (caller, description, transcript, audio, mime, category) == (
        "resident-1",
        "楼道灯坏了",
        "楼道灯坏了",
        None,
        None,
        "repair",
    )


def test_report_in_one_breath_with_vosk_spaces(dialog, services):
    _, confirm, filed = talk(dialog, "我 要 反映 楼道 灯 坏 了", "对的")
    assert confirm.reply_text == "您说的是报修：楼道灯坏了，对吗？"
    assert filed.case_ref
    assert services.named("submit_case")[0][1] == "楼道灯坏了"


def test_no_then_new_description(dialog, services):
    _, confirm, retry, confirm2, filed = talk(dialog, "报修 楼道灯坏了", "不对", "电梯坏了", "是的")
    assert confirm.state == "confirm_report"
    assert retry.state == "ask_description"
    assert retry.reply_text == "好的，请您再说一遍要反映的问题。"
    assert confirm2.reply_text == "您说的是报修：电梯坏了，对吗？"
    assert filed.case_ref
    assert services.named("submit_case")[0][1] == "电梯坏了"
    assert services.named("submit_case")[0][5] == "repair"


def test_no_with_correction_reconfirms(dialog, services):
    _, confirm, reconfirm = talk(dialog, "我要反映楼道灯坏了", "不对，是电梯坏了")
    assert reconfirm.state == "confirm_report"
    assert reconfirm.reply_text == "您说的是报修：电梯坏了，对吗？"
    assert not services.named("submit_case")


def test_audio_travels_with_the_description(dialog, services):
    start = dialog.start("kiosk-7")
    cid = start.conversation_id
    dialog.turn(cid, "kiosk-7", "我要反映")
    dialog.turn(cid, "kiosk-7", "楼道灯坏了", audio=b"OggS-fake-bytes", audio_mime="audio/ogg")
    state = dialog.get(cid)
    json.dumps(state)  # the stored state is plain JSON
    dialog.turn(cid, "kiosk-7", "对")
    (call,) = services.named("submit_case")
    assert call[3] == b"OggS-fake-bytes"
    assert call[4] == "audio/ogg"


def test_urgent_acts_immediately_without_confirmation(dialog, services):
    _, result = talk(dialog, "救命啊")
    assert result.intent == "urgent"
    assert result.alerted is True
    assert services.named("urgent_help") == [("resident-1", "救命啊")]
    assert "120" in result.reply_text and "110" in result.reply_text
    assert "一二零" in result.speech_text and "幺幺零" not in result.speech_text


def test_urgent_interrupts_any_state(dialog, services):
    _, _, result = talk(dialog, "我要反映", "我摔倒了")
    assert result.intent == "urgent"
    assert services.named("urgent_help")
    assert not services.named("submit_case")


def test_urgent_reply_even_when_alerting_fails(zh_pack, clock):
    services = RecordingServices(fail={"urgent_help"})
    dialog = Dialog(services, zh_pack, clock=clock)
    _, result = talk(dialog, "救命")
    assert result.intent == "urgent"
    assert result.alerted is False
    assert result.error == "service_failed"
    assert "120" in result.reply_text


def test_repeat_returns_the_last_reply(dialog):
    _, confirm, again = talk(dialog, "我要反映楼道灯坏了", "再说一遍")
    assert again.reply_text == confirm.reply_text
    assert again.state == "confirm_report"
    greeting, repeat = talk(dialog, "再说一遍")
    assert repeat.reply_text == greeting.reply_text


def test_slower_lowers_the_rate_for_the_rest_of_the_conversation(dialog):
    _, news, slower, after = talk(dialog, "听公告", "说慢一点", "最近有什么活动")
    assert news.rate == "slow"
    assert slower.rate == "slower"
    assert slower.reply_text.startswith("好的，我说慢一点。")
    assert news.reply_text in slower.reply_text  # and it says the last thing again
    assert after.rate == "slower"
    _, _, slowest = talk(dialog, "说慢一点", "说慢一点")
    assert slowest.rate == "slower"
    assert slowest.reply_text.startswith("好的，我已经说得最慢了。")


def test_two_failed_turns_offer_touch_or_a_call(dialog, services):
    _, first, second, third = talk(dialog, "今天天气怎么样", "呜啦呜啦", "听公告")
    assert first.intent == "unknown" and first.fallback is None
    assert first.reply_text == "对不起，我没听清楚。请您再说一遍。"
    assert second.fallback == "touch_or_call"
    assert "按钮" in second.reply_text
    assert "021-6888 1234" in second.reply_text
    assert "零二一" in second.speech_text  # the number is read digit by digit
    assert third.intent == "announcements"


def test_failures_must_be_in_a_row(dialog):
    _, first, ok, again = talk(dialog, "呜啦呜啦", "听公告", "呜啦呜啦")
    assert first.fallback is None and again.fallback is None


def test_offer_without_a_known_phone(zh_pack, clock):
    dialog = Dialog(RecordingServices(phone=None), zh_pack, clock=clock)
    _, _, offer = talk(dialog, "呜啦", "呜啦")
    assert offer.fallback == "touch_or_call"
    assert offer.reply_text == zh_pack.reply("offer_touch")


def test_confirm_state_reasks_then_offers(dialog, services):
    _, confirm, unclear, offer = talk(dialog, "我要反映楼道灯坏了", "呜啦呜啦", "呜啦呜啦")
    assert unclear.state == "confirm_report"
    assert "请说“对”或者“不对”" in unclear.reply_text
    assert offer.fallback == "touch_or_call"
    assert not services.named("submit_case")


def test_cancel_and_restart_clear_state(dialog, services):
    _, _, cancelled = talk(dialog, "我要反映楼道灯坏了", "算了")
    assert cancelled.state == "idle"
    assert cancelled.intent == "cancel"
    assert dialog.get(cancelled.conversation_id)["slots"] == {}
    _, _, _, restarted, yes = talk(dialog, "我要反映楼道灯坏了", "说慢一点", "重新开始", "对")
    state = dialog.get(restarted.conversation_id)
    assert state["state"] == "idle" and state["slots"] == {} and state["failures"] == 0
    assert restarted.reply_text.startswith("好的，我们重新开始。")
    assert restarted.rate == "slower"  # the resident's pace is kept
    assert yes.intent == "yes" and yes.state == "idle"
    assert not services.named("submit_case")  # "对" after a restart files nothing


def test_progress_with_spoken_reference(dialog, services):
    _, result = talk(dialog, "查进度 二零二六 杠 幺二三")
    assert result.intent == "progress"
    assert result.case_ref == "2026-000123"
    assert "已派单" in result.reply_text and "3月5日" in result.reply_text
    assert services.named("case_status") == [("resident-1", "2026-000123")]


def test_progress_asks_for_the_reference(dialog, services):
    _, ask, not_found, found = talk(dialog, "查进度", "二零二六杠九九九", "二零二六 一二三")
    assert ask.state == "ask_reference" and ask.listen == "reference"
    assert not_found.state == "ask_reference"
    assert "2026-000999" in not_found.reply_text
    assert found.state == "done" and found.case_ref == "2026-000123"


def test_announcements_activities_committee(dialog):
    _, news, events, contact = talk(dialog, "今天有什么通知", "最近有什么活动", "联系居委会")
    assert news.reply_text.startswith("最近有2条公告。第1条，停水通知。")
    assert "垃圾分类" in news.reply_text
    assert "周六上午九点，义诊。" in events.reply_text
    assert "幸福里居委会的电话是：021-6888 1234。" in contact.reply_text
    assert "零二一，六八八八，一二三四" in contact.speech_text


def test_missing_contact_fields_are_left_out(zh_pack, clock):
    class Partial(RecordingServices):
        def committee_contact(self, caller):
            return {"name": "居委会", "phone": "12345678", "hours": "", "address": None}

    dialog = Dialog(Partial(), zh_pack, clock=clock)
    _, contact = talk(dialog, "联系居委会")
    assert contact.reply_text == "居委会的电话是：12345678。"


def test_service_failure_is_spoken_not_raised(zh_pack, clock):
    services = RecordingServices(fail={"announcements", "submit_case"})
    dialog = Dialog(services, zh_pack, clock=clock)
    _, news = talk(dialog, "听公告")
    assert news.error == "service_failed"
    assert news.reply_text == zh_pack.reply("service_error")
    _, _, failed = talk(dialog, "我要反映楼道灯坏了", "对")
    assert failed.error == "service_failed"
    assert failed.state == "confirm_report"  # the resident can say 对 again later
    assert failed.case_ref is None


def test_expiry_needs_the_full_ttl_without_input(dialog, clock):
    start = dialog.start("r")
    cid = start.conversation_id
    clock.now += 119
    dialog.turn(cid, "r", "听公告")  # input refreshes the deadline
    clock.now += 119
    dialog.turn(cid, "r", "最近有什么活动")
    clock.now += 121
    with pytest.raises(ConversationNotFound) as err:
        dialog.turn(cid, "r", "联系居委会")
    assert err.value.status == 404


def test_ttl_below_sixty_seconds_is_refused(services, zh_pack):
    with pytest.raises(ValueError):
        Dialog(services, zh_pack, ttl=30)
    Dialog(services, zh_pack, ttl=60)


def test_goodbye_ends_the_conversation(dialog):
    _, bye = talk(dialog, "再见")
    assert bye.ended
    with pytest.raises(ConversationNotFound):
        dialog.turn(bye.conversation_id, "resident-1", "听公告")


def test_owner_binding(dialog):
    start = dialog.start("kiosk", owner="device-1")
    with pytest.raises(ConversationNotFound):
        dialog.turn(start.conversation_id, "kiosk", "听公告", owner="device-2")
    assert dialog.turn(start.conversation_id, "kiosk", "听公告", owner="device-1").intent


def test_unknown_conversation(dialog):
    with pytest.raises(ConversationNotFound):
        dialog.turn("no-such-id", "r", "听公告")


def test_english_conversation(dialog, services):
    _, confirm, filed = talk(dialog, "I want to report the lift is broken", "yes", language="en")
    assert confirm.reply_text == "You want to report: lift is broken. Is that right?"
    assert filed.case_ref and "two zero two six, dash" in filed.speech_text


def test_korean_pack_drives_the_same_dialog(ko_pack, clock):
    services = RecordingServices()
    dialog = Dialog(services, ko_pack, clock=clock)
    _, news, ask, confirm, filed = talk(dialog, "공지 사항", "민원 접수", "엘리베이터 고장", "네")
    assert news.intent == "announcements"
    assert ask.state == "ask_description"
    assert confirm.reply_text == "신고하실 내용이 엘리베이터 고장, 맞나요?"
    assert filed.case_ref and "이 공 이 육 하이픈" in filed.speech_text
    assert services.named("submit_case")[0][5] == "elevator"


def test_turn_results_are_json(dialog):
    _, result = talk(dialog, "听公告")
    data = json.loads(json.dumps(result.to_dict(), ensure_ascii=False))
    assert {"conversation_id", "intent", "reply_text", "state", "case_ref", "ended", "rate"} <= set(
        data
    )


def test_memory_store_is_thread_safe_and_bounded(clock):
    store = MemoryDialogStore(clock=clock, max_items=50)
    errors = []

    def work(n: int) -> None:
        try:
            for i in range(100):
                store.put(f"{n}-{i}", {"n": n, "i": i}, 120)
                store.get(f"{n}-{i // 2}")
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len(store) <= 50
    with pytest.raises(TypeError):
        store.put("x", {"bytes": b"not json"}, 120)
    clock.now += 121
    assert len(store) == 0


def test_concurrent_yes_files_once(dialog, services):
    start = dialog.start("r")
    cid = start.conversation_id
    dialog.turn(cid, "r", "我要反映楼道灯坏了")
    results = []
    threads = [
        threading.Thread(target=lambda: results.append(dialog.turn(cid, "r", "对")))
        for _ in range(5)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(services.named("submit_case")) == 1
    assert sum(1 for r in results if r.case_ref) == 1


def test_services_protocol_is_checkable(services):
    assert isinstance(services, voice.Services)


def test_cancel_signup_without_the_services_is_not_understood(dialog, services):
    # RecordingServices has no sign-ups: "取消报名" neither fails nor cancels anything
    _, said = talk(dialog, "取消报名")
    assert said.intent == "unknown" and said.error is None and said.state == "idle"


def test_a_failing_cancellation_apologises_and_keeps_nothing_pending(zh_pack, clock):
    class Signups:
        def __init__(self):
            self.cancelled = []

        def my_signups(self, caller):
            return [{"id": 7, "title": "包饺子", "when": "3月5日 09:00, 活动室"}]

        def cancel_signup_activity(self, caller, activity_id):
            raise RuntimeError("down")

        def committee_contact(self, caller):
            return None

    d = Dialog(Signups(), zh_pack, store=MemoryDialogStore(clock=clock), clock=clock)
    _, asked, failed, after = talk(d, "取消报名", "对", "对")
    assert asked.state == "confirm_cancel_signup" and "包饺子" in asked.reply_text
    assert failed.error == "service_failed" and failed.state == "done"
    assert after.intent == "yes" and after.error is None  # nothing left to confirm
