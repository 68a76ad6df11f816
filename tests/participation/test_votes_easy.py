"""Easy mode 议事投票: list, big options, confirm, "您已投票，可在截止前修改", results."""

from __future__ import annotations

import pytest

from app.extensions import db
from app.participation import votes
from app.people.actors import Actor
from tests.easy.conftest import EasyClient


@pytest.fixture()
def easy(client):
    """The easy-mode test client."""
    return EasyClient(client)


@pytest.fixture()
def lift(world):
    """An open vote in community A."""
    c = votes.create_consultation(
        Actor.for_person(world.a.staff),
        title="加装电梯",
        body="3号楼加装电梯，费用按楼层分摊。",
        options=["同意", "不同意", "弃权"],
    )
    db.session.commit()
    return c


def test_resident_votes_with_a_confirmation(easy, world, lift):
    easy.sign_in(world.a.resident)
    html = easy.page("/easy/votes", headers={"Accept-Language": "zh-CN"})
    assert "加装电梯" in html
    html = easy.page(f"/easy/votes/{lift.id}")
    assert f"/easy/votes/{lift.id}/confirm?position=2" in html
    html = easy.page(f"/easy/votes/{lift.id}/confirm?position=2")
    assert "不同意" in html
    # Nothing counted before the confirmation.
    assert votes.results(Actor.for_person(world.a.staff), lift.id)["households_voted"] == 0
    r = easy.post(f"/easy/votes/{lift.id}", {"position": "2"})
    assert r.status_code == 302, r.get_data(as_text=True)[:3000]
    html = easy.page(f"/easy/votes/{lift.id}")
    assert "can change it until the vote closes" in html or "可在截止前修改" in html
    assert 'aria-current="true"' in html
    assert votes.results(Actor.for_person(world.a.staff), lift.id)["options"][1]["votes"] == 1


def test_chinese_words(easy, world, lift, client):
    easy.sign_in(world.a.resident)
    easy.post(f"/easy/votes/{lift.id}", {"position": "1"})
    html = easy.page(f"/easy/votes/{lift.id}", headers={"Accept-Language": "zh-CN,zh"})
    assert "您已投票，可在截止前修改" in html
    assert "一户一票" in html


def test_bad_choice_and_closed_vote(easy, world, lift):
    easy.sign_in(world.a.resident)
    assert easy.post(f"/easy/votes/{lift.id}", {"position": "x"}).status_code == 422
    easy.page(f"/easy/votes/{lift.id}/confirm?position=7", status=422)
    votes.close_consultation(Actor.for_person(world.a.staff), lift.id)
    db.session.commit()
    assert easy.post(f"/easy/votes/{lift.id}", {"position": "1"}).status_code == 409


def test_other_building_and_other_community_see_nothing(easy, world, lift):
    easy.sign_in(world.b.resident)
    easy.page(f"/easy/votes/{lift.id}", status=404)
    assert "加装电梯" not in easy.page("/easy/votes")
