"""Intake from every channel, who is recorded, references, privacy and bad input."""

from __future__ import annotations

import re

import pytest

from app.affairs import attachments, common, intake, words
from app.extensions import db
from app.infra.errors import DomainError
from app.models import AuditLog
from app.models.case import Case, CaseAttachment, CaseEvent
from app.models.idempotency import IdempotencyKey
from tests.affairs.conftest import actor, category, submit, wav_bytes


def test_resident_in_the_app(cats):
    case = submit(cats.a, description="电梯停在五楼不动")
    assert case.channel == "app" and case.reporter_id == cats.a.resident.id
    assert case.proxy_id is None and case.submitted_by_id is None and not case.anonymous
    # No location given: the resident's home is the default.
    assert case.household_id == cats.a.resident.household_id
    assert case.building_id == cats.a.community.buildings[0].id
    assert case.grid_id == cats.a.community.grids[0].id
    assert re.fullmatch(r"\d{4}-\d{6}", case.reference)
    assert case.due_at - case.created_at == __import__("datetime").timedelta(hours=48)
    event = case.events[0]
    assert (event.kind, event.actor_person_id, event.actor_role) == (
        "submitted",
        cats.a.resident.id,
        "reporter",
    )


def test_family_proxy_records_both(cats):
    who = actor(cats.a.relative, act_for=cats.a.elder)
    case = submit(cats.a, by=who)
    assert case.channel == "proxy"
    assert case.reporter_id == cats.a.elder.id and case.proxy_id == cats.a.relative.id
    event = case.events[0]
    assert event.actor_person_id == cats.a.relative.id
    assert event.on_behalf_of_id == cats.a.elder.id


def test_staff_take_down_a_phone_call_for_a_resident(cats, client, auth):
    r = client.post(
        "/api/v1/cases",
        headers=auth.headers(cats.a.staff),
        json={
            "category_code": "dispute",
            "description": "楼上装修噪音",
            "channel": "phone",
            "reporter_id": cats.a.elder.id,
        },
    )
    assert r.status_code == 201, r.get_json()
    case = db.session.get(Case, r.get_json()["id"])
    assert (case.channel, case.reporter_id, case.submitted_by_id) == (
        "phone",
        cats.a.elder.id,
        cats.a.staff.id,
    )
    assert case.is_public is False  # disputes are never public
    # A resident of another community cannot be named.
    r = client.post(
        "/api/v1/cases",
        headers=auth.headers(cats.a.staff),
        json={
            "category_code": "dispute",
            "description": "x",
            "channel": "counter",
            "reporter_id": cats.b.resident.id,
        },
    )
    assert r.status_code == 422 and "reporter_id" in r.get_json()["errors"]


def test_staff_walk_in_with_an_unregistered_caller(cats):
    case = intake.submit_case(
        actor(cats.a.staff),
        category_id=category(cats.a, "help").id,
        description="老人想请人陪同就医",
        channel="counter",
        contact_name="李大爷",
        contact_phone="+86 139-0000-1234",
    )
    db.session.commit()
    assert case.contact_name == "李大爷" and case.contact_phone == "13900001234"
    assert case.reporter_id is None and not case.anonymous


def test_grid_worker_on_patrol(cats):
    building = cats.a.community.buildings[0]
    case = submit(
        cats.a,
        by=cats.a.grid_worker,
        code="safety",
        description="楼道里有电动车在充电",
        building_id=building.id,
    )
    assert case.channel == "patrol" and case.submitted_by_id == cats.a.grid_worker.id
    assert case.reporter_id is None and not case.anonymous


def test_kiosk_anonymous_uses_the_screens_building(cats):
    case = submit(
        cats.a, by=actor(device=cats.a.device), code="environment", description="东门垃圾桶满了"
    )
    assert case.channel == "kiosk" and case.device_id == cats.a.device.id
    assert case.anonymous and case.reporter_id is None
    assert case.building_id == cats.a.device.building_id
    # Repairs need someone to call back: a screen must give a contact.
    with pytest.raises(DomainError) as error:
        submit(cats.a, by=actor(device=cats.a.device), code="repair")
    assert error.value.status_code == 422
    db.session.rollback()
    identified = submit(
        cats.a,
        by=actor(device=cats.a.device),
        code="repair",
        contact_name="王阿姨",
        contact_phone="13900002222",
    )
    assert not identified.anonymous and identified.contact_phone == "13900002222"


def test_voice_keeps_the_transcript_and_the_audio_as_uploaded(cats, app):
    audio = wav_bytes()
    case = intake.submit_case(
        actor(cats.a.elder),
        category_code="help",
        channel="voice",
        transcript="我一个人住 想请人帮忙买菜",
        audio=(audio, "audio/x-wav"),
    )
    db.session.commit()
    assert case.channel == "voice" and case.description == "我一个人住 想请人帮忙买菜"
    assert case.transcript == case.description
    [attachment] = case.attachments
    assert attachment.kind == "audio" and attachment.mime == "audio/wav"
    assert attachments.path_of(attachment).read_bytes() == audio
    with pytest.raises(DomainError) as error:  # a photo is not a recording
        intake.submit_case(
            actor(cats.a.elder),
            category_code="help",
            channel="voice",
            transcript="x",
            audio=b"\x89PNG\r\n\x1a\n" + b"0" * 40,
        )
    assert error.value.status_code == 415


