"""Easy mode: 社区活动 and 我的积分 through the real forms (CSRF included)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from app.extensions import db
from app.models.activity import SignUp
from app.participation import points
from tests import factories as f
from tests.easy.conftest import EasyClient
from tests.participation.helpers import actor, new_activity


def test_sign_up_wait_check_in_and_see_points(client, world):
    side = world.a
    activity = new_activity(side, capacity=1, starts_in=timedelta(minutes=30))
    easy = EasyClient(client)
    easy.sign_in(side.resident)
    page = easy.page("/easy/community-activities")
    assert activity.title in page and f"/easy/activities/{activity.id}" in page
    r = easy.post(f"/easy/activities/{activity.id}/signup")
    assert r.status_code == 302
    page = easy.page(f"/easy/activities/{activity.id}")
    assert "报名成功" in page and f"/easy/activities/{activity.id}/cancel" in page
    # the door's QR link: a page with one button, then checked in
    path = f"/easy/activities/check-in/{activity.checkin_token}"
    assert "csrf_token" in easy.page(path)
    assert easy.post(path).status_code == 302
    assert db.session.scalar(select(SignUp.status)) == "attended"
    page = easy.page("/easy/points")
    assert "您有 5 积分" in page and f"参加活动：{activity.title}" in page
    assert "+5" in page


def test_full_activity_puts_the_next_on_the_waiting_list_with_a_number(client, world):
    side = world.a
    activity = new_activity(side, capacity=1)
    points.credit_for("vote_cast", 1, side.elder.id, side.community.id)
    from app.participation import activities

    activities.sign_up(actor(side.elder), activity.id)
    db.session.commit()
    easy = EasyClient(client)
    easy.sign_in(side.resident)
    easy.post(f"/easy/activities/{activity.id}/signup")
    page = easy.page(f"/easy/activities/{activity.id}")
    assert (
        db.session.scalar(select(SignUp.status).where(SignUp.person_id == side.resident.id))
        == "waitlisted"
    )
    assert "候补第 1 位" in page and "取消报名" in page


def test_check_in_before_the_window_says_why(client, world):
    activity = new_activity(world.a, starts_in=timedelta(days=2))
    easy = EasyClient(client)
    easy.sign_in(world.a.resident)
    easy.post(f"/easy/activities/{activity.id}/signup")
    path = f"/easy/activities/check-in/{activity.checkin_token}"
    r = easy.post(path)
    assert r.status_code == 302
    page = easy.page(path)
    assert "活动开始前一小时到结束前可以签到" in page
    assert db.session.scalar(select(SignUp.status)) == "signed_up"


def test_leaderboard_hides_names_until_the_person_agrees(client, world):
    side = world.a
    hidden = f.resident(side.community, name="隐名邻居")
    points.credit_for("vote_cast", 1, hidden.id, side.community.id)
    points.credit_for("vote_cast", 1, side.resident.id, side.community.id)
    db.session.commit()
    easy = EasyClient(client)
    easy.sign_in(side.resident)
    page = easy.page("/easy/points")
    assert "隐名邻居" not in page and side.resident.display_name not in page.split('id="board"')[1]
    easy.post("/easy/points/leaderboard", {"show": "1"})
    page = easy.page("/easy/points")
    assert side.resident.display_name in page.split('id="board"')[1]
    assert "隐名邻居" not in page


def test_another_communitys_activity_is_not_found(client, world):
    activity = new_activity(world.b)
    easy = EasyClient(client)
    easy.sign_in(world.a.resident)
    easy.page(f"/easy/activities/{activity.id}", status=404)
    easy.page(f"/easy/activities/check-in/{activity.checkin_token}", status=404)
    r = easy.post(f"/easy/activities/{activity.id}/signup")
    assert r.status_code in (302, 404)
    assert db.session.scalar(select(SignUp.id)) is None
