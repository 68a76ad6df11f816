"""Server-rendered channels. Each module here (and kiosk/) exposes a blueprint `bp`."""

from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path

from flask import Flask


def register_web(app: Flask) -> None:
    """Register every web blueprint found in app/web and the kiosk package."""
    names = sorted(m.name for m in pkgutil.iter_modules([str(Path(__file__).parent)]))
    modules = [f"app.web.{name}" for name in names]
    modules.append("kiosk")
    modules.append("app.open311")
    for dotted in modules:
        try:
            module = importlib.import_module(dotted)
        except ModuleNotFoundError as exc:
            if exc.name == dotted:
                continue
            raise
        bp = getattr(module, "bp", None)
        if bp is not None:
            app.register_blueprint(bp)
