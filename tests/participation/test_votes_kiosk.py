"""议事投票 at the lobby screen: live counts, a touch vote after phone number and PIN."""

from __future__ import annotations

import pytest

from app.extensions import db
from app.participation import votes
from app.people.actors import Actor
from tests.factories import PIN


@pytest.fixture()
def lift(world):
    c = votes.create_consultation(
        Actor.for_person(world.a.staff), title="加装电梯", options=["同意", "不同意"]
    )
    db.session.commit()
    return c


def test_screen_lists_votes_with_counts_only(client, auth, world, lift):
    votes.cast_vote(Actor.for_person(world.a.resident), lift.id, position=2)
    db.session.commit()
    r = client.get("/kiosk/api/votes", headers=auth.headers(device=world.a.device))
    assert r.status_code == 200
    item = r.get_json()["items"][0]
    assert item["title"] == "加装电梯" and item["results"]["options"][1]["votes"] == 1
    assert item["my_vote"] is None and world.a.resident.phone not in r.get_data(as_text=True)
    other = client.get("/kiosk/api/votes", headers=auth.headers(device=world.b.device))
    assert other.get_json()["items"] == []


def test_touch_vote_after_phone_and_pin(client, auth, world, lift):
    screen = auth.headers(device=world.a.device)
    url = f"/kiosk/api/votes/{lift.id}"
    body = {"phone": world.a.elder.phone, "pin": PIN, "position": 1}
    r = client.post(url, json=body, headers=screen)
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["replaced"] is False and r.get_json()["results"]["households_voted"] == 1
    # Another member of the household at the same screen: the household's vote is replaced.
    r = client.post(
        url, json={**body, "phone": world.a.resident.phone, "position": 2}, headers=screen
    )
    assert r.get_json()["replaced"] is True
    assert [o["votes"] for o in r.get_json()["results"]["options"]] == [0, 1]


def test_wrong_pin_other_community_and_closed(client, auth, world, lift):
    screen = auth.headers(device=world.a.device)
    url = f"/kiosk/api/votes/{lift.id}"
    r = client.post(
        url, json={"phone": world.a.elder.phone, "pin": "000000", "position": 1}, headers=screen
    )
    assert r.status_code == 422 and "pin" in r.get_json()["errors"]
    r = client.post(
        url, json={"phone": world.b.resident.phone, "pin": PIN, "position": 1}, headers=screen
    )
    assert r.status_code == 403
    r = client.post(
        url,
        json={"phone": world.a.elder.phone, "pin": PIN, "position": 1},
        headers=auth.headers(device=world.b.device),
    )
    assert r.status_code == 404
    votes.close_consultation(Actor.for_person(world.a.staff), lift.id)
    db.session.commit()
    r = client.post(
        url, json={"phone": world.a.elder.phone, "pin": PIN, "position": 1}, headers=screen
    )
    assert r.status_code == 409
    # People (even staff) do not use the screen's routes.
    assert (
        client.post(
            url, json={"phone": "1", "pin": "1", "position": 1}, headers=auth.headers(world.a.staff)
        ).status_code
        == 403
    )
