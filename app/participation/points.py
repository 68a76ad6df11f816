"""Points (积分): the ledger, balances, rules per community, redemptions, the leaderboard.

The ledger is append-only. A source (an attended activity, certified volunteer hours, a vote
cast, a confirmed case) credits a person once: (source_kind, source_id, person_id, kind) is
unique and the credit is written with INSERT … ON CONFLICT DO NOTHING, so a retried or racing
credit finds the line already there. When the source is undone, `reverse` writes a negative
line naming the credit; if the source is done again (a check-in ticked again), the next credit
is kind "credit.2" (and its reversal "reversal.2"), so every round is still written once.

The leaderboard (争做社区治理第一人) ranks residents by points earned (credits less reversals;
spending points does not lower the rank) and names only people who turned on
`Person.show_on_leaderboard`. Everyone else is left out of the list and only counted
(`not_shown`), so nobody's name or rank is shown without their consent.
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql, sqlite

from app.extensions import db
from app.infra import uow
from app.infra.errors import Conflict, NotFound, invalid_field
from app.infra.text import clean_text
from app.models import Person
from app.models.base import utcnow
from app.models.points import REDEMPTION, SOURCE_KINDS, PointEntry, PointRule, Redemption
from app.people import authz
from app.people.actors import Actor

# Points a source earns where the community set no rule (volunteer_hours: per hour).
DEFAULT_POINTS = {
    "activity_attended": 5,
    "volunteer_hours": 10,
    "vote_cast": 2,
    "case_confirmed": 3,
}
REASONS = {
    "activity_attended": _l("Took part in an activity"),
    "volunteer_hours": _l("Volunteer service"),
    "vote_cast": _l("Voted on a community matter"),
    "case_confirmed": _l("Confirmed a resolved request"),
    REDEMPTION: _l("Points exchanged"),
}
MAX_REDEMPTION = 100000


# --- rules ---------------------------------------------------------------------------------
def rule_points(community_id: int, source_kind: str) -> int:
    """Points one `source_kind` earns in the community (its rule, else the default)."""
    points = db.session.scalar(
        select(PointRule.points).where(
            PointRule.community_id == community_id, PointRule.source_kind == source_kind
        )
    )
    return DEFAULT_POINTS[source_kind] if points is None else points


def rules(actor: Actor, community_id: int) -> list[dict]:
    """Every source kind with the points it earns in the community (readable by its people)."""
    authz.ensure_readable(actor, community_id)
    return [
        {
            "source_kind": kind,
            "points": rule_points(community_id, kind),
            "default": DEFAULT_POINTS[kind],
        }
        for kind in SOURCE_KINDS
    ]


def set_rule(actor: Actor, community_id: int, source_kind: str, points: int) -> list[dict]:
    """Set how many points a source kind earns in a community (committee staff)."""
    authz.ensure_manager(actor, community_id)
    if source_kind not in SOURCE_KINDS:
        raise invalid_field("source_kind", _l("Unknown kind of points."))
    if not isinstance(points, int) or not 0 <= points <= 1000:
        raise invalid_field("points", _l("Points are a whole number from 0 to 1000."))
    rule = db.session.scalar(
        select(PointRule).where(
            PointRule.community_id == community_id, PointRule.source_kind == source_kind
        )
    )
    if rule is None:
        db.session.add(PointRule(community_id=community_id, source_kind=source_kind, points=points))
    else:
        rule.points = points
    db.session.flush()
    return rules(actor, community_id)


# --- the ledger ----------------------------------------------------------------------------
def _insert_once(values: dict) -> None:
    dialect = db.session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    db.session.execute(
        insert(PointEntry.__table__)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["source_kind", "source_id", "person_id", "kind"])
    )


def _entries(source_kind: str, source_id: int, person_id: int, prefix: str) -> list[PointEntry]:
    return list(
        db.session.scalars(
            select(PointEntry)
            .where(
                PointEntry.source_kind == source_kind,
                PointEntry.source_id == source_id,
                PointEntry.person_id == person_id,
                PointEntry.kind.startswith(prefix),
            )
            .order_by(PointEntry.id)
            .execution_options(populate_existing=True)
        )
    )


def _round(n: int, word: str) -> str:
    return word if n == 1 else f"{word}.{n}"


def credit(
    person_id: int,
    community_id: int,
    source_kind: str,
    source_id: int,
    *,
    points: int | None = None,
    reason: str | None = None,
    by: int | None = None,
) -> PointEntry | None:
    """Credit a person for a source once (a retry returns the line already written); None when
    the rule gives 0 points. `points` defaults to the community's rule for the kind."""
    if source_kind not in SOURCE_KINDS:
        raise ValueError(f"unknown source kind {source_kind!r}")
    points = rule_points(community_id, source_kind) if points is None else points
    credits = _entries(source_kind, source_id, person_id, "credit")
    reversals = _entries(source_kind, source_id, person_id, "reversal")
    if len(credits) > len(reversals):
        return credits[-1]  # already credited (a retry)
    if points <= 0:
        return None
    person = db.session.get(Person, person_id)
    kind = _round(len(credits) + 1, "credit")
    _insert_once(
        {
            "person_id": person_id,
            "household_id": person.household_id if person is not None else None,
            "community_id": community_id,
            "delta": points,
            "reason": str(reason or REASONS[source_kind])[:200],
            "source_kind": source_kind,
            "source_id": source_id,
            "kind": kind,
            "created_by_id": by,
            "created_at": utcnow(),
        }
    )
    return _entries(source_kind, source_id, person_id, kind)[-1]


