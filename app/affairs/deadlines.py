"""Deadlines: due-soon reminders, overdue notices, escalation to the street office and
auto-close of resolved cases nobody confirmed (on read, and by `flask cases escalate|auto-close`).
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta

from flask import current_app
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import bindparam, select, update

from app.affairs.common import _event, _local, _now, _place
from app.affairs.counts import _moved
from app.affairs.notify import _community_staff, _street_officials, _tell_handlers, _tell_reporter
from app.extensions import db
from app.infra import audit
from app.models import (
    Community,
)
from app.models.case import (
    CLOSED,
    OPEN_STATUSES,
    RESOLVED,
    Case,
    CaseCategory,
)
from app.people import notifications
from app.people.actors import Actor


def _grace() -> timedelta:
    return timedelta(hours=current_app.config["CASE_ESCALATION_GRACE_HOURS"])


def _auto_close_after() -> timedelta:
    return timedelta(days=current_app.config["CASE_AUTO_CLOSE_DAYS"])


def _due_soon_lead(category: CaseCategory) -> timedelta:
    """How long before the deadline the handlers (or, while nobody has the case, the committee)
    are reminded: CASE_DUE_SOON_HOURS, at most
    half the category's deadline (a 2-hour matter is not "due soon" when it arrives); 0 = off."""
    hours = current_app.config["CASE_DUE_SOON_HOURS"]
    if hours <= 0:
        return timedelta(0)
    return min(timedelta(hours=hours), timedelta(hours=category.deadline_hours) / 2)


def _new_deadline(case: Case, due_at: datetime) -> None:
    # A new deadline has its own reminder, overdue notice and escalation still to come.
    case.due_at = due_at
    case.due_soon_notified_at = case.overdue_notified_at = case.escalated_at = None


def is_overdue(case: Case, now: datetime | None = None) -> bool:
    """Open and past its deadline."""
    return (
        case.status in OPEN_STATUSES and case.due_at is not None and case.due_at < (now or _now())
    )


def _due_step(case: Case, now: datetime) -> str | None:
    if case.status in OPEN_STATUSES and case.due_at is not None and case.due_at <= now:
        if case.overdue_notified_at is None:
            return "overdue"
        if case.escalated_at is None and case.due_at + _grace() <= now:
            return "escalated"
    if (
        case.status in OPEN_STATUSES
        and case.due_at is not None
        and now < case.due_at
        and case.due_soon_notified_at is None
        and case.overdue_notified_at is None
    ):
        lead = _due_soon_lead(case.category)
        if lead and case.due_at - lead <= now:
            return "due_soon"
    if (
        case.status == RESOLVED
        and case.resolved_at is not None
        and case.resolved_at + _auto_close_after() <= now
    ):
        return "auto_closed"
    return None


def evaluate_case(
    case: Case, now: datetime | None = None, only: tuple[str, ...] | None = None
) -> list[str]:
    """Take the automatic steps that have fallen due for one case (due-soon reminder, overdue
    notice, escalation, auto-close; `only` limits which); each happens once even when requests
    and schedulers race: a conditional UPDATE claims the step, and only its winner records and
    notifies."""
    now = now or _now()
    done = []
    for _round in range(3):
        step = _due_step(case, now)
        if step is None or (only is not None and step not in only):
            break
        claim = update(Case).where(Case.id == case.id)
        if step != "auto_closed":
            # Judged on the case as read: not if it was resolved, or its deadline moved, since.
            claim = claim.where(Case.status == case.status, Case.due_at == case.due_at)
        if step == "due_soon":
            # Not after an overdue notice that a racing request gave across the deadline.
            claim = claim.where(
                Case.due_soon_notified_at.is_(None), Case.overdue_notified_at.is_(None)
            ).values(due_soon_notified_at=now)
        elif step == "overdue":
            claim = claim.where(Case.overdue_notified_at.is_(None)).values(overdue_notified_at=now)
        elif step == "escalated":
            claim = claim.where(Case.escalated_at.is_(None)).values(escalated_at=now)
        else:
            claim = claim.where(
                Case.status == RESOLVED, Case.resolved_at == case.resolved_at
            ).values(status=CLOSED, closed_at=now, closed_reason="auto")
        claimed = db.session.execute(claim.execution_options(synchronize_session=False))
        if claimed.rowcount != 1:  # someone else took this step
            db.session.refresh(case)
            continue
        db.session.refresh(case)
        if step == "auto_closed":
            _moved(db.session(), case.community_id, RESOLVED, CLOSED)
        _apply_step(case, step, now)
        done.append(step)
    if done:
        db.session.flush()
    return done


