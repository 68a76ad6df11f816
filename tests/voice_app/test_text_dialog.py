"""The dialog by text (POST /api/v1/voice/text), in Mandarin, over the real services."""

from __future__ import annotations

from sqlalchemy import select

from app.affairs import workflow
from app.assistant import runtime
from app.models import AuditLog, Building, Grid
from app.models.case import Case, CaseAttachment
from app.models.notification import Notification
from app.people.actors import Actor


def talk(client, headers, text, cid=None, expected=200, **extra):
    """One turn; returns the JSON reply."""
    body = {"text": text, **extra}
    if cid is not None:
        body["conversation_id"] = cid
    response = client.post("/api/v1/voice/text", json=body, headers=headers)
    assert response.status_code == expected, response.get_json()
    return response.get_json()


def post_announcement(client, auth, staff, **body):
    body.setdefault("body", "明天上午九点到十二点停水，请提前储水。")
    response = client.post("/api/v1/announcements", json=body, headers=auth.headers(staff))
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def spoken(app, url: str) -> str:
    """What a reply URL says (its sidecar), e.g. to check numbers are read digit by digit."""
    import json

    rt = runtime.runtime(app)
    speech_id = url.rsplit("/", 1)[-1]
    return json.loads(rt._sidecar(speech_id).read_text(encoding="utf-8"))["text"]


def test_anonymous_callers_get_401_in_the_envelope(client, cats):
    response = client.post("/api/v1/voice/text", json={"text": "听公告"})
    assert response.status_code == 401
    body = response.get_json()
    assert body["code"] == 401 and body["status"] == "Unauthorized" and body["message"]


def test_greeting_then_announcements_for_the_callers_building(client, auth, cats, db):
    a = cats.a
    other = Building(
        community=a.community, grid=Grid(community=a.community, name="第二网格"), name="9号楼"
    )
    db.session.add(other)
    db.session.commit()
    post_announcement(client, auth, a.staff, title="停水通知")
    post_announcement(
        client, auth, a.staff, title="九号楼电梯检修", body="周三检修。", building_ids=[other.id]
    )
    post_announcement(client, auth, cats.b.staff, title="别的社区的通知")
    headers = auth.headers(a.resident)
    started = client.post("/api/v1/voice/conversations", json={}, headers=headers)
    assert started.status_code == 201
    greeting = started.get_json()
    assert greeting["intent"] == "greeting" and "听公告" in greeting["reply_text"]
    reply = talk(client, headers, "听公告", greeting["conversation_id"])
    assert reply["intent"] == "announcements"
    assert "停水通知" in reply["reply_text"] and "储水" in reply["reply_text"]
    assert "九号楼" not in reply["reply_text"] and "别的社区" not in reply["reply_text"]
    assert reply["reply_audio_url"].startswith("/api/v1/voice/speech/")
    # homophones from the recognizer still work: 厅公告
    assert talk(client, headers, "厅公告", reply["conversation_id"])["intent"] == "announcements"


def test_report_is_filed_only_after_yes_with_the_transcript(client, auth, cats, db, app):
    headers = auth.headers(cats.a.resident)
    first = talk(client, headers, "我要反映")
    cid = first["conversation_id"]
    assert first["intent"] == "report" and first["state"] == "ask_description"
    confirm = talk(client, headers, "那个楼道灯坏了，晚上看不见", cid)
    assert confirm["state"] == "confirm_report"
    assert confirm["reply_text"].startswith("您说的是报修：")
    assert db.session.scalar(select(Case.id)) is None  # nothing before the yes
    filed = talk(client, headers, "对", cid)
    assert filed["intent"] == "yes" and filed["case_ref"]
    db.session.expire_all()
    case = db.session.scalar(select(Case).where(Case.reference == filed["case_ref"]))
    assert case.channel == "voice" and case.reporter_id == cats.a.resident.id
    assert "楼道灯坏了" in case.description and "楼道灯坏了" in case.transcript
    assert case.category.code == "repair"  # 楼道灯坏了 → repair, read back as 报修
    assert filed["case_ref"] in filed["reply_text"]
    # the reference is read digit by digit: 2026-000001 → 二零二六，杠，零零零零零一
    year, serial = filed["case_ref"].split("-")
    digits = "零一二三四五六七八九"
    said = spoken(app, filed["reply_audio_url"])
    assert "".join(digits[int(c)] for c in year) in said
    assert "".join(digits[int(c)] for c in serial) in said
    assert filed["case_ref"] not in said


def test_spoken_reports_are_filed_in_the_category_that_was_said(client, auth, cats, db):
    """楼道灯坏了 / 电梯坏了 are 报修 and a plea for shopping is 求助, never 意见建议."""
    headers = auth.headers(cats.a.resident)
    for text, code, name in (
        ("电梯坏了", "repair", "报修"),
        ("我一个人住想请人帮忙买菜", "help", "求助"),
        ("楼道里闻到煤气味", "safety", "安全隐患"),
    ):
        confirm = talk(client, headers, text)
        assert confirm["reply_text"] == f"您说的是{name}：{text}，对吗？"
        ref = talk(client, headers, "对", confirm["conversation_id"])["case_ref"]
        db.session.expire_all()
        case = db.session.scalar(select(Case).where(Case.reference == ref))
        assert case.category.code == code, text


