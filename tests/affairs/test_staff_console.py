"""The staff console for affairs: inbox with filters and counts, detail with timeline, photos
and audio, and the forms (with CSRF) that call the same services."""

from __future__ import annotations

import io
import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from app.affairs import attachments, intake, workflow
from app.extensions import db
from app.models import AuditLog
from app.models.case import Case
from tests.affairs.conftest import actor, backdate, image_bytes, put_in_state, submit, wav_bytes
from tests.pages import csrf_token as _csrf
from tests.pages import staff_login as _login


def test_inbox_needs_sign_in_and_lists_with_counts_and_filters(client, cats):
    world = cats
    assert client.get("/staff/cases/").status_code == 302
    a = submit(world.a, description="电梯坏了")
    b = submit(world.a, code="environment", description="垃圾满了")
    put_in_state(b, world.a, "assigned")
    late = submit(
        world.a,
        code="safety",
        description="井盖松动",
        by=world.a.grid_worker,
        building_id=world.a.community.buildings[0].id,
    )
    backdate(late, due_at=timedelta(hours=50))  # 26 hours overdue: past the grace
    foreign = submit(world.b, description="外社区的事")
    _login(client, world.a.staff)
    page = client.get("/staff/cases/").get_data(as_text=True)
    assert 'lang="zh-CN"' in page and "居民诉求" in page
    for case in (a, b, late):
        assert case.reference in page
    assert foreign.reference not in page
    assert "超期" in page and "已上报" in page  # the read escalated the late one
    overdue = client.get("/staff/cases/?status=open&overdue=1").get_data(as_text=True)
    assert late.reference in overdue and a.reference not in overdue
    by_channel = client.get("/staff/cases/?status=all&channel=patrol").get_data(as_text=True)
    assert late.reference in by_channel and a.reference not in by_channel
    assigned = client.get("/staff/cases/?status=assigned").get_data(as_text=True)
    assert b.reference in assigned and a.reference not in assigned
    assert client.get("/staff/cases/?status=nonsense").status_code == 422
    assert client.get(f"/staff/cases/?community_id={world.b.community.id}").status_code == 404
    english = client.get("/staff/cases/?lang=en").get_data(as_text=True)
    assert "Affairs" in english and "Overdue only" in english


def test_detail_shows_timeline_photos_audio_and_reporter_audited(client, cats):
    world = cats
    case = intake.submit_case(
        actor(world.a.elder),
        category_code="help",
        channel="voice",
        transcript="想请人帮忙买菜",
        audio=wav_bytes(),
        photos=[image_bytes()],
    )
    db.session.commit()
    _login(client, world.a.staff)
    page = client.get(f"/staff/cases/{case.id}").get_data(as_text=True)
    assert case.reference in page and "想请人帮忙买菜" in page
    assert "<audio controls" in page and "<img" in page
    assert world.a.elder.display_name in page and world.a.elder.phone in page
    assert 'name="csrf_token"' in page and "办理过程" in page
    assert (
        db.session.query(AuditLog)
        .filter_by(action="read", target_type="case", actor_person_id=world.a.staff.id)
        .count()
        == 1
    )
    audio = next(a for a in case.attachments if a.kind == "audio")
    got = client.get(f"/staff/cases/{case.id}/attachments/{audio.id}", buffered=True)
    assert got.status_code == 200 and got.mimetype == "audio/wav"
    assert got.data == attachments.path_of(audio).read_bytes()
    assert client.get(f"/staff/cases/{submit(world.b).id}").status_code == 404