def credit_for(
    source_kind: str, source_id: int, person_id: int, community_id: int
) -> PointEntry | None:
    """What other domains call when something earning points happened (a vote cast, a case
    confirmed): credits the community's points for it, once however often it is called."""
    return credit(person_id, community_id, source_kind, source_id)


def reverse(
    source_kind: str, source_id: int, person_id: int | None = None, *, by: int | None = None
) -> list[PointEntry]:
    """The source was undone: write a negative line for each credit of it not yet reversed
    (for one person, or everyone it credited). Safe to call again."""
    query = select(PointEntry.person_id).where(
        PointEntry.source_kind == source_kind, PointEntry.source_id == source_id
    )
    if person_id is not None:
        query = query.where(PointEntry.person_id == person_id)
    written = []
    for pid in sorted(set(db.session.scalars(query))):
        credits = _entries(source_kind, source_id, pid, "credit")
        reversals = _entries(source_kind, source_id, pid, "reversal")
        if len(credits) <= len(reversals):
            continue
        original = credits[-1]
        kind = _round(len(reversals) + 1, "reversal")
        _insert_once(
            {
                "person_id": pid,
                "household_id": original.household_id,
                "community_id": original.community_id,
                "delta": -original.delta,
                "reason": str(_l("Cancelled: %(reason)s", reason=original.reason))[:200],
                "source_kind": source_kind,
                "source_id": source_id,
                "kind": kind,
                "reverses_id": original.id,
                "created_by_id": by,
                "created_at": utcnow(),
            }
        )
        written += _entries(source_kind, source_id, pid, kind)[-1:]
    return written


def balance(person_id: int) -> int:
    """A person's points now."""
    return db.session.scalar(
        select(func.coalesce(func.sum(PointEntry.delta), 0)).where(
            PointEntry.person_id == person_id
        )
    )


def household_balance(household_id: int | None) -> int:
    """The points of everyone in a household together."""
    if household_id is None:
        return 0
    return db.session.scalar(
        select(func.coalesce(func.sum(PointEntry.delta), 0)).where(
            PointEntry.household_id == household_id
        )
    )


def entry_view(entry: PointEntry) -> dict:
    """One ledger line as people see it."""
    return {
        "id": entry.id,
        "delta": entry.delta,
        "reason": entry.reason,
        "source_kind": entry.source_kind,
        "kind": entry.kind.split(".")[0],
        "created_at": entry.created_at,
    }


def _subject(actor: Actor) -> Person:
    authz.require_person(actor)
    return actor.subject


def my_points(actor: Actor, *, limit: int = 50) -> dict:
    """The caller's (or the represented elder's) balance, household balance and latest lines."""
    person = _subject(actor)
    entries = db.session.scalars(
        select(PointEntry)
        .where(PointEntry.person_id == person.id)
        .order_by(PointEntry.id.desc())
        .limit(limit)
    )
    return {
        "balance": balance(person.id),
        "household_balance": household_balance(person.household_id),
        "show_on_leaderboard": bool(person.show_on_leaderboard),
        "entries": [entry_view(e) for e in entries],
    }


def set_leaderboard_opt_in(actor: Actor, show: bool) -> dict:
    """Show (or hide) the caller's name on the leaderboard."""
    person = _subject(actor)
    person.show_on_leaderboard = bool(show)
    db.session.flush()
    return my_points(actor)


def person_points(actor: Actor, person_id: int, *, limit: int = 50) -> dict:
    """Staff: one resident's balance and history (before a redemption)."""
    authz.require_signed_in(actor)
    person = db.session.get(Person, person_id)
    if person is None or person.community_id is None:
        raise NotFound()
    authz.ensure_manager(actor, person.community_id)
    entries = db.session.scalars(
        select(PointEntry)
        .where(PointEntry.person_id == person.id)
        .order_by(PointEntry.id.desc())
        .limit(limit)
    )
    return {
        "person_id": person.id,
        "name": person.display_name,
        "balance": balance(person.id),
        "household_balance": household_balance(person.household_id),
        "entries": [entry_view(e) for e in entries],
    }


