"""Easy-mode resident client (长辈版) at /easy: server-rendered pages, a little plain JavaScript.

Pages call the services through thin views and work without JavaScript; where a page uses
JavaScript (reporting a problem, one-tap acknowledgements, the new-content banner) it calls
/api/v1 with the session cookie, the X-CSRFToken header and, for a family proxy, X-Act-For.

The routes live in this module and in easy_news.py, easy_affairs.py and easy_family.py, which
add theirs to the same blueprint; the blueprint and the helpers they share (sign-in guards,
error handling) are in easy_common.py, so the pages never import this module.

Voice hooks (see app/static/easy/easy.js): a 朗读 button reads the page's main text with
server-made speech when a URL is known (an item's speech_url, or the TTS endpoint below),
otherwise with the browser's speechSynthesis, and stays hidden when neither exists. 按住说话
buttons appear next to text fields only once the voice API offers a transcription endpoint.
"""

from __future__ import annotations

import gzip
import hashlib
import mimetypes
from functools import lru_cache
from pathlib import Path

from flask import (
    current_app,
    flash,
    g,
    make_response,
    redirect,
    render_template,
    request,
    send_from_directory,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from markupsafe import Markup, escape

from app import security
from app.errors import ERROR_FORMATTERS
from app.infra.errors import DomainError
from app.infra.text import group_phone, mask_phone
from app.models import Person
from app.people import accounts, auth, communities, delivery, invitations, proxies
from app.people.people import SPEECH_RATES, TEXT_SIZES
from app.residents import easy
from app.security import current_actor
from app.web.easy_common import (  # noqa: F401  (the pages' shared helpers, also used here)
    ACT_FOR,
    bp,
    error_lines,
    person_required,
    pin_twice,
    resident_required,
    safe_next,
    settle,
)


@bp.app_template_filter("tel_nowrap")
def tel_nowrap(number) -> Markup:
    """A phone number in groups (138 1234 5678) that a line may break between, never inside."""
    return Markup('<span class="tel">{}</span>').format(group_phone(number))


@bp.app_template_filter("tel_links")
def tel_links(text) -> Markup:
    """Text with each number to call made a tap-to-call link that never wraps mid-number."""
    return Markup("").join(
        Markup('<a class="tel" href="{}">{}</a>').format(tel, piece) if tel else escape(piece)
        for piece, tel in easy.phone_parts(str(text) if text is not None else "")
    )


ASSETS = Path(__file__).resolve().parent.parent / "static" / "easy"
SIZE_COOKIE = "easy_size"  # text size before signing in (and after signing out)
LANG_COOKIE = "lang"  # read by app.i18n.select_locale
YEAR = 365 * 24 * 3600
# Endpoints that serve files only: no database, no actor.
_FILE_ENDPOINTS = {"easy.asset", "easy.service_worker", "easy.manifest"}
# The voice API (app/api/voice): GET <tts>?text=&rate=&lang= → audio; POST <asr> (multipart
# "audio") → {"text": …}; GET <status> → {"asr": bool}. Offered when the app has these routes
# (or named in the config: EASY_TTS_URL, EASY_ASR_URL).
_TTS_RULE = "/api/v1/voice/speech"
_ASR_RULE = "/api/v1/voice/transcriptions"
_STATUS_RULE = "/api/v1/voice/status"


# --- who is asking --------------------------------------------------------------------------------
@bp.before_request
def _load_actor():
    """Proxy acting comes from the session (verified against a confirmed link on every request)."""
    if request.endpoint in _FILE_ENDPOINTS:
        return None
    user = current_user._get_current_object() if current_user else None
    act_for = session.get(ACT_FOR)
    if act_for is not None:
        if isinstance(user, Person) and _still_linked(user, act_for):
            g.session_act_for = int(act_for)
        else:
            session.pop(ACT_FOR, None)
            if isinstance(user, Person):
                flash(
                    _("The family link has ended, so you are using your own account again."), "info"
                )
    current_actor()  # binds the actor and the person's language before any text is rendered
    return None


def _still_linked(user: Person, resident_id) -> bool:
    try:
        proxies.acting_for(user, int(resident_id))
    except (DomainError, TypeError, ValueError):
        return False
    return True


@bp.after_request
def _remember_choices(response):
    """?lang= and ?size= on any page are kept in cookies (the sign-in page offers both)."""
    lang = request.args.get("lang")
    if lang in ("zh_CN", "en"):
        response.set_cookie(LANG_COOKIE, lang, max_age=YEAR, samesite="Lax", httponly=True)
    size = request.args.get("size")
    if size in TEXT_SIZES:
        response.set_cookie(SIZE_COOKIE, size, max_age=YEAR, samesite="Lax", httponly=True)
    if request.endpoint not in _FILE_ENDPOINTS:
        # Personal pages: never kept by shared caches; revalidated on every visit.
        response.headers.setdefault("Cache-Control", "private, no-cache")
    return _compress(response)


_COMPRESSIBLE = {
    "text/html",
    "text/css",
    "text/javascript",
    "application/json",
    "application/manifest+json",
}


def _accepts_gzip() -> bool:
    return "gzip" in request.headers.get("Accept-Encoding", "").lower()


def _compress(response):
    """Slow networks: gzip text (a page shrinks to a third) when no proxy in front does it."""
    if (
        not _accepts_gzip()
        or response.direct_passthrough
        or response.is_streamed
        or "Content-Encoding" in response.headers
        or response.mimetype not in _COMPRESSIBLE
        or response.status_code == 304
    ):
        return response
    data = response.get_data()
    if len(data) < 1024:
        return response
    response.set_data(gzip.compress(data, 6))
    response.headers["Content-Encoding"] = "gzip"
    response.vary.add("Accept-Encoding")
    return response


# --- page context ---------------------------------------------------------------------------------
@lru_cache(maxsize=64)
def _fingerprint(name: str, mtime: float) -> str:
    return hashlib.sha256((ASSETS / name).read_bytes()).hexdigest()[:10]


def asset_url(name: str) -> str:
    """A versioned URL for a file in app/static/easy (cached for a year; the version changes)."""
    path = ASSETS / name
    return url_for("easy.asset", filename=name, v=_fingerprint(name, path.stat().st_mtime))


def voice_hooks() -> dict:
    """The voice API endpoints the pages may use (None where the app has no such route)."""
    cfg = current_app.config
    tts, asr, status = cfg.get("EASY_TTS_URL"), cfg.get("EASY_ASR_URL"), None
    for rule in current_app.url_map.iter_rules():
        if tts is None and rule.rule == _TTS_RULE and "GET" in rule.methods:
            tts = rule.rule
        if asr is None and rule.rule == _ASR_RULE and "POST" in rule.methods:
            asr = rule.rule
        if rule.rule == _STATUS_RULE and "GET" in rule.methods:
            status = rule.rule
    return {"tts_url": tts, "asr_url": asr, "status_url": status if asr else None}


def page_context() -> dict:
    """What every easy page needs: who, acting for whom, text size, speech speed, voice hooks."""
    try:
        actor = current_actor()
    except DomainError:
        actor = None
    person = actor.person if actor is not None else None
    if isinstance(person, Person):
        size, rate = person.text_size, person.speech_rate
    else:
        person = None
        size = request.args.get("size") or request.cookies.get(SIZE_COOKIE)
        rate = "slow"
    return {
        "me": person,
        "acting_for": actor.on_behalf_of if actor is not None else None,
        "text_size": size if size in TEXT_SIZES else "large",
        "speech_rate": rate if rate in SPEECH_RATES else "slow",
        # The voice API answers signed-in callers only.
        "voice": voice_hooks()
        if person
        else {"tts_url": None, "asr_url": None, "status_url": None},
        "asset": asset_url,
    }


@bp.context_processor
def _inject():
    return page_context()


def _error_page(code, message, errors=None, headers=None):
    if code == 401:
        return redirect(url_for("easy.login", next=request.path))
    lines = [
        str(m)
        for messages in (errors or {}).values()
        if isinstance(messages, list)
        for m in messages
        if code != 400
    ]
    body = render_template(
        "easy/error.html", code=code, message=str(message), lines=lines, **page_context()
    )
    response = make_response(body, code)
    for key, value in (headers or {}).items():
        response.headers[key] = value
    response.headers["Cache-Control"] = "private, no-cache"
    return response


ERROR_FORMATTERS["/easy"] = _error_page


# --- signing in -----------------------------------------------------------------------------------
def _sign_in(person: Person) -> None:
    # Stays signed in (EASY_SESSION_DAYS, a year) until they sign out on this phone.
    security.sign_in(person, "easy", remember=True)
    session.permanent = True
    session.pop(ACT_FOR, None)


@bp.route("/login", methods=["GET", "POST"])
def login():
    """Sign in with phone number and 6-digit PIN; no puzzles, plain words on every mistake."""
    if request.method == "GET" and isinstance(current_actor().person, Person):
        return redirect(safe_next(request.args.get("next")))
    errors, phone = [], ""
    if request.method == "POST":
        phone = request.form.get("phone", "")[:40]
        try:
            person = auth.authenticate(
                phone, pin=request.form.get("pin", "")[:40], ip=request.remote_addr
            )
        except DomainError as error:
            settle(error)
            return (
                render_template(
                    "easy/login.html",
                    errors=error_lines(error),
                    phone=phone,
                    locked=error.status_code in (423, 429),
                ),
                error.status_code,
                error.headers,
            )
        _sign_in(person)
        return redirect(safe_next(request.args.get("next")))
    return render_template("easy/login.html", errors=errors, phone=phone, locked=False)


@bp.route("/join", methods=["GET", "POST"])
def join():
    """Join with the committee's invitation code (or its QR, which opens /easy/join?code=…)."""
    form = {k: request.values.get(k, "")[:80] for k in ("code", "display_name", "phone")}
    errors: list[str] = []
    if request.method == "POST":
        try:
            person = invitations.join(
                form["code"],
                display_name=form["display_name"],
                phone=form["phone"],
                pin=pin_twice(),
            )
        except DomainError as error:
            settle(error)
            errors = error_lines(error)
            if error.status_code == 409 and "phone" in (error.errors or {}):
                errors = [
                    _(
                        "This phone number already has an account. Please sign in with "
                        "it, or ask the residents' committee for help."
                    )
                ]
            return render_template("easy/join.html", form=form, errors=errors), error.status_code
        _sign_in(person)
        flash(_("Welcome! You have joined %(name)s.", name=person.community.name), "ok")
        return redirect(url_for("easy.home"))
    return render_template("easy/join.html", form=form, errors=errors)


@bp.post("/logout")
def logout():
    """Sign out of this phone."""
    session.pop(ACT_FOR, None)
    security.sign_out()
    return redirect(url_for("easy.login"))


# --- home, more, contact, settings ----------------------------------------------------------------
@bp.get("/")
@person_required
def home():
    """Four big buttons; a banner when something new waits (an urgent notice, a family request)."""
    actor = current_actor()
    community = communities.home_community(actor)
    urgent = (
        [
            a
            for a in easy.announcements_for(actor)
            if a["priority"] == "urgent" and not a.get("acknowledged")
        ]
        if community
        else []
    )
    helping = easy.family(actor)["helping"] if actor.on_behalf_of is None else []
    return render_template(
        "easy/home.html",
        community=community,
        urgent=urgent,
        pending=easy.pending_requests(actor),
        helping=helping,
        to_confirm=easy.awaiting_confirmation(actor),
    )


@bp.get("/more")
@person_required
def more():
    """The second page: activities, family help, settings and votes (议事投票)."""
    return render_template("easy/more.html", community=communities.home_community(current_actor()))


@bp.get("/contact")
@resident_required
def contact():
    """The residents' committee: tap to call, office hours, address."""
    return render_template("easy/contact.html", card=easy.contact_card(current_actor()))


SETTINGS = {
    "text_size": (("large", _l("Large")), ("xlarge", _l("Extra large"))),
    "speech_rate": (("slow", _l("Slow")), ("normal", _l("Medium")), ("fast", _l("Fast"))),
    "locale": (("zh_CN", "中文"), ("en", "English")),
    # How news about one's requests also reaches one (app/people/delivery.py).
    "notify_channel": (
        ("none", _l("Only in this app")),
        ("sms", _l("Text message")),
        ("email", _l("E-mail")),
    ),
}


@bp.route("/settings", methods=["GET", "POST"])
@person_required
def settings():
    """Text size (大 / 特大), speech speed (慢 / 中 / 快), language (中文 / English), and how news
    about one's requests also reaches one (none / SMS / e-mail, with the address)."""
    errors = []
    if request.method == "POST":
        changes = {k: request.form[k] for k in SETTINGS if k in request.form}
        if "email" in request.form:
            changes["email"] = request.form["email"][:300]
        try:
            accounts.update_me(current_actor(), changes)
        except DomainError as error:
            settle(error)
            if error.status_code != 422:
                raise
            errors = error_lines(error)
        if not errors:
            flash(_("Saved."), "ok")
            response = redirect(url_for("easy.settings"))
            if "text_size" in changes:
                response.set_cookie(
                    SIZE_COOKIE, changes["text_size"], max_age=YEAR, samesite="Lax", httponly=True
                )
            if "locale" in changes:
                response.set_cookie(
                    LANG_COOKIE, changes["locale"], max_age=YEAR, samesite="Lax", httponly=True
                )
            return response
    person = current_actor().person
    chosen = {
        "text_size": person.text_size,
        "speech_rate": person.speech_rate,
        "locale": person.locale or "zh_CN",
        "notify_channel": person.notify_channel,
    }
    page = render_template(
        "easy/settings.html",
        groups=SETTINGS,
        chosen=chosen,
        errors=errors,
        email=request.form.get("email", "")[:300] if errors else (person.email or ""),
        phone=mask_phone(person.phone),
        quiet=delivery.quiet_hours(),
    )
    return page, (422 if errors else 200)


# --- PWA: manifest, service worker, assets, offline page ------------------------------------------
@lru_cache(maxsize=32)
def _text_asset(name: str, mtime: float) -> tuple[bytes, bytes]:
    data = (ASSETS / name).read_bytes()
    return data, gzip.compress(data, 9)


@bp.get("/static/<path:filename>")
def asset(filename):
    """CSS, JavaScript and icons; versioned URLs are cached for a year."""
    versioned = bool(request.args.get("v"))
    path = ASSETS / filename
    if filename in ("easy.css", "easy.js") and path.is_file():
        plain, packed = _text_asset(filename, path.stat().st_mtime)
        zipped = _accepts_gzip()
        response = current_app.response_class(
            packed if zipped else plain, mimetype=mimetypes.guess_type(filename)[0]
        )
        if zipped:
            response.headers["Content-Encoding"] = "gzip"
        response.vary.add("Accept-Encoding")
        response.cache_control.public = True
        response.cache_control.max_age = YEAR if versioned else 300
    else:
        response = send_from_directory(ASSETS, filename, max_age=YEAR if versioned else 300)
    if versioned:
        response.cache_control.immutable = True
    return response


def shell_assets() -> list[str]:
    """What the service worker keeps for the app shell (never personal data)."""
    return [
        asset_url("easy.css"),
        asset_url("easy.js"),
        asset_url("icon-192.png"),
        url_for("easy.offline"),
    ]


@bp.get("/sw.js")
def service_worker():
    """The service worker, served from /easy/ so its scope is the whole easy mode."""
    body = render_template(
        "easy/sw.js",
        shell=shell_assets(),
        version=hashlib.sha256("|".join(shell_assets()).encode()).hexdigest()[:12],
    )
    response = make_response(body)
    response.headers["Content-Type"] = "text/javascript; charset=utf-8"
    response.headers["Cache-Control"] = "no-cache"
    return response


@bp.get("/manifest.webmanifest")
def manifest():
    """The web app manifest: install 邻里长辈版 to the home screen."""
    body = {
        "name": _("Linli easy mode"),
        "short_name": _("Linli"),
        "start_url": url_for("easy.home"),
        "scope": url_for("easy.home"),
        "display": "standalone",
        "background_color": "#ffffff",
        "theme_color": "#0a3a82",
        "lang": "zh-CN",
        "icons": [
            {"src": asset_url("icon-192.png"), "sizes": "192x192", "type": "image/png"},
            {
                "src": asset_url("icon-512.png"),
                "sizes": "512x512",
                "type": "image/png",
                "purpose": "any maskable",
            },
        ],
    }
    response = current_app.response_class(
        current_app.json.dumps(body), mimetype="application/manifest+json"
    )
    response.headers["Cache-Control"] = "public, max-age=3600"
    return response


@bp.get("/offline")
def offline():
    """Shown by the service worker when there is no network."""
    response = make_response(render_template("easy/offline.html"))
    response.headers["Cache-Control"] = "public, max-age=3600"
    return response


# The other easy-mode pages add their routes to `bp` after this module's (they import
# easy_common, not this module).
from app.web import (  # noqa: E402,F401
    easy_activities,
    easy_affairs,
    easy_family,
    easy_news,
    easy_votes,
)
