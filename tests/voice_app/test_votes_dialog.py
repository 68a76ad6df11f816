"""议事投票 by voice, in Mandarin text over the real services: "有什么投票", then "第二个" or an
option's name, a read-back, and nothing is counted before "对"."""

from __future__ import annotations

from app.extensions import db
from app.participation import votes
from app.people.actors import Actor
from tests.voice_app.test_text_dialog import talk


def _lift(side):
    c = votes.create_consultation(
        Actor.for_person(side.staff), title="加装电梯", options=["同意", "不同意", "弃权"]
    )
    db.session.commit()
    return c


def _voted(side, c) -> list[int]:
    db.session.expire_all()
    return [o["votes"] for o in votes.results(Actor.for_person(side.staff), c.id)["options"]]


def test_list_choose_by_number_confirm_and_vote(client, auth, world):
    c = _lift(world.a)
    headers = auth.headers(world.a.elder)
    first = talk(client, headers, "有什么投票")
    cid = first["conversation_id"]
    assert first["intent"] == "votes" and first["state"] == "choose_vote"
    assert "加装电梯" in first["reply_text"] and "第2个，不同意" in first["reply_text"]
    chosen = talk(client, headers, "第二个", cid)
    assert chosen["state"] == "confirm_vote" and "不同意" in chosen["reply_text"]
    assert _voted(world.a, c) == [0, 0, 0]  # nothing counted before the yes
    done = talk(client, headers, "对", cid)
    assert "您已投票，可在截止前修改" in done["reply_text"]
    assert _voted(world.a, c) == [0, 1, 0]


def test_choose_by_name_and_say_no(client, auth, world):
    c = _lift(world.a)
    headers = auth.headers(world.a.resident)
    cid = talk(client, headers, "我要投票")["conversation_id"]
    chosen = talk(client, headers, "不同意", cid)
    assert "您选的是：不同意" in chosen["reply_text"]  # the longest name said wins
    back = talk(client, headers, "不对", cid)
    assert back["state"] == "choose_vote"
    talk(client, headers, "同意", cid)
    talk(client, headers, "对的", cid)
    assert _voted(world.a, c) == [1, 0, 0]


def test_nothing_to_vote_on_and_other_communities(client, auth, world):
    _lift(world.b)
    reply = talk(client, auth.headers(world.a.resident), "有什么投票")
    assert "现在没有需要您投票的事" in reply["reply_text"]
