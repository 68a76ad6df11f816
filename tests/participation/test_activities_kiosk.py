"""活动报名 at the lobby screen: the coming activities with places left, a touch sign-up after
phone number and PIN (the same sign_up as the easy mode and the API)."""

from __future__ import annotations

from app.extensions import db
from app.models.activity import SignUp
from tests.factories import PIN
from tests.participation.helpers import new_activity


def test_screen_lists_activities_with_places_only(client, auth, world):
    activity = new_activity(world.a, capacity=2)
    r = client.get("/kiosk/api/activities", headers=auth.headers(device=world.a.device))
    assert r.status_code == 200
    [item] = r.get_json()["items"]
    assert item["id"] == activity.id and item["places_left"] == 2 and item["signup_open"]
    other = client.get("/kiosk/api/activities", headers=auth.headers(device=world.b.device))
    assert other.get_json()["items"] == []
    # People (even staff) do not use the screen's routes.
    assert (
        client.get("/kiosk/api/activities", headers=auth.headers(world.a.staff)).status_code == 403
    )


def test_touch_sign_up_then_waiting_list_then_already(client, auth, world):
    activity = new_activity(world.a, capacity=1)
    screen = auth.headers(device=world.a.device)
    url = f"/kiosk/api/activities/{activity.id}"
    r = client.post(url, json={"phone": world.a.elder.phone, "pin": PIN}, headers=screen)
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    assert body["status"] == "signed_up" and body["already"] is False and body["places_left"] == 0
    assert world.a.elder.display_name not in r.get_data(as_text=True)
    # Full: the next resident waits, first in line.
    r = client.post(url, json={"phone": world.a.resident.phone, "pin": PIN}, headers=screen)
    body = r.get_json()
    assert body["status"] == "waitlisted" and body["waitlist_position"] == 1
    assert body["already"] is False and "1" in body["message"]
    # Again: nothing changes.
    r = client.post(url, json={"phone": world.a.resident.phone, "pin": PIN}, headers=screen)
    assert r.get_json()["already"] is True and r.get_json()["waitlist_position"] == 1
    r = client.post(url, json={"phone": world.a.elder.phone, "pin": PIN}, headers=screen)
    assert r.get_json()["already"] is True and r.get_json()["status"] == "signed_up"
    db.session.expire_all()
    rows = db.session.query(SignUp).filter_by(activity_id=activity.id).all()
    assert sorted(s.status for s in rows) == ["signed_up", "waitlisted"]
    assert all(s.signed_up_by_id == s.person_id for s in rows)


def test_wrong_pin_other_community_and_other_screen(client, auth, world):
    activity = new_activity(world.a, capacity=5)
    screen = auth.headers(device=world.a.device)
    url = f"/kiosk/api/activities/{activity.id}"
    r = client.post(url, json={"phone": world.a.elder.phone, "pin": "000000"}, headers=screen)
    assert r.status_code == 422 and "pin" in r.get_json()["errors"]
    r = client.post(url, json={"phone": "123", "pin": PIN}, headers=screen)
    assert r.status_code == 422 and "phone" in r.get_json()["errors"]
    # A resident of another community at this screen.
    r = client.post(url, json={"phone": world.b.resident.phone, "pin": PIN}, headers=screen)
    assert r.status_code == 403
    # Another community's screen: the activity does not exist there.
    other = auth.headers(device=world.b.device)
    r = client.post(url, json={"phone": world.b.resident.phone, "pin": PIN}, headers=other)
    assert r.status_code == 404
    # Staff (a person, not a screen) cannot use the screen's route.
    r = client.post(
        url, json={"phone": world.a.elder.phone, "pin": PIN}, headers=auth.headers(world.a.staff)
    )
    assert r.status_code == 403
    assert db.session.query(SignUp).filter_by(activity_id=activity.id).count() == 0


def test_pin_lock_applies_at_the_screen(app, client, auth, world):
    activity = new_activity(world.a, capacity=5)
    screen = auth.headers(device=world.a.device)
    url = f"/kiosk/api/activities/{activity.id}"
    for _ in range(app.config["LOGIN_MAX_FAILURES"]):
        r = client.post(url, json={"phone": world.a.elder.phone, "pin": "000000"}, headers=screen)
        assert r.status_code == 422
    # Locked now: even the right PIN does not sign up.
    r = client.post(url, json={"phone": world.a.elder.phone, "pin": PIN}, headers=screen)
    assert r.status_code == 423
    assert db.session.query(SignUp).filter_by(activity_id=activity.id).count() == 0
