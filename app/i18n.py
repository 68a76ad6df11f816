"""Locale and time zone: Chinese first, English complete, times shown in Asia/Shanghai."""

from __future__ import annotations

import logging
from pathlib import Path
from zoneinfo import ZoneInfo

from flask import current_app, g, has_request_context, request
from flask_babel import format_datetime

SUPPORTED = ("zh_CN", "en")
# One catalog folder per feature (app/translations/<feature>/<locale>/LC_MESSAGES/messages.po),
# so features translate their own strings; Flask-Babel merges them.
TRANSLATIONS = Path(__file__).parent / "translations"
log = logging.getLogger("linli")
_MO_DIR = {"zh_CN": "zh"}


def catalog_dirs() -> list[Path]:
    """Every feature's translation folder."""
    return sorted(p for p in TRANSLATIONS.iterdir() if p.is_dir()) if TRANSLATIONS.exists() else []


def compile_catalogs() -> int:
    """Compile any .po newer than its .mo (the .mo files are build output, not committed)."""
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    compiled = 0
    for po in TRANSLATIONS.glob("*/*/LC_MESSAGES/*.po"):
        # Babel names zh_CN "zh_Hans_CN", whose gettext fallback is "zh": compile it there.
        lang = po.parent.parent.name
        out = _MO_DIR.get(lang, lang)
        mo = po.parent.parent.parent / out / "LC_MESSAGES" / po.with_suffix(".mo").name
        mo.parent.mkdir(parents=True, exist_ok=True)
        if mo.exists() and mo.stat().st_mtime >= po.stat().st_mtime:
            continue
        with po.open("rb") as fh:
            catalog = read_po(fh, locale=po.parent.parent.name)
        tmp = mo.with_suffix(".mo.tmp")
        with tmp.open("wb") as fh:
            write_mo(fh, catalog)
        tmp.replace(mo)
        compiled += 1
    return compiled


def prepare(app) -> None:
    """Point Flask-Babel at every feature's catalog and make sure they are compiled."""
    try:
        compile_catalogs()
    except OSError:  # read-only install: use the .mo files that are there
        log.warning("could not compile translation catalogs", exc_info=True)
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = ";".join(str(p) for p in catalog_dirs()) or str(
        TRANSLATIONS
    )


def _normalise(value: str | None) -> str | None:
    if not value:
        return None
    value = value.replace("-", "_")
    if value.lower().startswith("zh"):
        return "zh_CN"
    if value.lower().startswith("en"):
        return "en"
    return None


def select_locale() -> str:
    """?lang= → the signed-in person's choice → the lang cookie → Accept-Language → zh_CN."""
    if not has_request_context():
        return "zh_CN"
    for candidate in (
        request.args.get("lang"),
        g.get("person_locale"),
        request.cookies.get("lang"),
    ):
        chosen = _normalise(candidate)
        if chosen:
            return chosen
    best = request.accept_languages.best_match(["zh-CN", "zh", "en"])
    return _normalise(best) or "zh_CN"


def select_timezone() -> str:
    """All people are shown the community's time zone."""
    return current_app.config["TIMEZONE"]


def local_time(value, fmt: str = "yyyy-MM-dd HH:mm") -> str:
    """A UTC datetime shown in the configured zone."""
    if value is None:
        return ""
    return format_datetime(value.astimezone(ZoneInfo(current_app.config["TIMEZONE"])), fmt)


def html_lang() -> str:
    """The lang attribute for <html>."""
    from flask_babel import get_locale

    return "en" if str(get_locale()) == "en" else "zh-CN"


def init_app(app) -> None:
    """Template helpers."""
    from flask_babel import get_locale

    app.jinja_env.filters["localtime"] = local_time
    app.jinja_env.globals.update(get_locale=get_locale, html_lang=html_lang)
