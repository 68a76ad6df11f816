"""Linli (邻里): the Flask application factory."""

from __future__ import annotations

import logging

from flask import Flask

from app.config import PROJECT_ROOT, load_config


def create_app(config: dict | None = None) -> Flask:
    """Build the app: settings, extensions, blueprints, error handlers, commands."""
    settings = load_config(**(config or {}))
    app = Flask(
        __name__,
        instance_path=settings["INSTANCE_PATH"],
        static_folder=str(PROJECT_ROOT / "app" / "static"),
        template_folder=str(PROJECT_ROOT / "app" / "templates"),
    )
    app.config.update(settings)
    from app import bodyread, jsonbody
    from app.infra import images, uow

    bodyread.init_app(app)  # first: its 408 comes before any other request hook
    jsonbody.init_app(app)
    images.init_app(app)
    register_extensions(app)
    register_blueprints(app)
    uow.init_app(app)  # one unit of work for every channel (after the others: it runs first)
    register_errorhandlers(app)
    register_commands(app)
    hops = app.config["PROXY_HOPS"]
    if hops > 0:
        # Only a configured proxy's forwarded headers are believed: a client can write its own.
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)
    logging.getLogger("linli").setLevel(logging.INFO)
    return app


def register_extensions(app: Flask) -> None:
    """Bind db, migrations, login, CSRF, Babel, websockets, the API and the audit hook."""
    from app import (
        i18n,
        models,  # noqa: F401  (register every table)
        security,
    )
    from app.extensions import api, babel, csrf, db, login_manager, migrate, sock
    from app.infra import audit

    db.init_app(app)
    _sqlite_pragmas(app)
    migrate.init_app(app, db, directory=str(PROJECT_ROOT / "migrations"), compare_type=True,
                     render_as_batch=True)
    login_manager.init_app(app)
    csrf.init_app(app)
    i18n.prepare(app)
    babel.init_app(app, locale_selector=i18n.select_locale, timezone_selector=i18n.select_timezone)
    sock.init_app(app)
    api.init_app(app, spec_kwargs={"info": {"description": "Linli JSON API (/api/v1)."}})
    security.init_app(app)
    i18n.init_app(app)
    audit.install()
    from app.assistant import voice as voice_service

    voice_service.init_app(app)  # preloads the Vosk model only when VOSK_MODEL_PATH is set


def _sqlite_pragmas(app: Flask) -> None:
    if not app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        return
    from app.database import install_sqlite
    from app.extensions import db

    with app.app_context():
        install_sqlite(db.engine, app.config)


def register_blueprints(app: Flask) -> None:
    """Every channel: JSON API, staff console, health checks (others add theirs here)."""
    from app.api import register_api
    from app.web import register_web

    register_api(app)
    register_web(app)


def register_errorhandlers(app: Flask) -> None:
    """One JSON envelope for API errors, friendly pages for HTML."""
    from app.errors import init_app

    init_app(app)


def register_commands(app: Flask) -> None:
    """flask seed-demo, create-user, …"""
    from app.cli import init_app

    init_app(app)
