"""Points: idempotent credits under retries and races, reversals, rules, redemptions, privacy."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.infra.errors import Conflict, Forbidden, Invalid, NotFound
from app.models.points import PointEntry
from app.participation import points
from tests import factories as f
from tests.participation.helpers import actor, concurrently


def _count():
    return db.session.scalar(select(func.count()).select_from(PointEntry))


def test_credit_for_is_idempotent_on_retries(world):
    who, cid = world.a.resident.id, world.a.community.id
    first = points.credit_for("vote_cast", 7, who, cid)
    for _ in range(3):
        assert points.credit_for("vote_cast", 7, who, cid).id == first.id
    assert _count() == 1
    assert points.balance(who) == points.DEFAULT_POINTS["vote_cast"]
    points.credit_for("vote_cast", 8, who, cid)  # another vote is another source
    assert points.balance(who) == 2 * points.DEFAULT_POINTS["vote_cast"]


def test_racing_credits_write_one_line(app, world):
    who, cid = world.a.resident.id, world.a.community.id
    results = concurrently(
        app, [who] * 6, lambda _actor: points.credit_for("case_confirmed", 42, who, cid).delta
    )
    assert results == [points.DEFAULT_POINTS["case_confirmed"]] * 6
    db.session.expire_all()
    assert _count() == 1


def test_reversal_is_a_new_negative_line_and_happens_once(world):
    who, cid = world.a.resident.id, world.a.community.id
    credit = points.credit_for("case_confirmed", 5, who, cid)
    (reversal,) = points.reverse("case_confirmed", 5)
    assert reversal.delta == -credit.delta and reversal.reverses_id == credit.id
    assert points.reverse("case_confirmed", 5) == []
    assert points.balance(who) == 0
    assert db.session.get(PointEntry, credit.id).delta == credit.delta  # never changed


def test_rules_are_per_community(world):
    points.set_rule(actor(world.a.staff), world.a.community.id, "vote_cast", 9)
    points.credit_for("vote_cast", 1, world.a.resident.id, world.a.community.id)
    points.credit_for("vote_cast", 1, world.b.resident.id, world.b.community.id)
    assert points.balance(world.a.resident.id) == 9
    assert points.balance(world.b.resident.id) == points.DEFAULT_POINTS["vote_cast"]
    with pytest.raises(Forbidden):
        points.set_rule(actor(world.a.resident), world.a.community.id, "vote_cast", 1)
    with pytest.raises(NotFound):
        points.set_rule(actor(world.b.staff), world.a.community.id, "vote_cast", 1)
    with pytest.raises(Invalid):
        points.set_rule(actor(world.a.staff), world.a.community.id, "vote_cast", -1)
    # a rule of 0 points credits nothing
    points.set_rule(actor(world.a.staff), world.a.community.id, "vote_cast", 0)
    assert points.credit_for("vote_cast", 2, world.a.resident.id, world.a.community.id) is None


def test_balances_per_person_and_household(world):
    c = world.a.community
    housemate = f.resident(c)  # the same first household
    points.credit_for("vote_cast", 1, world.a.resident.id, c.id)
    points.credit_for("vote_cast", 1, housemate.id, c.id)
    mine = points.my_points(actor(world.a.resident))
    assert mine["balance"] == 2
    assert mine["household_balance"] == 4
    assert [e["source_kind"] for e in mine["entries"]] == ["vote_cast"]


def test_redemption_by_staff_cannot_go_below_zero(world):
    who = world.a.resident
    points.credit_for("case_confirmed", 1, who.id, world.a.community.id)  # 3
    staff = actor(world.a.staff)
    with pytest.raises(Conflict):
        points.redeem(staff, who.id, 4, "大米一袋")
    assert points.redeem(staff, who.id, 3, "大米一袋")["balance"] == 0
    with pytest.raises(Conflict):
        points.redeem(staff, who.id, 1, "肥皂")
    with pytest.raises(Forbidden):
        points.redeem(actor(who), who.id, 1, "肥皂")
    with pytest.raises(NotFound):
        points.redeem(actor(world.b.staff), who.id, 1, "肥皂")
    with pytest.raises(Invalid):
        points.redeem(staff, who.id, 0, "肥皂")


def test_racing_redemptions_never_overspend(app, world):
    who = world.a.resident
    for n in range(2):
        points.credit_for("case_confirmed", n + 1, who.id, world.a.community.id)  # 6
    db.session.commit()
    staff_ids = [world.a.staff.id] * 5
    results = concurrently(app, staff_ids, lambda s: points.redeem(s, who.id, 2, "鸡蛋"))
    assert sum(isinstance(r, dict) for r in results) == 3
    assert all(isinstance(r, dict | Conflict) for r in results)
    db.session.expire_all()
    assert points.balance(who.id) == 0


def test_leaderboard_names_only_people_who_agreed(world):
    c = world.a.community
    shy, proud = world.a.resident, f.resident(c, name="张热心")
    points.set_leaderboard_opt_in(actor(proud), True)
    points.credit_for("case_confirmed", 1, shy.id, c.id)
    points.credit_for("case_confirmed", 2, shy.id, c.id)
    points.credit_for("vote_cast", 1, proud.id, c.id)
    board = points.leaderboard(actor(world.a.elder), c.id)
    assert board["items"] == [{"rank": 2, "name": "张热心", "points": 2, "is_me": False}]
    assert board["participants"] == 2 and board["not_shown"] == 1
    assert shy.display_name not in str(board)
    points.set_leaderboard_opt_in(actor(shy), True)
    names = [i["name"] for i in points.leaderboard(actor(world.a.elder), c.id)["items"]]
    assert names == [shy.display_name, "张热心"]
    # spending does not lower the rank; another community's board is not found
    points.redeem(actor(world.a.staff), shy.id, 6, "毛巾")
    assert points.leaderboard(actor(proud), c.id)["items"][0]["points"] == 6
    with pytest.raises(NotFound):
        points.leaderboard(actor(world.b.resident), c.id)


def test_the_proxy_sees_and_sets_the_elders_points(world):
    elder = world.a.elder
    points.credit_for("vote_cast", 3, elder.id, world.a.community.id)
    relative = actor(world.a.relative, elder)
    assert points.my_points(relative)["balance"] == 2
    points.set_leaderboard_opt_in(relative, True)
    assert elder.show_on_leaderboard is True


def test_the_lobby_screen_shows_only_consenting_surnames(client, auth, world):
    c = world.a.community
    shy, proud = world.a.resident, f.resident(c, name="张热心")
    points.set_leaderboard_opt_in(actor(proud), True)
    points.credit_for("case_confirmed", 1, shy.id, c.id)
    points.credit_for("vote_cast", 1, proud.id, c.id)
    db.session.commit()
    snap = client.get("/kiosk/snapshot", headers=auth.headers(device=world.a.device))
    body = snap.get_json()
    assert body["leaderboard"]["items"] == [{"rank": 2, "name": "张**", "points": 2}]
    assert "张热心" not in snap.get_data(as_text=True)
    assert shy.display_name not in snap.get_data(as_text=True)
