"""What every part of a case's life shares: the service clock, status words, public
references (2026-000123), the voice an actor speaks with on a timeline (`_actor_role`, from
`policy.relation`) and the timeline event every step writes (`_event`).
"""

from __future__ import annotations

import re
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import bindparam, update

from app.affairs.policy import relation as _relation
from app.extensions import db
from app.infra import uow
from app.models.base import utcnow
from app.models.case import Case, CaseEvent, CaseSerial
from app.people.actors import Actor

# Timeline authors (CaseEvent.actor_role) who speak for the committee: only their public notes
# are ever published. A resident (or their family proxy), a lobby screen or a partner system may
# write to the committee, never to the neighbours: see published_note.
STAFF_VOICES = frozenset({"staff", "assignee", "system"})


_clock: ContextVar[datetime | None] = ContextVar("linli_case_clock", default=None)


_REFERENCE = re.compile(r"^\s*(\d{4})\s*[-－—–_ ]?\s*(\d{1,9})\s*$")


def _now() -> datetime:
    return _clock.get() or utcnow()


@contextmanager
def clock(at: datetime):
    """Make the service see `at` as the current time (demo data with a past; never requests)."""
    token = _clock.set(at)
    try:
        yield
    finally:
        _clock.reset(token)


def _tz() -> ZoneInfo:
    return ZoneInfo(current_app.config["TIMEZONE"])


def next_reference(now: datetime | None = None) -> str:
    """The next public reference of the year (Asia/Shanghai), e.g. 2026-000123.

    The year's counter row is incremented with UPDATE … RETURNING, which locks it until the
    transaction ends (a row lock on PostgreSQL, the write lock on SQLite), so concurrent
    submissions never share a number. It runs on the request's own connection and transaction:
    taking a second pooled connection while the request holds one deadlocks the pool under a
    burst (every connection held by a request waiting for another). Submissions therefore
    queue on the counter row from this point to their commit, so callers take the number as
    late as they can.
    """
    year = (now or _now()).astimezone(_tz()).year
    bump, create = _serial_statements(db.session.get_bind().dialect.name)
    value = db.session.execute(bump, {"serial_year": year}).scalar()
    if value is None:
        # The year's first case: a concurrent first one waits on the new row, then bumps it.
        db.session.execute(create, {"serial_year": year})
        value = db.session.execute(bump, {"serial_year": year}).scalar()
    return f"{year}-{value:06d}"


_SERIAL: dict = {}


def _serial_statements(dialect: str):
    # Built once per database kind, the year bound at execution: SQLAlchemy reuses the
    # statements and their compiled form.
    if dialect not in _SERIAL:
        table = CaseSerial.__table__
        year = bindparam("serial_year", type_=table.c.year.type)
        bump = (
            update(table)
            .where(table.c.year == year)
            .values(last_value=table.c.last_value + 1)
            .returning(table.c.last_value)
        )
        if dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert as dialect_insert
        else:
            from sqlalchemy.dialects.sqlite import insert as dialect_insert
        create = (
            dialect_insert(table)
            .values(year=year, last_value=0)
            .on_conflict_do_nothing(index_elements=["year"])
        )
        _SERIAL[dialect] = (bump, create)
    return _SERIAL[dialect]


def normalize_reference(text: str) -> str | None:
    """'2026-000123', '2026 123', '2026000123' → '2026-000123' (None when not a reference)."""
    if not isinstance(text, str) or len(text) > 40:
        return None
    compact = text.strip()
    match = _REFERENCE.match(compact)
    if match is None:
        digits = re.sub(r"\D", "", compact)
        if len(digits) < 5 or len(digits) > 13:
            return None
        year, serial = digits[:4], digits[4:]
    else:
        year, serial = match.groups()
    return f"{year}-{int(serial):06d}"


def reference_digits(reference: str) -> str:
    """Spaced for reading digit by digit on a screen: '2 0 2 6 - 0 0 0 1 2 3'."""
    return " ".join(reference)


def _actor_role(actor: Actor, case: Case | None = None) -> str:
    if actor.device is not None:
        return "device"
    if actor.person is None:
        return "system"
    if case is not None:
        rel = _relation(actor, case)
        if "reporter" in rel:
            return "reporter"
        if "assignee" in rel and "staff" not in rel:
            return "assignee"
        if rel & {"staff", "manager", "fieldworker"}:
            return "staff"
    return "reporter"


def _event(
    case: Case,
    kind: str,
    actor: Actor | None,
    *,
    note: str | None = None,
    public: bool = False,
    from_status: str | None = None,
    to_status: str | None = None,
    role: str | None = None,
    data: dict | None = None,
    hide_person: bool = False,
    linked: bool = True,
) -> CaseEvent:
    """A new step of the case's timeline. `linked=False`: written at once by its case's id
    (`uow.insert_loaded`), not added to `case.events` (for a case written around the unit of
    work, whose caller sets the list)."""
    actor = actor or Actor.anonymous()
    values = dict(
        kind=kind,
        at=_now(),
        note=note,
        public=public,
        from_status=from_status,
        to_status=to_status,
        actor_person_id=None if hide_person or actor.person is None else actor.person.id,
        on_behalf_of_id=None
        if hide_person or actor.on_behalf_of is None
        else actor.on_behalf_of.id,
        actor_device_id=actor.device.id if actor.device is not None else None,
        actor_role=role or (_actor_role(actor, case) if actor.person or actor.device else "system"),
        data=data or {},
    )
    if not linked:
        return uow.insert_loaded(CaseEvent, {"case_id": case.id, **values})
    event = CaseEvent(case=case, **values)
    db.session.add(event)
    return event


def _local(value: datetime | None) -> str:
    if value is None:
        return ""
    return value.astimezone(_tz()).strftime("%Y-%m-%d %H:%M")


def _place(case: Case, detail: bool = True) -> str:
    if case.building is not None:
        if detail and case.household is not None:
            return case.household.label
        return case.building.name
    if detail and case.address:
        return case.address
    return ""
