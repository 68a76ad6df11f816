"""No double counting under concurrent votes: the (consultation, household) unique key decides,
with racing threads, on SQLite and on PostgreSQL alike (the suite runs on both). Members of one
household racing each other earn the household's points once; racing seconds open a proposal."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

from app.extensions import db
from app.infra.errors import Conflict
from app.models import Household, Person
from app.models.consultation import Consultation, ConsultationVote
from app.models.points import PointEntry
from app.participation import points, votes
from app.people.actors import Actor
from tests import factories
from tests.participation.helpers import requests_at_once, slowed


def _race(app, people_ids, consultation_id, positions):
    barrier = threading.Barrier(len(people_ids))

    def one(i):
        with app.app_context():
            person = db.session.get(Person, people_ids[i])
            barrier.wait(timeout=30)
            try:
                _vote, replaced = votes.cast_vote(
                    Actor.for_person(person), consultation_id, position=positions[i]
                )
                db.session.commit()
                return replaced
            finally:
                db.session.remove()

    with ThreadPoolExecutor(len(people_ids)) as pool:
        return list(pool.map(one, range(len(people_ids))))


def _new_households(side, n: int, *, unit: str, room: str) -> list[Household]:
    """`n` new households in the side's first building (`room` spells each number: "{}05")."""
    building = side.community.buildings[0]
    made = [Household(building=building, unit=unit, room=room.format(k + 1)) for k in range(n)]
    db.session.add_all(made)
    db.session.flush()
    return made


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
    # one member cast the household's vote, every later one replaced it
    assert sorted(outcome) == [False] + [True] * (len(ids) - 1)
    db.session.expire_all()
    assert db.session.query(ConsultationVote).filter_by(consultation_id=cid).count() == 1
    r = votes.results(Actor.for_person(side.staff), cid)
    assert r["households_voted"] == 1 and sum(o["votes"] for o in r["options"]) == 1
    assert _vote_points(cid) == {_voter(cid): points.DEFAULT_POINTS["vote_cast"]}


def _vote_points(cid):
    """Points for voting on the consultation, by person (those left with none are left out)."""
    by_person = {}
    for entry in db.session.query(PointEntry).filter_by(source_kind="vote_cast", source_id=cid):
        by_person[entry.person_id] = by_person.get(entry.person_id, 0) + entry.delta
    return {pid: n for pid, n in by_person.items() if n}


def _voter(cid):
    return db.session.query(ConsultationVote).filter_by(consultation_id=cid).one().person_id


def test_two_members_of_a_household_voting_at_once_earn_its_points_once(
    app, auth, world, monkeypatch
):
    side = world.a
    c = votes.create_consultation(
        Actor.for_person(side.staff), title="加装电梯", options=["同意", "不同意"]
    )
    db.session.commit()
    cid = c.id
    url = f"/api/v1/consultations/{cid}/votes"
    heads = [auth.headers(side.resident), auth.headers(side.elder)]
    assert side.resident.household_id == side.elder.household_id
    # The first vote stays uncommitted a while, so the other member's request reads the
    # household's vote while it is still in flight.
    monkeypatch.setattr(points, "credit_for", slowed(points.credit_for, 0.5))
    answers = requests_at_once(
        app,
        lambda client: client.post(url, json={"position": 1}, headers=heads[0]),
        lambda client: client.post(url, json={"position": 2}, headers=heads[1]),
    )
    assert [a.status_code for a in answers] == [200, 200]
    assert sorted(a.get_json()["replaced"] for a in answers) == [False, True]
    db.session.expire_all()
    assert _vote_points(cid) == {_voter(cid): points.DEFAULT_POINTS["vote_cast"]}
    r = votes.results(Actor.for_person(side.staff), cid)
    assert r["households_voted"] == 1


def test_racing_seconds_open_the_proposal(app, auth, world, monkeypatch):
    side = world.a
    seconders = [
        factories.resident(side.community, household=h)
        for h in _new_households(side, 3, unit="5", room="{}05")
    ]
    db.session.commit()
    monkeypatch.setitem(app.config, "CONSULTATION_SECONDS", 4)
    c = votes.propose(Actor.for_person(side.resident), title="增设快递柜")
    db.session.commit()
    cid = c.id
    assert c.status == "proposed"
    heads = [auth.headers(p) for p in seconders]
    url = f"/api/v1/consultations/{cid}/seconds"
    # Each second stays uncommitted a while after counting (PostgreSQL, READ COMMITTED: the
    # others' seconds are not seen by a count that does not wait for them).
    monkeypatch.setattr(votes, "second_count", slowed(votes.second_count, 0.4))
    answers = requests_at_once(
        app, *[(lambda client, h=h: client.post(url, headers=h)) for h in heads]
    )
    assert [a.status_code for a in answers] == [200] * 3
    db.session.expire_all()
    opened = db.session.get(Consultation, cid)
    assert opened.status == "open" and opened.closes_at is not None


def test_many_households_racing_each_count_once(app, world):
    side = world.a
    people = [
        factories.resident(side.community, household=h)
        for h in _new_households(side, 6, unit="2", room="{}01")
        for _ in range(2)
    ]
    c = votes.create_consultation(
        Actor.for_person(side.staff), title="小区停车改造", options=["同意", "不同意"]
    )
    db.session.commit()
    ids, cid = [p.id for p in people], c.id
    outcome = _race(app, ids, cid, [1] * len(ids))
    # in each household one member's vote came first and the other's replaced it
    assert sorted(outcome) == [False] * 6 + [True] * 6
    db.session.expire_all()
    assert db.session.get(Consultation, cid).status == "open"
    r = votes.results(Actor.for_person(side.staff), cid)
    assert r["options"][0]["votes"] == 6 and r["households_voted"] == 6
    # the points for voting: once per household, held by the member whose vote counts
    voters = {
        v.person_id for v in db.session.query(ConsultationVote).filter_by(consultation_id=cid)
    }
    assert _vote_points(cid) == dict.fromkeys(voters, points.DEFAULT_POINTS["vote_cast"])


def test_votes_racing_a_close_are_counted_or_refused(app, world):
    side = world.a
    people = [
        factories.resident(side.community, household=h)
        for h in _new_households(side, 5, unit="3", room="{}02")
    ]
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
