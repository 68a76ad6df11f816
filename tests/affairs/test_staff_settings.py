"""Staff console pages for affairs categories (/staff/categories) and Open311 keys
(/staff/open311-keys), driven like a browser would (forms + CSRF): who may use them, what they
store, what they refuse, and a key that is shown once and works until it is revoked."""

from __future__ import annotations

import logging
import re

import pytest

from app.affairs import categories, open311
from app.extensions import db
from app.models import AuditLog
from app.models.case import CaseCategory
from app.models.idempotency import IdempotencyKey
from app.models.open311 import Open311Key
from tests import factories as f
from tests.affairs.conftest import actor, category
from tests.pages import csrf_token as _csrf
from tests.pages import hidden_fields
from tests.pages import staff_login as _login

CATS = "/staff/categories"
KEYS = "/staff/open311-keys"


def _logout(client):
    r = client.post("/staff/logout", data={"csrf_token": _csrf(client, "/staff/login")})
    assert r.status_code == 302


def _resident_login(client, person):
    token = _csrf(client, "/easy/login")
    r = client.post("/easy/login", data={"phone": person.phone, "pin": f.PIN, "csrf_token": token})
    assert r.status_code == 302


def _form(world, **extra):
    form = {
        "community_id": world.a.community.id,
        "code": "parking",
        "name": "停车管理",
        "description": "乱停车、占用消防通道。",
        "handler": "grid_worker",
        "deadline_hours": "36",
        "notice": "",
        "icon": "parking",
        "allow_anonymous": "1",
        "is_public": "1",
        "active": "1",
    }
    form.update(extra)
    return {k: v for k, v in form.items() if v is not None}


def _count():
    db.session.expire_all()
    return db.session.query(CaseCategory).count()


# --- categories -----------------------------------------------------------------------------


def test_staff_list_create_edit_switch_off_and_on(client, cats):
    world = cats
    _login(client, world.a.staff)
    page = client.get(CATS)
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "事项分类" in html and "报修（水电燃气）" in html
    assert "48 小时" in html and world.a.organization.name in html and "网格员" in html
    b_names = {
        c.name for c in db.session.query(CaseCategory).filter_by(community_id=world.b.community.id)
    }
    assert b_names  # B has the same standard names; none of B's ids are linked
    for c in db.session.query(CaseCategory).filter_by(community_id=world.b.community.id):
        assert f"/staff/categories/{c.id}/edit" not in html
    token = _csrf(client, f"{CATS}/new")
    before = _count()
    # Without the CSRF token nothing happens.
    assert client.post(f"{CATS}/new", data=_form(world)).status_code == 400
    r = client.post(f"{CATS}/new", data={**_form(world), "csrf_token": token})
    assert r.status_code == 302, r.get_data(as_text=True)[:800]
    assert _count() == before + 1
    made = (
        db.session.query(CaseCategory)
        .filter_by(community_id=world.a.community.id, code="parking")
        .one()
    )
    assert (
        made.name,
        made.deadline_hours,
        made.handler_role,
        made.handler_organization_id,
        made.allow_anonymous,
        made.is_public,
        made.active,
        made.icon,
    ) == ("停车管理", 36, "grid_worker", None, True, True, True, "parking")
    assert "停车管理" in client.get(r.headers["Location"]).get_data(as_text=True)
    # Edit: hand it to the property company, change the deadline, no anonymity.
    edit = f"{CATS}/{made.id}/edit"
    form = client.get(edit).get_data(as_text=True)
    assert 'value="停车管理"' in form and "readonly" in form
    r = client.post(
        edit,
        data={
            **_form(
                world,
                handler=f"org:{world.a.organization.id}",
                deadline_hours="24",
                allow_anonymous=None,
                notice="占用消防通道请拨打 119。",
            ),
            "csrf_token": token,
        },
    )
    assert r.status_code == 302
    db.session.expire_all()
    assert (
        made.handler_organization_id,
        made.handler_role,
        made.deadline_hours,
        made.allow_anonymous,
        made.notice,
        made.code,
    ) == (world.a.organization.id, None, 24, False, "占用消防通道请拨打 119。", "parking")
    # Switch off, then on again.
    assert (
        client.post(f"{CATS}/{made.id}/deactivate", data={"csrf_token": token}).status_code == 302
    )
    db.session.expire_all()
    assert made.active is False
    listing = client.get(CATS).get_data(as_text=True)
    assert "停车管理" in listing and "已停用" in listing and "重新启用" in listing
    # Residents no longer see it.
    codes = [
        c.code for c in categories.list_categories(actor(world.a.resident), world.a.community.id)
    ]
    assert "parking" not in codes
    assert (
        client.post(f"{CATS}/{made.id}/reactivate", data={"csrf_token": token}).status_code == 302
    )
    db.session.expire_all()
    assert made.active is True
    # The changes were audited with the staff member as the actor.
    assert (
        db.session.query(AuditLog)
        .filter_by(target_type="case_category", actor_person_id=world.a.staff.id)
        .count()
        >= 4
    )


