"""Server-rendered channels. Each module here (and kiosk/) exposes a blueprint `bp`."""

from __future__ import annotations

import importlib
import pkgutil
import unicodedata
from pathlib import Path
from urllib.parse import unquote, urlsplit

from flask import Flask


def is_local_path(target: str | None, prefix: str = "/") -> bool:
    """True for a same-site path under `prefix` (a safe `next=`): one leading slash, no
    backslash, no whitespace or control characters (browsers drop tabs and newlines, so
    "/\t/evil.example" would become "//evil.example"), also once more percent-decoded."""
    if not target or len(target) > 2000 or not target.startswith(prefix):
        return False
    for text in (target, unquote(target)):
        if not text.startswith("/") or text.startswith("//") or "\\" in text:
            return False
        if any(c.isspace() or unicodedata.category(c).startswith(("C", "Z")) for c in text):
            return False
        parts = urlsplit(text)
        if parts.scheme or parts.netloc:
            return False
    return True


def register_web(app: Flask) -> None:
    """Register every web blueprint found in app/web and the kiosk package."""
    names = sorted(m.name for m in pkgutil.iter_modules([str(Path(__file__).parent)]))
    modules = [f"app.web.{name}" for name in names]
    modules.append("kiosk")
    modules.append("app.open311")
    blueprints = []  # all imported first: a page may add routes to another module's blueprint
    for dotted in modules:
        try:
            module = importlib.import_module(dotted)
        except ModuleNotFoundError as exc:
            if exc.name == dotted:
                continue
            raise
        bp = getattr(module, "bp", None)
        if bp is not None and bp not in blueprints:
            blueprints.append(bp)
    for bp in blueprints:
        app.register_blueprint(bp)
