"""The activities and points API: a resident's journey, a proxy, organizers, privacy, scope."""

from __future__ import annotations

from datetime import timedelta

from app.models.base import utcnow
from tests import factories as f


def _publish(client, headers, community_id, **extra):
    start = utcnow() + timedelta(minutes=30)
    body = {
        "community_id": community_id,
        "title": "楼道清洁",
        "place": "2号楼前",
        "starts_at": start.isoformat(),
        "ends_at": (start + timedelta(hours=2)).isoformat(),
        "capacity": 1,
        **extra,
    }
    return client.post("/api/v1/activities", headers=headers, json=body)


def test_sign_up_wait_check_in_and_points(client, auth, world):
    side = world.a
    staff = auth.headers(side.staff)
    r = _publish(client, staff, side.community.id)
    assert r.status_code == 201, r.get_json()
    activity = r.get_json()
    resident = auth.headers(side.resident)
    r = client.post(f"/api/v1/activities/{activity['id']}/signup", headers=resident)
    assert r.status_code == 200 and r.get_json()["status"] == "signed_up"
    # the elder, by the family proxy: full, so the waiting list
    proxy = auth.headers(side.relative, act_for=side.elder)
    r = client.post(f"/api/v1/activities/{activity['id']}/signup", headers=proxy)
    assert r.get_json()["status"] == "waitlisted" and r.get_json()["waitlist_position"] == 1
    assert r.get_json()["person_id"] == side.elder.id
    listed = client.get("/api/v1/activities", headers=proxy).get_json()
    assert [(a["my_status"], a["my_waitlist_position"]) for a in listed] == [("waitlisted", 1)]
    # the door's link
    link = client.get(f"/api/v1/activities/{activity['id']}/check-in-link", headers=staff)
    token = link.get_json()["token"]
    assert link.get_json()["url"].endswith(f"/easy/activities/check-in/{token}")
    assert (
        client.get(f"/api/v1/activities/{activity['id']}/check-in-link", headers=resident)
    ).status_code == 403
    r = client.post("/api/v1/activities/check-in", headers=resident, json={"token": token})
    assert r.status_code == 200 and r.get_json()["status"] == "attended"
    r = client.post("/api/v1/activities/check-in", headers=proxy, json={"token": token})
    assert r.status_code == 409
    mine = client.get("/api/v1/points/me", headers=resident).get_json()
    assert mine["balance"] == 5 and mine["entries"][0]["kind"] == "credit"
    roster = client.get(f"/api/v1/activities/{activity['id']}/signups", headers=staff).get_json()
    assert [row["status"] for row in roster] == ["attended", "waitlisted"]
    # hours and their certification
    r = client.put(
        f"/api/v1/activities/{activity['id']}/hours/{side.resident.id}",
        headers=staff,
        json={"hours": 1.5},
    )
    assert r.status_code == 200, r.get_json()
    r = client.post(f"/api/v1/volunteer-hours/{r.get_json()['id']}/certify", headers=staff)
    assert r.get_json()["certified_at"] is not None
    assert client.get("/api/v1/points/me", headers=resident).get_json()["balance"] == 20


def test_organization_member_publishes_for_their_organization(client, auth, world):
    side = world.a
    member = auth.headers(side.org_member)
    assert _publish(client, member, side.community.id).status_code == 403
    r = _publish(client, member, side.community.id, organization_id=side.organization.id)
    assert r.status_code == 201 and r.get_json()["can_manage"] is True
    assert _publish(client, member, world.b.community.id).status_code == 404


def test_another_communitys_ids_are_not_found(client, auth, world):
    r = _publish(client, auth.headers(world.a.staff), world.a.community.id)
    activity_id = r.get_json()["id"]
    outsider = auth.headers(world.b.resident)
    assert client.get(f"/api/v1/activities/{activity_id}", headers=outsider).status_code == 404
    assert (
        client.post(f"/api/v1/activities/{activity_id}/signup", headers=outsider).status_code == 404
    )
    b_staff = auth.headers(world.b.staff)
    assert (
        client.get(f"/api/v1/activities/{activity_id}/signups", headers=b_staff).status_code == 404
    )
    assert (
        client.get(f"/api/v1/people/{world.a.resident.id}/points", headers=b_staff).status_code
        == 404
    )
    path = f"/api/v1/communities/{world.a.community.id}/points/leaderboard"
    assert client.get(path, headers=outsider).status_code == 404


def test_leaderboard_and_redemption(client, auth, world):
    from app.extensions import db
    from app.participation import points

    side = world.a
    hidden = f.resident(side.community, name="不愿露名")
    shown = f.resident(side.community, name="李热心")
    for n, who in enumerate((hidden, shown, shown)):
        points.credit_for("vote_cast", n, who.id, side.community.id)
    db.session.commit()
    r = client.put(
        "/api/v1/points/me/leaderboard", headers=auth.headers(shown), json={"show": True}
    )
    assert r.get_json()["show_on_leaderboard"] is True
    path = f"/api/v1/communities/{side.community.id}/points/leaderboard"
    board = client.get(path, headers=auth.headers(side.resident))
    assert board.status_code == 200
    assert "不愿露名" not in board.get_data(as_text=True)
    assert board.get_json()["items"][0]["name"] == "李热心"
    assert board.get_json()["not_shown"] == 1
    staff = auth.headers(side.staff)
    url = f"/api/v1/people/{shown.id}/points/redemptions"
    r = client.post(url, headers=staff, json={"points": 5, "item": "洗衣液"})
    assert r.status_code == 409 and r.get_json()["code"] == 409
    r = client.post(url, headers=staff, json={"points": 4, "item": "洗衣液"})
    assert r.status_code == 201 and r.get_json()["balance"] == 0
    assert (
        client.post(url, headers=auth.headers(shown), json={"points": 1, "item": "x"}).status_code
        == 403
    )
    rules = f"/api/v1/communities/{side.community.id}/points/rules"
    r = client.put(rules, headers=staff, json={"source_kind": "vote_cast", "points": 3})
    assert {x["source_kind"]: x["points"] for x in r.get_json()}["vote_cast"] == 3


