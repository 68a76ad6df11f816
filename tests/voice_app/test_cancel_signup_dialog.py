"""取消报名 by voice, in Mandarin text over the real services: "取消报名" lists the caller's own
sign-ups (or goes straight to the one), reads the chosen activity back and asks 确认吗, and
nothing is withdrawn before the yes. The freed place goes to the first on the waiting list, as
for every other cancellation (app/participation/activities.cancel)."""

from __future__ import annotations

from sqlalchemy import select

from app.extensions import db
from app.models.notification import Notification
from app.participation import activities
from app.people.actors import Actor
from tests.voice_app.test_activities_dialog import _publish, _signups
from tests.voice_app.test_text_dialog import talk


def _sign_up(person, *activity_list):
    for activity in activity_list:
        activities.sign_up(Actor.for_person(person), activity.id)
    db.session.commit()


def test_choose_among_own_sign_ups_then_cancel_after_confirmation(client, auth, world):
    tea = _publish(world.a, "敬老茶话会", days=1)
    haircut = _publish(world.a, "义务理发", days=2)
    _sign_up(world.a.elder, tea, haircut)
    headers = auth.headers(world.a.elder)
    listed = talk(client, headers, "取消报名")
    cid = listed["conversation_id"]
    assert listed["intent"] == "cancel_signup" and listed["state"] == "choose_cancel_signup"
    assert "第1个，敬老茶话会" in listed["reply_text"]
    assert "第2个，义务理发" in listed["reply_text"]
    asked = talk(client, headers, "第二个", cid)
    assert asked["state"] == "confirm_cancel_signup" and asked["listen"] == "yesno"
    # the read-back names the activity, its time and place, and asks 确认吗
    assert "您要取消报名的是：义务理发" in asked["reply_text"]
    assert "社区活动室" in asked["reply_text"] and asked["reply_text"].endswith("确认吗？")
    assert "名额" not in asked["reply_text"]  # places left do not matter to a cancellation
    assert _signups(haircut) == [(world.a.elder.id, "signed_up")]  # nothing before the yes
    done = talk(client, headers, "确认", cid)
    assert "已为您取消报名：义务理发" in done["reply_text"] and done["state"] == "done"
    assert _signups(haircut) == [(world.a.elder.id, "cancelled")]
    assert _signups(tea) == [(world.a.elder.id, "signed_up")]
    # the cancelled one is no longer offered
    again = talk(client, headers, "取消报名")
    assert again["state"] == "confirm_cancel_signup" and "敬老茶话会" in again["reply_text"]


def test_the_freed_place_goes_to_the_waiting_list(client, auth, world):
    lunch = _publish(world.a, "包饺子", capacity=1)
    _sign_up(world.a.elder, lunch)
    _sign_up(world.a.resident, lunch)  # full: waits
    headers = auth.headers(world.a.elder)
    asked = talk(client, headers, "取消报名第一个")
    assert asked["state"] == "confirm_cancel_signup" and "包饺子" in asked["reply_text"]
    talk(client, headers, "对", asked["conversation_id"])
    assert _signups(lunch) == sorted(
        [(world.a.elder.id, "cancelled"), (world.a.resident.id, "signed_up")]
    )
    told = db.session.scalars(
        select(Notification).where(
            Notification.person_id == world.a.resident.id, Notification.kind == "activity_place"
        )
    ).all()
    assert len(told) == 1


def test_no_or_a_bare_cancel_keeps_the_sign_up(client, auth, world):
    lunch = _publish(world.a, "包饺子")
    _sign_up(world.a.resident, lunch)
    headers = auth.headers(world.a.resident)
    for answer in ("不", "不对", "取消"):
        asked = talk(client, headers, "我要取消报名")
        reply = talk(client, headers, answer, asked["conversation_id"])
        assert "报名还保留着" in reply["reply_text"] and reply["state"] == "done", answer
        assert _signups(lunch) == [(world.a.resident.id, "signed_up")]
        # "对" afterwards confirms nothing: the pending cancellation is gone
        talk(client, headers, "对", asked["conversation_id"])
        assert _signups(lunch) == [(world.a.resident.id, "signed_up")]


def test_cancel_with_the_number_while_choosing(client, auth, world):
    _sign_up(world.a.resident, _publish(world.a, "敬老茶话会"))
    haircut = _publish(world.a, "义务理发", days=2)
    _sign_up(world.a.resident, haircut)
    headers = auth.headers(world.a.resident)
    cid = talk(client, headers, "取消报名")["conversation_id"]
    # "取消第二个" names a choice here; it is not "never mind"
    asked = talk(client, headers, "取消第二个", cid)
    assert asked["state"] == "confirm_cancel_signup" and "义务理发" in asked["reply_text"]
    talk(client, headers, "是的", cid)
    assert _signups(haircut) == [(world.a.resident.id, "cancelled")]


def test_only_ones_own_sign_ups(client, auth, world):
    lunch = _publish(world.a, "包饺子")
    _sign_up(world.a.elder, lunch)
    reply = talk(client, auth.headers(world.a.resident), "取消报名")
    assert "您现在没有报名的活动" in reply["reply_text"] and reply["state"] == "done"
    assert "包饺子" not in reply["reply_text"]
    assert _signups(lunch) == [(world.a.elder.id, "signed_up")]


def test_a_family_member_cancels_for_the_elder(client, auth, world):
    lunch = _publish(world.a, "包饺子")
    _sign_up(world.a.elder, lunch)
    headers = auth.headers(world.a.relative, act_for=world.a.elder)
    asked = talk(client, headers, "取消报名")
    assert "包饺子" in asked["reply_text"]
    talk(client, headers, "对", asked["conversation_id"])
    assert _signups(lunch) == [(world.a.elder.id, "cancelled")]


def test_a_screen_is_told_kindly_how_to_cancel(client, auth, world):
    lunch = _publish(world.a, "包饺子")
    _sign_up(world.a.resident, lunch)
    reply = talk(client, auth.headers(device=world.a.device), "取消报名")
    assert "手机号和密码" in reply["reply_text"] and reply["state"] == "done"
    assert _signups(lunch) == [(world.a.resident.id, "signed_up")]


def test_in_english_too(client, auth, world):
    tea = _publish(world.a, "Tea party")
    _sign_up(world.a.resident, tea)
    headers = auth.headers(world.a.resident)
    asked = talk(client, headers, "cancel my sign-up", language="en")
    assert "You want to cancel your sign-up for Tea party" in asked["reply_text"]
    assert asked["reply_text"].endswith("Are you sure?")
    done = talk(client, headers, "yes", asked["conversation_id"])
    assert "Your sign-up for Tea party is cancelled" in done["reply_text"]
    assert _signups(tea) == [(world.a.resident.id, "cancelled")]
