"""Staff console /staff/votes: put a topic, close it, record and announce the decision."""

from app.extensions import db
from app.models.announcement import Announcement
from app.models.consultation import Consultation
from app.participation import votes
from app.people.actors import Actor
from tests.pages import csrf_token as _csrf
from tests.pages import staff_login as _login


def test_open_close_decide(client, world):
    _login(client, world.a.staff)
    token = _csrf(client, "/staff/votes")
    r = client.post(
        "/staff/votes",
        data={
            "csrf_token": token,
            "community_id": world.a.community.id,
            "title": "加装电梯",
            "options": "同意\n不同意",
            "scope": "community",
            "invited": ["property"],
        },
    )
    assert r.status_code == 302
    c = db.session.query(Consultation).one()
    assert c.status == "open" and [o.label for o in c.options] == ["同意", "不同意"]
    votes.cast_vote(Actor.for_person(world.a.resident), c.id, position=1)
    db.session.commit()
    page = client.get("/staff/votes").get_data(as_text=True)
    assert "加装电梯" in page and world.a.resident.display_name not in page
    client.post(f"/staff/votes/{c.id}/close", data={"csrf_token": token})
    r = client.post(
        f"/staff/votes/{c.id}/decision",
        data={"csrf_token": token, "decision": "同意加装", "minutes": "到会20户"},
    )
    assert r.status_code == 302
    db.session.expire_all()
    c = db.session.get(Consultation, c.id)
    assert c.status == "decided"
    assert db.session.get(Announcement, c.announcement_id).title.endswith("加装电梯")


def test_other_community_and_other_roles(client, world):
    c = votes.create_consultation(Actor.for_person(world.a.staff), title="停车改造")
    db.session.commit()
    _login(client, world.b.staff)
    token = _csrf(client, "/staff/votes")
    assert "停车改造" not in client.get("/staff/votes").get_data(as_text=True)
    client.post(f"/staff/votes/{c.id}/close", data={"csrf_token": token})
    db.session.expire_all()
    assert db.session.get(Consultation, c.id).status == "open"
    assert client.get(f"/staff/votes?community_id={world.a.community.id}").status_code == 404
