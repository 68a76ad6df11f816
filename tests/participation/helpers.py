"""Shared builders for the participation tests."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from app.extensions import db
from app.models import Person
from app.models.base import utcnow
from app.participation import activities
from app.people.actors import Actor


def actor(person, on_behalf_of=None) -> Actor:
    """The actor for a person (as the request would build it)."""
    return Actor.for_person(person, on_behalf_of=on_behalf_of)


def new_activity(side, *, capacity=2, organization_id=None, by=None, starts_in=timedelta(days=1)):
    """An activity in the side's community, published by its committee (or `by`)."""
    start = utcnow() + starts_in
    activity = activities.publish(
        actor(by or side.staff),
        side.community.id,
        title="敬老茶话会",
        place="社区活动室",
        starts_at=start,
        ends_at=start + timedelta(hours=2),
        capacity=capacity,
        organization_id=organization_id,
    )
    db.session.commit()
    return activity


def concurrently(app, person_ids, fn):
    """Run fn(actor) for each person at once, each in its own app context and transaction;
    returns the results (or the exceptions)."""
    barrier = threading.Barrier(len(person_ids))

    def one(pid):
        with app.app_context():
            person = db.session.get(Person, pid)
            who = actor(person)
            barrier.wait(timeout=30)
            try:
                result = fn(who)
                db.session.commit()
                return result
            except Exception as error:  # noqa: BLE001 - reported to the test
                db.session.rollback()
                return error
            finally:
                db.session.remove()

    with ThreadPoolExecutor(len(person_ids)) as pool:
        return list(pool.map(one, person_ids))


def slowed(fn, seconds=0.4):
    """`fn`, taking `seconds` longer after it ran: holds a lock (or a transaction) open for
    long enough that a racing request surely meets it."""

    def slow(*args, **kwargs):
        result = fn(*args, **kwargs)
        time.sleep(seconds)
        return result

    return slow


def requests_at_once(app, *calls, stagger=0.0):
    """Send each call(client) through the real app from its own thread with its own test
    client, all started together (the n-th `stagger` × n seconds later, so the order they reach
    the database is known); returns the responses in order."""
    barrier = threading.Barrier(len(calls))

    def one(n):
        client = app.test_client()
        barrier.wait(timeout=30)
        time.sleep(stagger * n)
        return calls[n](client)

    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(one, range(len(calls))))
