"""The staff case page: 督办 on top, the timeline near the top, actions grouped by what the
signed-in person may do now, the category notice once, real status moves only, staff words."""

from __future__ import annotations

import re
from datetime import timedelta
from zoneinfo import ZoneInfo

from app.affairs import supervision, workflow
from app.extensions import db
from app.models.base import utcnow
from app.models.case import CaseEvent
from tests.affairs.conftest import actor, put_in_state, submit
from tests.affairs.test_supervision import escalated
from tests.pages import csrf_token, staff_login

SHANGHAI = ZoneInfo("Asia/Shanghai")


def _page(client, case, lang="zh_CN") -> str:
    response = client.get(f"/staff/cases/{case.id}?lang={lang}")
    assert response.status_code == 200
    return response.get_data(as_text=True)


def _groups(page: str) -> list[str]:
    actions = page.split('id="h-actions"')[1].split('id="h-files"')[0]
    return re.findall(r'class="action-group" id="group-(\w+)"', actions)


def test_actions_are_grouped_by_what_each_person_may_do_now(client, cats):
    world = cats
    case = submit(world.a)
    staff_login(client, world.a.staff)
    page = _page(client, case)
    assert _groups(page) == ["handle", "dispatch", "communicate"]
    handle = page.split('id="group-handle"')[1].split('id="group-dispatch"')[0]
    assert 'value="accept"' in handle and 'value="reject"' in handle
    assert 'value="start"' not in page and 'value="resolve"' not in page  # not in this status
    # The timeline comes before the actions, right after the details.
    assert page.index('id="h-timeline"') < page.index('id="h-actions"')
    client.post("/staff/logout", data={"csrf_token": csrf_token(client, "/staff/")})

    workflow.assign_case(actor(world.a.staff), case.id, organization_id=world.a.organization.id)
    db.session.commit()
    staff_login(client, world.a.org_member)
    page = _page(client, case)
    assert _groups(page) == ["handle", "communicate"]
    assert 'value="start"' in page and 'value="accept"' not in page
    client.post("/staff/logout", data={"csrf_token": csrf_token(client, "/staff/")})

    staff_login(client, world.official)  # read-only official, case not escalated
    page = _page(client, case)
    assert _groups(page) == [] and "这件诉求目前没有需要您办理的事" in page


def test_the_official_supervises_and_reassigns_an_escalated_case_from_the_page(client, cats):
    world = cats
    case = escalated(world.a)
    staff_login(client, world.official)
    page = _page(client, case)
    assert _groups(page) == ["supervise", "dispatch", "communicate"]
    assert 'id="n-public"' not in page  # the official's notes are internal
    assert "改派" in page
    due = (utcnow() + timedelta(days=2)).astimezone(SHANGHAI).strftime("%Y-%m-%dT%H:%M")
    token = csrf_token(client, f"/staff/cases/{case.id}")
    r = client.post(
        f"/staff/cases/{case.id}/supervisions",
        data={"csrf_token": token, "due_at": due, "instruction": "周五前修好并回报"},
        follow_redirects=True,
    )
    page = r.get_data(as_text=True)
    assert "督办已发出" in page and "周五前修好并回报" in page
    past = (utcnow() - timedelta(hours=2)).astimezone(SHANGHAI).strftime("%Y-%m-%dT%H:%M")
    r = client.post(
        f"/staff/cases/{case.id}/supervisions",
        data={"csrf_token": token, "due_at": past, "instruction": "x"},
        follow_redirects=True,
    )
    assert "期限必须晚于现在" in r.get_data(as_text=True)
    r = client.post(
        f"/staff/cases/{case.id}/assign",
        data={"csrf_token": token, "assignee": f"p:{world.a.grid_worker.id}"},
        follow_redirects=True,
    )
    assert "已派单" in r.get_data(as_text=True)
    db.session.expire_all()
    assert case.assignee_person_id == world.a.grid_worker.id


