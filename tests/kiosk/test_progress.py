"""查进度 at the lobby screen without a speech model: lookups by the last digits of a request's
number or by phone + PIN; the public screen learns only status, handler kind and next step."""

from __future__ import annotations

import json
import re

import pytest

from app.affairs import categories, intake, workflow
from app.extensions import db
from app.models import LoginThrottle
from app.models.case import ASSIGNED, IN_PROGRESS, SUBMITTED, Case
from app.people.actors import Actor
from tests import factories as f

DIGITS = "/kiosk/api/progress/digits"
MINE = "/kiosk/api/progress/mine"
CONTACT = "13912345678"


@pytest.fixture()
def screen(auth, world):
    """Bearer headers of community A's screen."""
    return auth.headers(device=world.a.device)


def _submit(side, *, by=None, code="repair", reference=None, **kw) -> Case:
    category = next(
        c
        for c in categories.list_categories(Actor.for_person(side.staff), side.community.id)
        if c.code == code
    )
    kw.setdefault("description", f"我家101漏水了，请打电话 {CONTACT}。")
    case = intake.submit_case(Actor.for_person(by or side.resident), category_id=category.id, **kw)
    if reference is not None:
        case.reference = reference
    db.session.commit()
    return case


def _shown_text(body: dict) -> str:
    """The answer as text, less the values that are random or meant to be shown (the request's
    number, the speech link's hash), so a private word is not "found" inside a random hex string
    (CI once failed on "101" inside a speech hash)."""

    def strip(value):
        if isinstance(value, dict):
            return {k: strip(v) for k, v in value.items() if k not in ("reference", "speech_url")}
        if isinstance(value, list):
            return [strip(v) for v in value]
        return value

    return json.dumps(strip(body), ensure_ascii=False)


def _serial(case: Case) -> str:
    return case.reference.partition("-")[2]


def _private_words(world, case: Case) -> list[str]:
    resident = world.a.resident
    return [
        resident.display_name,
        resident.phone,
        CONTACT,
        "101",
        "漏水",
        resident.household.label,
        world.a.organization.name,
    ]


def test_digits_find_status_handler_kind_and_next_step_and_nothing_private(
    client, cats, world, screen
):
    case = _submit(world.a)
    staff = Actor.for_person(world.a.staff)
    workflow.assign_case(staff, case.id, organization_id=world.a.organization.id)
    workflow.add_note(staff, case.id, "维修师傅明天上午到三单元五零二", public=True)
    db.session.commit()
    r = client.post(DIGITS, json={"digits": _serial(case)[-4:]}, headers=screen)
    assert r.status_code == 200, r.get_json()
    assert r.headers["Cache-Control"] == "no-store"
    body = r.get_json()
    assert body["outcome"] == "found"
    [row] = body["cases"]
    assert row["reference"] == case.reference
    assert row["status"] == ASSIGNED and row["status_label"] == "已派单"
    assert row["handler_kind"] == "property" and row["handler_label"] == "物业"
    assert row["next_step"] == "物业会尽快来处理。"
    assert set(row) == {
        "reference",
        "status",
        "status_label",
        "handler_kind",
        "handler_label",
        "next_step",
        "overdue",
    }
    text = _shown_text(body)
    for word in _private_words(world, case) + ["维修师傅", "三单元"]:
        assert word not in text, word
    # The spoken answer says the same and nothing more.
    assert body["speech_url"] and body["speech_url"].startswith("/api/v1/voice/speech/")


def test_handler_kind_follows_the_assignee(client, cats, world, screen):
    fresh = _submit(world.a)
    grid = _submit(world.a)
    staff = Actor.for_person(world.a.staff)
    workflow.assign_case(staff, grid.id, person_id=world.a.grid_worker.id)
    db.session.commit()
    answer = client.post(DIGITS, json={"digits": _serial(fresh)}, headers=screen).get_json()
    assert answer["cases"][0]["status"] == SUBMITTED
    assert answer["cases"][0]["handler_kind"] == "committee"
    assert answer["cases"][0]["handler_label"] == "居委会"
    assert answer["cases"][0]["next_step"] == "居委会会尽快看。"
    answer = client.post(DIGITS, json={"digits": _serial(grid)}, headers=screen).get_json()
    assert answer["cases"][0]["handler_kind"] == "grid_worker"
    assert answer["cases"][0]["handler_label"] == "网格员"
    grid.status = IN_PROGRESS
    db.session.commit()
    answer = client.post(
        DIGITS + "?lang=en", json={"digits": _serial(grid)}, headers=screen
    ).get_json()
    assert answer["cases"][0]["handler_label"] == "Grid worker"
    assert answer["cases"][0]["next_step"].startswith("Grid worker is working on it.")


