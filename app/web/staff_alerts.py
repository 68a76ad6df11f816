"""Staff console: the alert centre (/staff/alerts) — every notice for the signed-in person,
urgent help on top, acknowledged with one click, live over Server-Sent Events; and the badge on
every staff page (templates/staff/_alert_badge.html, static/staff/alerts.js).

The stream is a doorbell on the person's channel (`notifications.alert_channel`): the page
re-fetches `state` when it rings. Another gunicorn worker's notices reach it without Redis through
the feed watcher's `alert_doorbells` job; with REDIS_URL through the bus.
"""

from __future__ import annotations

import json
import random
import time

from flask import (
    Blueprint,
    Response,
    current_app,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user, login_required

from app.infra import events
from app.people import notifications
from app.screens import feed
from app.security import current_actor

bp = Blueprint("staff_alerts", __name__, url_prefix="/staff/alerts")

HEARTBEAT_SECONDS = 15.0


@bp.app_context_processor
def _badge():
    def alert_badge() -> dict | None:
        if not current_user.is_authenticated:
            return None
        return notifications.alert_counts(current_actor())

    return {"alert_badge": alert_badge}


def _page():
    return notifications.list_alerts(current_actor(), page=request.args.get("page", 1, type=int))


@bp.get("")
@login_required
def index():
    """My alerts: urgent help not yet acknowledged on top, then newest first."""
    return render_template("staff/alerts.html", page=_page())


@bp.get("/state")
@login_required
def state():
    """The badge's counts (and with ?list=1 the list as HTML) for the live page."""
    data = notifications.alert_counts(current_actor())
    if request.args.get("list"):
        data["html"] = render_template("staff/_alert_list.html", page=_page())
    response = jsonify(data)
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.post("/<id:notification_id>/acknowledge")
@login_required
def acknowledge(notification_id: int):
    """Acknowledge one of my alerts (for urgent help: it stops climbing, for everyone told)."""
    notifications.acknowledge(current_actor(), notification_id)
    if request.accept_mimetypes.best == "application/json":
        return jsonify(notifications.alert_counts(current_actor()))
    return redirect(url_for("staff_alerts.index"))


def _frames(sub, newest, lifetime: float):
    """retry hint, the newest id now, then one `alerts` event per doorbell; ends after a while."""
    try:
        yield "retry: 3000\n: linli alerts\n\n"
        yield f"event: alerts\ndata: {json.dumps({'id': newest})}\n\n"
        deadline = time.monotonic() + lifetime
        next_beat = time.monotonic() + HEARTBEAT_SECONDS
        while True:
            now = time.monotonic()
            if now >= deadline:
                yield 'event: bye\ndata: {"reconnect":true}\n\n'
                return
            if now >= next_beat:
                yield ": heartbeat\n\n"
                next_beat = now + HEARTBEAT_SECONDS
                continue
            message = sub.get(timeout=max(0.0, min(next_beat, deadline) - now))
            if message is not None:
                yield f"event: alerts\ndata: {json.dumps({'id': message[1].get('id')})}\n\n"
    finally:
        sub.close()


@bp.get("/stream")
@login_required
def stream():
    """Server-Sent Events: an `alerts` event whenever my alerts change."""
    actor = current_actor()
    app = current_app._get_current_object()
    feed.watcher(app).ensure_running()  # the process's poller: other workers' notices, the chain
    # Subscribe before reading, so no notice falls between the two.
    sub = events.get_bus(app).subscribe([notifications.alert_channel(actor.subject.id)])
    try:
        newest = notifications.alert_counts(actor)["newest_id"]
    except Exception:
        sub.close()
        raise
    # The unit of work ends the read transaction when this view returns: an idle stream holds
    # no database connection.
    lifetime = app.config["ALERT_STREAM_SECONDS"] * random.uniform(0.85, 1.0)
    response = Response(_frames(sub, newest, lifetime), mimetype="text/event-stream")
    response.call_on_close(sub.close)
    response.headers["Cache-Control"] = "no-cache, no-transform"
    response.headers["X-Accel-Buffering"] = "no"
    return response
