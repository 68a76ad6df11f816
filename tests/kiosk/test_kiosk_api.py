"""The screen's side: snapshot with ETag, privacy, pairing codes, heartbeats, status, revocation."""

import json
from datetime import timedelta

import pytest

from app.models import ApiToken, Building, LoginThrottle
from app.models.base import utcnow
from app.models.kiosk import PairingCode
from tests import factories as f


@pytest.fixture()
def screen(auth, world):
    """Bearer headers of community A's screen (in building 1)."""
    return auth.headers(device=world.a.device)


def test_snapshot_needs_a_screen(client, auth, world):
    assert client.get("/kiosk/snapshot").status_code == 401
    r = client.get("/kiosk/snapshot", headers=auth.headers(world.a.staff))
    assert r.status_code == 403 and r.get_json()["code"] == 403


def test_snapshot_etag_and_304(client, screen, post):
    first = client.get("/kiosk/snapshot", headers=screen)
    assert first.status_code == 200
    tag = first.headers["ETag"]
    body = first.get_json()
    assert body["items"] == [] and body["version"] == 0
    assert "server_time" in body and first.headers["X-Server-Time"]
    same = client.get("/kiosk/snapshot", headers={**screen, "If-None-Match": tag})
    assert same.status_code == 304 and same.data == b"" and same.headers["ETag"] == tag
    assert same.headers["X-Server-Time"]
    post(title="停水通知")
    changed = client.get("/kiosk/snapshot", headers={**screen, "If-None-Match": tag})
    assert changed.status_code == 200 and changed.headers["ETag"] != tag
    new = changed.get_json()
    assert new["version"] == 1 and [i["title"] for i in new["items"]] == ["停水通知"]
    item = new["items"][0]
    assert item["paragraphs"] == ["明天 8:00 至 12:00 停水。", "请提前储水。"]
    assert item["speech_url"] is None and item["priority"] == "normal"


def test_snapshot_shows_urgent_first_and_follows_the_screens_building(
    client, screen, post, world, auth, db
):
    other = Building(community=world.a.community, name="5号楼")
    db.session.add(other)
    db.session.flush()
    office = f.device(world.a.community, building=None, name="居委会办公室屏")
    db.session.commit()
    post(title="普通")
    post(title="燃气", priority="urgent")
    post(title="五号楼", building_ids=[other.id])
    post(title="不上大屏", channels=["app"])
    post(title="草稿", draft=True)
    items = client.get("/kiosk/snapshot", headers=screen).get_json()["items"]
    assert [i["title"] for i in items] == ["燃气", "普通"]
    office_items = client.get("/kiosk/snapshot", headers=auth.headers(device=office)).get_json()[
        "items"
    ]
    assert {i["title"] for i in office_items} == {"燃气", "普通", "五号楼"}
    other_side = client.get(
        "/kiosk/snapshot", headers=auth.headers(device=world.b.device)
    ).get_json()["items"]
    assert other_side == []


def test_snapshot_carries_scheduled_items_soon_due_but_not_far_ones(client, screen, post):
    soon = (utcnow() + timedelta(hours=1)).isoformat()
    later = (utcnow() + timedelta(days=3)).isoformat()
    post(title="一小时后", publish_at=soon)
    post(title="三天后", publish_at=later)
    items = client.get("/kiosk/snapshot", headers=screen).get_json()["items"]
    # The screen shows it on its own clock even if the network is down at that hour.
    assert [i["title"] for i in items] == ["一小时后"]


def test_no_resident_data_on_the_screen(client, screen, post, auth, world, db):
    item = post(title="燃气", priority="urgent")
    client.post(f"/api/v1/announcements/{item['id']}/ack", headers=auth.headers(world.a.resident))
    text = json.dumps(client.get("/kiosk/snapshot", headers=screen).get_json(), ensure_ascii=False)
    for person in (
        world.a.resident,
        world.a.elder,
        world.a.relative,
        world.a.staff,
        world.a.grid_worker,
    ):
        assert person.display_name not in text
        assert person.phone not in text
    assert "created_by" not in text and "acked" not in text


def test_version_bumps_on_every_change_screens_see(client, screen, post, db):
    item = post()
    url = f"/api/v1/announcements/{item['id']}"
    versions = [client.get("/kiosk/snapshot", headers=screen).get_json()["version"]]
    client.patch(url, json={"title": "改过的"}, headers=post.headers)
    versions.append(client.get("/kiosk/snapshot", headers=screen).get_json()["version"])
    client.post(url + "/withdraw", headers=post.headers)
    snap = client.get("/kiosk/snapshot", headers=screen).get_json()
    versions.append(snap["version"])
    assert versions == sorted(set(versions)) and snap["items"] == []
    # A draft changes nothing on the screens.
    post(title="草稿", draft=True)
    assert client.get("/kiosk/snapshot", headers=screen).get_json()["version"] == versions[-1]


