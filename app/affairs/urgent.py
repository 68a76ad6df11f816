"""Urgent help (救命 / 我摔倒了 by voice): who is alerted, and the chain it climbs.

A call for help becomes a `HelpAlert` and, for a resident, a case of the category 求助 (code
"help", channel voice, never public) so that it can be followed like any other matter. The alert
goes at once to the grid worker of the caller's building (who is expected to take it on) and to
the community's committee staff (the console sounds within seconds); while nobody acknowledges
it, it climbs every ALERT_ESCALATE_MINUTES: the committee staff are called again ("nobody has
taken this on for N minutes"), then the street office, which reports the case up (已上报, so
the office may issue 督办); a level with nobody on it is skipped. Each step is an urgent notice
(it sounds in the console) and an internal entry on the case's timeline (and in the audit log);
the first acknowledgement, by anyone told, stops the chain (`notifications.acknowledge` →
`record_acknowledged`).

When no case can be opened (a lobby screen cannot file 求助 anonymously, the community has no
such category, the caller hit the hourly limit) the alert still goes out and climbs: its steps
are then kept in the audit log only.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from flask import current_app
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select, update

from app.affairs import intake
from app.affairs.common import _event, _now
from app.affairs.notify import _community_staff, _people_with_role, _street_officials
from app.extensions import db
from app.infra import audit
from app.infra.errors import DomainError, Unavailable
from app.models import Building, Community, Device, Person
from app.models.case import Case
from app.models.notification import HelpAlert
from app.people import communities, notifications
from app.people.actors import Actor

log = logging.getLogger("linli.alerts")

GRID, COMMITTEE, STREET = 1, 2, 3
TOP = STREET
LEVEL_NAMES = {GRID: "grid_worker", COMMITTEE: "committee_staff", STREET: "street_office"}


def _delay() -> timedelta:
    return timedelta(minutes=float(current_app.config["ALERT_ESCALATE_MINUTES"]))


def _building_of(actor: Actor) -> Building | None:
    if actor.device is not None:
        return actor.device.building
    subject = actor.subject
    if subject is not None and subject.household is not None:
        return subject.household.building
    return None


def _recipients(alert: HelpAlert, level: int) -> list[int]:
    if level == GRID:
        # The first call goes to the grid worker, who is expected to take it on, and to the
        # committee staff on duty at once: an elder on the floor must not wait for a step.
        building = db.session.get(Building, alert.building_id) if alert.building_id else None
        if building is None or not building.grid_id:
            return []
        grid = _people_with_role(role="grid_worker", grid_id=building.grid_id)
        return sorted(set(grid) | set(_community_staff(alert.community_id))) if grid else []
    if level == COMMITTEE:
        return _community_staff(alert.community_id)
    community = db.session.get(Community, alert.community_id)
    return _street_officials(community) if community.street_office_id else []


def who_and_where(
    person: Person | None, device: Device | None, building: Building | None
) -> tuple[str, str, str | None]:
    """Who called for help, from where, and the phone to call back (None for a screen)."""
    if device is not None:
        where = device.location or (building.name if building is not None else "")
        return _("Someone at the screen %(name)s", name=device.name), where or "-", None
    place = ""
    if person.household is not None:
        place = person.household.label
    elif building is not None:
        place = building.name
    # Staff and grid workers may see the phone of a resident of their community; in an
    # emergency they need it at once (the notice itself is audited).
    return person.display_name, place or "-", person.phone


def _tell(alert: HelpAlert, level: int, people: list[int], waited: int | None) -> None:
    person = db.session.get(Person, alert.person_id) if alert.person_id else None
    device = db.session.get(Device, alert.device_id) if alert.device_id else None
    building = db.session.get(Building, alert.building_id) if alert.building_id else None
    link = f"/staff/cases/{alert.case_id}" if alert.case_id else "/staff/alerts"
    for person_id in people:
        with notifications.in_locale_of(person_id):
            who, place, phone = who_and_where(person, device, building)
            body = _(
                "%(who)s (%(place)s) asked for help by voice: “%(said)s”.",
                who=who,
                place=place,
                said=alert.said or "…",
            )
            if phone:
                body += " " + _("Phone: %(phone)s.", phone=phone)
            body += " " + _("Please call or go there now.")
            if waited is not None:
                body = _("Nobody has taken this on for %(n)d minutes.", n=waited) + " " + body
            notifications.notify(
                person_id,
                "urgent_help",
                _("Urgent help: %(who)s", who=who),
                body,
                link=link,
                urgent=True,
                alert_id=alert.id,
            )


def _names(people: list[int]) -> str:
    """Who was told, for the case's internal timeline (names are data: no language)."""
    rows = db.session.scalars(select(Person).where(Person.id.in_(people)).order_by(Person.id))
    return "、".join(p.display_name for p in rows)


