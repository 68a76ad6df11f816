"""Consultations and votes (议事协商): every rule of app/participation/votes.py, on the services."""

from __future__ import annotations

from datetime import timedelta

import pytest

from app.extensions import db
from app.infra.errors import Conflict, Forbidden, Invalid, NotFound
from app.models import Building, Household
from app.models.announcement import Announcement
from app.models.base import utcnow
from app.models.consultation import ConsultationVote
from app.participation import votes
from app.people.actors import Actor
from tests import factories


def actor(person=None, *, device=None, act_for=None) -> Actor:
    """The service-layer actor."""
    if device is not None:
        return Actor.for_device(device)
    return Actor.for_person(person, on_behalf_of=act_for)


def open_vote(side, **kw):
    """An open community vote (同意/不同意/弃权) made by the side's committee staff."""
    kw.setdefault("title", "加装电梯")
    kw.setdefault("options", ["同意", "不同意", "弃权"])
    c = votes.create_consultation(actor(side.staff), **kw)
    db.session.commit()
    return c


def neighbour_in_building_2(side):
    """A resident of a second building (in another grid) of the side's community."""
    c = side.community
    grid = c.grids[0]
    from app.models import Grid

    g2 = Grid(community=c, name="第二网格")
    b2 = Building(community=c, grid=g2, name="2号楼")
    h2 = Household(building=b2, unit="1", room="202")
    db.session.add_all([g2, b2, h2])
    db.session.flush()
    assert grid.id != g2.id
    person = factories.resident(c, household=h2)
    db.session.commit()
    return person


def test_one_vote_per_household_a_second_member_replaces_it(world):
    c = open_vote(world.a)
    agree, disagree = c.options[0], c.options[1]
    vote, replaced = votes.cast_vote(actor(world.a.resident), c.id, option_id=agree.id)
    assert not replaced
    # The elder lives in the same flat: their vote replaces the household's one vote.
    vote, replaced = votes.cast_vote(actor(world.a.elder), c.id, option_id=disagree.id)
    db.session.commit()
    assert replaced and vote.option_id == disagree.id and vote.person_id == world.a.elder.id
    r = votes.results(actor(world.a.staff), c.id)
    assert [o["votes"] for o in r["options"]] == [0, 1, 0]
    assert r["households_voted"] == 1
    assert db.session.query(ConsultationVote).count() == 1


def test_change_until_close_then_conflict(world):
    c = open_vote(world.a)
    me = actor(world.a.resident)
    votes.cast_vote(me, c.id, position=1)
    vote, replaced = votes.cast_vote(me, c.id, position=3)
    assert replaced and vote.option_id == c.options[2].id
    votes.close_consultation(actor(world.a.staff), c.id)
    db.session.commit()
    with pytest.raises(Conflict):
        votes.cast_vote(me, c.id, position=1)
    assert votes.results(me, c.id)["options"][2]["votes"] == 1


def test_window_not_yet_open_and_past_close(world):
    now = utcnow()
    later = open_vote(world.a, opens_at=now + timedelta(days=1), closes_at=now + timedelta(days=2))
    with pytest.raises(Conflict):
        votes.cast_vote(actor(world.a.resident), later.id, position=1)
    ended = open_vote(world.a, closes_at=now + timedelta(days=1))
    ended.closes_at = now - timedelta(seconds=1)
    db.session.commit()
    with pytest.raises(Conflict):
        votes.cast_vote(actor(world.a.resident), ended.id, position=1)
    assert votes.close_due_job(None, False) == {"closed": 1}
    db.session.expire_all()
    assert ended.status == "closed"
    with pytest.raises(Invalid):
        open_vote(world.a, closes_at=now - timedelta(hours=1))


def test_building_scope_keeps_other_buildings_out(world):
    neighbour = neighbour_in_building_2(world.a)
    c = open_vote(world.a, scope="building", building_id=world.a.community.buildings[0].id)
    with pytest.raises(NotFound):
        votes.cast_vote(actor(neighbour), c.id, position=1)
    assert votes.list_for_resident(actor(neighbour)) == []
    assert [x.id for x in votes.list_for_resident(actor(world.a.resident))] == [c.id]
    votes.cast_vote(actor(world.a.resident), c.id, position=1)


def test_grid_scope(world):
    neighbour = neighbour_in_building_2(world.a)
    c = open_vote(world.a, scope="grid", grid_id=world.a.community.grids[0].id)
    with pytest.raises(NotFound):
        votes.get(actor(neighbour), c.id)
    votes.cast_vote(actor(world.a.elder), c.id, position=2)
    assert votes.eligible_households(c) == 1


def test_another_communitys_ids_are_not_found(world):
    c = open_vote(world.a)
    for who in (world.b.resident, world.b.staff):
        with pytest.raises(NotFound):
            votes.cast_vote(actor(who), c.id, position=1)
        with pytest.raises(NotFound):
            votes.results(actor(who), c.id)
    with pytest.raises(NotFound):
        votes.close_consultation(actor(world.b.staff), c.id)
    with pytest.raises(Invalid):
        open_vote(world.a, scope="building", building_id=world.b.community.buildings[0].id)


def test_only_the_committee_manages(world):
    c = open_vote(world.a)
    with pytest.raises(NotFound):  # residents do not learn what they cannot manage
        votes.close_consultation(actor(world.a.resident), c.id)
    with pytest.raises(Forbidden):
        votes.close_consultation(actor(world.a.grid_worker), c.id)
    with pytest.raises(Forbidden):
        votes.create_consultation(actor(world.a.resident), title="x", options=["a", "b"])