def test_anonymous_report_keeps_no_link_to_the_person(cats, client, auth):
    headers = {**auth.headers(cats.a.resident), "Idempotency-Key": "anon-1"}
    r = client.post(
        "/api/v1/cases",
        headers=headers,
        json={"category_code": "environment", "description": "楼道堆满杂物", "anonymous": True},
    )
    assert r.status_code == 201
    case = db.session.get(Case, r.get_json()["id"])
    assert case.anonymous and case.reporter_id is None and case.proxy_id is None
    assert case.contact_name is None and case.contact_phone is None
    assert all(e.actor_person_id is None and e.on_behalf_of_id is None for e in case.events)
    # Not in "my cases", and nothing stored names the person next to the case.
    mine = client.get("/api/v1/cases?mine=true", headers=auth.headers(cats.a.resident))
    assert mine.get_json()["total"] == 0
    key = db.session.query(IdempotencyKey).one()
    assert not IdempotencyKey.__table__.foreign_keys  # only an HMAC of caller + key
    assert cats.a.resident.display_name not in key.body and cats.a.resident.phone not in key.body
    assert db.session.query(AuditLog).filter(AuditLog.target_type == "case_record").count() == 0
    # Anonymous is refused where the category needs a name.
    r = client.post(
        "/api/v1/cases",
        headers=auth.headers(cats.a.resident),
        json={"category_code": "dispute", "description": "噪音", "anonymous": True},
    )
    assert r.status_code == 422 and "anonymous" in r.get_json()["errors"]


def test_references_are_sequential_and_readable(cats):
    first, second = submit(cats.a), submit(cats.b)
    year, n1 = first.reference.split("-")
    assert second.reference == f"{year}-{int(n1) + 1:06d}"
    assert common.reference_digits("2026-000123") == "2 0 2 6 - 0 0 0 1 2 3"
    assert words.spoken_reference("2026-000123", "zh_CN") == "二零二六，杠，零零零一二三"
    assert words.spoken_reference("2026-000123", "en") == (
        "two zero two six, dash, zero zero zero one two three"
    )
    for spelled in ("2026-000123", "2026 123", "2026000123", " 2026－000123 "):
        assert common.normalize_reference(spelled) == "2026-000123"
    assert common.normalize_reference("hello") is None


def test_category_by_code_and_unknown_category(cats, client, auth):
    headers = auth.headers(cats.a.resident)
    r = client.post(
        "/api/v1/cases", headers=headers, json={"category_code": "nope", "description": "x"}
    )
    assert r.status_code == 404
    # Another community's category id is not found either.
    r = client.post(
        "/api/v1/cases",
        headers=headers,
        json={"category_id": category(cats.b).id, "description": "x"},
    )
    assert r.status_code == 404
    r = client.post("/api/v1/cases", headers=headers, json={"description": "x"})
    assert r.status_code == 422


def test_location_from_the_register_or_a_free_address(cats, client, auth):
    headers = auth.headers(cats.a.resident)
    building = cats.a.community.buildings[0]
    r = client.post(
        "/api/v1/cases",
        headers=headers,
        json={
            "category_code": "environment",
            "description": "小广场积水",
            "address": "小区中心广场",
            "latitude": 39.9,
            "longitude": 116.4,
        },
    )
    assert r.status_code == 201
    body = r.get_json()
    assert body["location"]["address"] == "小区中心广场" and body["location"]["building_id"] is None
    r = client.post(
        "/api/v1/cases",
        headers=headers,
        json={
            "category_code": "environment",
            "description": "x",
            "building_id": cats.b.community.buildings[0].id,
        },
    )
    assert r.status_code == 422 and "building_id" in r.get_json()["errors"]
    r = client.post(
        "/api/v1/cases",
        headers=headers,
        json={"category_code": "environment", "description": "x", "latitude": 39.9},
    )
    assert r.status_code == 422
    r = client.post(
        "/api/v1/cases",
        headers=headers,
        json={
            "category_code": "environment",
            "description": "x",
            "building_id": building.id,
            "household_id": building.households[0].id,
        },
    )
    assert r.status_code == 201


HOSTILE = ["\x00", "电梯\x00坏了", "\u202e坏了", "a" * 10_000, "\u2066x\u2069", "x\x07"]


