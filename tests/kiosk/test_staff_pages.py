"""Staff console pages for announcements and screens, driven like a browser would (forms + CSRF)."""

import re

from app.models.announcement import Announcement
from app.models.kiosk import PairingCode
from tests.pages import csrf_token as _csrf
from tests.pages import staff_login as _login


def test_compose_publish_edit_withdraw(client, world, db):
    _login(client, world.a.staff)
    page = client.get("/staff/announcements")
    assert page.status_code == 200 and "公告" in page.get_data(as_text=True)
    form = client.get("/staff/announcements/new").get_data(as_text=True)
    assert 'id="preview"' in form and "朗读内容" in form
    token = _csrf(client, "/staff/announcements/new")
    r = client.post(
        "/staff/announcements/new",
        data={
            "csrf_token": token,
            "community_id": world.a.community.id,
            "title": "停水通知",
            "body": "周六停水。\n\n请储水。",
            "category": "outage",
            "priority": "urgent",
            "audience": "all",
            "channels": ["kiosk", "app", "voice"],
            "action": "publish",
        },
    )
    assert r.status_code == 302, r.get_data(as_text=True)[:500]
    a = db.session.query(Announcement).one()
    assert a.status == "published" and a.priority == "urgent" and a.category == "outage"
    detail = client.get(r.headers["Location"]).get_data(as_text=True)
    assert "停水通知" in detail and "尚未确认" in detail and "独居" in detail
    assert world.a.elder.display_name in detail  # the follow-up list
    r = client.post(
        f"/staff/announcements/{a.id}/edit",
        data={
            "csrf_token": token,
            "title": "停水通知（更正）",
            "body": "周日停水。",
            "category": "outage",
            "priority": "urgent",
            "audience": "all",
            "channels": ["kiosk"],
            "revision": "1",
        },
    )
    assert r.status_code == 302
    db.session.expire_all()
    assert a.title == "停水通知（更正）" and a.revision == 2
    stale = client.post(
        f"/staff/announcements/{a.id}/edit",
        data={
            "csrf_token": token,
            "title": "旧的",
            "body": "",
            "category": "outage",
            "priority": "urgent",
            "audience": "all",
            "channels": ["kiosk"],
            "revision": "1",
        },
    )
    assert stale.status_code == 409
    r = client.post(f"/staff/announcements/{a.id}/withdraw", data={"csrf_token": token})
    assert r.status_code == 302
    db.session.expire_all()
    assert a.status == "withdrawn"
    # Without the CSRF token nothing happens.
    assert client.post(f"/staff/announcements/{a.id}/withdraw").status_code == 400


def test_draft_and_bad_input(client, world, db):
    _login(client, world.a.staff)
    token = _csrf(client, "/staff/announcements/new")
    bad = client.post(
        "/staff/announcements/new",
        data={
            "csrf_token": token,
            "title": "",
            "body": "x",
            "category": "notice",
            "priority": "normal",
            "action": "publish",
        },
    )
    assert bad.status_code == 422 and "这里不能空着" in bad.get_data(as_text=True)
    r = client.post(
        "/staff/announcements/new",
        data={
            "csrf_token": token,
            "title": "草稿一则",
            "body": "x",
            "category": "notice",
            "priority": "normal",
            "action": "draft",
            "channels": ["kiosk", "app", "voice"],
            "window_days": ["1", "2"],
            "window_start": "08:00",
            "window_end": "10:00",
        },
    )
    assert r.status_code == 302
    a = db.session.query(Announcement).one()
    assert a.status == "draft" and a.window_days == [1, 2] and a.window_start == "08:00"