def test_another_communitys_case_is_not_found(client, cats, world, screen):
    theirs = _submit(world.b)
    body = client.post(DIGITS, json={"digits": _serial(theirs)}, headers=screen).get_json()
    assert body["outcome"] == "none" and body["cases"] == []
    assert theirs.reference not in json.dumps(body)
    assert "没有找到" in body["message"]


def test_several_matches_ask_for_more_digits_then_show_each_by_year(client, cats, world, screen):
    _submit(world.a, reference="2026-001234")
    _submit(world.a, reference="2026-091234")
    first = client.post(DIGITS, json={"digits": "1234"}, headers=screen).get_json()
    assert first["outcome"] == "more_digits" and first["need"] == 6 and first["cases"] == []
    assert "最后 6 位" in first["message"]
    one = client.post(DIGITS, json={"digits": "001234"}, headers=screen).get_json()
    assert one["outcome"] == "found" and one["cases"][0]["reference"] == "2026-001234"
    _submit(world.a, reference="2025-001234")
    both = client.post(DIGITS, json={"digits": "001234"}, headers=screen).get_json()
    assert both["outcome"] == "several"
    assert [c["reference"] for c in both["cases"]] == ["2025-001234", "2026-001234"]


@pytest.mark.parametrize("headers", ["none", "bogus", "staff"])
def test_only_a_paired_screen_may_look_up(client, cats, world, auth, headers):
    case = _submit(world.a)
    given = {"none": {}, "bogus": {"Authorization": "Bearer nope"}, "staff": None}[headers]
    if given is None:
        given = auth.headers(world.a.staff)
    for path, body in (
        (DIGITS, {"digits": _serial(case)}),
        (MINE, {"phone": world.a.resident.phone, "pin": f.PIN}),
    ):
        r = client.post(path, json=body, headers=given)
        expected = 403 if headers == "staff" else 401
        assert r.status_code == expected
        envelope = r.get_json()
        assert envelope["code"] == expected and envelope["message"]
        assert "cases" not in envelope


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"digits": ""},
        {"digits": "123"},
        {"digits": "1234567"},
        {"digits": "12a4"},
        {"digits": "%234"},
        {"digits": "12_4"},
        {"digits": 1234},
        {"digits": None},
        {"digits": "1234", "extra": 1},
        {"digits": "１２３４"},
        {"digits": "9" * 30},
    ],
)
def test_bad_digits_are_a_clear_422_envelope(client, cats, world, screen, body):
    r = client.post(DIGITS, json=body, headers=screen)
    assert r.status_code == 422, r.get_json()
    envelope = r.get_json()
    assert set(envelope) >= {"code", "status", "message", "errors"}
    assert envelope["code"] == 422 and "Traceback" not in r.get_data(as_text=True)


def test_not_json_is_a_4xx_envelope(client, cats, world, screen):
    r = client.post(DIGITS, data="digits=1234", headers={**screen, "Content-Type": "text/plain"})
    assert 400 <= r.status_code < 500 and r.get_json()["code"] == r.status_code
    r = client.get(DIGITS, headers=screen)
    assert r.status_code == 405 and r.get_json()["code"] == 405


@pytest.mark.parametrize(
    "body",
    [
        {"phone": "123", "pin": "246813"},
        {"phone": "13700000000", "pin": "12"},
        {"phone": "13700000000"},
        {"phone": "137000000001", "pin": "246813"},
    ],
)
def test_bad_phone_or_pin_is_a_422_envelope(client, cats, world, screen, body):
    r = client.post(MINE, json=body, headers=screen)
    assert r.status_code == 422 and r.get_json()["errors"]


