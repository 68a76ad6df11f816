"""Numbers typed into pages, forms and the screens' stream. "²" and "①" pass str.isdigit(),
yet int() refuses them: each place below answered such a value with a 500."""

from __future__ import annotations

import pytest

from app.extensions import db
from app.participation import votes
from app.people.actors import Actor
from kiosk.sse import parse_last_event_id
from tests.affairs.conftest import submit
from tests.easy.conftest import EasyClient
from tests.pages import csrf_token, staff_login

NOT_NUMBERS = ["\u00b2", "\u2460", "1\u00b2"]


def _refused(response) -> None:
    assert response.status_code < 500, response.get_data(as_text=True)[:300]


@pytest.mark.parametrize("value", NOT_NUMBERS)
def test_staff_pages_refuse_digits_that_are_no_number(client, cats, value):
    case = submit(cats.a)
    staff_login(client, cats.a.staff)
    page = client.get(f"/staff/cases/?page={value}")
    assert 400 <= page.status_code < 500
    token = csrf_token(client, "/staff/")
    _refused(
        client.post(
            f"/staff/cases/{case.id}/assign", data={"assignee": f"p:{value}", "csrf_token": token}
        )
    )
    db.session.expire_all()
    assert case.assignee_person_id is None
    _refused(
        client.post(
            "/staff/activities/new",
            data={
                "community_id": cats.a.community.id,
                "title": "楼道清洁",
                "place": "2号楼前",
                "starts_at": "2099-01-01T09:00",
                "ends_at": "2099-01-01T11:00",
                "capacity": value,
                "csrf_token": token,
            },
        )
    )
    _refused(
        client.post(
            f"/staff/announcements/new?community_id={cats.a.community.id}",
            data={
                "title": "停水通知",
                "body": "明天停水。",
                "window_days": value,
                "csrf_token": token,
            },
        )
    )


@pytest.mark.parametrize("value", NOT_NUMBERS)
def test_an_easy_vote_refuses_a_position_that_is_no_number(client, world, value):
    lift = votes.create_consultation(
        Actor.for_person(world.a.staff), title="加装电梯", options=["同意", "不同意"]
    )
    db.session.commit()
    easy = EasyClient(client)
    easy.sign_in(world.a.resident)
    r = client.get(f"/easy/votes/{lift.id}/confirm?position={value}")
    assert 400 <= r.status_code < 500
    r = easy.post(f"/easy/votes/{lift.id}", {"position": value})
    assert 400 <= r.status_code < 500
    assert votes.results(Actor.for_person(world.a.staff), lift.id)["households_voted"] == 0


def test_the_screens_stream_ignores_a_last_event_id_that_is_no_number():
    for value in NOT_NUMBERS:
        assert parse_last_event_id(value) is None
    assert parse_last_event_id(" 12 ") == 12
    assert parse_last_event_id("1" * 19) is None