def test_no_then_correction_and_cancel_file_nothing(client, auth, cats, db):
    headers = auth.headers(cats.a.resident)
    cid = talk(client, headers, "我要反映电梯坏了")["conversation_id"]
    corrected = talk(client, headers, "不对，是垃圾桶满了", cid)
    assert corrected["state"] == "confirm_report" and "垃圾桶满了" in corrected["reply_text"]
    cancelled = talk(client, headers, "算了", cid)
    assert cancelled["intent"] == "cancel" and cancelled["state"] == "idle"
    assert talk(client, headers, "对", cid)["intent"] == "yes"  # nothing to confirm any more
    assert db.session.scalar(select(Case.id)) is None


def test_progress_by_a_spoken_reference(client, auth, cats, db):
    headers = auth.headers(cats.a.resident)
    cid = talk(client, headers, "我要反映楼道灯坏了")["conversation_id"]
    ref = talk(client, headers, "对的", cid)["case_ref"]
    year, serial = ref.split("-")
    spoken_ref = (
        "".join("零幺二三四五六七八九"[int(c)] for c in year)
        + "杠"
        + "".join("零幺二三四五六七八九"[int(c)] for c in serial.lstrip("0"))
    )
    reply = talk(client, headers, f"查进度 {spoken_ref}", cid)
    assert reply["intent"] == "progress" and reply["case_ref"] == ref
    assert "已提交" in reply["reply_text"] and "报修" in reply["reply_text"]
    asked = talk(client, headers, "查一下进度", cid)
    assert asked["state"] == "ask_reference"
    unknown = talk(client, headers, "二零二六杠九九九", cid)
    assert unknown["intent"] == "progress" and "没有找到" in unknown["reply_text"]


def test_a_screen_hears_only_the_public_status(client, auth, cats, db):
    a = cats.a
    owner = auth.headers(a.resident)
    cid = talk(client, owner, "我要反映楼道灯坏了")["conversation_id"]
    ref = talk(client, owner, "对", cid)["case_ref"]
    case = db.session.scalar(select(Case).where(Case.reference == ref))
    workflow.assign_case(Actor.for_person(a.staff), case.id, person_id=a.grid_worker.id)
    db.session.commit()
    # the reporter hears who handles it ...
    mine = talk(client, owner, f"查进度 {ref}", cid)
    assert a.grid_worker.display_name in mine["reply_text"]
    # ... the lobby screen hears the status only: no names, no phone numbers
    screen = auth.headers(device=a.device)
    heard = talk(client, screen, f"查进度 {ref}")
    assert heard["intent"] == "progress" and heard["case_ref"] == ref
    for secret in (
        a.resident.display_name,
        a.resident.phone,
        a.grid_worker.display_name,
        a.grid_worker.phone,
    ):
        assert secret not in heard["reply_text"]
    assert (
        "已派" in heard["reply_text"]
        or "办理" in heard["reply_text"]
        or "分派" in heard["reply_text"]
    )


def test_urgent_help_alerts_the_grid_worker_and_the_committee_at_once(client, auth, cats, db):
    # The grid worker of the caller's building and the committee staff hear it at once; the
    # chain (tests/services/test_alerts.py) calls again and climbs while nobody acknowledges.
    a = cats.a
    reply = talk(client, auth.headers(a.elder), "救命，我摔倒了")
    assert reply["intent"] == "urgent" and reply["alerted"] is True
    assert "120" in reply["reply_text"] and "110" in reply["reply_text"]
    db.session.expire_all()
    notes = db.session.scalars(select(Notification).where(Notification.kind == "urgent_help")).all()
    told = {n.person_id for n in notes}
    assert told == {a.grid_worker.id, a.staff.id}  # not community B, not the partner org
    note = notes[0]
    assert note.urgent and note.acknowledged_at is None and note.alert_id is not None
    assert a.elder.display_name in note.title and "摔倒" in note.body
    assert a.elder.phone in note.body  # they must be able to call back now
    entry = db.session.scalar(select(AuditLog).where(AuditLog.action == "urgent_help"))
    assert entry.community_id == a.community.id and entry.target_id == str(a.elder.id)
    # a screen raises the alarm too (the grid worker of the screen's building, the committee)
    talk(client, auth.headers(device=a.device), "求助")
    db.session.expire_all()
    assert db.session.query(Notification).filter_by(kind="urgent_help").count() == 4


