"""Announcement lifecycle: publish, schedule, edit with history, withdraw, expire."""

from datetime import UTC, datetime, timedelta

from app.extensions import db as _db
from app.models.announcement import Announcement, AnnouncementRevision
from app.models.base import utcnow
from app.notices import announcements
from app.notices import common as notices
from tests import factories as f


def _iso(dt):
    return dt.astimezone(UTC).isoformat()


def test_minimal_post_publishes_at_once_to_the_whole_community(post, world):
    body = post(title="停水通知", body="明天停水。", priority="normal")
    assert body["status"] == "published"
    assert body["community_id"] == world.a.community.id
    assert body["audience"] == {"whole_community": True, "grid_ids": [], "building_ids": []}
    assert body["channels"] == ["kiosk", "app", "voice"]
    publish = datetime.fromisoformat(body["publish_at"])
    expire = datetime.fromisoformat(body["expire_at"])
    assert abs((utcnow() - publish).total_seconds()) < 30
    assert timedelta(days=29) < expire - publish <= timedelta(days=30)


def test_urgent_expires_after_a_day_by_default(post):
    body = post(title="燃气检修", priority="urgent")
    span = datetime.fromisoformat(body["expire_at"]) - datetime.fromisoformat(body["publish_at"])
    assert span == timedelta(hours=24)


def test_staff_of_several_communities_must_choose(client, auth, world, db):
    two = f.staff("committee_staff", community_id=world.a.community.id)
    from app.models import RoleAssignment

    two.roles.append(RoleAssignment(role="committee_staff", community_id=world.b.community.id))
    db.session.commit()
    h = auth.headers(two)
    r = client.post(
        "/api/v1/announcements", json={"title": "x", "body": "y", "priority": "normal"}, headers=h
    )
    assert r.status_code == 422 and "community_id" in r.get_json()["errors"]
    r = client.post(
        "/api/v1/announcements",
        headers=h,
        json={
            "title": "x",
            "body": "y",
            "priority": "normal",
            "community_id": world.b.community.id,
        },
    )
    assert r.status_code == 201 and r.get_json()["community_id"] == world.b.community.id


def test_only_committee_staff_may_post(client, auth, world):
    body = {"title": "x", "body": "y", "priority": "normal"}
    for who in (world.a.resident, world.a.grid_worker, world.a.org_member, world.official):
        r = client.post("/api/v1/announcements", json=body, headers=auth.headers(who))
        assert r.status_code == 403, who
    r = client.post("/api/v1/announcements", json=body)
    assert r.status_code == 401
    # Staff of B naming A's community learn nothing about it.
    r = client.post(
        "/api/v1/announcements",
        headers=auth.headers(world.b.staff),
        json={**body, "community_id": world.a.community.id},
    )
    assert r.status_code == 404


def test_draft_publish_withdraw(client, auth, world, post):
    resident = auth.headers(world.a.resident)
    draft = post(title="草稿", draft=True)
    assert draft["status"] == "draft"
    assert client.get(f"/api/v1/announcements/{draft['id']}", headers=resident).status_code == 404
    r = client.post(f"/api/v1/announcements/{draft['id']}/publish", headers=post.headers)
    assert r.status_code == 200 and r.get_json()["status"] == "published"
    assert client.get(f"/api/v1/announcements/{draft['id']}", headers=resident).status_code == 200
    again = client.post(f"/api/v1/announcements/{draft['id']}/publish", headers=post.headers)
    assert again.status_code == 409
    r = client.post(f"/api/v1/announcements/{draft['id']}/withdraw", headers=post.headers)
    assert r.status_code == 200 and r.get_json()["status"] == "withdrawn"
    assert client.get(f"/api/v1/announcements/{draft['id']}", headers=resident).status_code == 404
    edit = client.patch(
        f"/api/v1/announcements/{draft['id']}", json={"title": "改"}, headers=post.headers
    )
    assert edit.status_code == 409


def test_scheduled_goes_live_when_its_time_comes(client, auth, world, post, db):
    start = utcnow() + timedelta(hours=2)
    body = post(title="明天停电", publish_at=_iso(start))
    assert body["status"] == "scheduled"
    resident = auth.headers(world.a.resident)
    listed = client.get("/api/v1/announcements", headers=resident).get_json()
    assert listed["total"] == 0
    # The clock passes the boundary: the stored status follows on the next tick.
    assert announcements.tick(now=start + timedelta(seconds=1)) == 1
    db.session.commit()
    a = db.session.get(Announcement, body["id"])
    assert a.status == "published" and a.published_at is not None


def test_expiry_is_seen_at_once_and_stored_by_tick(client, post, db):
    body = post(title="临时通知")
    a = db.session.get(Announcement, body["id"])
    a.expire_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    got = client.get(f"/api/v1/announcements/{body['id']}", headers=post.headers).get_json()
    assert got["status"] == "expired"  # derived from the clock even before a tick
    assert announcements.tick() == 1
    db.session.commit()
    assert db.session.get(Announcement, body["id"]).status == "expired"
    # In the order written (PostgreSQL returns an unordered query's rows in any order).
    actions = [
        r.action
        for r in db.session.query(AnnouncementRevision)
        .filter_by(announcement_id=body["id"])
        .order_by(AnnouncementRevision.id)
    ]
    assert actions == ["create", "publish", "expire"]


