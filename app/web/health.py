"""/healthz (process up) and /readyz (database reachable and writable, migrations current)."""

from __future__ import annotations

from flask import Blueprint, jsonify

from app.infra import health

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    """The process is up."""
    return jsonify(status="ok")


@bp.get("/readyz")
def readyz():
    """Ready: the database answers, can write, and its schema is at the latest migration."""
    report = health.readiness()
    return jsonify(report), 200 if report["ready"] else 503
