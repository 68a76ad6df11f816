"""Routes of the lobby screen. The page is a static shell; everything it shows comes from the
snapshot, so the service worker can keep the shell and the page its last snapshot offline."""

from __future__ import annotations

import hashlib
import logging
import random
import re
from functools import lru_cache
from pathlib import Path

import marshmallow as ma
from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    g,
    jsonify,
    make_response,
    render_template,
    request,
    send_from_directory,
)
from flask_babel import gettext as _

from app.config import PROJECT_ROOT
from app.extensions import csrf
from app.infra import events
from app.infra.errors import Invalid, Unauthorized
from app.notices import common as notices
from app.notices import pictures
from app.screens import feed, kiosk
from app.security import current_actor
from app.urls import public_base_url
from kiosk import sse

bp = Blueprint(
    "kiosk",
    __name__,
    url_prefix="/kiosk",
    template_folder="templates",
    static_folder="static",
    static_url_path="/static",
)
# The screen calls these with a bearer token or a signed ticket, never a session cookie.
csrf.exempt(bp)

STATIC = Path(__file__).parent / "static"
# Files of the app's static folder that the screen loads and its service worker keeps.
SHARED_STATIC = ("chime.js", "voice/voice.js", "voice/voice.css")
TICKET_COOKIE = "kiosk_ticket"
_SECRET_PARAMS = re.compile(r"((?:^|[?&\s])(?:token|ticket|poll_secret)=)[^&\s\"']+")


# --- secrets never reach a log --------------------------------------------------------------------
def redact(text: str) -> str:
    """Replace token=/ticket= values in a logged line."""
    return _SECRET_PARAMS.sub(r"\1[redacted]", text)


class RedactSecrets(logging.Filter):
    """Logging filter for access logs: no device token or stream ticket in them."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        elif isinstance(record.args, dict):
            for key, value in list(record.args.items()):
                if isinstance(value, str):
                    record.args[key] = redact(value)
        return True


def init_app(app) -> None:
    """Keep tokens out of the access logs (create_app calls this; registering `bp` does
    nothing by itself)."""
    redactor = RedactSecrets()
    for name in ("werkzeug", "gunicorn.access"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactSecrets) for f in logger.filters):
            logger.addFilter(redactor)


@bp.before_request
def _scrub_and_choose_language() -> None:
    # gunicorn writes its access log from this same environ after the response.
    for key in ("RAW_URI", "REQUEST_URI"):
        value = request.environ.get(key)
        if value and ("token=" in value or "ticket=" in value):
            request.environ[key] = redact(value)
    # A public screen speaks the community's language unless the URL asks otherwise.
    if not request.args.get("lang"):
        g.person_locale = "zh_CN"


# --- assets ---------------------------------------------------------------------------------------
@lru_cache(maxsize=1)
def asset_version() -> str:
    """A hash of the screen's static files: new files, new service worker, fresh caches."""
    digest = hashlib.sha256()
    for path in sorted(STATIC.rglob("*")):
        if path.is_file():
            digest.update(path.name.encode())
            digest.update(path.read_bytes())
    for name in SHARED_STATIC:
        digest.update(name.encode())
        digest.update((PROJECT_ROOT / "app" / "static" / name).read_bytes())
    digest.update(Path(__file__).with_name("templates").joinpath("kiosk", "sw.js").read_bytes())
    return digest.hexdigest()[:12]


@lru_cache(maxsize=4)
def _qr_svg(url: str) -> str:
    import qrcode
    import qrcode.image.svg

    image = qrcode.make(url, image_factory=qrcode.image.svg.SvgPathImage, box_size=10, border=2)
    svg = image.to_string(encoding="unicode")
    return re.sub(r"<\?xml[^>]*\?>", "", svg)