def test_standard_set_when_there_is_none(client, world):
    _login(client, world.a.staff)
    html = client.get(CATS).get_data(as_text=True)
    assert "添加标准分类" in html and "还没有分类" in html
    token = _csrf(client, CATS)
    r = client.post(
        f"{CATS}/defaults", data={"csrf_token": token, "community_id": world.a.community.id}
    )
    assert r.status_code == 302
    assert db.session.query(CaseCategory).filter_by(community_id=world.a.community.id).count() == 6
    assert db.session.query(CaseCategory).filter_by(community_id=world.b.community.id).count() == 0
    assert "添加标准分类" not in client.get(CATS).get_data(as_text=True)


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        ({"name": ""}, "name", "这里不能空着"),
        ({"name": "   "}, "name", "这里不能空着"),
        ({"deadline_hours": "-5"}, "deadline_hours", "1 到 2160"),
        ({"deadline_hours": "0"}, "deadline_hours", "1 到 2160"),
        ({"deadline_hours": "99999999999999999999999"}, "deadline_hours", "1 到 2160"),
        ({"deadline_hours": "两天"}, "deadline_hours", "1 到 2160"),
        ({"deadline_hours": ""}, "deadline_hours", "1 到 2160"),
        ({"name": "停车\u202e管理"}, "name", "不允许的字符"),
        ({"name": "停车\x00管理"}, "name", "不允许的字符"),
        ({"description": "x" * 501}, "description", "500"),
        ({"code": "Parking Lot!"}, "code", "小写字母"),
        ({"code": "../../etc"}, "code", "小写字母"),
        ({"handler": "org:999999"}, "handler", "单位"),
        ({"handler": "org:²"}, "handler", "单位"),
        ({"handler": "org:99999999999999999999"}, "handler", "单位"),
        ({"deadline_hours": "²"}, "deadline_hours", "1 到 2160"),
        ({"handler": "org:x'; DROP TABLE case_category;--"}, "handler", "单位"),
        ({"handler": "platform_admin"}, "handler", "请选择由谁办理"),
        ({"icon": "<script>"}, "icon", "图片"),
    ],
)
def test_bad_input_shows_the_mistake_next_to_the_field_and_stores_nothing(
    client, cats, changes, field, words
):
    world = cats
    _login(client, world.a.staff)
    token = _csrf(client, f"{CATS}/new")
    before = _count()
    r = client.post(f"{CATS}/new", data={**_form(world, **changes), "csrf_token": token})
    html = r.get_data(as_text=True)
    assert r.status_code == 422, html[:500]
    assert "没有保存" in html
    error = re.search(rf'<p class="field-error" id="{field}-error">([^<]*)</p>', html)
    assert error and words in error.group(1), (field, error and error.group(1))
    assert f'aria-describedby="{field}-error"' in html
    assert _count() == before
    if field == "code":
        return  # the code is not part of the edit form
    # The same on edit: nothing of the bad form is kept.
    repair = category(world.a)
    old = (repair.name, repair.deadline_hours, repair.icon, repair.handler_organization_id)
    r = client.post(
        f"{CATS}/{repair.id}/edit", data={**_form(world, **changes), "csrf_token": token}
    )
    assert r.status_code == 422 and f'id="{field}-error"' in r.get_data(as_text=True)
    db.session.expire_all()
    assert (repair.name, repair.deadline_hours, repair.icon, repair.handler_organization_id) == old


def test_several_mistakes_are_shown_at_once_and_markup_is_escaped(client, cats):
    world = cats
    _login(client, world.a.staff)
    token = _csrf(client, f"{CATS}/new")
    r = client.post(
        f"{CATS}/new",
        data={
            **_form(world, name="", deadline_hours="-1", description="<script>alert(1)</script>"),
            "csrf_token": token,
        },
    )
    html = r.get_data(as_text=True)
    assert r.status_code == 422
    assert 'id="name-error"' in html and 'id="deadline_hours-error"' in html
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;alert(1)" in html
    # Markup in a name is kept as text and shown escaped.
    r = client.post(f"{CATS}/new", data={**_form(world, name="<b>停车</b>"), "csrf_token": token})
    assert r.status_code == 302
    listing = client.get(CATS).get_data(as_text=True)
    assert "&lt;b&gt;停车&lt;/b&gt;" in listing and "<b>停车</b>" not in listing


