"""The audit log: every change made by a staff-side account, and every sensitive read.

Changes are recorded by a flush hook from the actor bound to the current request or command,
so no service can forget; sensitive reads are recorded explicitly with `record_read`. Who may read
the log is app/people/audit_log.py (infra imports no domain). The client's address is bound by
the channel (`bind_client`, app/security.py), never read here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from flask import g, has_app_context, has_request_context
from sqlalchemy import event, inspect
from sqlalchemy.orm import Session

from app.extensions import db
from app.models import AuditLog, Community, LoginThrottle, RateLimit
from app.models.delivery import DeliveryRecord

if TYPE_CHECKING:
    from app.people.actors import Actor

# Bookkeeping tables whose rows are not "changes" anyone made.
_NOT_AUDITED = (AuditLog, LoginThrottle, RateLimit, DeliveryRecord)


def bind_actor(actor: Actor) -> None:
    """Make `actor` the one the flush hook records changes for (per request or command)."""
    if has_app_context():
        g.linli_actor = actor


def bound_actor() -> Actor | None:
    """The actor bound to the current context, if any."""
    return g.get("linli_actor") if has_app_context() else None


def bind_client(ip: str | None) -> None:
    """The channel tells whose address this request came from (after the trusted proxies)."""
    if has_app_context():
        g.linli_client_ip = ip


def _client_ip() -> str | None:
    return g.get("linli_client_ip") if has_request_context() else None


def _entry(
    actor: Actor, action: str, target_type: str, target_id, community_id, detail
) -> AuditLog:
    return AuditLog(
        actor_person_id=actor.person.id if actor.person else None,
        actor_device_id=actor.device.id if actor.device else None,
        on_behalf_of_id=actor.on_behalf_of.id if actor.on_behalf_of else None,
        action=action,
        target_type=target_type,
        target_id=None if target_id is None else str(target_id),
        community_id=community_id,
        detail=detail or {},
        ip=_client_ip(),
    )


def record(
    actor: Actor, action: str, target_type: str, target_id=None, community_id=None, detail=None
):
    """Add an explicit audit entry (e.g. a sign-in, an export, a sensitive read)."""
    entry = _entry(actor, action, target_type, target_id, community_id, detail)
    db.session.add(entry)
    return entry


def record_read(actor: Actor, target_type: str, target_id, community_id, fields: list[str]):
    """Record that `actor` saw sensitive fields (unmasked phone, care flags) of a record."""
    return record(actor, "read", target_type, target_id, community_id, {"fields": sorted(fields)})


def _community_of(obj) -> int | None:
    if isinstance(obj, Community):
        return obj.id
    try:
        value = getattr(obj, "community_id", None)
    except Exception:  # a property that needs a relationship not loaded yet
        return None
    return value if isinstance(value, int) else None


def _changed_fields(obj) -> list[str]:
    state = inspect(obj)
    changed = []
    for attr in state.mapper.column_attrs:
        hist = state.attrs[attr.key].history
        if hist.has_changes():
            changed.append(attr.key)
    return changed


_DELETED = "linli_audit_deleted"


def _on_delete(_mapper, _connection, target) -> None:
    # Every row the flush deletes, including orphans of a delete-orphan collection (removed
    # from `person.roles`, say), which never appear in session.deleted.
    session = inspect(target).session
    if session is not None:
        session.info.setdefault(_DELETED, []).append(target)


def _forget_deleted(session: Session, _previous_transaction) -> None:
    # A flush that failed deleted nothing.
    session.info.pop(_DELETED, None)


def _after_flush(session: Session, flush_context) -> None:
    # After the flush new rows have ids, while new/dirty and attribute history still show the
    # pre-flush state; the entries added here go out with the next flush of the commit.
    deleted = session.info.pop(_DELETED, [])
    actor = bound_actor()
    if actor is None or not actor.is_staff_side:
        return
    batches = (("create", session.new), ("update", session.dirty), ("delete", deleted))
    for action, objects in batches:
        for obj in list(objects):
            fields = _changed_fields(obj) if action == "update" else []
            if action == "update" and not fields:
                continue
            _add_entry(session, actor, action, obj, fields)


def _add_entry(session: Session, actor: Actor, action: str, obj, fields: list[str]) -> None:
    if isinstance(obj, _NOT_AUDITED) or not hasattr(obj, "__tablename__"):
        return
    session.add(
        _entry(
            actor,
            action,
            obj.__tablename__,
            getattr(obj, "id", None),
            _community_of(obj),
            {"fields": sorted(fields)},
        )
    )


def created(obj) -> None:
    """The entry the flush hook would add for `obj`, a row inserted around the unit of work
    (`uow.insert_loaded`): a staff-side caller's creation is on the record either way."""
    actor = bound_actor()
    if actor is not None and actor.is_staff_side:
        _add_entry(db.session, actor, "create", obj, [])


def install() -> None:
    """Attach the flush hook (idempotent)."""
    if not event.contains(Session, "after_flush", _after_flush):
        event.listen(Session, "after_flush", _after_flush)
    if not event.contains(db.Model, "after_delete", _on_delete):
        event.listen(db.Model, "after_delete", _on_delete, propagate=True)
    if not event.contains(Session, "after_soft_rollback", _forget_deleted):
        event.listen(Session, "after_soft_rollback", _forget_deleted)
