"""uow.insert_loaded: a hot write by one plain INSERT, the object set up as loaded. What the
object holds must be what the database holds (the unit of work is not there to check), and a
staff-side caller's rows must be on the audit record as a flush would put them."""

from __future__ import annotations

import pytest
from sqlalchemy import Integer, String, inspect, select
from sqlalchemy.orm import DeclarativeBase, mapped_column

from app.affairs import intake
from app.extensions import db as sa
from app.infra import audit, uow
from app.models import AuditLog
from app.models.notification import Notification
from app.people import notifications
from tests.affairs.conftest import actor


def _as_stored(obj) -> None:
    """The object's columns are the stored row's: read them, expire, read them again."""
    keys = [c.key for c in type(obj).__mapper__.column_attrs]
    seen = {key: getattr(obj, key) for key in keys}
    sa.session.expire(obj)
    assert {key: getattr(obj, key) for key in keys} == seen
    return seen


def test_a_new_cases_first_step_and_notice_are_the_rows_as_stored(cats):
    """submit_case writes the case, its first step and the reporter's notice around the unit
    of work; each object is its row, defaults included, and nothing is left to flush."""
    case = intake.submit_case(
        actor(cats.a.resident), category_code="repair", description="门禁坏了"
    )
    (step,) = case.events
    note = sa.session.scalars(
        select(Notification).where(Notification.person_id == cats.a.resident.id)
    ).one()
    assert not sa.session.new and not sa.session.dirty
    stored_step = _as_stored(step)
    assert stored_step["case_id"] == case.id and stored_step["kind"] == "submitted"
    assert stored_step["data"] == {"channel": "app"}
    stored_note = _as_stored(note)
    assert stored_note["urgent"] is False and stored_note["read_at"] is None
    assert case.reference in stored_note["body"]
    assert step.case is case  # by its id, from the session: no second object


def test_a_staff_side_notice_is_on_the_audit_record(cats):
    """A notice a staff-side caller's work sends is a created row on the audit record, as the
    flush hook recorded it when notices went through the unit of work; a resident's is not."""
    audit.bind_actor(actor(cats.a.staff))
    note = notifications.notify(cats.a.resident.id, "test", "标题", "内容")
    sa.session.flush()
    entries = sa.session.scalars(
        select(AuditLog).where(AuditLog.target_type == "notification")
    ).all()
    assert [(e.action, e.target_id, e.actor_person_id) for e in entries] == [
        ("create", str(note.id), cats.a.staff.id)
    ]
    audit.bind_actor(actor(cats.a.resident))
    notifications.notify(cats.a.staff.id, "test", "标题", "内容")
    sa.session.flush()
    assert sa.session.query(AuditLog).filter_by(target_type="notification").count() == 1


class _Base(DeclarativeBase):
    pass


class _Stamped(_Base):
    """A table of the test's own: one column only the database fills in."""

    __tablename__ = "test_insert_loaded_stamped"
    id = mapped_column(Integer, primary_key=True)
    label = mapped_column(String(20))
    by_python = mapped_column(String(20), default="python")
    by_server = mapped_column(String(20), server_default="server")


@pytest.fixture()
def stamped(db):
    _Base.metadata.create_all(sa.engine)
    yield
    sa.session.rollback()
    _Base.metadata.drop_all(sa.engine)


def test_a_column_only_the_database_fills_in_is_read_not_guessed(stamped):
    """A Python default is known from the INSERT; a server default is not, so that column is
    left unloaded and read from the row when asked for (not set to None)."""
    row = uow.insert_loaded(_Stamped, {"label": "x"})
    state = inspect(row)
    assert state.persistent and row.id is not None
    assert "by_server" in state.unloaded and "by_python" not in state.unloaded
    assert (row.label, row.by_python) == ("x", "python")
    assert row.by_server == "server"
    assert not sa.session.dirty