def _first_level(alert: HelpAlert, above: int = 0) -> tuple[int, list[int]]:
    """The lowest level above `above` with somebody on it: (level, people), or (0, [])."""
    for level in range(above + 1, TOP + 1):
        people = _recipients(alert, level)
        if people:
            return level, people
    return 0, []


def _open_case(actor: Actor, said: str) -> Case | None:
    """A case 求助 for the call, filed as the caller by voice; None when it cannot be."""
    if actor.device is not None or actor.subject is None:
        return None  # a screen files anonymously, and 求助 needs a name
    try:
        return intake.submit_case(
            actor,
            category_code="help",
            channel="voice",
            transcript=said or str(_l("Urgent help")),
            is_public=False,
        )
    except DomainError as error:  # the alert matters more than its paperwork
        log.info("urgent help without a case: %s", error.message)
        return None


# A resident's call for help said again (or a client's retry) while nobody has taken the first
# one yet joins it: one chain and one case per emergency, its level told once more.
REPEAT_WINDOW = timedelta(minutes=10)


def _open_alert_of(actor: Actor, now: datetime) -> HelpAlert | None:
    # A person's own; a lobby screen's next call may be somebody else's emergency.
    if actor.device is not None or actor.subject is None:
        return None
    return db.session.scalar(
        select(HelpAlert)
        .where(
            HelpAlert.person_id == actor.subject.id,
            HelpAlert.acknowledged_at.is_(None),
            HelpAlert.created_at > now - REPEAT_WINDOW,
        )
        .order_by(HelpAlert.id.desc())
        .limit(1)
    )


def _said_again(actor: Actor, alert: HelpAlert, said: str) -> list[int]:
    people = _recipients(alert, alert.level)
    _tell(alert, alert.level, people, None)
    case = db.session.get(Case, alert.case_id) if alert.case_id else None
    if case is not None:
        _event(
            case,
            "help_alerted",
            None,
            note=said or None,
            public=False,
            role="system",
            data={"level": LEVEL_NAMES.get(alert.level), "notified": people, "again": True},
        )
    audit.record(
        actor,
        "urgent_help",
        "person",
        actor.subject.id,
        alert.community_id,
        {"channel": "voice", "said": said, "notified": people, "alert": alert.id, "again": True},
    )
    db.session.flush()
    if not people:
        raise Unavailable(_l("Nobody could be alerted."))
    return people