# --- pairing --------------------------------------------------------------------------------------
def _request_code(client, ip="10.0.0.1"):
    r = client.post("/kiosk/api/pairing", environ_base={"REMOTE_ADDR": ip})
    assert r.status_code == 201, r.get_json()
    return r.get_json()


def _claim(client, auth_headers, device_id, code):
    return client.post(
        f"/api/v1/devices/{device_id}/pairing", json={"code": code}, headers=auth_headers
    )


def test_pairing_hands_the_token_over_once(client, auth, world, db):
    pairing = _request_code(client)
    assert len(pairing["code"]) == 6 and pairing["code"].isdigit()
    assert 0 < pairing["expires_in"] <= 600
    poll = {"poll_secret": pairing["poll_secret"]}
    waiting = client.post("/kiosk/api/pairing/poll", json=poll)
    assert waiting.status_code == 200 and waiting.get_json()["status"] == "waiting"
    staff = auth.headers(world.a.staff)
    spaced = pairing["code"][:3] + " " + pairing["code"][3:]
    claimed = _claim(client, staff, world.a.device.id, spaced)
    assert claimed.status_code == 200, claimed.get_json()
    paired = client.post("/kiosk/api/pairing/poll", json=poll)
    assert paired.status_code == 200
    token = paired.get_json()["token"]
    assert paired.get_json()["device"]["id"] == world.a.device.id
    snap = client.get("/kiosk/snapshot", headers={"Authorization": f"Bearer {token}"})
    assert snap.status_code == 200
    # Single use: the token is not handed out again, the code cannot be claimed again.
    assert client.post("/kiosk/api/pairing/poll", json=poll).status_code == 410
    assert _claim(client, staff, world.a.device.id, pairing["code"]).status_code == 422
    # The plain code is never stored.
    row = db.session.query(PairingCode).one()
    assert pairing["code"] not in row.code_hash and row.delivered_at is not None


def test_a_code_typed_in_full_width_digits_pairs(client, auth, world):
    # A Chinese input method types １２３４５６: the same code (it counted as a wrong one).
    pairing = _request_code(client)
    wide = "".join(chr(ord(d) - ord("0") + ord("０")) for d in pairing["code"])
    claimed = _claim(client, auth.headers(world.a.staff), world.a.device.id, wide)
    assert claimed.status_code == 200, claimed.get_json()


def test_pairing_codes_expire(client, auth, world, db):
    pairing = _request_code(client)
    row = db.session.query(PairingCode).one()
    row.expires_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    assert (
        _claim(client, auth.headers(world.a.staff), world.a.device.id, pairing["code"]).status_code
        == 422
    )
    r = client.post("/kiosk/api/pairing/poll", json={"poll_secret": pairing["poll_secret"]})
    assert r.status_code == 410


def test_wrong_codes_lock_the_staff_account_out_of_pairing(client, auth, world, db):
    pairing = _request_code(client)
    staff = auth.headers(world.a.staff)
    wrong = f"{(int(pairing['code']) + 1) % 1000000:06d}"
    for _ in range(5):
        assert _claim(client, staff, world.a.device.id, wrong).status_code == 422
    locked = _claim(client, staff, world.a.device.id, pairing["code"])
    assert locked.status_code == 423 and int(locked.headers["Retry-After"]) > 60
    assert db.session.get(LoginThrottle, f"pairing:{world.a.staff.id}").locked_until
    # Another member of staff is not locked out, and the right code still works.
    colleague = f.staff("committee_staff", community_id=world.a.community.id)
    db.session.commit()
    assert (
        _claim(client, auth.headers(colleague), world.a.device.id, pairing["code"]).status_code
        == 200
    )


def test_only_staff_of_the_screens_community_pair_it(client, auth, world):
    pairing = _request_code(client)
    for who, expected in (
        (world.a.resident, 403),
        (world.a.grid_worker, 403),
        (world.b.staff, 404),
    ):
        r = _claim(client, auth.headers(who), world.a.device.id, pairing["code"])
        assert r.status_code == expected, who
    assert _claim(client, {}, world.a.device.id, pairing["code"]).status_code == 401