def test_a_code_already_used_is_refused(client, cats):
    world = cats
    _login(client, world.a.staff)
    token = _csrf(client, f"{CATS}/new")
    before = _count()
    r = client.post(f"{CATS}/new", data={**_form(world, code="repair"), "csrf_token": token})
    assert r.status_code == 409 and "已经用过" in r.get_data(as_text=True)
    assert _count() == before


def test_who_may_use_the_category_pages(client, cats):
    world = cats
    repair = category(world.a)
    # Anonymous: to the sign-in page.
    for path in (CATS, f"{CATS}/new", f"{CATS}/{repair.id}/edit"):
        r = client.get(path)
        assert r.status_code == 302 and "/staff/login" in r.headers["Location"]
    # A resident signed in on the phone: not a staff page for them.
    _resident_login(client, world.a.resident)
    assert client.get(CATS).status_code == 403
    assert client.get(f"{CATS}/new").status_code == 403
    assert client.get(f"{CATS}/{repair.id}/edit").status_code == 403
    # A grid worker may read the list (as the API allows) but change nothing.
    _logout(client)
    _login(client, world.a.grid_worker)
    html = client.get(CATS).get_data(as_text=True)
    assert "报修" in html and "添加分类" not in html and "/deactivate" not in html
    token = _csrf(client, CATS)
    assert client.get(f"{CATS}/new").status_code == 403
    assert client.get(f"{CATS}/{repair.id}/edit").status_code == 403
    assert (
        client.post(
            f"{CATS}/{repair.id}/edit", data={**_form(world), "csrf_token": token}
        ).status_code
        == 403
    )
    assert (
        client.post(f"{CATS}/{repair.id}/deactivate", data={"csrf_token": token}).status_code == 403
    )
    assert client.post(f"{CATS}/new", data={**_form(world), "csrf_token": token}).status_code == 403
    assert (
        client.post(
            f"{CATS}/defaults", data={"csrf_token": token, "community_id": world.a.community.id}
        ).status_code
        == 403
    )
    # Staff of community B: A's categories do not exist for them.
    _logout(client)
    _login(client, world.b.staff)
    token = _csrf(client, CATS)
    assert client.get(f"{CATS}?community_id={world.a.community.id}").status_code == 404
    assert client.get(f"{CATS}/new?community_id={world.a.community.id}").status_code == 404
    assert client.get(f"{CATS}/{repair.id}/edit").status_code == 404
    assert (
        client.post(
            f"{CATS}/{repair.id}/edit", data={**_form(world, name="改掉"), "csrf_token": token}
        ).status_code
        == 404
    )
    assert (
        client.post(f"{CATS}/{repair.id}/deactivate", data={"csrf_token": token}).status_code == 404
    )
    assert client.post(f"{CATS}/new", data={**_form(world), "csrf_token": token}).status_code == 404
    db.session.expire_all()
    assert repair.active and repair.name == "报修（水电燃气）"
    assert db.session.query(CaseCategory).filter_by(code="parking").count() == 0


def test_official_with_write_access_may_manage_as_the_api_allows(client, cats):
    world = cats
    _login(client, world.official_writer)
    token = _csrf(client, f"{CATS}/new?community_id={world.a.community.id}")
    r = client.post(f"{CATS}/new", data={**_form(world), "csrf_token": token})
    assert r.status_code == 302
    _logout(client)
    _login(client, world.official)
    assert client.get(f"{CATS}?community_id={world.a.community.id}").status_code == 200
    assert client.get(f"{CATS}/new?community_id={world.a.community.id}").status_code == 403
    assert client.get(f"{KEYS}?community_id={world.a.community.id}").status_code == 403


# --- Open311 keys -----------------------------------------------------------------------------


def _issue(client, world, name="区网格化平台"):
    r = client.post(KEYS, data={**hidden_fields(client, KEYS), "name": name})
    assert r.status_code == 200, r.get_data(as_text=True)[:500]
    html = r.get_data(as_text=True)
    key = re.search(r'<output id="issued-key" class="secret">([^<]+)</output>', html).group(1)
    return key, html, r