def test_lookups_per_screen_are_limited(app, client, cats, world, screen, auth, monkeypatch):
    monkeypatch.setitem(app.config, "KIOSK_PROGRESS_PER_HOUR", 3)
    case = _submit(world.a)
    for digits in ("0000", "1111", _serial(case)):
        assert client.post(DIGITS, json={"digits": digits}, headers=screen).status_code == 200
    r = client.post(DIGITS, json={"digits": _serial(case)}, headers=screen)
    assert r.status_code == 429 and int(r.headers["Retry-After"]) > 0
    assert r.get_json()["code"] == 429 and "一小时" in r.get_json()["message"]
    # phone + PIN counts against the same screen
    r = client.post(MINE, json={"phone": world.a.resident.phone, "pin": f.PIN}, headers=screen)
    assert r.status_code == 429
    # another screen has its own count
    other = f.device(world.a.community)
    db.session.commit()
    r = client.post(DIGITS, json={"digits": _serial(case)}, headers=auth.headers(device=other))
    assert r.status_code == 200


def test_phone_and_pin_show_the_residents_own_open_cases(client, cats, world, screen):
    mine_open = _submit(world.a, code="repair")
    mine_done = _submit(world.a, code="environment")
    mine_done.status = "closed"
    _submit(world.a, by=world.a.elder)  # someone else's
    db.session.commit()
    r = client.post(MINE, json={"phone": world.a.resident.phone, "pin": f.PIN}, headers=screen)
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    assert body["outcome"] == "mine"
    assert [c["reference"] for c in body["cases"]] == [mine_open.reference]
    row = body["cases"][0]
    assert row["title"] == mine_open.category.name and row["reported_on"]
    assert row["handler_kind"] == "committee" and row["status"] == SUBMITTED
    text = _shown_text(body)
    for word in _private_words(world, mine_open):
        assert word not in text, word
    # no session or token was started by signing in at the screen
    assert "Set-Cookie" not in r.headers


def test_phone_and_pin_with_nothing_open(client, cats, world, screen):
    r = client.post(MINE, json={"phone": world.a.elder.phone, "pin": f.PIN}, headers=screen)
    body = r.get_json()
    assert r.status_code == 200 and body["outcome"] == "none" and body["cases"] == []


def test_phone_and_pin_say_how_many_matters_wait_for_confirmation(client, cats, world, screen):
    """A resident signed in at the screen hears what easy mode's home shows: 有两件事等您确认."""
    for code in ("repair", "environment"):
        case = _submit(world.a, code=code)
        case.status = "resolved"
    _submit(world.a, by=world.a.elder).status = "resolved"  # a neighbour's: not counted
    db.session.commit()
    r = client.post(MINE, json={"phone": world.a.resident.phone, "pin": f.PIN}, headers=screen)
    body = r.get_json()
    assert r.status_code == 200 and body["waiting"] == 2
    assert body["message"].startswith("有两件事等您确认。"), body["message"]
    r = client.post(
        MINE + "?lang=en", json={"phone": world.a.elder.phone, "pin": f.PIN}, headers=screen
    )
    body = r.get_json()
    assert body["waiting"] == 1
    assert body["message"].startswith("1 matter waits for you to confirm."), body["message"]
    r = client.post(MINE, json={"phone": world.a.relative.phone, "pin": f.PIN}, headers=screen)
    assert r.get_json()["waiting"] == 0 and "等您确认" not in r.get_json()["message"]


def test_wrong_pin_is_counted_and_locks_the_account(app, client, cats, world, screen, monkeypatch):
    monkeypatch.setitem(app.config, "LOGIN_MAX_FAILURES", 3)
    phone = world.a.resident.phone
    for _attempt in range(3):
        r = client.post(MINE, json={"phone": phone, "pin": "000000"}, headers=screen)
        assert r.status_code == 422
        assert r.get_json()["errors"]["pin"] == ["手机号或密码不对。"]
    row = db.session.get(LoginThrottle, phone)
    assert row is not None and row.locked_until is not None
    # locked now, even with the right PIN (the easy mode's own lock, 423 with Retry-After)
    r = client.post(MINE, json={"phone": phone, "pin": f.PIN}, headers=screen)
    assert r.status_code == 423 and int(r.headers["Retry-After"]) > 0
    assert "cases" not in r.get_json()


