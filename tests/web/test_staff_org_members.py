"""The console's organization pages: 我的组织 for an organization's lead, 组织与成员 for the
committee; adding and removing members through the forms, and rights that end at once."""

from __future__ import annotations

import re

import pytest

from app.extensions import db
from app.models import RoleAssignment
from tests.pages import csrf_token, staff_login
from tests.services.org_members_scene import make_scene, membership
from tests.web.test_console_roles import _crawl, _parse


@pytest.fixture()
def scene(world):
    return make_scene(world)


def _page(client, scene, community_id=None):
    url = f"/staff/organizations/{scene.org.id}/members?community_id={community_id or scene.a}"
    return client.get(url)


def _post(client, scene, path, **data):
    token = csrf_token(
        client, f"/staff/organizations/{scene.org.id}/members?community_id={scene.a}"
    )
    return client.post(
        f"/staff/organizations/{scene.org.id}/members{path}",
        data={"csrf_token": token, "community_id": scene.a, **data},
        follow_redirects=True,
    )


def test_a_lead_finds_our_organization_in_the_menu_and_manages_members(client, scene):
    staff_login(client, scene.lead)
    menu = _parse(client.get("/staff/").get_data(as_text=True)).menu
    assert "我的组织" in menu and "组织与成员" not in menu
    # One organization in one community: straight to its members.
    r = client.get("/staff/our-organization")
    assert r.status_code == 302
    assert r.headers["Location"].endswith(
        f"/staff/organizations/{scene.org.id}/members?community_id={scene.a}"
    )
    html = _page(client, scene).get_data(as_text=True)
    assert "王志愿" in html and "赵志愿" not in html  # B's member is not shown in A
    assert scene.member.phone not in html  # masked for a lead
    assert scene.member.phone[:3] + "****" + scene.member.phone[-4:] in html
    assert "设为负责人" not in html  # the committee appoints leads
    # Add the newcomer by phone, then remove them.
    added = _post(client, scene, "", phone=scene.newcomer.phone)
    text = added.get_data(as_text=True)
    assert added.status_code == 200 and "李新人已成为成员。" in text
    role = db.session.scalar(
        db.select(RoleAssignment).where(
            RoleAssignment.person_id == scene.newcomer.id, RoleAssignment.role == "org_member"
        )
    )
    assert role.community_id == scene.a
    removed = _post(client, scene, f"/{role.id}/remove")
    assert "已移除该成员。" in removed.get_data(as_text=True)
    assert db.session.get(RoleAssignment, role.id) is None
    # No link of the console refuses a lead.
    statuses = _crawl(client)
    assert not {u: c for u, c in statuses.items() if c >= 400}, statuses


def test_a_lead_gets_the_reason_in_words_when_the_number_is_not_a_resident_here(client, scene):
    staff_login(client, scene.lead)
    r = _post(client, scene, "", phone=scene.world.b.resident.phone)
    text = r.get_data(as_text=True)
    assert "本社区没有使用这个手机号的居民。" in text
    assert r.request.path.endswith("/members")


def test_a_lead_cannot_remove_a_lead_through_the_form(client, scene):
    staff_login(client, scene.lead)
    html = _page(client, scene).get_data(as_text=True)
    assert f"/members/{scene.lead_role.id}/remove" not in html
    r = _post(client, scene, f"/{scene.lead_role.id}/remove")
    assert "您没有权限" in r.get_data(as_text=True)
    r = _post(client, scene, f"/{scene.member_role.id}/lead", lead="1")
    assert "您没有权限" in r.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(RoleAssignment, scene.lead_role.id) is not None
    assert db.session.get(RoleAssignment, scene.member_role.id).leads_organization is False


def test_the_forms_need_the_csrf_token(client, scene):
    staff_login(client, scene.lead)
    r = client.post(
        f"/staff/organizations/{scene.org.id}/members",
        data={"community_id": scene.a, "phone": scene.newcomer.phone},
    )
    assert r.status_code == 400
    assert not [r for r in scene.newcomer.roles if r.role == "org_member"]


def test_a_lead_stood_down_loses_the_page_on_the_next_request(client, app, auth, scene):
    staff_login(client, scene.lead)
    assert _page(client, scene).status_code == 200
    # The committee stands the lead down (through the API, from another client).
    r = app.test_client().delete(
        f"/api/v1/organizations/{scene.org.id}/members/{scene.lead_role.id}/lead",
        query_string={"community_id": scene.a},
        headers=auth.headers(scene.world.a.staff),
    )
    assert r.status_code == 200
    # The same cookie session: refused at once, and the menu no longer offers it.
    assert _page(client, scene).status_code == 403
    menu = _parse(client.get("/staff/").get_data(as_text=True)).menu
    assert "我的组织" not in menu


def test_the_committee_lists_organizations_and_appoints_a_lead(client, scene):
    staff_login(client, scene.world.a.staff)
    html = client.get("/staff/organizations").get_data(as_text=True)
    assert scene.org.name in html and scene.org2.name in html
    assert scene.world.b.organization.name not in html
    assert f"/staff/organizations/{scene.org.id}/members?community_id={scene.a}" in html
    page = _page(client, scene).get_data(as_text=True)
    assert scene.member.phone in page  # the committee sees the number
    r = _post(client, scene, f"/{scene.member_role.id}/lead", lead="1")
    assert "已设为负责人。" in r.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(RoleAssignment, scene.member_role.id).leads_organization is True
    # Another community's members page: as if there were none.
    assert _page(client, scene, scene.b).status_code == 404


def test_a_lead_of_several_chooses_where(client, scene):
    membership(scene.lead, scene.org2, scene.a, lead=True)
    db.session.commit()
    staff_login(client, scene.lead)
    r = client.get("/staff/our-organization")
    assert r.status_code == 200
    hrefs = re.findall(r'href="(/staff/organizations/\d+/members\?community_id=\d+)"', r.text)
    assert sorted(hrefs) == sorted(
        f"/staff/organizations/{o.id}/members?community_id={scene.a}"
        for o in (scene.org, scene.org2)
    )


def test_the_pages_in_english(client, scene):
    staff_login(client, scene.lead)
    client.set_cookie("lang", "en")
    html = _page(client, scene).get_data(as_text=True)
    assert "Add member" in html and "Members in" in html and "Mobile" in html
    menu = _parse(client.get("/staff/").get_data(as_text=True)).menu
    assert "Our organization" in menu