def raise_urgent_help(actor: Actor, transcript: str, now: datetime | None = None) -> list[int]:
    """Urgent help: open the alert (and its case), tell the first level of the chain now, and
    audit it. Returns who was told; raises Unavailable when nobody could be. Said again while
    the caller's alert waits for somebody to take it, it joins that alert (REPEAT_WINDOW)."""
    community = communities.community_of(actor)
    if community is None:
        raise Unavailable()
    now = now or _now()
    said = (transcript or "").strip()[:200]
    again = _open_alert_of(actor, now)
    if again is not None:
        return _said_again(actor, again, said)
    building = _building_of(actor)
    case = _open_case(actor, said)
    alert = HelpAlert(
        community_id=community.id,
        person_id=actor.subject.id if actor.device is None and actor.subject else None,
        device_id=actor.device.id if actor.device is not None else None,
        building_id=building.id if building is not None else None,
        case_id=case.id if case is not None else None,
        said=said,
        created_at=now,
    )
    db.session.add(alert)
    db.session.flush()
    level, people = _first_level(alert)
    alert.level = level or TOP
    # It climbs only while there is somebody above to climb to.
    above = _first_level(alert, level)[0] if level else 0
    alert.next_at = now + _delay() if above else None
    _tell(alert, level, people, None)
    if case is not None:
        _event(
            case,
            "help_alerted",
            None,
            note=_names(people) or None,
            public=False,
            role="system",
            data={"level": LEVEL_NAMES.get(level), "notified": people},
        )
    target = (
        ("device", actor.device.id) if actor.device is not None else ("person", actor.subject.id)
    )
    audit.record(
        actor,
        "urgent_help",
        target[0],
        target[1],
        community.id,
        {
            "channel": "voice",
            "said": said,
            "notified": people,
            "alert": alert.id,
            "case": alert.case_id,
            "level": LEVEL_NAMES.get(level),
        },
    )
    db.session.flush()
    if not people:
        raise Unavailable(_l("Nobody could be alerted."))
    return people


def escalate(alert_id: int, now: datetime) -> list[int]:
    """Climb one step if the alert is still unacknowledged and due; returns who was told now.
    Claiming the step is one conditional UPDATE, so two processes never both climb it."""
    alert = db.session.get(HelpAlert, alert_id)
    if alert is None or alert.acknowledged_at is not None or alert.next_at is None:
        return []
    level, people = _first_level(alert, alert.level)
    after = _first_level(alert, level)[0] if level else 0
    claimed = db.session.execute(
        update(HelpAlert)
        .where(
            HelpAlert.id == alert.id,
            HelpAlert.level == alert.level,
            HelpAlert.acknowledged_at.is_(None),
            HelpAlert.next_at <= now,
        )
        .values(level=level or alert.level, next_at=now + _delay() if after else None)
        .execution_options(synchronize_session=False)
    ).rowcount
    if claimed != 1:
        return []
    db.session.refresh(alert)
    if not level:
        return []
    waited = int((now - alert.created_at).total_seconds() // 60)
    _tell(alert, level, people, waited)
    if alert.case_id is not None:
        case = db.session.get(Case, alert.case_id)
        if level == STREET and case.escalated_at is None:
            # Reported up (已上报): the street office may now supervise it (督办).
            case.escalated_at = now
        _event(
            case,
            "help_escalated",
            None,
            note=_names(people),
            public=False,
            role="system",
            data={"level": LEVEL_NAMES[level], "notified": people, "minutes": waited},
        )
    audit.record(
        Actor.anonymous(),
        "urgent_help_escalated",
        "help_alert",
        alert.id,
        alert.community_id,
        {"level": LEVEL_NAMES[level], "notified": people, "case": alert.case_id},
    )
    db.session.flush()
    return people


def escalate_due(now: datetime | None = None) -> int:
    """Climb every alert whose time has come; returns how many climbed."""
    now = now or _now()
    due = list(
        db.session.scalars(
            select(HelpAlert.id)
            .where(HelpAlert.next_at <= now, HelpAlert.acknowledged_at.is_(None))
            .order_by(HelpAlert.id)
        )
    )
    return sum(1 for alert_id in due if escalate(alert_id, now))


def escalation_job(now: datetime | None, sweep: bool) -> dict:
    """The job "urgent_help_escalation": unacknowledged urgent help climbs the chain."""
    return {"climbed": escalate_due(now)}


def record_acknowledged(alert: HelpAlert, actor: Actor) -> None:
    """Listener of "help_acknowledged": the step goes on the case's timeline and the audit log."""
    if alert.case_id is not None:
        case = db.session.get(Case, alert.case_id)
        _event(
            case,
            "help_acknowledged",
            actor,
            public=False,
            role="staff",
            data={"level": LEVEL_NAMES.get(alert.level)},
        )
    audit.record(
        actor,
        "urgent_help_acknowledged",
        "help_alert",
        alert.id,
        alert.community_id,
        {"case": alert.case_id, "level": LEVEL_NAMES.get(alert.level)},
    )