def test_wrong_pins_from_one_address_are_stopped(app, client, cats, world, screen, monkeypatch):
    monkeypatch.setitem(app.config, "LOGIN_IP_MAX_FAILURES", 2)
    for _attempt in range(2):
        r = client.post(MINE, json={"phone": f.phone(), "pin": "000000"}, headers=screen)
        assert r.status_code == 422
    r = client.post(MINE, json={"phone": world.a.resident.phone, "pin": f.PIN}, headers=screen)
    assert r.status_code == 429


def test_the_answer_can_be_heard(client, cats, world, screen):
    case = _submit(world.a)
    body = client.post(DIGITS, json={"digits": _serial(case)}, headers=screen).get_json()
    with client.get(body["speech_url"] + "?format=wav", headers=screen) as audio:
        assert audio.status_code == 200 and audio.mimetype == "audio/wav"
        data = audio.get_data()
    assert data[:4] == b"RIFF" and len(data) > 10_000


def test_the_screen_page_has_the_panel_and_the_keypad(client):
    page = client.get("/kiosk").get_data(as_text=True)
    assert 'id="progress-panel"' in page and "keypad.js" in page and "progress.js" in page
    config = json.loads(re.search(r'id="progress-config">(.*?)</script>', page, re.S).group(1))
    assert config["texts"]["digits_label"] == "请输入诉求编号的最后 4 位"
    assert config["resetSeconds"] >= 20 and config["digitsMin"] == 4
    preview = client.get("/kiosk/preview").get_data(as_text=True)
    assert 'id="progress-panel"' not in preview
    sw = client.get("/kiosk/sw.js").get_data(as_text=True)
    for name in ("keypad.js", "keypad.css", "progress.js", "progress.css"):
        assert f"/kiosk/static/{name}" in sw
        with client.get(f"/kiosk/static/{name}") as r:
            assert r.status_code == 200


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("accepted", "居委会已经收到，正在安排人处理。"),
        ("in_progress", "物业正在处理，处理好了会告诉您。"),
        ("resolved", "已经处理好了。如果还没解决，请告诉居委会。"),
        ("closed", "这件事已经办完了。如果还有问题，可以再反映。"),
        ("rejected", "这件事没有受理。想了解原因，请打居委会电话。"),
        ("reopened", "正在重新处理，居委会会再安排。"),
    ],
)
def test_every_status_has_a_plain_next_step(client, cats, world, screen, status, expected):
    case = _submit(world.a)
    case.status = status
    case.reject_reason = "不属于社区管理范围（私密原因）" if status == "rejected" else None
    if status in ("in_progress", "resolved", "closed"):
        case.assignee_organization_id = world.a.organization.id
    db.session.commit()
    body = client.post(DIGITS, json={"digits": _serial(case)}, headers=screen).get_json()
    assert body["cases"][0]["status"] == status
    assert body["cases"][0]["next_step"] == expected
    assert "私密原因" not in json.dumps(body, ensure_ascii=False)


def test_a_merged_case_points_to_the_one_it_joined(client, cats, world, screen):
    kept = _submit(world.a)
    merged = _submit(world.a)
    workflow.merge_case(Actor.for_person(world.a.staff), merged.id, kept.id)
    db.session.commit()
    row = client.post(DIGITS, json={"digits": _serial(merged)}, headers=screen).get_json()
    assert row["cases"][0]["status"] == "closed"
    assert row["cases"][0]["next_step"] == f"它和编号 {kept.reference} 的诉求一起处理，请查那一件。"


def test_an_overdue_case_says_so(client, cats, world, screen):
    from datetime import timedelta

    from app.models.base import utcnow

    case = _submit(world.a)
    case.due_at = utcnow() - timedelta(hours=1)
    db.session.commit()
    row = client.post(DIGITS, json={"digits": _serial(case)}, headers=screen).get_json()
    assert row["cases"][0]["overdue"] is True