def test_drafts_are_hidden_from_residents(world):
    c = open_vote(world.a, draft=True)
    with pytest.raises(NotFound):
        votes.get(actor(world.a.resident), c.id)
    votes.open_consultation(actor(world.a.staff), c.id)
    db.session.commit()
    assert votes.get(actor(world.a.resident), c.id).status == "open"


def test_family_proxy_votes_for_the_elder(world):
    c = open_vote(world.a)
    proxy = actor(world.a.relative, act_for=world.a.elder)
    vote, _ = votes.cast_vote(proxy, c.id, position=1)
    assert vote.person_id == world.a.elder.id and vote.cast_by_id == world.a.relative.id
    # The relative alone (no household of their own) cannot vote.
    with pytest.raises(NotFound):
        votes.cast_vote(actor(world.a.relative), c.id, position=1)


def test_results_are_counts_only(world):
    c = open_vote(world.a)
    votes.cast_vote(actor(world.a.resident), c.id, position=1)
    r = votes.results(actor(world.a.resident), c.id)
    text = repr(r)
    assert world.a.resident.display_name not in text and "person" not in text
    assert set(r) == {
        "consultation_id",
        "status",
        "options",
        "households_voted",
        "households_eligible",
    }
    assert all(set(o) == {"id", "position", "label", "votes"} for o in r["options"])


def test_screen_sees_live_results(world):
    c = open_vote(world.a)
    votes.cast_vote(actor(world.a.resident), c.id, position=2)
    screen = actor(device=world.a.device)
    assert [x.id for x in votes.list_for_screen(screen)] == [c.id]
    assert votes.results(screen, c.id)["options"][1]["votes"] == 1
    with pytest.raises(Forbidden):
        votes.cast_vote(screen, c.id, position=1)


def test_bad_options(world):
    with pytest.raises(Invalid):
        open_vote(world.a, options=["同意"])
    with pytest.raises(Invalid):
        open_vote(world.a, options=["同意", "同意"])
    c = open_vote(world.a)
    with pytest.raises(Invalid):
        votes.cast_vote(actor(world.a.resident), c.id, position=9)
    other = open_vote(world.a)
    with pytest.raises(Invalid):  # an option of another consultation
        votes.cast_vote(actor(world.a.resident), c.id, option_id=other.options[0].id)


def test_proposal_opens_once_seconded_by_n_households(world, app, monkeypatch):
    monkeypatch.setitem(app.config, "CONSULTATION_SECONDS", 2)
    c = votes.propose(actor(world.a.resident), title="小区停车改造", body="划线停车")
    db.session.commit()
    assert c.status == "proposed" and votes.second_count(c) == 1
    # The elder is the same household: seconding again changes nothing.
    votes.second(actor(world.a.elder), c.id)
    assert votes.second_count(c) == 1 and c.status == "proposed"
    with pytest.raises(Conflict):
        votes.cast_vote(actor(world.a.resident), c.id, position=1)
    neighbour = neighbour_in_building_2(world.a)
    votes.second(actor(neighbour), c.id)
    db.session.commit()
    assert c.status == "open" and c.closes_at > utcnow()
    with pytest.raises(Conflict):
        votes.second(actor(neighbour), c.id)
    votes.cast_vote(actor(neighbour), c.id, position=1)


def test_per_community_seconds(world, app, monkeypatch):
    monkeypatch.setitem(
        app.config, "CONSULTATION_SECONDS_BY_COMMUNITY", {world.a.community.code: 1}
    )
    c = votes.propose(actor(world.a.resident), title="楼道堆物清理")
    assert c.status == "open"


def test_comments_from_invited_parties_only(world):
    c = open_vote(world.a, invited=["property", "street_office"])
    votes.add_comment(actor(world.a.org_member), c.id, "物业可以承担日常维护。")
    votes.add_comment(actor(world.official), c.id, "街道支持。")
    votes.add_comment(actor(world.a.staff), c.id, "下周开居民会。")
    with pytest.raises(Forbidden):
        votes.add_comment(actor(world.a.resident), c.id, "我也想说")
    parties = [x.party for x in votes.comments(actor(world.a.resident), c.id)]
    assert parties == ["property", "street_office", "committee"]
    uninvited = open_vote(world.a)
    with pytest.raises(NotFound):  # an uninvited organization does not see it
        votes.add_comment(actor(world.a.org_member), uninvited.id, "x")


def test_decision_is_recorded_and_announced(world):
    c = open_vote(world.a)
    votes.cast_vote(actor(world.a.resident), c.id, position=1)
    staff = actor(world.a.staff)
    with pytest.raises(Conflict):
        votes.record_decision(staff, c.id, decision="加装")
    votes.close_consultation(staff, c.id)
    votes.record_decision(staff, c.id, decision="同意加装，下月施工。", minutes="到会32户。")
    db.session.commit()
    assert c.status == "decided" and c.minutes == "到会32户。"
    a = db.session.get(Announcement, c.announcement_id)
    assert a.status == "published" and "同意加装" in a.body and "加装电梯" in a.title
    assert "同意 1" in a.body


def test_a_vote_earns_points_once_and_a_replaced_members_go_back(world):
    from app.participation import points

    c = open_vote(world.a)
    earned = points.DEFAULT_POINTS["vote_cast"]
    votes.cast_vote(actor(world.a.resident), c.id, position=1)
    votes.cast_vote(actor(world.a.resident), c.id, position=2)  # a change earns nothing more
    db.session.commit()
    assert points.balance(world.a.resident.id) == earned
    # another member of the household votes: theirs counts now, and so do the points
    votes.cast_vote(actor(world.a.elder), c.id, position=3)
    db.session.commit()
    assert points.balance(world.a.resident.id) == 0
    assert points.balance(world.a.elder.id) == earned