def test_pairing_requests_are_rate_limited_per_address(client, app):
    for _ in range(app.config["KIOSK_PAIRING_PER_ADDRESS"]):
        _request_code(client, ip="10.9.9.9")
    r = client.post("/kiosk/api/pairing", environ_base={"REMOTE_ADDR": "10.9.9.9"})
    assert r.status_code == 429 and r.headers["Retry-After"]
    assert (
        client.post("/kiosk/api/pairing", environ_base={"REMOTE_ADDR": "10.9.9.8"}).status_code
        == 201
    )


def test_bad_poll_secrets(client):
    assert client.post("/kiosk/api/pairing/poll", json={}).status_code == 422
    assert client.post("/kiosk/api/pairing/poll", json={"poll_secret": "x" * 40}).status_code == 404


# --- heartbeats, status, changes ------------------------------------------------------------------
def test_heartbeat_status_and_versions_behind(client, screen, auth, world, post, db):
    staff = auth.headers(world.a.staff)
    url = f"/api/v1/communities/{world.a.community.id}/devices/status"
    before = client.get(url, headers=staff).get_json()[0]
    assert before["online"] is False and before["last_seen_at"] is None
    post(title="一")
    post(title="二")
    r = client.post(
        "/kiosk/api/heartbeat",
        headers=screen,
        json={"version": 1, "client_version": "abc", "showing": "#1 一"},
    )
    assert r.status_code == 200 and r.get_json()["version"] == 2
    row = client.get(url, headers=staff).get_json()[0]
    assert row["online"] is True and row["versions_behind"] == 1
    assert row["showing"] == "#1 一" and row["client_version"] == "abc"
    from app.models.kiosk import DeviceState

    state = db.session.get(DeviceState, world.a.device.id)
    state.last_seen_at = utcnow() - timedelta(minutes=5, seconds=1)
    db.session.commit()
    assert client.get(url, headers=staff).get_json()[0]["online"] is False
    assert client.post("/kiosk/api/heartbeat", headers=staff, json={}).status_code == 403
    assert client.get(url, headers=auth.headers(world.a.resident)).status_code == 403
    assert client.get(url, headers=auth.headers(world.b.staff)).status_code == 404


def test_staff_rename_move_and_quiet_hours_reach_the_screen(client, screen, auth, world):
    staff = auth.headers(world.a.staff)
    url = f"/api/v1/devices/{world.a.device.id}"
    before = client.get("/kiosk/snapshot", headers=screen).get_json()
    r = client.patch(
        url,
        headers=staff,
        json={
            "name": "新名字",
            "location": "二楼走廊",
            "quiet_start": "21:30",
            "quiet_end": "07:00",
            "orientation": "portrait",
        },
    )
    assert r.status_code == 200, r.get_json()
    after = client.get("/kiosk/snapshot", headers=screen).get_json()
    assert after["version"] > before["version"]
    assert after["device"] == {
        "id": world.a.device.id,
        "name": "新名字",
        "location": "二楼走廊",
        "orientation": "portrait",
        "quiet_hours": {"start": "21:30", "end": "07:00"},
    }
    for bad in (
        {"quiet_start": "21:30"},
        {"quiet_start": "7:00", "quiet_end": "8:00"},
        {"building_id": world.b.community.buildings[0].id},
        {"orientation": "round"},
    ):
        assert client.patch(url, headers=staff, json=bad).status_code == 422, bad
    assert (
        client.patch(url, headers=auth.headers(world.b.staff), json={"name": "x"}).status_code
        == 404
    )


def test_revoking_a_screen_stops_it(client, screen, auth, world, db):
    assert client.get("/kiosk/snapshot", headers=screen).status_code == 200
    assert (
        client.delete(
            f"/api/v1/devices/{world.a.device.id}", headers=auth.headers(world.a.staff)
        ).status_code
        == 200
    )
    assert client.get("/kiosk/snapshot", headers=screen).status_code == 401
    assert (
        db.session.query(ApiToken).filter_by(device_id=world.a.device.id, revoked_at=None).count()
        == 0
    )


# --- the page -------------------------------------------------------------------------------------
def test_page_is_chinese_first_english_on_request_and_safe(client):
    zh = client.get("/kiosk")
    assert zh.status_code == 200
    html = zh.get_data(as_text=True)
    assert 'lang="zh-CN"' in html and "听公告" in html and "我要反映" in html and "查进度" in html
    assert "script-src 'self'" in zh.headers["Content-Security-Policy"]
    en = client.get("/kiosk?lang=en", headers={"Accept-Language": "zh-CN"}).get_data(as_text=True)
    assert 'lang="en"' in en and "Listen" in en and "听公告" not in en
    # The browser's language does not turn a community screen English.
    assert 'lang="zh-CN"' in client.get("/kiosk", headers={"Accept-Language": "en-US"}).get_data(
        as_text=True
    )
    sw = client.get("/kiosk/sw.js")
    assert sw.headers["Service-Worker-Allowed"] == "/kiosk"
    assert sw.mimetype == "application/javascript"


