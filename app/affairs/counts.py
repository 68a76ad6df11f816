"""Cases per status in a community, kept (case_status_count) rather than counted."""

from __future__ import annotations

from collections import Counter
from functools import cache

from sqlalchemy import bindparam, delete, func, insert, inspect, null, select, union_all
from sqlalchemy import event as sa_event
from sqlalchemy.orm import Session

from app.affairs.common import _now
from app.database import plain
from app.extensions import db
from app.models.case import (
    CASE_STATUSES,
    OPEN_STATUSES,
    Case,
    CaseStatusCount,
)
from app.people import authz
from app.people.actors import Actor


def status_counts(actor: Actor, community_id: int) -> dict:
    """Cases per status in a community, plus how many are overdue (its workers)."""
    authz.ensure_internal(actor, community_id)
    # The kept figures (a handful of rows, not a scan of the community's cases), plus the
    # moves this transaction has flushed but not committed yet, and the overdue count: one
    # statement (a round trip less on PostgreSQL).
    rows = plain(db.session, _count_query(), {"c_community": community_id, "c_now": _now()}).all()
    counts = {status: 0 for status in CASE_STATUSES}
    overdue = 0
    for status, n in rows:
        if status is None:
            overdue = n or 0
        else:
            counts[status] = counts.get(status, 0) + n
    for (moved_community, status), n in db.session.info.get(_MOVES, {}).items():
        if moved_community == community_id:
            counts[status] = counts.get(status, 0) + n
    counts["open"] = sum(counts[s] for s in OPEN_STATUSES)
    counts["overdue"] = overdue
    return counts


@cache
def _count_query():
    # Built once, the community and the time bound at execution (the staff list runs it on
    # every page): the kept rows (status, total), then one row (NULL, overdue count); a
    # status is never NULL.
    kept = select(CaseStatusCount.status, CaseStatusCount.total).where(
        CaseStatusCount.community_id == bindparam("c_community")
    )
    overdue = (
        select(func.count())
        .select_from(Case)
        .where(
            Case.community_id == bindparam("c_community"),
            Case.status.in_(OPEN_STATUSES),
            Case.due_at < bindparam("c_now", type_=Case.due_at.type),
        )
        .scalar_subquery()
    )
    return union_all(kept, select(null().label("status"), overdue.label("total")))


# Counting a community's cases per status reads every one of them, whatever the index; the
# staff inbox shows those counts on every page. So case_status_count keeps them: each flush
# notes the status moves of the Case rows it wrote (ORM changes; a status changed by a Core
# UPDATE calls _moved itself), and the session applies them just before it commits, in key
# order, so concurrent commits neither deadlock nor hold the counter rows for longer than
# their commit. Rows written around the ORM (bulk loads) call recount_statuses().
_MOVES = "linli_case_status_moves"


def _moved(session: Session, community_id: int, old: str | None, new: str | None) -> None:
    moves = session.info.setdefault(_MOVES, Counter())
    if old is not None:
        moves[(community_id, old)] -= 1
    if new is not None:
        moves[(community_id, new)] += 1


def note_new_case(session: Session, case: Case) -> None:
    """Count a case inserted around the unit of work (`intake.submit_case`): a flush would
    have noted it as new."""
    _moved(session, case.community_id, None, case.status)


def _before_and_after(case: Case, key: str) -> tuple:
    history = inspect(case).attrs[key].history
    before = (history.deleted or history.unchanged or (None,))[0]
    after = (history.added or history.unchanged or (None,))[0]
    return before, after


def _note_moves(session: Session, _context) -> None:
    for case in session.new:
        if isinstance(case, Case):
            _moved(session, case.community_id, None, case.status)
    for case in session.deleted:
        if isinstance(case, Case):
            _moved(
                session,
                _before_and_after(case, "community_id")[0],
                _before_and_after(case, "status")[0],
                None,
            )
    for case in session.dirty:
        if isinstance(case, Case):
            old_status, new_status = _before_and_after(case, "status")
            old_community, new_community = _before_and_after(case, "community_id")
            if new_community is None:
                new_community = old_community = case.community_id
            if (old_community, old_status) != (new_community, new_status):
                _moved(session, old_community, old_status, None)
                _moved(session, new_community, None, new_status)


def _apply_moves(session: Session) -> None:
    session.flush()  # the moves of the last changes too
    moves = session.info.pop(_MOVES, None)
    if not moves:
        return
    upsert = _count_upsert(session.get_bind().dialect.name)
    for (community_id, status), n in sorted(moves.items()):
        if n:
            session.execute(upsert, {"c_community": community_id, "c_status": status, "c_n": n})


_UPSERTS: dict = {}


def _count_upsert(dialect: str):
    # Built once per database kind, the figures bound at execution (reused compiled form).
    if dialect not in _UPSERTS:
        if dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert as dialect_insert
        else:
            from sqlalchemy.dialects.sqlite import insert as dialect_insert
        table = CaseStatusCount.__table__
        upsert = dialect_insert(table).values(
            community_id=bindparam("c_community", type_=table.c.community_id.type),
            status=bindparam("c_status", type_=table.c.status.type),
            total=bindparam("c_n", type_=table.c.total.type),
        )
        _UPSERTS[dialect] = upsert.on_conflict_do_update(
            index_elements=["community_id", "status"],
            set_={"total": table.c.total + upsert.excluded.total},
        )
    return _UPSERTS[dialect]


def _forget_moves(session: Session, previous_transaction) -> None:
    if not previous_transaction.nested:
        session.info.pop(_MOVES, None)


def _forget_moves_at_end(session: Session, transaction) -> None:
    if transaction.parent is None and not transaction.nested:
        session.info.pop(_MOVES, None)


_COUNT_HOOKS = (
    ("after_flush", _note_moves),
    ("before_commit", _apply_moves),
    ("after_soft_rollback", _forget_moves),
    ("after_transaction_end", _forget_moves_at_end),
)


def install() -> None:
    """Attach the session hooks that keep case_status_count in step (idempotent)."""
    for name, fn in _COUNT_HOOKS:
        if not sa_event.contains(Session, name, fn):
            sa_event.listen(Session, name, fn)


install()


def recount_statuses() -> None:
    """Rebuild case_status_count from the cases themselves (after loading cases in bulk)."""
    table = CaseStatusCount.__table__
    db.session.execute(delete(table))
    db.session.execute(
        insert(table).from_select(
            ["community_id", "status", "total"],
            select(Case.community_id, Case.status, func.count()).group_by(
                Case.community_id, Case.status
            ),
        )
    )
    db.session.info.pop(_MOVES, None)
