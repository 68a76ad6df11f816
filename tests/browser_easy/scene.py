"""Setting the scene through the services, as staff would (committed, so the server sees it)."""

from __future__ import annotations

from sqlalchemy import select

from app.affairs import categories, intake, workflow
from app.extensions import db
from app.models.case import Case
from app.notices import announcements
from app.people.actors import Actor


def staff(world) -> Actor:
    """Committee staff of community A (in a fresh transaction: the server may have written)."""
    db.session.rollback()
    return Actor.for_person(world.a.staff)


def install_categories(world) -> dict:
    """The standard categories of community A, by code."""
    made = categories.install_defaults(staff(world), world.a.community.id)
    db.session.commit()
    return {c.code: c for c in made}


def announce(world, title: str, body: str = "请大家留意。", **kw):
    """Publish an announcement to the whole of community A."""
    a = announcements.create_announcement(
        staff(world), community_id=world.a.community.id, title=title, body=body, **kw
    )
    db.session.commit()
    return a


def file_case(world, person, category, description="楼道灯坏了。"):
    """A case the resident filed (as through the app)."""
    db.session.rollback()
    case = intake.submit_case(
        Actor.for_person(person), category_id=category.id, description=description
    )
    db.session.commit()
    return case


def resolve(world, case_id: int, note: str = "已经修好了。") -> None:
    """Staff accept, assign to the grid worker, who starts and resolves it."""
    boss = staff(world)
    workflow.transition(boss, case_id, "accept")
    workflow.assign_case(boss, case_id, person_id=world.a.grid_worker.id)
    worker = Actor.for_person(world.a.grid_worker)
    workflow.transition(worker, case_id, "start")
    workflow.transition(worker, case_id, "resolve", note=note)
    db.session.commit()


def cases_of(person) -> list[Case]:
    """Cases reported for this person, oldest first."""
    db.session.rollback()
    return list(
        db.session.scalars(select(Case).where(Case.reporter_id == person.id).order_by(Case.id))
    )