def test_the_screen_loads_the_shared_chime_and_keeps_it_offline(client, app):
    from kiosk.views import asset_version

    html = client.get("/kiosk").get_data(as_text=True)
    version = asset_version()
    assert html.index(f"/static/chime.js?v={version}") < html.index("/kiosk/static/sound.js")
    sw = client.get("/kiosk/sw.js").get_data(as_text=True)
    assert "'/static/chime.js?v=' + VERSION" in sw and f"'{version}'" in sw
    with client.get("/static/chime.js") as r:
        assert r.status_code == 200 and b"LinliChime" in r.data
    # The voice button's script and style too, so an offline reload still shows the button.
    for name in ("voice/voice.js", "voice/voice.css"):
        assert f"/static/{name}?v={version}" in html
        assert f"'/static/{name}?v=' + VERSION" in sw and f"'/static/{name}'" in sw


def test_the_qr_code_is_drawn_on_the_server(client):
    html = client.get("/kiosk").get_data(as_text=True)
    assert '<div class="qr-code" role="img"' in html and "<svg" in html and "<path" in html


def test_tokens_in_urls_are_not_logged(client):
    from kiosk.views import RedactSecrets, redact

    assert (
        redact("GET /kiosk?token=abc123&lang=en HTTP/1.1")
        == "GET /kiosk?token=[redacted]&lang=en HTTP/1.1"
    )
    assert redact("/kiosk/stream?ticket=x.y.z") == "/kiosk/stream?ticket=[redacted]"
    import logging

    record = logging.LogRecord("gunicorn.access", logging.INFO, __file__, 1, "%(r)s", None, None)
    record.args = {"r": "GET /kiosk?token=secret HTTP/1.1"}
    RedactSecrets().filter(record)
    assert "secret" not in record.getMessage()
    # gunicorn logs the request line from the environ the app saw: it is scrubbed there too.
    from werkzeug.test import EnvironBuilder

    environ = EnvironBuilder(path="/kiosk", query_string="token=supersecret&lang=en").get_environ()
    environ["RAW_URI"] = "/kiosk?token=supersecret&lang=en"
    status = []
    body = client.application.wsgi_app(environ, lambda s, h, e=None: status.append(s))
    b"".join(body)
    body.close()
    assert status == ["200 OK"]
    assert environ["RAW_URI"] == "/kiosk?token=[redacted]&lang=en"


def test_stream_tickets(client, screen, auth, world, app, monkeypatch):
    r = client.post("/kiosk/api/ticket", headers=screen)
    assert r.status_code == 200
    ticket = r.get_json()["ticket"]
    cookie = r.headers["Set-Cookie"]
    assert "kiosk_ticket=" in cookie and "HttpOnly" in cookie and "Path=/kiosk/stream" in cookie
    assert "SameSite=Strict" in cookie
    assert client.post("/kiosk/api/ticket", headers=auth.headers(world.a.staff)).status_code == 403
    client.delete_cookie("kiosk_ticket", path="/kiosk/stream")
    bad = client.get("/kiosk/stream?ticket=" + ticket[:-2] + "xx")
    assert bad.status_code == 401 and bad.get_json()["code"] == 401
    monkeypatch.setitem(app.config, "KIOSK_TICKET_SECONDS", -1)
    assert client.get("/kiosk/stream?ticket=" + ticket).status_code == 401
    monkeypatch.setitem(app.config, "KIOSK_TICKET_SECONDS", 120)
    # A revoked screen's ticket no longer opens the stream.
    client.delete(f"/api/v1/devices/{world.a.device.id}", headers=auth.headers(world.a.staff))
    assert client.get("/kiosk/stream?ticket=" + ticket).status_code == 401


def test_a_screen_in_a_browser_someone_signed_into_is_still_the_screen(client, world, screen):
    # A screen in the committee's office, in the browser profile staff use for the console:
    # the cookie won over the screen's token, the snapshot answered 403, and the screen
    # forgot its token and asked to be paired again, over and over.
    from tests.pages import staff_login

    staff_login(client, world.a.staff)
    snap = client.get("/kiosk/snapshot", headers=screen)
    assert snap.status_code == 200, snap.get_json()
    beat = client.post("/kiosk/api/heartbeat", json={}, headers=screen)
    assert beat.status_code < 400, beat.get_json()
    # The console sign-in is left as it was.
    assert client.get("/staff/").status_code == 200
