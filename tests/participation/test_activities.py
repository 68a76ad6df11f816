"""Activities: capacity under concurrency, the waiting list, proxies, check-in, hours, scope."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from app.extensions import db
from app.infra.errors import Conflict, Forbidden, Invalid, NotFound
from app.models.activity import Activity, SignUp
from app.models.base import utcnow
from app.models.notification import Notification
from app.models.points import PointEntry
from app.participation import activities, points
from tests import factories as f
from tests.participation.helpers import (
    actor,
    concurrently,
    new_activity,
    requests_at_once,
    slowed,
)


def _residents(side, n):
    people = [f.resident(side.community) for _ in range(n)]
    db.session.commit()
    return people


def test_capacity_holds_under_racing_sign_ups(app, world):
    activity = new_activity(world.a, capacity=3)
    people = _residents(world.a, 8)
    results = concurrently(
        app, [p.id for p in people], lambda who: activities.sign_up(who, activity.id).status
    )
    assert sorted(results) == ["signed_up"] * 3 + ["waitlisted"] * 5
    db.session.expire_all()
    a = db.session.get(Activity, activity.id)
    assert a.taken == 3
    waiting = db.session.scalars(
        select(SignUp).where(SignUp.activity_id == a.id, SignUp.status == "waitlisted")
    ).all()
    assert sorted(activities.waitlist_position(s) for s in waiting) == [1, 2, 3, 4, 5]
    assert len({s.seq for s in db.session.scalars(select(SignUp))}) == 8


def test_racing_cancellations_promote_each_waiting_person_once(app, world):
    activity = new_activity(world.a, capacity=3)
    people = _residents(world.a, 6)
    for p in people:
        activities.sign_up(actor(p), activity.id)
    db.session.commit()
    leaving = [p.id for p in people[:3]]
    concurrently(app, leaving, lambda who: activities.cancel(who, activity.id).status)
    db.session.expire_all()
    statuses = {
        s.person_id: s.status
        for s in db.session.scalars(select(SignUp).where(SignUp.activity_id == activity.id))
    }
    assert [statuses[p.id] for p in people] == ["cancelled"] * 3 + ["signed_up"] * 3
    assert db.session.get(Activity, activity.id).taken == 3


def test_waiting_list_is_promoted_in_order_and_told(world):
    activity = new_activity(world.a, capacity=1)
    first, second, third = _residents(world.a, 3)
    for p in (first, second, third):
        activities.sign_up(actor(p), activity.id)
    assert activities.activity_view(actor(third), activity)["my_waitlist_position"] == 2
    activities.cancel(actor(first), activity.id)
    db.session.commit()
    mine = {
        s.person_id: s.status
        for s in db.session.scalars(select(SignUp).where(SignUp.activity_id == activity.id))
    }
    assert mine == {first.id: "cancelled", second.id: "signed_up", third.id: "waitlisted"}
    assert activities.activity_view(actor(third), activity)["my_waitlist_position"] == 1
    notes = db.session.scalars(select(Notification).where(Notification.person_id == second.id))
    assert [n.kind for n in notes] == ["activity_place"]
    # someone new goes behind the one still waiting, even with a place free after a cancel
    activities.cancel(actor(second), activity.id)
    latecomer = f.resident(world.a.community)
    assert activities.sign_up(actor(latecomer), activity.id).status == "waitlisted"
    assert db.session.get(SignUp, _signup(activity, third).id).status == "signed_up"


def _signup(activity, person):
    return db.session.scalar(
        select(SignUp).where(SignUp.activity_id == activity.id, SignUp.person_id == person.id)
    )


def test_signing_up_twice_changes_nothing_and_again_after_cancel_goes_to_the_end(world):
    activity = new_activity(world.a, capacity=1)
    a, b = _residents(world.a, 2)
    first = activities.sign_up(actor(a), activity.id)
    assert activities.sign_up(actor(a), activity.id).id == first.id
    assert db.session.get(Activity, activity.id).taken == 1
    activities.sign_up(actor(b), activity.id)
    activities.cancel(actor(a), activity.id)  # b gets the place
    assert activities.sign_up(actor(a), activity.id).status == "waitlisted"


def test_family_proxy_signs_up_the_elder(world):
    activity = new_activity(world.a)
    signup = activities.sign_up(actor(world.a.relative, world.a.elder), activity.id)
    assert signup.person_id == world.a.elder.id
    assert signup.signed_up_by_id == world.a.relative.id
    view = activities.activity_view(actor(world.a.elder), activity)
    assert view["my_status"] == "signed_up"
    rows = activities.roster(actor(world.a.staff), activity.id)
    assert rows[0]["signed_up_by_proxy"] is True
    # without acting for the elder, the relative is not a resident here
    with pytest.raises(NotFound):
        activities.sign_up(actor(world.a.relative), activity.id)


def test_another_communitys_activity_is_not_found(world):
    activity = new_activity(world.a)
    for call in (
        lambda: activities.get_activity(actor(world.b.resident), activity.id),
        lambda: activities.sign_up(actor(world.b.resident), activity.id),
        lambda: activities.roster(actor(world.b.staff), activity.id),
        lambda: activities.check_in_by_token(actor(world.b.resident), activity.checkin_token),
        lambda: activities.list_activities(actor(world.b.staff), world.a.community.id),
    ):
        with pytest.raises(NotFound):
            call()


def test_who_may_publish_and_manage(world):
    org = world.a.organization
    # an organization member publishes for their organization and manages it
    own = new_activity(world.a, organization_id=org.id, by=world.a.org_member)
    assert activities.roster(actor(world.a.org_member), own.id) == []
    # ... but not for the committee, nor the committee's activities
    with pytest.raises(Forbidden):
        new_activity(world.a, by=world.a.org_member)
    committee = new_activity(world.a)
    with pytest.raises(Forbidden):
        activities.roster(actor(world.a.org_member), committee.id)
    # another organization's member in the same community cannot manage it
    other_org = f.organization(world.a.community, kind="social_org")
    other = f.staff("org_member", organization_id=other_org.id)
    with pytest.raises(Forbidden):
        activities.roster(actor(other), own.id)
    # residents cannot publish
    with pytest.raises(Forbidden):
        new_activity(world.a, by=world.a.resident)
    # the committee manages the organization's activity too
    assert activities.roster(actor(world.a.staff), own.id) == []


def test_publish_checks_its_input(world):
    with pytest.raises(Invalid):
        new_activity(world.a, capacity=0)
    with pytest.raises(Invalid):
        new_activity(world.a, starts_in=timedelta(hours=-1))


def test_sign_up_only_while_open(world):
    activity = new_activity(world.a)
    activity.signup_closes_at = utcnow() - timedelta(minutes=1)
    with pytest.raises(Conflict):
        activities.sign_up(actor(world.a.resident), activity.id)


def test_check_in_by_the_doors_link_credits_points_once(world):
    activity = new_activity(world.a, capacity=1, starts_in=timedelta(minutes=30))
    waiting = f.resident(world.a.community)
    activities.sign_up(actor(world.a.resident), activity.id)
    activities.sign_up(actor(waiting), activity.id)
    token = activity.checkin_token
    for _ in range(2):  # a retry changes nothing
        signup = activities.check_in_by_token(actor(world.a.resident), token)
        assert signup.status == "attended"
    assert points.balance(world.a.resident.id) == points.DEFAULT_POINTS["activity_attended"]
    with pytest.raises(Conflict):
        activities.check_in_by_token(actor(waiting), token)
    with pytest.raises(NotFound):
        activities.check_in_by_token(actor(world.a.resident), "x" * 32)


def test_check_in_opens_an_hour_before_the_start(world):
    activity = new_activity(world.a, starts_in=timedelta(hours=3))
    activities.sign_up(actor(world.a.resident), activity.id)
    with pytest.raises(Conflict):
        activities.check_in_by_token(actor(world.a.resident), activity.checkin_token)


def test_staff_tick_and_untick_credit_and_reverse(world):
    activity = new_activity(world.a)
    signup = activities.sign_up(actor(world.a.resident), activity.id)
    staff = actor(world.a.staff)
    earned = points.DEFAULT_POINTS["activity_attended"]
    activities.set_attendance(staff, activity.id, signup.id, True)
    assert points.balance(world.a.resident.id) == earned
    activities.set_attendance(staff, activity.id, signup.id, False)
    activities.set_attendance(staff, activity.id, signup.id, False)
    assert points.balance(world.a.resident.id) == 0
    activities.set_attendance(staff, activity.id, signup.id, True)
    assert points.balance(world.a.resident.id) == earned
    kinds = db.session.scalars(select(PointEntry.kind).order_by(PointEntry.id)).all()
    assert kinds == ["credit", "reversal", "credit.2"]
    with pytest.raises(Forbidden):
        activities.set_attendance(actor(world.a.resident), activity.id, signup.id, True)


def test_volunteer_hours_are_certified_by_the_organizer_and_earn_points(world):
    org = world.a.organization
    activity = new_activity(world.a, organization_id=org.id, by=world.a.org_member)
    member = actor(world.a.org_member)
    signup = activities.sign_up(actor(world.a.resident), activity.id)
    with pytest.raises(Invalid):  # not there yet
        activities.record_hours(member, activity.id, world.a.resident.id, 2)
    activities.set_attendance(member, activity.id, signup.id, True)
    hours = activities.record_hours(member, activity.id, world.a.resident.id, 2.5)
    with pytest.raises(Forbidden):
        activities.certify_hours(actor(world.a.resident), hours.id)
    points.set_rule(actor(world.a.staff), world.a.community.id, "volunteer_hours", 4)
    activities.certify_hours(member, hours.id)
    activities.certify_hours(member, hours.id)  # again: nothing more
    assert activities.volunteer_hours_of(world.a.resident.id) == 2.5
    assert points.balance(world.a.resident.id) == 5 + 10  # attended + 4 per hour × 2.5
    with pytest.raises(Conflict):
        activities.record_hours(member, activity.id, world.a.resident.id, 3)


def test_two_job_loops_at_once_remind_once(app, world, monkeypatch):
    # Every worker runs the reminder job in its loop. Two that found the same activity both
    # told everyone (and sent the SMS twice): the activity is now claimed first.
    activity = new_activity(world.a, starts_in=timedelta(hours=5))
    activities.sign_up(actor(world.a.resident), activity.id)
    db.session.commit()
    # The first to claim it takes a while telling, so the other has read it by then.
    monkeypatch.setattr(activities, "_tell", slowed(activities._tell, 0.5))
    told = concurrently(
        app, [world.a.staff.id, world.a.staff.id], lambda _who: activities.remind_job()
    )
    assert sorted(told) == [0, 1], told
    reminders = db.session.scalars(
        select(Notification).where(Notification.kind == "activity_reminder")
    ).all()
    assert [n.person_id for n in reminders] == [world.a.resident.id]


def test_reminder_job_tells_people_with_a_place_once(world):
    activity = new_activity(world.a, capacity=1, starts_in=timedelta(hours=5))
    later = new_activity(world.a, starts_in=timedelta(days=3))
    waiting = f.resident(world.a.community)
    activities.sign_up(actor(world.a.resident), activity.id)
    activities.sign_up(actor(waiting), activity.id)
    activities.sign_up(actor(world.a.resident), later.id)
    assert activities.remind_job(None, True) == 1
    assert activities.remind_job(None, True) == 0
    notes = db.session.scalars(select(Notification)).all()
    assert [(n.person_id, n.kind) for n in notes] == [(world.a.resident.id, "activity_reminder")]
    assert "敬老茶话会" in notes[0].title


def test_reminder_job_is_registered(app):
    from app.infra import jobs

    assert "activity_reminders" in {j.name for j in jobs.registered(app)}


def test_the_lobby_screen_lists_coming_activities_without_names(client, auth, world):
    activity = new_activity(world.a, capacity=3)
    activities.sign_up(actor(world.a.resident), activity.id)
    new_activity(world.b)
    db.session.commit()
    snap = client.get("/kiosk/snapshot", headers=auth.headers(device=world.a.device))
    listed = snap.get_json()["activities"]
    assert [(a["id"], a["places_left"]) for a in listed] == [(activity.id, 2)]
    assert world.a.resident.display_name not in snap.get_data(as_text=True)


def test_a_sign_up_waiting_on_a_call_off_is_refused(app, client, auth, world, monkeypatch):
    activity = new_activity(world.a, capacity=3)
    activities.sign_up(actor(world.a.resident), activity.id)
    latecomer = f.resident(world.a.community)
    staff, late = auth.headers(world.a.staff), auth.headers(latecomer)
    url = f"/api/v1/activities/{activity.id}"
    # The call-off holds the activity's lock while it tells everyone; the sign-up comes just
    # after it took the lock, while the activity still reads "published".
    monkeypatch.setattr(activities, "_tell", slowed(activities._tell, 1.5))
    called_off, signed_up = requests_at_once(
        app,
        lambda c: c.post(f"{url}/cancel", headers=staff),
        lambda c: c.post(f"{url}/signup", headers=late),
        stagger=0.5,  # the call-off is well inside its lock by then, even on a loaded machine
    )
    assert called_off.status_code == 200 and called_off.get_json()["status"] == "cancelled"
    assert signed_up.status_code == 409, signed_up.get_json()
    db.session.expire_all()
    assert _signup(activity, latecomer) is None
    assert db.session.get(Activity, activity.id).taken == 1