def _apply_step(case: Case, step: str, now: datetime) -> None:
    if step == "due_soon":
        _event(case, "due_soon", None, public=False, role="system")
        nobody_yet = case.assignee_person_id is None and case.assignee_organization_id is None
        _tell_handlers(
            case,
            "case_due_soon",
            # The committee hears of a matter nobody has yet while there is time to send it.
            lambda: _("Not sent to anyone yet, due soon: %(ref)s", ref=case.reference)
            if nobody_yet
            else _("Due soon: %(ref)s", ref=case.reference),
            lambda: _(
                "%(category)s · %(where)s · due %(due)s",
                category=case.category.name,
                where=_place(case),
                due=_local(case.due_at),
            ),
        )
    elif step == "overdue":
        _event(case, "overdue", None, public=False, role="system")
        _tell_handlers(
            case,
            "case_overdue",
            lambda: _("Past its deadline: %(ref)s", ref=case.reference),
            lambda: _(
                "%(category)s · %(where)s · was due %(due)s",
                category=case.category.name,
                where=_place(case),
                due=_local(case.due_at),
            ),
        )
    elif step == "escalated":
        hours = int((now - case.due_at).total_seconds() // 3600)
        _event(case, "escalated", None, public=False, role="system", data={"hours": hours})
        community = db.session.get(Community, case.community_id)
        recipients = set(_street_officials(community)) | set(_community_staff(community.id))
        for person_id in sorted(recipients):
            with notifications.in_locale_of(person_id):
                notifications.notify(
                    person_id,
                    "case_escalated",
                    _("Escalated: %(ref)s is %(h)d hours overdue", ref=case.reference, h=hours),
                    _(
                        "%(community)s · %(category)s · %(where)s",
                        community=community.name,
                        category=case.category.name,
                        where=_place(case),
                    ),
                    link=f"/staff/cases/{case.id}",
                )
    elif step == "auto_closed":
        _event(
            case,
            "auto_closed",
            None,
            public=True,
            role="system",
            from_status=RESOLVED,
            to_status=CLOSED,
            data={"days": current_app.config["CASE_AUTO_CLOSE_DAYS"]},
        )
        _tell_reporter(
            case,
            "case_status",
            _l("Your request %(ref)s is closed", ref=case.reference),
            _l(
                "It was not confirmed within %(n)d days, so it was closed. You can still rate it.",
                n=current_app.config["CASE_AUTO_CLOSE_DAYS"],
            ),
        )
    case.updated_at = now


def _literal_in(column, values):
    # Written into the SQL as literals: the databases can then see that a query implies a
    # partial index's condition (they cannot with bound parameters).
    return column.in_(
        bindparam(f"lit_{column.key}", list(values), expanding=True, literal_execute=True)
    )


def run_due_work(
    *,
    now: datetime | None = None,
    community_id: int | None = None,
    only: tuple[str, ...] | None = None,
    limit: int = 500,
) -> dict:
    """Due-soon reminders, overdue notices, escalations and auto-closes that have fallen due
    (`flask cases escalate` / `flask cases auto-close` and every list read call this)."""
    now = now or _now()
    only = only or ("due_soon", "overdue", "escalated", "auto_closed")
    queries = []
    # One query per step, each a range of its own partial index that holds only waiting work:
    # a single query with "not notified OR past the grace" had to walk every notified case
    # still within its grace.
    due_soon_hours = current_app.config["CASE_DUE_SOON_HOURS"]
    if "due_soon" in only and due_soon_hours > 0:
        # Open, neither reminded nor noticed, deadline ahead but within
        # CASE_DUE_SOON_HOURS (ix_case_record_due_soon: the condition written in full). A
        # category's shorter lead (half its deadline) is checked on the rows below, so cases
        # not due yet take no places in the sweep's limit.
        queries.append(
            (
                select(Case.id, Case.due_at, Case.category_id).where(
                    Case.due_soon_notified_at.is_(None),
                    Case.overdue_notified_at.is_(None),
                    Case.escalated_at.is_(None),
                    _literal_in(Case.status, OPEN_STATUSES),
                    Case.due_at > now,
                    Case.due_at <= now + timedelta(hours=due_soon_hours),
                ),
                Case.due_at,
                _reminders_due,
            )
        )
    if "overdue" in only:
        # Open, not notified, past the deadline (ix_case_record_notice).
        queries.append(
            (
                select(Case.id).where(
                    Case.overdue_notified_at.is_(None),
                    Case.escalated_at.is_(None),
                    _literal_in(Case.status, OPEN_STATUSES),
                    Case.due_at <= now,
                ),
                Case.due_at,
                None,
            )
        )
    if "escalated" in only:
        # Notified, not escalated, past the deadline and the grace (ix_case_record_escalation).
        # A case not notified yet gets its notice first (the query above), then escalates.
        queries.append(
            (
                select(Case.id).where(
                    Case.overdue_notified_at.is_not(None),
                    Case.escalated_at.is_(None),
                    _literal_in(Case.status, OPEN_STATUSES),
                    Case.due_at <= now - _grace(),
                ),
                Case.due_at,
                None,
            )
        )
    if "auto_closed" in only:
        resolved = bindparam("lit_resolved", RESOLVED, literal_execute=True)
        queries.append(
            (
                select(Case.id).where(
                    Case.status == resolved, Case.resolved_at <= now - _auto_close_after()
                ),
                Case.resolved_at,
                None,
            )
        )
    ids: list[int] = []
    for query, key, pick in queries:
        if community_id is not None:
            query = query.where(Case.community_id == community_id)
        # Ordered by the partial index's own key, so SQLite's planner picks it (without the
        # order it prefers ix_case_record_due and reads every late case in the table). No
        # LIMIT: that tempts the planners into walking the whole table hoping to stop early.
        rows = db.session.execute(query.order_by(Case.community_id, key)).all()
        ids += pick(rows, now) if pick is not None else [row[0] for row in rows]
    counts = {"due_soon": 0, "overdue": 0, "escalated": 0, "auto_closed": 0}
    for case_id in sorted(set(ids))[:limit]:
        case = db.session.get(Case, case_id)
        for step in evaluate_case(case, now, only):
            counts[step] += 1
    return counts


# When each community's due work may next be swept on read, per application and process.
_clock = time.monotonic


def sweep_on_read(community_id: int, *, limit: int) -> None:
    """What a list read does: `run_due_work` for the community, bounded by `limit`, and at most
    once per CASE_LIST_SWEEP_SECONDS in this process (0: on every read). The scheduler's
    `flask cases escalate|auto-close` still sweeps everything; a skipped read only defers the
    notices, escalations and auto-closes by those seconds ("overdue" and its count are read
    from the deadlines themselves)."""
    interval = current_app.config["CASE_LIST_SWEEP_SECONDS"]
    if interval > 0:
        next_at = current_app.extensions.setdefault("linli_list_sweeps", {})
        clock = _clock()
        if next_at.get(community_id, 0.0) > clock:
            return
        # Taken before the sweep, so concurrent readers of the same community skip it.
        next_at[community_id] = clock + interval
    run_due_work(community_id=community_id, limit=limit)


def _reminders_due(rows, now: datetime) -> list[int]:
    # (id, due_at, category_id) rows within CASE_DUE_SOON_HOURS of their deadline: keep those
    # whose category's own lead has begun too.
    leads = {}
    category_ids = {row.category_id for row in rows}
    if category_ids:
        for category in db.session.scalars(
            select(CaseCategory).where(CaseCategory.id.in_(category_ids))
        ):
            leads[category.id] = _due_soon_lead(category)
    return [row.id for row in rows if row.due_at - leads[row.category_id] <= now]


# --- the jobs (app/infra/jobs.py; create_app registers them) ------------------------------

DEADLINE_STEPS = ("due_soon", "overdue", "escalated")
AUTO_CLOSE_STEPS = ("auto_closed",)
SWEEP_LIMIT = 100_000


def _run(now: datetime | None, only: tuple[str, ...]) -> dict:
    audit.bind_actor(Actor.anonymous())
    counts = run_due_work(now=now, only=only, limit=SWEEP_LIMIT)
    return {step: counts[step] for step in only}


def deadlines_job(now: datetime | None, sweep: bool) -> dict:
    """The job "case_deadlines": remind handlers of cases due within CASE_DUE_SOON_HOURS, notify
    them of overdue cases and escalate those to the street office after the grace."""
    return _run(now, DEADLINE_STEPS)


def auto_close_job(now: datetime | None, sweep: bool) -> dict:
    """The job "case_auto_close": close resolved cases the resident did not confirm within
    CASE_AUTO_CLOSE_DAYS."""
    return _run(now, AUTO_CLOSE_STEPS)