def _texts() -> dict:
    """Every string the page's script shows, in the page's language."""
    return {
        "offline": _("Offline"),
        "updated": _("updated %(time)s", time="{time}"),
        "no_items": _("No announcements right now."),
        "urgent": _("Urgent"),
        "paused": _("Paused — touch again to continue"),
        "pause": _("Pause"),
        "resume": _("Continue"),
        "speaking": _("Reading aloud…"),
        "stop": _("Stop reading"),
        "no_voice": _("Reading aloud is not available on this screen."),
        "report": _(
            "To report a problem, call the residents' committee or scan the code with your phone."
        ),
        "progress": _(
            "To check the progress of your request, call the residents' committee "
            "or scan the code with your phone."
        ),
        "phone": _("Committee phone: %(phone)s", phone="{phone}"),
        "hours": _("Office hours: %(hours)s", hours="{hours}"),
        # Phone and office hours side by side (a wide space in Chinese, a dot in English).
        "both": _("%(first)s · %(second)s", first="{a}", second="{b}"),
        "close": _("Close message"),
        "idle": _("Returning to the start in {n} seconds."),
        "stay": _("Keep using"),
        "pair_title": _("Pair this screen"),
        "pair_help": _("Staff: open Screens in the staff console and enter this code."),
        "pair_expires": _("The code changes in {n} minutes."),
        "pair_wait": _("Asking the server for a code…"),
        "pair_failed": _("Cannot reach the server. Trying again…"),
        "until": _("until %(date)s", date="{date}"),
        "day": _("%(month)s/%(day)s", month="{m}", day="{d}"),
        "places_left": _("%(n)s places left", n="{n}"),
        "full": _("Full: waiting list open"),
        "rank": _("No. %(rank)s", rank="{n}"),
        "points": _("%(n)s points", n="{n}"),
        "of": _("{i} of {n}"),
        "page": _("Page {i} of {n}"),
        "categories": {k: str(v) for k, v in notices.CATEGORY_LABELS.items()},
        "weekdays": [_("Mon"), _("Tue"), _("Wed"), _("Thu"), _("Fri"), _("Sat"), _("Sun")],
        "keypad": keypad_texts(),
    }


def keypad_texts() -> dict:
    """The words of the big number keypad (keypad.js), in the page's language."""
    return {
        "delete": _("Delete"),
        "delete_label": _("Delete the last digit"),
        "done": _("OK"),
        "done_label": _("OK, I have finished typing"),
        "typed": _("Typed: {digits}"),
        "typed_masked": _("{n} digits typed"),
        "empty": _("Nothing typed yet"),
        "short": _("Please type {n} digits."),
        "digit": _("Digit {d}"),
    }


@bp.get("")
def page():
    """The screen: pairs itself, then shows the community's announcements live."""
    cfg = current_app.config
    base = public_base_url()
    config = {
        "texts": _texts(),
        "assetVersion": asset_version(),
        "lang": "en" if request.args.get("lang", "").startswith("en") else "zh-CN",
        "pollSeconds": cfg["KIOSK_POLL_SECONDS"],
        "idleSeconds": 90,
        "idleWarningSeconds": 25,
        "heartbeatSeconds": 60,
        # An urgent item is read aloud once nobody has touched the screen for this long.
        "urgentWaitSeconds": 20,
    }
    response = make_response(
        render_template(
            "kiosk/index.html",
            config=config,
            qr_svg=_qr_svg(base + "/easy"),
            asset_version=asset_version(),
        )
    )
    response.headers["Content-Security-Policy"] = (
        "default-src 'self'; img-src 'self' data: blob:; media-src 'self' blob: data:; "
        "style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'self'; "
        "base-uri 'none'; form-action 'none'"
    )
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Cache-Control"] = "no-cache"
    return response


@bp.get("/preview")
def preview():
    """The screen's layout for the staff console's live preview (filled by postMessage)."""
    base = public_base_url()
    response = make_response(
        render_template(
            "kiosk/preview.html",
            preview=True,
            texts=_texts(),
            qr_svg=_qr_svg(base + "/easy"),
            asset_version=asset_version(),
        )
    )
    response.headers["Content-Security-Policy"] = (
        "default-src 'self'; img-src 'self' data: blob:; style-src 'self'; script-src 'self'; "
        "frame-ancestors 'self'; base-uri 'none'"
    )
    return response


@bp.get("/sw.js")
def service_worker():
    """The service worker, allowed to control /kiosk itself (not only /kiosk/…)."""
    body = render_template("kiosk/sw.js", version=asset_version())
    response = Response(body, mimetype="application/javascript")
    response.headers["Service-Worker-Allowed"] = "/kiosk"
    response.headers["Cache-Control"] = "no-cache"
    return response


@bp.get("/media/<string:name>")
def media(name: str):
    """Announcement pictures, named by their SHA-256 (so they never change)."""
    if not re.fullmatch(r"[0-9a-f]{64}\.jpg", name):
        abort(404)
    folder = pictures.image_folder()
    response = send_from_directory(folder, name, max_age=365 * 24 * 3600)
    response.headers["Cache-Control"] = "public, max-age=31536000, immutable"
    return response


