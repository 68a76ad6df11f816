"""Locale and time zone: Chinese first, English complete, times shown in Asia/Shanghai."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from flask import current_app, g, has_request_context, request
from flask_babel import format_datetime

SUPPORTED = ("zh_CN", "en")


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
    for candidate in (request.args.get("lang"), g.get("person_locale"), request.cookies.get("lang")):
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