def test_edits_are_kept_in_the_history(client, post):
    body = post(title="停水通知", body="周六停水。")
    url = f"/api/v1/announcements/{body['id']}"
    r = client.patch(url, json={"title": "停水通知（更正）", "revision": 1}, headers=post.headers)
    assert r.status_code == 200 and r.get_json()["revision"] == 2
    stale = client.patch(url, json={"body": "周日停水。", "revision": 1}, headers=post.headers)
    assert stale.status_code == 409
    history = client.get(url + "/revisions", headers=post.headers).get_json()
    assert [h["action"] for h in history] == ["create", "publish", "edit"]
    assert history[-1]["changes"] == {"title": ["停水通知", "停水通知（更正）"]}
    assert history[-1]["editor_id"] is not None


def test_racing_edits_of_one_revision_one_wins_the_other_is_told_to_reload(
    app, client, post, db, monkeypatch
):
    from tests.participation.helpers import requests_at_once, slowed

    body = post(title="停水通知", body="周六停水。")
    url, headers = f"/api/v1/announcements/{body['id']}", post.headers
    # Each edit takes a while after reading the announcement (both read revision 1).
    monkeypatch.setattr(announcements, "clean_text", slowed(announcements.clean_text, 0.4))
    answers = requests_at_once(
        app,
        lambda c: c.patch(url, json={"body": "周日停水。", "revision": 1}, headers=headers),
        lambda c: c.patch(url, json={"body": "周一停水。", "revision": 1}, headers=headers),
    )
    assert sorted(a.status_code for a in answers) == [200, 409]
    lost = next(a for a in answers if a.status_code == 409).get_json()
    assert lost["code"] == 409 and lost["message"] == "别人刚修改过这条公告，请刷新后再改。"
    won = next(a for a in answers if a.status_code == 200).get_json()
    assert won["revision"] == 2
    current = client.get(url, headers=headers).get_json()
    assert current["revision"] == 2 and current["body"] == won["body"]
    history = client.get(url + "/revisions", headers=headers).get_json()
    assert [h["action"] for h in history] == ["create", "publish", "edit"]


def test_edit_clears_speech_and_old_speech_is_refused(client, post, db):
    body = post()
    assert announcements.set_speech_url(body["id"], "/api/v1/voice/speech/" + "a" * 32, revision=1)
    db.session.commit()
    url = f"/api/v1/announcements/{body['id']}"
    assert client.get(url, headers=post.headers).get_json()["speech_url"].endswith("a" * 32)
    client.patch(url, json={"body": "新的内容"}, headers=post.headers)
    assert client.get(url, headers=post.headers).get_json()["speech_url"] is None
    # A synthesis of revision 1 that finishes late must not attach old words to new text.
    assert not announcements.set_speech_url(
        body["id"], "/api/v1/voice/speech/" + "b" * 32, revision=1
    )
    # The spoken lead ("紧急通知：…") follows the priority, so that change clears it too.
    assert announcements.set_speech_url(body["id"], "/api/v1/voice/speech/" + "c" * 32, revision=2)
    db.session.commit()
    client.patch(url, json={"priority": "urgent"}, headers=post.headers)
    assert client.get(url, headers=post.headers).get_json()["speech_url"] is None
    a = db.session.get(Announcement, body["id"])
    assert notices.spoken_text(a).startswith("紧急通知：")


def test_validation(client, post, world):
    later = utcnow() + timedelta(days=2)
    bad = [
        {"title": ""},
        {"title": "x", "priority": "high"},
        {"title": "x", "category": "gossip"},
        {"title": "x", "channels": []},
        {"title": "x", "publish_at": _iso(later), "expire_at": _iso(later - timedelta(hours=1))},
        {"title": "x", "expire_at": _iso(utcnow() - timedelta(hours=1))},
        {"title": "x", "window": {"days": [8]}},
        {"title": "x", "window": {"start": "25:00", "end": "26:00"}},
        {"title": "x", "window": {"start": "08:00"}},
        {"title": "x", "grid_ids": [world.b.community.grids[0].id]},
        {"title": "x", "building_ids": [world.b.community.buildings[0].id]},
        {"title": "x", "author": "someone"},
        {"title": "bad\u202etext"},
    ]
    for body in bad:
        r = client.post("/api/v1/announcements", json={"body": "y", **body}, headers=post.headers)
        assert r.status_code == 422, body
        assert r.get_json()["code"] == 422