# --- the live part --------------------------------------------------------------------------------
@bp.get("/snapshot")
def snapshot():
    """Everything the screen shows, with a version and an ETag (If-None-Match → 304)."""
    body = kiosk.snapshot(current_actor())
    tag = kiosk.etag(body)
    server_time = body["server_time"]
    if request.if_none_match.contains(tag):
        response = Response(status=304)
    else:
        response = jsonify(body)
    response.set_etag(tag)
    response.headers["Cache-Control"] = "no-cache"
    response.headers["X-Server-Time"] = server_time
    return response


@bp.post("/api/ticket")
def ticket():
    """A short-lived ticket for the event stream, also set as a cookie only the stream sees."""
    data = kiosk.stream_ticket(current_actor(), getattr(g.get("api_token"), "id", None))
    response = jsonify(data)
    response.set_cookie(
        TICKET_COOKIE,
        data["ticket"],
        max_age=data["expires_in"],
        path="/kiosk/stream",
        httponly=True,
        samesite="Strict",
        secure=request.is_secure,
    )
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/stream")
def stream():
    """Server-Sent Events: one `version` event per change; ends after a while (reconnect)."""
    cfg = current_app.config
    device = kiosk.device_for_ticket(
        request.args.get("ticket") or request.cookies.get(TICKET_COOKIE)
    )
    if device is None:
        actor = current_actor()
        device = actor.device if actor.device is not None and actor.device.is_active else None
    if device is None:
        raise Unauthorized()
    last_id = sse.parse_last_event_id(
        request.headers.get("Last-Event-ID") or request.args.get("last_event_id")
    )
    community_id, device_id = device.community_id, device.id
    app = current_app._get_current_object()
    feed.watcher(app).ensure_running()
    # Subscribe before reading the version, so no change falls between the two.
    sub = events.get_bus(app).subscribe(
        [feed.feed_channel(community_id), feed.device_channel(device_id)]
    )
    try:
        version = feed.feed_version(community_id)
    except Exception:
        sub.close()
        raise
    # An idle stream must not hold a database connection: the unit of work (app/infra/uow.py)
    # ends the read transaction when this view returns, before the body streams.
    lifetime = cfg["KIOSK_STREAM_SECONDS"] * random.uniform(0.85, 1.0)
    body = sse.frames(
        sub,
        version=version,
        last_event_id=last_id,
        heartbeat=cfg["KIOSK_HEARTBEAT_SECONDS"],
        lifetime=lifetime,
        retry_ms=cfg["KIOSK_RETRY_MS"],
    )
    response = Response(body, mimetype="text/event-stream")
    response.call_on_close(sub.close)
    response.headers["Cache-Control"] = "no-cache, no-transform"
    response.headers["X-Accel-Buffering"] = "no"
    return response


class PollSchema(ma.Schema):
    """The secret an unpaired screen polls with."""

    poll_secret = ma.fields.String(required=True, validate=ma.validate.Length(min=20, max=100))


class HeartbeatSchema(ma.Schema):
    """What a screen reports every minute."""

    version = ma.fields.Integer(allow_none=True, validate=ma.validate.Range(min=0, max=2**62))
    client_version = ma.fields.String(allow_none=True, validate=ma.validate.Length(max=40))
    showing = ma.fields.String(allow_none=True, validate=ma.validate.Length(max=400))
    stream = ma.fields.Boolean(allow_none=True)
    # Can the screen make sound by itself (the browser's autoplay policy)?
    sound = ma.fields.String(allow_none=True, validate=ma.validate.OneOf(kiosk.SOUND_STATES))


def _load(schema: ma.Schema) -> dict:
    try:
        return schema.load(request.get_json(silent=True) or {})
    except ma.ValidationError as error:
        raise Invalid(errors=error.messages) from None


@bp.post("/api/pairing")
def pairing_request():
    """An unpaired screen asks for a one-time code to show (rate-limited)."""
    data = kiosk.request_pairing(request.remote_addr)
    response = jsonify({**data, "expires_at": data["expires_at"].isoformat()})
    response.status_code = 201
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.post("/api/pairing/poll")
def pairing_poll():
    """The screen asks whether staff entered its code; the token comes once."""
    data = kiosk.poll_pairing(_load(PollSchema())["poll_secret"])
    response = jsonify(data)
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.post("/api/heartbeat")
def heartbeat():
    """The screen is alive; it reports its version and what it shows."""
    data = kiosk.heartbeat(current_actor(), **_load(HeartbeatSchema()))
    return jsonify(data)
