"""Reading the audit log (app/infra/audit.py writes it): platform admins see every entry,
committee staff and the street office one community's at a time."""

from __future__ import annotations

from sqlalchemy import select

from app.extensions import db
from app.models import AuditLog
from app.people import authz
from app.people.actors import Actor


def list_entries(
    actor: Actor,
    *,
    community_id=None,
    target_type=None,
    actor_person_id=None,
    page: int = 1,
    per_page: int = 50,
):
    """Audit entries, newest first: platform admins see all; committee staff and street
    officials one of their communities (authz.can_read_audit)."""
    authz.require_signed_in(actor)
    query = select(AuditLog).order_by(AuditLog.id.desc())
    if not authz.can_read_audit(actor, community_id):
        authz.ensure_admin(actor)
    if community_id is not None:
        query = query.where(AuditLog.community_id == community_id)
    if target_type:
        query = query.where(AuditLog.target_type == target_type)
    if actor_person_id:
        query = query.where(AuditLog.actor_person_id == actor_person_id)
    return db.paginate(query, page=page, per_page=per_page, error_out=False)
