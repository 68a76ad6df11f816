"""Staff console: publish, tick the list, certify hours, record an exchange; org members too."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from app.extensions import db
from app.models.activity import Activity, SignUp, VolunteerHours
from app.models.base import utcnow
from app.participation import activities, points
from tests.pages import csrf_token, staff_login
from tests.participation.helpers import actor, new_activity


def _local(dt):
    from zoneinfo import ZoneInfo

    return dt.astimezone(ZoneInfo("Asia/Shanghai")).strftime("%Y-%m-%dT%H:%M")


def test_organization_member_publishes_ticks_and_certifies(client, world):
    side = world.a
    staff_login(client, side.org_member)
    page = client.get("/staff/activities").get_data(as_text=True)
    # publishing for their organization only, not for the committee
    assert side.organization.name in page and '<option value="">' not in page
    token = csrf_token(client, "/staff/activities")
    start = utcnow() + timedelta(days=1)
    r = client.post(
        "/staff/activities/new",
        data={
            "csrf_token": token,
            "community_id": side.community.id,
            "organization_id": side.organization.id,
            "title": "助老理发",
            "place": "活动室",
            "starts_at": _local(start),
            "ends_at": _local(start + timedelta(hours=2)),
            "capacity": "5",
        },
    )
    assert r.status_code == 302, r.get_data(as_text=True)[:500]
    activity = db.session.scalar(select(Activity))
    assert activity.organization_id == side.organization.id
    signup = activities.sign_up(actor(side.resident), activity.id)
    db.session.commit()
    detail = f"/staff/activities/{activity.id}"
    page = client.get(detail).get_data(as_text=True)
    assert side.resident.display_name in page and "/easy/activities/check-in/" in page
    assert client.get(f"{detail}/qr.svg").mimetype == "image/svg+xml"
    client.post(f"{detail}/attendance/{signup.id}", data={"csrf_token": token, "attended": "1"})
    db.session.expire_all()
    assert db.session.get(SignUp, signup.id).status == "attended"
    client.post(f"{detail}/hours/{side.resident.id}", data={"csrf_token": token, "hours": "2"})
    hours = db.session.scalar(select(VolunteerHours))
    client.post(f"{detail}/hours/{hours.id}/certify", data={"csrf_token": token})
    db.session.expire_all()
    assert db.session.get(VolunteerHours, hours.id).certified_at is not None
    assert points.balance(side.resident.id) == 5 + 20


def test_bad_times_are_refused_with_words(client, world):
    staff_login(client, world.a.staff)
    token = csrf_token(client, "/staff/activities")
    start = utcnow() + timedelta(days=1)
    r = client.post(
        "/staff/activities/new",
        data={
            "csrf_token": token,
            "community_id": world.a.community.id,
            "title": "茶话会",
            "place": "活动室",
            "starts_at": _local(start),
            "ends_at": _local(start - timedelta(hours=1)),
            "capacity": "5",
        },
        follow_redirects=True,
    )
    assert "flash error" in r.get_data(as_text=True)
    assert db.session.scalar(select(Activity)) is None


def test_staff_records_an_exchange_not_beyond_the_balance(client, world):
    side = world.a
    points.credit_for("case_confirmed", 1, side.resident.id, side.community.id)  # 3
    db.session.commit()
    staff_login(client, side.staff)
    url = f"/staff/activities/points?person_id={side.resident.id}"
    page = client.get(url).get_data(as_text=True)
    assert side.resident.display_name in page
    token = csrf_token(client, url)
    redeem = f"/staff/activities/points/{side.resident.id}/redeem"
    client.post(redeem, data={"csrf_token": token, "points": "4", "item": "毛巾"})
    assert points.balance(side.resident.id) == 3
    client.post(redeem, data={"csrf_token": token, "points": "3", "item": "毛巾"})
    assert points.balance(side.resident.id) == 0


def test_other_communitys_activity_is_not_found_in_the_console(client, world):
    activity = new_activity(world.b)
    staff_login(client, world.a.staff)
    assert client.get(f"/staff/activities/{activity.id}").status_code == 404
    assert (
        client.get(f"/staff/activities/points?person_id={world.b.resident.id}").status_code == 404
    )


def test_the_menu_item_shows_for_those_who_organize_somewhere_without_a_query(world):
    from app.web.staff_activities import _may_open, _places
    from tests import factories
    from tests.affairs.test_query_count import statements

    sides = (world.a, world.b)
    people = [world.official, world.official_writer, world.admin]
    people += [getattr(s, role) for s in sides for role in ("staff", "grid_worker", "org_member")]
    people += [s.resident for s in sides]
    # A membership granted for a community the organization does not serve reaches nothing.
    stray = factories.staff(
        "org_member", organization_id=world.a.organization.id, community_id=world.b.community.id
    )
    db.session.commit()
    people.append(stray)
    shown = {}
    for person in people:
        who = actor(person)
        expected = bool(_places(who))
        with statements() as seen:
            shown[person.id] = _may_open(who)
        assert seen == [], person.display_name
        assert shown[person.id] == expected, person.display_name
    assert shown[world.a.org_member.id] and shown[world.a.staff.id]
    assert shown[world.official_writer.id] and not shown[world.official.id]
    assert not shown[world.a.grid_worker.id] and not shown[world.a.resident.id]
    assert not shown[stray.id]