def _notice_kinds(client, headers):
    return [
        n["kind"] for n in client.get("/api/v1/notifications", headers=headers).get_json()["items"]
    ]


def test_withdrawing_from_a_called_off_activity_promotes_nobody(client, auth, world):
    side = world.a
    staff = auth.headers(side.staff)
    activity_id = _publish(client, staff, side.community.id).get_json()["id"]
    waiting_person = f.resident(side.community)
    resident, waiting = auth.headers(side.resident), auth.headers(waiting_person)
    assert (
        client.post(f"/api/v1/activities/{activity_id}/signup", headers=resident).status_code == 200
    )
    r = client.post(f"/api/v1/activities/{activity_id}/signup", headers=waiting)
    assert r.get_json()["status"] == "waitlisted"
    assert client.post(f"/api/v1/activities/{activity_id}/cancel", headers=staff).status_code == 200
    r = client.delete(f"/api/v1/activities/{activity_id}/signup", headers=resident)
    assert r.status_code == 200 and r.get_json()["status"] == "cancelled"
    # no "a place came free" for a place in an activity that will not take place
    view = client.get(f"/api/v1/activities/{activity_id}", headers=waiting).get_json()
    assert view["status"] == "cancelled" and view["my_status"] == "waitlisted"
    assert _notice_kinds(client, waiting) == ["activity_cancelled"]


def test_hours_are_not_certified_once_attendance_is_taken_back(client, auth, world):
    side = world.a
    staff = auth.headers(side.staff)
    activity_id = _publish(client, staff, side.community.id).get_json()["id"]
    resident = auth.headers(side.resident)
    signup = client.post(f"/api/v1/activities/{activity_id}/signup", headers=resident).get_json()
    attendance = f"/api/v1/activities/{activity_id}/signups/{signup['id']}/attendance"
    assert client.put(attendance, headers=staff, json={"attended": True}).status_code == 200
    hours = client.put(
        f"/api/v1/activities/{activity_id}/hours/{side.resident.id}",
        headers=staff,
        json={"hours": 2},
    ).get_json()
    assert client.put(attendance, headers=staff, json={"attended": False}).status_code == 200
    r = client.post(f"/api/v1/volunteer-hours/{hours['id']}/certify", headers=staff)
    assert r.status_code == 422
    assert r.get_json()["errors"]["person_id"] == [
        "这位现在没有勾选到场。请先勾选到场，再认证时长。"
    ]
    assert client.get("/api/v1/points/me", headers=resident).get_json()["balance"] == 0
    roster = client.get(f"/api/v1/activities/{activity_id}/signups", headers=staff).get_json()
    assert roster[0]["hours_certified"] is False
    # ticked again, the hours can be certified
    assert client.put(attendance, headers=staff, json={"attended": True}).status_code == 200
    r = client.post(f"/api/v1/volunteer-hours/{hours['id']}/certify", headers=staff)
    assert r.status_code == 200 and r.get_json()["certified_at"] is not None
    assert client.get("/api/v1/points/me", headers=resident).get_json()["balance"] == 25
    # Once certified, the attendance they stand on is not taken back (it left their points).
    untick = client.put(attendance, headers=staff, json={"attended": False})
    assert untick.status_code == 409
    assert client.get("/api/v1/points/me", headers=resident).get_json()["balance"] == 25
    roster = client.get(f"/api/v1/activities/{activity_id}/signups", headers=staff).get_json()
    assert roster[0]["status"] == "attended" and roster[0]["hours_certified"] is True


def test_a_lobby_screen_gets_the_leaderboard_with_surnames_only(client, auth, world):
    from app.extensions import db
    from app.participation import points

    side = world.a
    shown = f.resident(side.community, name="李热心", show_on_leaderboard=True)
    points.credit_for("vote_cast", 1, shown.id, side.community.id)
    db.session.commit()
    path = f"/api/v1/communities/{side.community.id}/points/leaderboard"
    board = client.get(path, headers=auth.headers(device=side.device))
    assert board.status_code == 200
    assert [i["name"] for i in board.get_json()["items"]] == ["李**"]
    assert "李热心" not in board.get_data(as_text=True)
    # a person still sees the name the resident agreed to show
    mine = client.get(path, headers=auth.headers(side.resident)).get_json()
    assert [i["name"] for i in mine["items"]] == ["李热心"]


def test_reading_full_phones_on_the_sign_up_list_is_audited(client, auth, world):
    from app.extensions import db
    from app.models import AuditLog

    side = world.a
    staff = auth.headers(side.staff)
    activity_id = _publish(client, staff, side.community.id).get_json()["id"]
    client.post(f"/api/v1/activities/{activity_id}/signup", headers=auth.headers(side.resident))

    def reads():
        db.session.expire_all()
        return [
            (e.actor_person_id, e.community_id, e.detail)
            for e in db.session.query(AuditLog).filter_by(
                action="read", target_type="activity_roster", target_id=str(activity_id)
            )
        ]

    assert reads() == []
    roster = client.get(f"/api/v1/activities/{activity_id}/signups", headers=staff).get_json()
    assert roster[0]["phone"] == side.resident.phone
    assert reads() == [(side.staff.id, side.community.id, {"fields": ["phone"]})]
