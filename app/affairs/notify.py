"""Who is told what about a case: its reporter (and family proxy), its handlers, the
committee staff, the street office and the residents who said "me too".
"""

from __future__ import annotations

from flask_babel import gettext as _
from sqlalchemy import or_, select

from app.affairs.common import _place
from app.affairs.words import STATUS_LABELS
from app.extensions import db
from app.models import (
    Community,
    Person,
    RoleAssignment,
)
from app.models.case import (
    CLOSED,
    RESOLVED,
    Case,
    CaseSupport,
)
from app.people import notifications, proxies
from app.people.actors import Actor


def _people_with_role(**filters) -> list[int]:
    query = select(RoleAssignment.person_id).join(Person, Person.id == RoleAssignment.person_id)
    query = query.where(
        Person.is_active.is_(True),
        *(getattr(RoleAssignment, name) == value for name, value in filters.items()),
    )
    return sorted(set(db.session.scalars(query)))


def _assignee_people(case: Case) -> list[int]:
    if case.assignee_person_id is not None:
        return [case.assignee_person_id]
    if case.assignee_organization_id is not None:
        # Only the members who work for the organization in the case's community.
        query = (
            select(RoleAssignment.person_id)
            .join(Person, Person.id == RoleAssignment.person_id)
            .where(
                Person.is_active.is_(True),
                RoleAssignment.role == "org_member",
                RoleAssignment.organization_id == case.assignee_organization_id,
                or_(
                    RoleAssignment.community_id.is_(None),
                    RoleAssignment.community_id == case.community_id,
                ),
            )
        )
        return sorted(set(db.session.scalars(query)))
    return []


def _community_staff(community_id: int) -> list[int]:
    return _people_with_role(role="committee_staff", community_id=community_id)


def _street_officials(community: Community) -> list[int]:
    return _people_with_role(role="street_official", street_office_id=community.street_office_id)


def _reporter_side(case: Case) -> set[int]:
    """The resident a case is for, and the family member who filed it while their link stands:
    a relative whose link was revoked reads the case no more, nor hears of it."""
    people = {case.reporter_id} if case.reporter_id is not None else set()
    if case.proxy_id is not None and (
        case.reporter_id is None or proxies.still_helps(case.proxy_id, case.reporter_id)
    ):
        people.add(case.proxy_id)
    return people


def _tell_reporter(case: Case, kind: str, title, body) -> None:
    """Notify the resident a case is for, and the family member who filed it."""
    for person_id in _reporter_side(case):
        with notifications.in_locale_of(person_id):
            notifications.notify(
                person_id, kind, str(title), str(body), link=f"/api/v1/cases/{case.id}"
            )


def _announce_status(actor: Actor, case: Case, note: str | None) -> None:
    subject = actor.subject
    if subject is not None and subject.id == case.reporter_id:
        return  # they know: they did it
    label = STATUS_LABELS[case.status]
    for person_id in _reporter_side(case):
        with notifications.in_locale_of(person_id):
            body = _("Now: %(status)s.", status=str(label))
            if note:
                body = f"{body} {note}"
            notifications.notify(
                person_id,
                "case_status",
                _("Your request %(ref)s", ref=case.reference),
                body,
                link=f"/api/v1/cases/{case.id}",
            )
    if case.status in (RESOLVED, CLOSED):
        for person_id in db.session.scalars(
            select(CaseSupport.person_id).where(CaseSupport.case_id == case.id)
        ):
            with notifications.in_locale_of(person_id):
                notifications.notify(
                    person_id,
                    "case_status",
                    _("A matter you follow: %(ref)s", ref=case.reference),
                    _("Now: %(status)s.", status=str(label)),
                    link=f"/api/v1/cases/{case.id}",
                )


def _tell_handlers(case: Case, kind: str, title, body) -> None:
    """Notify a case's handlers (else the community's committee staff) about its deadline;
    `title` and `body` are called in each recipient's language."""
    for person_id in _assignee_people(case) or _community_staff(case.community_id):
        with notifications.in_locale_of(person_id):
            notifications.notify(person_id, kind, title(), body(), link=f"/staff/cases/{case.id}")


def _tell_of_resident_step(case: Case, action: str, reason: str | None) -> None:
    """The resident (or their proxy, or the screen that filed it) confirmed the fix or reopened
    the case: its handlers hear it (else the committee staff), in each one's language."""

    def title() -> str:
        if action == "confirm":
            return _("Confirmed by the resident: %(ref)s", ref=case.reference)
        return _("Reopened by the resident: %(ref)s", ref=case.reference)

    def body() -> str:
        text = _("%(category)s · %(where)s", category=case.category.name, where=_place(case))
        return f"{text} · {reason}" if reason else text

    kind = "case_confirmed" if action == "confirm" else "case_reopened"
    _tell_handlers(case, kind, title, body)
