"""The assistant's greeting tells a signed-in resident how many of their matters wait for their
confirmation (the count easy mode's home shows: 有 N 件事等您确认), in Chinese and English;
"再说一遍" says it again; a neighbour's matters and a lobby screen never hear it."""

from __future__ import annotations

from sqlalchemy import select

from app.affairs import intake, workflow
from app.infra.text import zh_quantity
from app.models.case import CaseCategory as Category
from app.people.actors import Actor
from tests.voice_app.test_text_dialog import spoken, talk

PLAIN_ZH = (
    "您好，我是社区语音助手。"
    "您可以说：听公告，我要反映问题，查进度，最近有什么活动，报名活动，投票，联系居委会。"
)


def greet(client, headers, **body):
    response = client.post("/api/v1/voice/conversations", json=body, headers=headers)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def resolve(db, world, reporter, *descriptions):
    """Matters of `reporter` that staff have resolved (they wait for the reporter)."""
    staff = Actor.for_person(world.a.staff)
    repair = db.session.scalar(
        select(Category).where(
            Category.community_id == world.a.community.id, Category.code == "repair"
        )
    )
    made = []
    for text in descriptions:
        case = intake.submit_case(
            Actor.for_person(reporter), category_id=repair.id, description=text
        )
        workflow.transition(staff, case.id, "accept")
        workflow.assign_case(staff, case.id, person_id=world.a.staff.id)
        workflow.transition(staff, case.id, "resolve", note="修好了。")
        made.append(case)
    db.session.commit()
    return made


def test_the_greeting_says_how_many_wait_for_the_resident(client, auth, cats, db, app):
    a = cats.a
    headers = auth.headers(a.elder)
    assert greet(client, headers)["reply_text"] == PLAIN_ZH  # nothing waits: the plain greeting
    made = resolve(db, cats, a.elder, "灯坏了。", "门坏了。")
    resolve(db, cats, a.resident, "窗坏了。")  # a neighbour's never counts
    hello = greet(client, headers)
    assert hello["reply_text"] == PLAIN_ZH + "有两件事等您确认。"
    assert hello["state"] == "idle" and hello["listen"] == "commands"
    assert spoken(app, hello["reply_audio_url"]).endswith("有两件事等您确认。")
    again = talk(client, headers, "再说一遍", hello["conversation_id"])
    assert again["reply_text"] == hello["reply_text"]
    # confirmed from easy mode: one left
    workflow.transition(Actor.for_person(a.elder), made[0].id, "confirm")
    db.session.commit()
    assert greet(client, headers)["reply_text"].endswith("有一件事等您确认。")
    english = greet(client, headers, language="en")["reply_text"]
    assert english.startswith("Hello,") and english.endswith(
        "contact the committee. 1 matter waits for you to confirm."
    )
    resolve(db, cats, a.elder, "水管漏了。")
    assert greet(client, headers, language="en")["reply_text"].endswith(
        " 2 matters wait for you to confirm."
    )


def test_screens_and_people_without_waiting_matters_hear_the_plain_greeting(client, auth, cats, db):
    resolve(db, cats, cats.a.elder, "灯坏了。")
    assert greet(client, auth.headers(device=cats.a.device))["reply_text"] == PLAIN_ZH
    assert greet(client, auth.headers(cats.a.resident))["reply_text"] == PLAIN_ZH
    assert greet(client, auth.headers(cats.b.resident))["reply_text"] == PLAIN_ZH


def test_counts_are_said_as_chinese_quantities():
    assert [zh_quantity(n) for n in (1, 2, 3, 10, 12, 20, 21)] == [
        "一",
        "两",
        "三",
        "十",
        "十二",
        "二十",
        "二十一",
    ]
