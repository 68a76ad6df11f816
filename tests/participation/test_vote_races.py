"""No double counting under concurrent votes: the (consultation, household) unique key decides,
with racing threads, on SQLite and on PostgreSQL alike (the suite runs on both)."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

from app.extensions import db
from app.infra.errors import Conflict
from app.models import Household, Person
from app.models.consultation import Consultation, ConsultationVote
from app.participation import votes
from app.people.actors import Actor
from tests import factories


def _race(app, people_ids, consultation_id, positions):
    barrier = threading.Barrier(len(people_ids))

    def one(i):
        with app.app_context():
            person = db.session.get(Person, people_ids[i])
            barrier.wait(timeout=30)
            try:
                votes.cast_vote(Actor.for_person(person), consultation_id, position=positions[i])
                db.session.commit()
                return "ok"
            finally:
                db.session.remove()

    with ThreadPoolExecutor(len(people_ids)) as pool:
        return list(pool.map(one, range(len(people_ids))))


def test_one_household_racing_counts_once(app, world):
    side = world.a
    household = side.resident.household
    members = [side.resident, side.elder] + [
        factories.resident(side.community, household=household) for _ in range(4)
    ]
    c = votes.create_consultation(
        Actor.for_person(side.staff), title="加装电梯", options=["同意", "不同意"]
    )
    db.session.commit()
    ids, cid = [p.id for p in members], c.id
    outcome = _race(app, ids, cid, [1 + i % 2 for i in range(len(ids))])
    assert outcome == ["ok"] * len(ids)
    db.session.expire_all()
    assert db.session.query(ConsultationVote).filter_by(consultation_id=cid).count() == 1
    r = votes.results(Actor.for_person(side.staff), cid)
    assert r["households_voted"] == 1 and sum(o["votes"] for o in r["options"]) == 1


def test_many_households_racing_each_count_once(app, world):
    side = world.a
    building = side.community.buildings[0]
    people = []
    for n in range(6):
        h = Household(building=building, unit="2", room=f"{n + 1}01")
        db.session.add(h)
        db.session.flush()
        people += [factories.resident(side.community, household=h) for _ in range(2)]
    c = votes.create_consultation(
        Actor.for_person(side.staff), title="小区停车改造", options=["同意", "不同意"]
    )
    db.session.commit()
    ids, cid = [p.id for p in people], c.id
    outcome = _race(app, ids, cid, [1] * len(ids))
    assert outcome == ["ok"] * len(ids)
    db.session.expire_all()
    assert db.session.get(Consultation, cid).status == "open"
    r = votes.results(Actor.for_person(side.staff), cid)
    assert r["options"][0]["votes"] == 6 and r["households_voted"] == 6


def test_votes_racing_a_close_are_counted_or_refused(app, world):
    side = world.a
    building = side.community.buildings[0]
    people = []
    for n in range(5):
        h = Household(building=building, unit="3", room=f"{n + 1}02")
        db.session.add(h)
        db.session.flush()
        people.append(factories.resident(side.community, household=h))
    c = votes.create_consultation(
        Actor.for_person(side.staff), title="加装电梯", options=["同意", "不同意"]
    )
    db.session.commit()
    ids, cid, staff_id = [p.id for p in people], c.id, side.staff.id
    barrier = threading.Barrier(len(ids) + 1)

    def vote(i):
        with app.app_context():
            person = db.session.get(Person, ids[i])
            barrier.wait(timeout=30)
            try:
                votes.cast_vote(Actor.for_person(person), cid, position=1)
                db.session.commit()
                return "ok"
            except Conflict:
                db.session.rollback()
                return "closed"
            finally:
                db.session.remove()

    def close():
        with app.app_context():
            staff = db.session.get(Person, staff_id)
            barrier.wait(timeout=30)
            try:
                votes.close_consultation(Actor.for_person(staff), cid)
                db.session.commit()
            finally:
                db.session.remove()
            return "closer"

    with ThreadPoolExecutor(len(ids) + 1) as pool:
        futures = [pool.submit(vote, i) for i in range(len(ids))] + [pool.submit(close)]
        outcome = [f.result() for f in futures]
    db.session.expire_all()
    closed = db.session.get(Consultation, cid)
    assert closed.status == "closed"
    rows = db.session.query(ConsultationVote).filter_by(consultation_id=cid).all()
    # Every vote told "counted" is counted, every vote told "closed" is not: the row lock
    # (PostgreSQL) or the write lock (SQLite) orders them with the close.
    assert len(rows) == outcome.count("ok")
    assert outcome.count("ok") + outcome.count("closed") == len(ids)
    counts = votes.results(Actor.for_person(side.staff), cid)
    assert counts["households_voted"] == len(rows)