def test_the_committee_sees_the_supervision_on_top_and_answers_it(client, cats):
    world = cats
    case = escalated(world.a)
    item = supervision.supervise_case(
        actor(world.official),
        case.id,
        instruction="三日内修好",
        due_at=utcnow() + timedelta(days=1),
    )
    item.due_at = utcnow() - timedelta(hours=1)  # and it is already overdue
    db.session.commit()
    staff_login(client, world.a.staff)
    page = _page(client, case)
    top = page.index('id="h-supervision"')
    assert top < page.index('id="h-details"') and top < page.index('id="h-actions"')
    box = page.split('id="h-supervision"')[1].split('id="h-details"')[0]
    assert "三日内修好" in box and "超期" in box and world.official.display_name in box
    token = csrf_token(client, f"/staff/cases/{case.id}")
    r = client.post(
        f"/staff/cases/{case.id}/supervisions/{item.id}/fulfil",
        data={"csrf_token": token, "note": "已更换灯管"},
        follow_redirects=True,
    )
    page = r.get_data(as_text=True)
    box = page.split('id="h-supervision"')[1].split('id="h-details"')[0]
    assert "回复已记录" in page and "已更换灯管" in box and "已超过督办期限" in box
    assert "/fulfil" not in box  # answered: no form any more
    timeline = page.split('id="h-timeline"')[1].split('id="h-actions"')[0]
    assert "街道督办" in timeline and "督办已回复" in timeline


def test_the_category_notice_shows_once_and_not_as_a_flash(client, cats):
    world = cats
    case = submit(world.a, code="safety", description="楼道里有烟味")
    notice = case.category.notice
    assert notice
    staff_login(client, world.a.staff)
    token = csrf_token(client, f"/staff/cases/{case.id}")
    for text in ("第一条", "第二条"):
        r = client.post(
            f"/staff/cases/{case.id}/note",
            data={"csrf_token": token, "text": text},
            follow_redirects=True,
        )
    page = r.get_data(as_text=True)
    assert page.count(notice) == 1
    assert 'class="flash success"' in page
    assert not re.search(r'class="flash[^"]*"[^>]*>[^<]*' + re.escape(notice), page)


def test_the_timeline_shows_real_moves_in_staff_words(client, cats):
    world = cats
    case = submit(world.a)
    workflow.transition(actor(world.a.staff), case.id, "accept")
    db.session.commit()
    # An old row that says it moved a case to where it already stood.
    db.session.add(
        CaseEvent(case=case, kind="note", from_status="accepted", to_status="accepted", note="旧")
    )
    db.session.commit()
    staff_login(client, world.a.staff)
    page = _page(client, case)
    timeline = page.split('id="h-timeline"')[1].split('id="h-actions"')[0]
    moves = re.findall(r'class="muted move">([^<]*)<', timeline)
    assert moves == ["待受理 → 已受理·待派单"]
    assert "已提交 → 已提交" not in page and "已受理 → 已受理" not in page
    english = _page(client, case, lang="en")
    assert "Submitted → Submitted" not in english
    assert "New, to accept → Accepted, to assign" in english


def test_staff_read_staff_words_for_a_resolved_case(client, cats):
    world = cats
    case = submit(world.a)
    put_in_state(case, world.a, "resolved")
    staff_login(client, world.a.staff)
    page = _page(client, case)
    head = page.split('id="h-details"')[0]
    assert "已办结·待居民确认" in head and "请您确认" not in page


def test_an_open_supervision_is_on_the_overview_of_the_committee_until_answered(client, cats):
    world = cats
    case = escalated(world.a)
    item = supervision.supervise_case(
        actor(world.official),
        case.id,
        instruction="三天内答复居民",
        due_at=utcnow() + timedelta(days=3),
    )
    db.session.commit()
    staff_login(client, world.a.staff)
    page = client.get("/staff/?lang=zh_CN").get_data(as_text=True)
    assert 'id="ov-supervision"' in page and "三天内答复居民" in page
    assert f"/staff/cases/{case.id}" in page.split('id="ov-supervision"')[1]
    supervision.fulfil_supervision(actor(world.a.staff), case.id, item.id, note="已答复")
    db.session.commit()
    page = client.get("/staff/?lang=zh_CN").get_data(as_text=True)
    assert 'id="ov-supervision"' not in page