def test_a_form_sent_back_keeps_every_choice_and_none_is_not_all(client, world, db):
    # An error re-showed the form with the whole community and every channel ticked: fixing
    # the error and pressing Publish sent an urgent notice to everyone, on every screen.
    _login(client, world.a.staff)
    token = _csrf(client, "/staff/announcements/new")
    building = world.a.community.buildings[0]
    form = {
        "csrf_token": token,
        "title": "3号楼停水",
        "body": "明早停水。",
        "category": "outage",
        "priority": "urgent",
        "audience": "some",
        "building_ids": [str(building.id)],
        "channels": ["app"],
        "window_days": ["6"],
        "publish_at": "2099-01-02T08:00",
        "expire_at": "2099-01-01T08:00",  # before the start: refused
        "action": "publish",
    }
    page = client.post("/staff/announcements/new", data=form)
    assert page.status_code == 422
    html = page.get_data(as_text=True)

    def ticked(name, value):
        return re.search(rf'name="{name}" value="{value}"\s+checked', html) is not None

    assert ticked("audience", "some") and not ticked("audience", "all")
    assert ticked("building_ids", building.id)
    assert ticked("channels", "app") and not ticked("channels", "kiosk")
    assert not ticked("channels", "voice")
    assert ticked("window_days", 6) and not ticked("window_days", 1)
    # No channel at all, or "only these" with none ticked, is refused, not widened.
    for changes, field in (
        ({"channels": []}, "channels"),
        ({"building_ids": []}, "audience"),
    ):
        r = client.post("/staff/announcements/new", data={**form, "expire_at": "", **changes})
        assert r.status_code == 422, field
    assert db.session.query(Announcement).count() == 0
    ok = client.post("/staff/announcements/new", data={**form, "expire_at": ""})
    assert ok.status_code == 302
    a = db.session.query(Announcement).one()
    assert a.building_ids == [building.id] and a.channels == ["app"] and a.grid_ids == []


def test_other_roles_cannot_compose(client, world):
    _login(client, world.a.grid_worker)
    assert client.get("/staff/announcements").status_code == 200  # workers may read
    assert client.get("/staff/announcements/new").status_code == 403
    client.post("/staff/logout", data={"csrf_token": _csrf(client, "/staff/")})
    _login(client, world.b.staff)
    assert (
        client.get(f"/staff/announcements/new?community_id={world.a.community.id}").status_code
        == 404
    )


def test_screens_register_pair_change_revoke(client, world, db):
    _login(client, world.a.staff)
    page = client.get("/staff/devices").get_data(as_text=True)
    assert world.a.device.name in page and "离线" in page
    token = _csrf(client, "/staff/devices")
    r = client.post(
        "/staff/devices",
        data={
            "csrf_token": token,
            "community_id": world.a.community.id,
            "name": "2号楼大堂屏",
            "location": "一楼",
            "orientation": "portrait",
        },
    )
    assert r.status_code == 302 and "/pair" in r.headers["Location"]
    pair_url = r.headers["Location"]
    code = client.post("/kiosk/api/pairing").get_json()
    wrong = client.post(
        pair_url,
        data={"csrf_token": token, "code": "000000" if code["code"] != "000000" else "111111"},
    )
    assert wrong.status_code == 422
    ok = client.post(pair_url, data={"csrf_token": token, "code": code["code"]})
    assert ok.status_code == 302
    assert db.session.query(PairingCode).one().claimed_at is not None
    device_id = int(pair_url.split("/")[-2])
    r = client.post(
        f"/staff/devices/{device_id}/edit",
        data={
            "csrf_token": token,
            "name": "2号楼大屏",
            "location": "大堂",
            "orientation": "landscape",
            "quiet_start": "22:00",
            "quiet_end": "07:00",
        },
    )
    assert r.status_code == 302
    listing = client.get("/staff/devices").get_data(as_text=True)
    assert "2号楼大屏" in listing and "22:00–07:00" in listing
    r = client.post(f"/staff/devices/{device_id}/revoke", data={"csrf_token": token})
    assert r.status_code == 302
    assert "已停用" in client.get("/staff/devices").get_data(as_text=True)


def test_english_staff_pages(client, world):
    _login(client, world.a.staff)
    for path in (
        "/staff/announcements?lang=en",
        "/staff/announcements/new?lang=en",
        "/staff/devices?lang=en",
    ):
        html = client.get(path).get_data(as_text=True)
        assert 'lang="en"' in html
        chinese = set(re.findall(r"[\u4e00-\u9fff]+", html))
        # Only data (names of places and people) and the language switch stay Chinese.
        allowed = {"邻里", "中文"} | {
            w
            for w in chinese
            if w in html
            and (
                w in world.a.community.name
                or "网格" in w
                or "楼" in w
                or "大屏" in w
                or "社区" in w
                or "主任" in w
            )
        }
        assert chinese <= allowed, chinese - allowed