def test_window_limits_screens_only(app, post, db):
    body = post(
        title="早间提醒", window={"days": [1, 2, 3, 4, 5], "start": "07:00", "end": "09:00"}
    )
    a = db.session.get(Announcement, body["id"])
    zone = notices.local_zone()
    monday_8 = datetime(2026, 11, 30, 8, 0, tzinfo=zone)
    monday_10 = datetime(2026, 11, 30, 10, 0, tzinfo=zone)
    saturday_8 = datetime(2026, 12, 5, 8, 0, tzinfo=zone)
    assert notices.in_window(a, monday_8)
    assert not notices.in_window(a, monday_10)
    assert not notices.in_window(a, saturday_8)
    overnight = Announcement(window_start="22:00", window_end="06:00")
    assert notices.in_window(overnight, datetime(2026, 11, 30, 23, 0, tzinfo=zone))
    assert notices.in_window(overnight, datetime(2026, 11, 30, 5, 0, tzinfo=zone))
    assert not notices.in_window(overnight, datetime(2026, 11, 30, 12, 0, tzinfo=zone))


def test_next_boundary_is_the_nearest_start_end_or_window_edge(post, world, db):
    soon = utcnow() + timedelta(minutes=30)
    post(title="稍后", publish_at=_iso(soon + timedelta(hours=8)))
    post(title="很快结束", expire_at=_iso(soon))
    boundary = notices.next_boundary(world.a.community.id, utcnow(), lookahead=timedelta(hours=6))
    assert abs((boundary - soon).total_seconds()) < 1


def test_staff_changes_are_audited(client, post, db):
    from app.models import AuditLog

    body = post()
    entries = (
        db.session.query(AuditLog)
        .filter_by(target_type="announcement", target_id=str(body["id"]))
        .all()
    )
    assert entries and entries[0].action == "create"


def test_pictures_are_sniffed_reencoded_and_stripped(client, post, app):
    import io

    from PIL import Image

    body = post()
    img = Image.new("RGB", (64, 48), (200, 30, 30))
    exif = Image.Exif()
    exif[0x010F] = "SecretCam"  # Make
    exif[0x9003] = "2026:01:01 00:00:00"
    raw = io.BytesIO()
    img.save(raw, "JPEG", exif=exif.tobytes())
    url = f"/api/v1/announcements/{body['id']}/image"
    r = client.put(
        url,
        headers=post.headers,
        data={"image": (io.BytesIO(raw.getvalue()), "photo.png")},
        content_type="multipart/form-data",
    )
    assert r.status_code == 200, r.get_json()
    image_url = r.get_json()["image_url"]
    with client.get(image_url) as served:
        assert served.status_code == 200 and served.mimetype == "image/jpeg"
        assert "immutable" in served.headers["Cache-Control"]
        data = served.data
    stored = Image.open(io.BytesIO(data))
    assert stored.format == "JPEG" and stored.size == (64, 48)
    assert dict(stored.getexif()) == {}
    assert b"SecretCam" not in data
    # A script renamed to .jpg is not a picture.
    r = client.put(
        url,
        headers=post.headers,
        data={"image": (io.BytesIO(b"<script>alert(1)</script>"), "x.jpg")},
        content_type="multipart/form-data",
    )
    assert r.status_code == 422 and "image" in r.get_json()["errors"]
    # A PNG with transparency becomes a JPEG on white.
    png = io.BytesIO()
    Image.new("RGBA", (10, 10), (0, 0, 0, 0)).save(png, "PNG")
    r = client.put(
        url,
        headers=post.headers,
        data={"image": (io.BytesIO(png.getvalue()), "t")},
        content_type="multipart/form-data",
    )
    assert r.status_code == 200
    with client.get(r.get_json()["image_url"]) as served:
        pixel = Image.open(io.BytesIO(served.data)).getpixel((5, 5))
    assert pixel in {(255, 255, 255), (254, 254, 254)}
    assert client.get("/kiosk/media/../../etc/passwd").status_code == 404
    assert client.get("/kiosk/media/" + "0" * 64 + ".jpg").status_code == 404
    _db.session.rollback()


def test_flask_jobs_run_fires_announcement_boundaries(runner, post, db):
    body = post(title="要过期")
    a = db.session.get(Announcement, body["id"])
    a.expire_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    result = runner.invoke(args=["jobs", "run", "announcement_boundaries"])
    assert result.exit_code == 0, result.output
    db.session.expire_all()
    assert db.session.get(Announcement, body["id"]).status == "expired"


def test_demo_announcements_seed_once(runner, db):
    import json

    first = runner.invoke(args=["seed-demo", "--json"])
    assert first.exit_code == 0, first.output
    assert json.loads(first.output.strip().splitlines()[-1])["announcements_created"] == 5
    again = runner.invoke(args=["seed-demo", "--json"])
    assert json.loads(again.output.strip().splitlines()[-1])["announcements_created"] == 0
    titles = {a.title for a in db.session.query(Announcement)}
    assert {"停水通知", "燃气管道安全检修", "防诈骗提醒", "重阳节敬老联欢会"} <= titles
    urgent = db.session.query(Announcement).filter_by(title="燃气管道安全检修").one()
    assert urgent.priority == "urgent" and urgent.status == "published"
