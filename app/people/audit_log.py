"""Reading the audit log (app/infra/audit.py writes it): platform admins see every entry,
committee staff and the street office one community's at a time."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from app.extensions import db
from app.models import AuditLog
from app.people import authz
from app.people.actors import Actor

# What the log page calls each action and each kind of record (others are shown as stored).
ACTION_LABELS = {
    "create": _l("Added"),
    "update": _l("Changed"),
    "delete": _l("Deleted"),
    "read": _l("Looked at private details"),
    "sign_in": _l("Signed in"),
    "revoke": _l("Switched off"),
    "urgent_help": _l("Urgent call for help"),
    "org_member_added": _l("Added a member to the organization"),
    "org_member_removed": _l("Removed a member from the organization"),
    "org_lead_appointed": _l("Appointed the organization's lead"),
    "org_lead_stood_down": _l("Stood down the organization's lead"),
}
TARGET_LABELS = {
    "case_record": _l("Case"),
    "case": _l("Case"),
    "case_event": _l("Case step"),
    "case_attachment": _l("Case photo"),
    "case_category": _l("Case category"),
    "announcement": _l("Announcement"),
    "announcement_follow_up": _l("Announcement follow-up"),
    "person": _l("Person"),
    "role_assignment": _l("Role"),
    "proxy_link": _l("Family link"),
    "device": _l("Lobby screen"),
    "api_token": _l("Sign-in token"),
    "open311_key": _l("Open311 key"),
    "community": _l("Community"),
    "grid": _l("Grid"),
    "building": _l("Building"),
    "household": _l("Household"),
    "organization": _l("Organization"),
    "activity_roster": _l("Sign-up list"),
}
WORDS = {"actions": ACTION_LABELS, "targets": TARGET_LABELS}


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
