"""活动报名 by voice, in Mandarin text over the real services: "有什么活动", then "报名第二个"
(or "我要报名" straight away), a read-back of the activity (title, time, place), and nobody is
signed up before "对"."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from app.assistant.stores import DatabaseDialogStore
from app.extensions import db
from app.models.activity import SignUp
from app.models.base import utcnow
from app.participation import activities
from app.people.actors import Actor
from tests.voice_app.test_text_dialog import talk


def _publish(side, title, *, capacity=10, days=1):
    start = utcnow() + timedelta(days=days)
    activity = activities.publish(
        Actor.for_person(side.staff),
        side.community.id,
        title=title,
        place="社区活动室",
        starts_at=start,
        ends_at=start + timedelta(hours=2),
        capacity=capacity,
    )
    db.session.commit()
    return activity


def _signups(activity) -> list[tuple[int, str]]:
    db.session.expire_all()
    rows = db.session.scalars(select(SignUp).where(SignUp.activity_id == activity.id))
    return sorted((s.person_id, s.status) for s in rows)


def test_list_then_sign_up_for_the_second_after_yes(client, auth, world):
    _publish(world.a, "敬老茶话会", days=1)
    second = _publish(world.a, "义务理发", days=2)
    headers = auth.headers(world.a.elder)
    listed = talk(client, headers, "有什么活动")
    cid = listed["conversation_id"]
    assert listed["intent"] == "activities"
    assert listed["reply_text"].index("敬老茶话会") < listed["reply_text"].index("义务理发")
    asked = talk(client, headers, "报名第二个", cid)
    assert asked["intent"] == "signup" and asked["state"] == "confirm_signup"
    # the read-back names the activity, its time and its place
    assert "您要报名的是：义务理发" in asked["reply_text"]
    assert "社区活动室" in asked["reply_text"] and "月" in asked["reply_text"]
    assert asked["listen"] == "yesno"
    assert _signups(second) == []  # nothing before the yes
    # the pending choice is in the shared store (the database table every worker reads, as a
    # vote's is), not in this worker's memory: any worker can take the "对"
    db.session.expire_all()
    stored = DatabaseDialogStore().get(cid)
    assert stored["state"] == "confirm_signup" and stored["slots"]["activity_id"] == second.id
    done = talk(client, headers, "对", cid)
    assert "报名成功：义务理发" in done["reply_text"] and done["state"] == "done"
    assert _signups(second) == [(world.a.elder.id, "signed_up")]
    # asking again says so kindly and changes nothing
    cid = talk(client, headers, "报名第二个")["conversation_id"]
    again = talk(client, headers, "是的", cid)
    assert "您已经报过名了" in again["reply_text"]
    assert _signups(second) == [(world.a.elder.id, "signed_up")]


def test_sign_up_directly_choose_from_the_list_and_say_no(client, auth, world):
    _publish(world.a, "敬老茶话会")
    second = _publish(world.a, "义务理发", days=2)
    headers = auth.headers(world.a.resident)
    first = talk(client, headers, "我要报名")
    cid = first["conversation_id"]
    assert first["state"] == "choose_activity"
    assert "第1个，敬老茶话会" in first["reply_text"] and "第2个，义务理发" in first["reply_text"]
    chosen = talk(client, headers, "第二个", cid)
    assert chosen["state"] == "confirm_signup" and "义务理发" in chosen["reply_text"]
    no = talk(client, headers, "不", cid)
    assert "没有为您报名" in no["reply_text"] and no["state"] == "done"
    assert _signups(second) == []
    # "对" afterwards confirms nothing: the pending choice is gone
    talk(client, headers, "对", cid)
    assert _signups(second) == []


def test_full_activity_puts_the_caller_on_the_waiting_list(client, auth, world):
    lunch = _publish(world.a, "包饺子", capacity=1)
    activities.sign_up(Actor.for_person(world.a.resident), lunch.id)
    db.session.commit()
    headers = auth.headers(world.a.elder)
    asked = talk(client, headers, "我要报名")  # only one activity: straight to the read-back
    assert asked["state"] == "confirm_signup" and "包饺子" in asked["reply_text"]
    done = talk(client, headers, "好的", asked["conversation_id"])
    assert "已经报满了，已为您排在候补第1位" in done["reply_text"]
    assert (world.a.elder.id, "waitlisted") in _signups(lunch)


def test_a_screen_is_told_kindly_how_to_sign_up(client, auth, world):
    lunch = _publish(world.a, "包饺子")
    screen = auth.headers(device=world.a.device)
    reply = talk(client, screen, "我要报名")
    assert "手机号和密码" in reply["reply_text"] and "长辈模式" in reply["reply_text"]
    assert reply["state"] == "done"
    assert _signups(lunch) == []


def test_a_family_member_signs_the_elder_up(client, auth, world):
    lunch = _publish(world.a, "包饺子")
    headers = auth.headers(world.a.relative, act_for=world.a.elder)
    cid = talk(client, headers, "报名")["conversation_id"]
    talk(client, headers, "对", cid)
    db.session.expire_all()
    signup = db.session.scalar(select(SignUp).where(SignUp.activity_id == lunch.id))
    assert signup.person_id == world.a.elder.id
    assert signup.signed_up_by_id == world.a.relative.id


def test_nothing_to_sign_up_for_in_another_community(client, auth, world):
    _publish(world.b, "包饺子")
    reply = talk(client, auth.headers(world.a.resident), "我要报名")
    assert "现在没有可以报名的活动" in reply["reply_text"]


def test_in_english_too(client, auth, world):
    tea = _publish(world.a, "Tea party")
    headers = auth.headers(world.a.resident)
    asked = talk(client, headers, "sign me up", language="en")
    assert "You want to sign up for Tea party" in asked["reply_text"]
    done = talk(client, headers, "yes", asked["conversation_id"])
    assert "You are signed up for Tea party" in done["reply_text"]
    assert _signups(tea) == [(world.a.resident.id, "signed_up")]