@pytest.mark.parametrize(
    "field", ["description", "address", "contact_name", "transcript", "category_code"]
)
def test_hostile_strings_are_refused_and_nothing_is_stored(cats, client, auth, field):
    headers = auth.headers(cats.a.staff)
    for value in HOSTILE:
        body = {
            "category_code": "environment",
            "description": "正常的描述",
            "channel": "phone",
            field: value,
        }
        r = client.post("/api/v1/cases", headers=headers, json=body)
        assert 400 <= r.status_code < 500, (field, repr(value)[:30], r.status_code)
        assert r.get_json()["code"] == r.status_code
    assert db.session.query(Case).count() == 0
    assert db.session.query(CaseEvent).count() == 0
    assert db.session.query(CaseAttachment).count() == 0


def test_unknown_fields_and_wrong_types_are_422(cats, client, auth):
    headers = auth.headers(cats.a.resident)
    for body in (
        {"category_code": "repair", "description": "x", "surprise": 1},
        {"category_code": "repair", "description": 12},
        {"category_code": "repair", "description": "x", "latitude": "north"},
        {"category_code": "repair", "description": "x", "anonymous": "maybe"},
        {"category_id": 2**70, "description": "x"},
    ):
        r = client.post("/api/v1/cases", headers=headers, json=body)
        assert r.status_code == 422, body
    assert db.session.query(Case).count() == 0


def test_channels_must_fit_the_caller(cats, client, auth):
    r = client.post(
        "/api/v1/cases",
        headers=auth.headers(cats.a.resident),
        json={"category_code": "repair", "description": "x", "channel": "patrol"},
    )
    assert r.status_code == 403
    r = client.post(
        "/api/v1/cases",
        headers=auth.headers(device=cats.a.device),
        json={"category_code": "environment", "description": "x", "channel": "app"},
    )
    assert r.status_code == 422
    # A read-only street official and an organization member do not file cases.
    for person in (cats.official, cats.a.org_member):
        r = client.post(
            "/api/v1/cases",
            headers=auth.headers(person),
            json={
                "category_code": "environment",
                "description": "x",
                "community_id": cats.a.community.id,
            },
        )
        assert r.status_code == 403
    assert db.session.query(Case).count() == 0


def test_a_case_taken_down_by_staff_is_on_the_audit_record_with_its_first_step(cats, client, auth):
    """A staff-side caller's writes are audited (app/infra/audit.py); the new case and its
    first timeline step are there with the case's community, whichever way the rows were
    written. A resident's own case is not a staff action: no entry."""
    body = {
        "category_code": "repair",
        "description": "电话报修：三楼水管漏水",
        "channel": "phone",
        "contact_name": "王阿姨",
        "contact_phone": "13912345678",
    }
    r = client.post("/api/v1/cases", json=body, headers=auth.headers(cats.a.staff))
    assert r.status_code == 201, r.get_json()
    case = db.session.get(Case, r.get_json()["id"])
    entries = db.session.query(AuditLog).filter(AuditLog.action == "create").all()
    by_table = {(e.target_type, e.target_id): e for e in entries}
    entry = by_table[("case_record", str(case.id))]
    assert entry.actor_person_id == cats.a.staff.id
    assert entry.community_id == cats.a.community.id
    (step,) = case.events
    assert ("case_event", str(step.id)) in by_table
    # The answer showed the case as stored: its first step, no files, the kept counts.
    assert [e["kind"] for e in r.get_json()["timeline"]] == ["submitted"]
    assert r.get_json()["attachments"] == []
    resident = auth.headers(cats.a.resident)
    before = db.session.query(AuditLog).count()
    mine = client.post(
        "/api/v1/cases",
        json={"category_code": "repair", "description": "楼道灯不亮"},
        headers=resident,
    )
    assert mine.status_code == 201
    assert db.session.query(AuditLog).count() == before


@pytest.mark.parametrize("who", ["resident", "staff", "device"])
def test_the_new_case_in_the_session_is_the_row_as_stored(cats, who):
    """submit_case writes the case with one plain INSERT and sets the object up as loaded:
    every column of it, defaults included, must be what the database holds, and its first
    step and (no) files what a query would find."""
    side = cats.a
    if who == "staff":
        fields = {"channel": "phone", "contact_name": "王阿姨", "contact_phone": "13912345678"}
        case = intake.submit_case(
            actor(side.staff), category_code="repair", description="漏水", **fields
        )
    elif who == "device":
        case = intake.submit_case(
            actor(device=side.device),
            category_code="environment",
            description="垃圾满了",
            anonymous=True,
        )
    else:
        case = intake.submit_case(
            actor(side.resident),
            category_code="repair",
            description="门禁坏了",
            latitude=39.9,
            longitude=116.4,
            address="3号楼东侧",
        )
    keys = [c.key for c in Case.__mapper__.column_attrs]
    seen = {key: getattr(case, key) for key in keys}
    steps, files = [e.kind for e in case.events], list(case.attachments)
    db.session.expire(case)
    assert {key: getattr(case, key) for key in keys} == seen
    assert [e.kind for e in case.events] == steps == ["submitted"]
    assert list(case.attachments) == files == []
    assert seen["support_count"] == 0 and seen["status"] == "submitted"
    db.session.commit()
    assert db.session.get(Case, seen["id"]).reference == seen["reference"]