def test_forms_drive_the_case_through_its_life(client, cats):
    world = cats
    case = submit(world.a)
    other = submit(world.a, by=world.a.elder)
    _login(client, world.a.staff)
    detail = f"/staff/cases/{case.id}"
    token = _csrf(client, detail)
    # Without the CSRF token nothing happens.
    assert client.post(f"{detail}/transition", data={"action": "accept"}).status_code == 400
    r = client.post(
        f"{detail}/transition",
        data={"action": "accept", "note": "马上安排", "public": "1", "csrf_token": token},
    )
    assert r.status_code == 302
    due = (datetime.now(ZoneInfo("Asia/Shanghai")) + timedelta(days=2)).replace(
        hour=10, minute=0, second=0, microsecond=0
    )
    r = client.post(
        f"{detail}/assign",
        data={
            "assignee": f"o:{world.a.organization.id}",
            "note": "请今天处理",
            "due_at": due.strftime("%Y-%m-%dT%H:%M"),
            "csrf_token": token,
        },
    )
    assert r.status_code == 302
    client.post(f"{detail}/note", data={"text": "居民下午在家", "csrf_token": token})
    client.post(
        f"{detail}/attachments",
        data={"file": (io.BytesIO(image_bytes("PNG")), "a.jpg", "image/jpeg"), "csrf_token": token},
        content_type="multipart/form-data",
    )
    db.session.expire_all()
    assert case.status == "assigned" and case.assignee_organization_id == world.a.organization.id
    assert case.due_at == due  # 10:00 in Asia/Shanghai, stored in UTC
    assert [e.kind for e in case.events] == [
        "submitted",
        "accept",
        "assigned",
        "note",
        "attachment",
    ]
    assert not case.events[3].public
    # A refused step is a message on the page, not an error page.
    r = client.post(
        f"{detail}/transition",
        data={"action": "reject", "csrf_token": token},
        follow_redirects=True,
    )
    assert r.status_code == 200 and "flash error" in r.get_data(as_text=True)
    r = client.post(
        f"/staff/cases/{other.id}/merge",
        data={"into_reference": case.reference, "csrf_token": token},
    )
    assert r.status_code == 302
    db.session.expire_all()
    assert other.merged_into_id == case.id


def test_take_down_a_phone_call(client, cats):
    world = cats
    _login(client, world.a.staff)
    path = f"/staff/cases/new?community_id={world.a.community.id}"
    form = client.get(path).get_data(as_text=True)
    assert "代办登记" in form
    token = _csrf(client, path)
    category_id = re.search(r'<option value="(\d+)"[^>]*>邻里纠纷', form).group(1)
    r = client.post(
        path,
        data={
            "category_id": category_id,
            "channel": "phone",
            "description": "楼上邻居半夜装修",
            "resident_phone": world.a.elder.phone,
            "csrf_token": token,
        },
    )
    assert r.status_code == 302
    case = db.session.query(Case).one()
    assert (case.channel, case.reporter_id, case.submitted_by_id) == (
        "phone",
        world.a.elder.id,
        world.a.staff.id,
    )
    r = client.post(
        path,
        data={
            "category_id": category_id,
            "channel": "phone",
            "description": "x",
            "resident_phone": world.b.elder.phone,
            "csrf_token": token,
        },
    )
    assert r.status_code == 200 and "本社区没有用这个手机号的居民" in r.get_data(as_text=True)
    assert db.session.query(Case).count() == 1


def test_an_organization_member_sees_their_assigned_work(client, cats):
    world = cats
    case = submit(world.a)
    workflow.assign_case(actor(world.a.staff), case.id, organization_id=world.a.organization.id)
    db.session.commit()
    _login(client, world.a.org_member)
    page = client.get("/staff/cases/").get_data(as_text=True)
    assert case.reference in page
    detail = client.get(f"/staff/cases/{case.id}").get_data(as_text=True)
    actions = detail.split('id="h-actions"')[1].split('id="h-files"')[0]
    assert "开始处理" in actions and "派单" not in actions


def test_the_forms_say_a_public_note_is_public(client, cats):
    # Staff publish: "public" notes and reasons reach neighbours and Open311 on a public case,
    # not only the resident, and the forms say so.
    world = cats
    case = submit(world.a)
    _login(client, world.a.staff)
    page = client.get(f"/staff/cases/{case.id}").get_data(as_text=True)
    assert page.count("公开的诉求人人都能看到") == 3
    english = client.get(f"/staff/cases/{case.id}?lang=en").get_data(as_text=True)
    assert english.count("everyone can on a public case") == 3


def test_the_inbox_pager_carries_only_the_lists_filters(app, client, cats, monkeypatch):
    # ?endpoint=x reached url_for as its own argument (a 500), ?_anchor= shaped the link.
    monkeypatch.setitem(app.config, "CASE_CREATE_PER_HOUR", 0)  # 51 cases: a second page
    for _ in range(51):
        submit(cats.a)
    _login(client, cats.a.staff)
    page = client.get("/staff/cases/?status=all&endpoint=x&_anchor=evil&_method=POST&q=")
    assert page.status_code == 200, page.get_data(as_text=True)[:300]
    links = re.findall(r'<nav class="pager".*?</nav>', page.get_data(as_text=True), re.S)
    assert links and "page=2" in links[0] and "status=all" in links[0]
    assert "endpoint" not in links[0] and "evil" not in links[0] and "_method" not in links[0]