def _lock_person(person_id: int) -> None:
    # Redemptions of one person wait for each other, so two cannot both spend the same points.
    uow.lock_row(Person, person_id)


def redeem(actor: Actor, person_id: int, points: int, item: str) -> dict:
    """Record an exchange of points for something (积分兑换), by the community's staff; the
    balance cannot go below zero."""
    authz.require_signed_in(actor)
    person = db.session.get(Person, person_id)
    if person is None or person.community_id is None:
        raise NotFound()
    authz.ensure_manager(actor, person.community_id)
    if not isinstance(points, int) or not 1 <= points <= MAX_REDEMPTION:
        raise invalid_field("points", _l("Points are a whole number from 1 to 100000."))
    item = clean_text(item, "item", max_length=120)
    _lock_person(person.id)
    if balance(person.id) < points:
        raise Conflict(
            _l(
                "Not enough points: %(name)s has %(n)d.",
                name=person.display_name,
                n=balance(person.id),
            ),
            errors={"points": [str(_l("More than the balance."))]},
        )
    redemption = Redemption(
        person_id=person.id,
        community_id=person.community_id,
        points=points,
        item=item,
        recorded_by_id=actor.person_id,
    )
    db.session.add(redemption)
    db.session.flush()
    _insert_once(
        {
            "person_id": person.id,
            "household_id": person.household_id,
            "community_id": person.community_id,
            "delta": -points,
            "reason": str(_l("Exchanged for %(item)s", item=item))[:200],
            "source_kind": REDEMPTION,
            "source_id": redemption.id,
            "kind": REDEMPTION,
            "created_by_id": actor.person_id,
            "created_at": utcnow(),
        }
    )
    return person_points(actor, person.id)


def _ranked(community_id: int) -> list:
    earned = func.sum(PointEntry.delta).label("earned")
    return db.session.execute(
        select(PointEntry.person_id, earned)
        .where(PointEntry.community_id == community_id, PointEntry.kind != REDEMPTION)
        .group_by(PointEntry.person_id)
        .having(func.sum(PointEntry.delta) > 0)
        .order_by(earned.desc(), PointEntry.person_id)
    ).all()


def _shown_names(person_ids: list[int]) -> dict[int, str]:
    if not person_ids:
        return {}
    return dict(
        db.session.execute(
            select(Person.id, Person.display_name).where(
                Person.id.in_(person_ids), Person.show_on_leaderboard
            )
        ).all()
    )


def _ranks(rows):
    # Equal points, equal rank (1, 2, 2, 4).
    rank, previous = 0, None
    for position, row in enumerate(rows, start=1):
        if row.earned != previous:
            rank, previous = position, row.earned
        yield rank, row


def leaderboard(actor: Actor, community_id: int, *, limit: int = 10) -> dict:
    """争做社区治理第一人: the community's residents by points earned; only those who agreed
    are named (with their rank among everyone), the others only counted."""
    authz.ensure_readable(actor, community_id)
    rows = _ranked(community_id)
    names = _shown_names([r.person_id for r in rows])
    me = actor.subject.id if actor.subject is not None else None
    # A lobby screen is public: it gets the surname only, as in its snapshot (for_screen).
    shown = _screen_name if actor.device is not None else str
    items = [
        {
            "rank": rank,
            "name": shown(names[row.person_id]),
            "points": int(row.earned),
            "is_me": row.person_id == me,
        }
        for rank, row in _ranks(rows)
        if row.person_id in names
    ][:limit]
    return {
        "community_id": community_id,
        "items": items,
        "participants": len(rows),
        "not_shown": len(rows) - len(names),
    }


def _screen_name(name: str) -> str:
    # A public screen shows a consenting resident's surname only (王**), never the full name.
    return name[:1] + "*" * min(2, max(1, len(name) - 1)) if name else ""


def for_screen(community_id: int, limit: int = 3) -> dict:
    """The leaderboard on a lobby screen: the first places of people who agreed to be shown,
    by surname only; the others are only counted."""
    ranked = _ranked(community_id)
    shown = _shown_names([r.person_id for r in ranked])
    items = [
        {"rank": rank, "name": _screen_name(shown[r.person_id]), "points": int(r.earned)}
        for rank, r in _ranks(ranked)
        if r.person_id in shown
    ][:limit]
    return {"items": items, "participants": len(ranked)}


def on_case_confirmed(case) -> None:
    """A resident confirmed their case was fixed (listener of "case_confirmed"): the reporter
    earns the community's points for it, once."""
    if case.reporter_id is not None:
        credit_for("case_confirmed", case.id, case.reporter_id, case.community_id)


def on_case_reopened(case) -> None:
    """Not fixed after all (listener of "case_reopened"): a confirmation's points go back."""
    reverse("case_confirmed", case.id)