def _open311(client, world, key):
    return client.post(
        "/open311/v2/requests.json",
        data={
            "api_key": key,
            "jurisdiction_id": world.a.community.code,
            "service_code": "repair",
            "lat": "39.9042",
            "long": "116.4074",
            "description": "小区门口路灯不亮",
            "first_name": "晓明",
            "last_name": "王",
            "phone": "13900003333",
        },
    )


def test_issue_a_key_shown_once_that_works_until_revoked(client, cats, caplog):
    world = cats
    caplog.set_level(logging.DEBUG)
    _login(client, world.a.staff)
    page = client.get(KEYS).get_data(as_text=True)
    assert "开放接口密钥" in page and world.a.community.code in page
    # PUBLIC_BASE_URL is unset in tests: the endpoint is on the host the page was asked from.
    assert "http://localhost/open311/v2/" in page
    before = db.session.query(Open311Key).count()
    assert (
        client.post(KEYS, data={"community_id": world.a.community.id, "name": "x"}).status_code
        == 400
    )  # no CSRF token
    assert db.session.query(Open311Key).count() == before
    key, html, response = _issue(client, world)
    assert html.count(key) == 1 and "不会再显示" in html
    assert "no-store" in response.headers["Cache-Control"]
    row = db.session.query(Open311Key).filter_by(name="区网格化平台").one()
    assert row.community_id == world.a.community.id and key.startswith(row.prefix)
    # Never again: not on the list, not in the session cookie, not in the logs or the audit.
    again = client.get(KEYS)
    assert key not in again.get_data(as_text=True) and "区网格化平台" in again.get_data(
        as_text=True
    )
    assert key not in str(again.headers) and key not in str(response.headers)
    assert key not in caplog.text
    for entry in db.session.query(AuditLog).all():
        assert key not in repr(entry.__dict__)
    # The key works against /open311/v2 …
    filed = _open311(client, world, key)
    assert filed.status_code == 200 and filed.get_json()[0]["service_request_id"]
    listing = client.get(KEYS).get_data(as_text=True)
    assert "从未" not in listing.split("区网格化平台")[1].split("</tr>")[0]
    # … and stops working after the revoke, which asks first.
    confirm = client.get(f"{KEYS}/{row.id}/revoke")
    assert confirm.status_code == 200 and "确认停用" in confirm.get_data(as_text=True)
    db.session.expire_all()
    assert row.revoked_at is None  # asking changed nothing
    token = _csrf(client, f"{KEYS}/{row.id}/revoke")
    assert client.post(f"{KEYS}/{row.id}/revoke").status_code == 400  # no CSRF token
    r = client.post(f"{KEYS}/{row.id}/revoke", data={"csrf_token": token})
    assert r.status_code == 302
    db.session.expire_all()
    assert row.revoked_at is not None
    assert _open311(client, world, key).status_code == 403
    assert "已停用" in client.get(KEYS).get_data(as_text=True)


def test_sending_the_issue_form_again_issues_no_second_key(client, cats, caplog):
    world = cats
    caplog.set_level(logging.DEBUG)
    _login(client, world.a.staff)
    form = {**hidden_fields(client, KEYS), "name": "区网格化平台"}
    assert form["once"] and form["community_id"] == str(world.a.community.id)
    first = client.post(KEYS, data=form)
    key = re.search(r'class="secret">([^<]+)<', first.get_data(as_text=True)).group(1)
    # The answer page refreshed (the browser sends the same form again), then a double click.
    for _ in range(2):
        again = client.post(KEYS, data=form)
        assert again.status_code == 303 and again.headers["Location"].endswith(
            f"{KEYS}?community_id={world.a.community.id}"
        )
        page = client.get(again.headers["Location"]).get_data(as_text=True)
        assert "已经提交过" in page and key[:8] in page
        assert key not in page and 'class="secret"' not in page
    assert db.session.query(Open311Key).count() == 1
    assert _open311(client, world, key).status_code == 200  # the key shown once still works
    # what was remembered to recognise the form again holds the key's id, never the key
    for row in db.session.query(IdempotencyKey).all():
        assert key not in repr(row.__dict__)
    assert key not in caplog.text
    # A fresh form (the page loaded again) issues a new key.
    _second, _html, _r = _issue(client, world, "街道热线")
    assert db.session.query(Open311Key).count() == 2


