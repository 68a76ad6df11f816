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


def _attr(html: str, name: str) -> str | None:
    import re
    from html import unescape

    found = re.search(rf'{name}="([^"]*)"', html)
    return unescape(found.group(1)) if found else None


def test_open_vote_page_refreshes_its_counts_from_the_results_api(easy, world, lift, app):
    """The page names the results API to poll (and how often); with the page's own session that
    API answers the counts, a neighbour's later vote included (easy.js redraws them)."""
    app.config["EASY_VOTES_POLL_SECONDS"] = 7
    easy.sign_in(world.a.resident)
    easy.post(f"/easy/votes/{lift.id}", {"position": "1"})
    html = easy.page(f"/easy/votes/{lift.id}", headers={"Accept-Language": "zh-CN"})
    url = _attr(html, "data-results")
    assert url == f"/api/v1/consultations/{lift.id}/results"
    assert _attr(html, "data-poll-seconds") == "7"
    households, turnout = _attr(html, "data-households"), _attr(html, "data-turnout")
    assert "{n}" in households and "户" in households
    assert "{voted}" in turnout and "{all}" in turnout
    assert 'class="turnout" role="status"' in html  # a change is announced politely
    first = easy.client.get(url, headers={"Accept": "application/json"})
    assert first.status_code == 200
    assert [o["votes"] for o in first.get_json()["options"]] == [1, 0, 0]
    # another household votes while the page is open
    from app.models import Household
    from tests import factories

    building = world.a.community.buildings[0]
    neighbour = factories.resident(
        world.a.community, household=Household(building=building, unit="2", room="202")
    )
    votes.cast_vote(Actor.for_person(neighbour), lift.id, position=2)
    db.session.commit()
    again = easy.client.get(url, headers={"Accept": "application/json"}).get_json()
    assert [o["votes"] for o in again["options"]] == [1, 1, 0]
    assert again["households_voted"] == 2 and again["status"] == "open"
    option_ids = [o["id"] for o in again["options"]]
    assert all(f'data-option="{i}"' in html for i in option_ids)  # where each count is drawn


def test_closed_vote_page_does_not_poll(easy, world, lift):
    easy.sign_in(world.a.resident)
    votes.close_consultation(Actor.for_person(world.a.staff), lift.id)
    db.session.commit()
    html = easy.page(f"/easy/votes/{lift.id}")
    assert "data-option=" in html  # the results are shown …
    assert "data-results" not in html and 'role="status"' not in html  # … and final


def test_another_community_cannot_poll_the_results(easy, world, lift):
    easy.sign_in(world.b.resident)
    r = easy.client.get(
        f"/api/v1/consultations/{lift.id}/results", headers={"Accept": "application/json"}
    )
    assert r.status_code == 404