def test_repeat_slower_and_the_persons_speech_rate(client, auth, cats, db, app):
    elder = cats.a.elder
    elder.speech_rate = "normal"
    db.session.commit()
    headers = auth.headers(elder)
    started = client.post("/api/v1/voice/conversations", json={}, headers=headers).get_json()
    assert started["rate"] == "normal"  # their preference
    cid = started["conversation_id"]
    info = talk(client, headers, "联系居委会", cid)
    assert cats.a.community.phone in info["reply_text"] and info["rate"] == "normal"
    again = talk(client, headers, "再说一遍", cid)
    assert again["intent"] == "repeat" and again["reply_text"] == info["reply_text"]
    assert again["reply_audio_url"] == info["reply_audio_url"]
    slower = talk(client, headers, "说慢一点", cid)
    assert slower["intent"] == "slower" and slower["rate"] == "slow"
    assert slower["reply_text"].endswith(info["reply_text"])
    assert talk(client, headers, "说慢一点", cid)["rate"] == "slower"
    assert talk(client, headers, "听公告", cid)["rate"] == "slower"  # for the conversation
    # the phone number is read digit by digit
    assert "零一零" in spoken(app, info["reply_audio_url"])


def test_a_conversation_belongs_to_its_caller(client, auth, cats):
    a = cats.a
    cid = talk(client, auth.headers(a.resident), "听公告")["conversation_id"]
    for other in (
        auth.headers(a.elder),
        auth.headers(device=a.device),
        auth.headers(cats.b.resident),
        auth.headers(a.relative, act_for=a.elder),
    ):
        response = client.post(
            "/api/v1/voice/text", json={"text": "再说一遍", "conversation_id": cid}, headers=other
        )
        assert response.status_code == 404
        assert response.get_json()["errors"] == {"conversation_id": ["conversation_not_found"]}
    deleted = client.delete(f"/api/v1/voice/conversations/{cid}", headers=auth.headers(a.elder))
    assert deleted.status_code == 404
    assert (
        client.delete(
            f"/api/v1/voice/conversations/{cid}", headers=auth.headers(a.resident)
        ).status_code
        == 204
    )
    gone = client.post(
        "/api/v1/voice/text",
        json={"text": "再说一遍", "conversation_id": cid},
        headers=auth.headers(a.resident),
    )
    assert gone.status_code == 404 and "重新开始" in gone.get_json()["message"]


def test_a_family_member_files_for_the_resident(client, auth, cats, db):
    a = cats.a
    headers = auth.headers(a.relative, act_for=a.elder)
    cid = talk(client, headers, "我要反映水管漏水了")["conversation_id"]
    ref = talk(client, headers, "是的", cid)["case_ref"]
    case = db.session.scalar(select(Case).where(Case.reference == ref))
    assert case.reporter_id == a.elder.id and case.proxy_id == a.relative.id
    assert case.channel == "voice"


def test_a_screen_files_anonymously_in_a_category_that_allows_it(client, auth, cats, db):
    screen = auth.headers(device=cats.a.device)
    cid = talk(client, screen, "我要反映楼道灯坏了")["conversation_id"]
    ref = talk(client, screen, "对", cid)["case_ref"]
    case = db.session.scalar(select(Case).where(Case.reference == ref))
    assert case.anonymous and case.reporter_id is None and case.category.allow_anonymous
    assert case.device_id == cats.a.device.id and case.channel == "voice"
    assert db.session.scalar(select(CaseAttachment.id)) is None  # typed: no recording


def test_a_screen_never_files_a_repair_or_a_plea_for_help_as_a_suggestion(client, auth, cats, db):
    """报修 and 求助 need a name; a screen files anonymously, so it takes the nearest category
    that allows it (the property's 环境卫生, the grid worker's 安全隐患), not 意见建议."""
    screen = auth.headers(device=cats.a.device)
    for text, code in (
        ("楼道灯坏了", "environment"),
        ("电梯坏了", "environment"),
        ("我一个人住想请人帮忙买菜", "safety"),
        ("有人在楼道里给电动车充电", "safety"),
    ):
        cid = talk(client, screen, text)["conversation_id"]
        ref = talk(client, screen, "对", cid)["case_ref"]
        db.session.expire_all()
        case = db.session.scalar(select(Case).where(Case.reference == ref))
        assert case.category.code == code, text
        assert case.anonymous and case.device_id == cats.a.device.id


def test_english_and_bad_input(client, auth, cats):
    headers = auth.headers(cats.a.resident)
    reply = talk(client, headers, "announcements please", language="en")
    assert reply["language"] == "en" and reply["intent"] == "announcements"
    bad = client.post(
        "/api/v1/voice/text", json={"text": "听公告", "language": "xx"}, headers=headers
    )
    assert bad.status_code == 422
    assert (
        client.post("/api/v1/voice/text", json={"text": "x" * 501}, headers=headers).status_code
        == 422
    )
    assert (
        client.post(
            "/api/v1/voice/text", json={"text": "x", "conversation_id": "../x"}, headers=headers
        ).status_code
        == 422
    )
    assert (
        client.post(
            "/api/v1/voice/text", json={"text": "x", "extra": 1}, headers=headers
        ).status_code
        == 422
    )