def test_an_issue_form_without_a_valid_one_time_token_issues_nothing(client, cats):
    world = cats
    _login(client, world.a.staff)
    form = {**hidden_fields(client, KEYS), "name": "区网格化平台"}
    for once in (None, "", "短", "x" * 65, "a b c d e f g h i j", "<script>alert(1)</script>"):
        sent = {k: v for k, v in form.items() if k != "once"}
        if once is not None:
            sent["once"] = once
        r = client.post(KEYS, data=sent)
        html = r.get_data(as_text=True)
        assert r.status_code == 422 and "请再提交一次" in html, once
        assert 'class="secret"' not in html and "<script>alert" not in html
        assert re.search(r'name="once" value="[A-Za-z0-9_-]{16,}"', html)  # a fresh one to retry
    assert db.session.query(Open311Key).count() == 0


def test_one_time_tokens_belong_to_the_person_who_got_the_form(cats):
    world = cats
    once = "form-token-0123456789"
    _key, row = open311.issue_key(actor(world.a.staff), world.a.community.id, "甲方系统", once)
    db.session.commit()
    with pytest.raises(open311.AlreadyIssued) as refused:
        open311.issue_key(actor(world.a.staff), world.a.community.id, "另一个", once)
    assert refused.value.row.id == row.id and refused.value.status_code == 409
    db.session.rollback()
    # the same token string from someone else's form is theirs: it issues (and is then used up)
    _other, other_row = open311.issue_key(
        actor(world.b.staff), world.b.community.id, "乙方系统", once
    )
    db.session.commit()
    assert other_row.community_id == world.b.community.id
    assert db.session.query(Open311Key).count() == 2


def test_bad_key_names_store_nothing(client, cats):
    world = cats
    _login(client, world.a.staff)
    token = _csrf(client, KEYS)
    for name in ("", "   ", "平台\x00", "平台\u202e", "x" * 81):
        r = client.post(
            KEYS, data={"csrf_token": token, "community_id": world.a.community.id, "name": name}
        )
        html = r.get_data(as_text=True)
        assert r.status_code == 422 and 'id="name-error"' in html, name
        assert 'class="secret"' not in html
    assert db.session.query(Open311Key).count() == 0


def test_who_may_use_the_key_pages(client, cats):
    world = cats
    _plain, row = open311.issue_key(actor(world.a.staff), world.a.community.id, "甲方系统")
    db.session.commit()
    for path in (KEYS, f"{KEYS}/{row.id}/revoke"):
        r = client.get(path)
        assert r.status_code == 302 and "/staff/login" in r.headers["Location"]
    _resident_login(client, world.a.resident)
    assert client.get(KEYS).status_code == 403
    assert client.get(f"{KEYS}/{row.id}/revoke").status_code == 403
    _logout(client)
    _login(client, world.a.grid_worker)
    token = _csrf(client, CATS)
    assert client.get(KEYS).status_code == 403
    assert client.get(f"{KEYS}/{row.id}/revoke").status_code == 403
    assert client.post(f"{KEYS}/{row.id}/revoke", data={"csrf_token": token}).status_code == 403
    assert (
        client.post(
            KEYS, data={"csrf_token": token, "community_id": world.a.community.id, "name": "偷偷的"}
        ).status_code
        == 403
    )
    _logout(client)
    _login(client, world.b.staff)
    token = _csrf(client, KEYS)
    assert "甲方系统" not in client.get(KEYS).get_data(as_text=True)
    assert client.get(f"{KEYS}?community_id={world.a.community.id}").status_code == 404
    assert client.get(f"{KEYS}/{row.id}/revoke").status_code == 404
    assert client.post(f"{KEYS}/{row.id}/revoke", data={"csrf_token": token}).status_code == 404
    assert (
        client.post(
            KEYS, data={"csrf_token": token, "community_id": world.a.community.id, "name": "越权"}
        ).status_code
        == 404
    )
    db.session.expire_all()
    assert row.revoked_at is None
    assert db.session.query(Open311Key).count() == 1


def test_english_pages(client, cats):
    world = cats
    _login(client, world.a.staff)
    repair = category(world.a)
    for path in (
        f"{CATS}?lang=en",
        f"{CATS}/new?lang=en",
        f"{CATS}/{repair.id}/edit?lang=en",
        f"{KEYS}?lang=en",
    ):
        html = client.get(path).get_data(as_text=True)
        assert 'lang="en"' in html, path
        # Only data stays Chinese: names and texts of categories, places and organizations.
        for row in db.session.query(CaseCategory).filter_by(community_id=world.a.community.id):
            for text in (row.name, row.description, row.notice):
                html = html.replace(text or "\0", "")
        for text in (world.a.community.name, world.a.organization.name):
            html = html.replace(text, "")
        leftover = set(re.findall(r"[\u4e00-\u9fff]+", html)) - {"邻里", "中文"}
        assert not leftover, (path, leftover)
