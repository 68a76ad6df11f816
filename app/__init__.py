"""Linli (邻里): the Flask application factory."""

from __future__ import annotations

import logging

from flask import Flask

from app.config import PROJECT_ROOT, load_config


def create_app(config: dict | None = None) -> Flask:
    """Build the app: settings, extensions, blueprints, error handlers, commands, listeners,
    jobs. Everything is registered here, by name; importing or registering a blueprint does
    nothing else."""
    settings = load_config(**(config or {}))
    app = Flask(
        __name__,
        instance_path=settings["INSTANCE_PATH"],
        static_folder=str(PROJECT_ROOT / "app" / "static"),
        template_folder=str(PROJECT_ROOT / "app" / "templates"),
    )
    app.config.update(settings)
    from app import bodyread, errors, jsonbody
    from app.infra import images, uow

    bodyread.init_app(app)  # first: its 408 comes before any other request hook
    jsonbody.init_app(app)
    images.init_app(app)
    register_extensions(app)
    register_blueprints(app)
    # one unit of work for every channel (registered after the others: it runs first)
    uow.init_app(app, errors.answer_failed_commit)
    register_errorhandlers(app)
    register_commands(app)
    register_listeners(app)
    register_jobs(app)
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
    from app.infra import audit, events, jobs

    db.init_app(app)
    _database_hooks(app)
    migrate.init_app(
        app, db, directory=str(PROJECT_ROOT / "migrations"), compare_type=True, render_as_batch=True
    )
    login_manager.init_app(app)
    csrf.init_app(app)
    i18n.prepare(app)
    babel.init_app(app, locale_selector=i18n.select_locale, timezone_selector=i18n.select_timezone)
    sock.init_app(app)
    api.init_app(app, spec_kwargs={"info": {"description": "Linli JSON API (/api/v1)."}})
    security.init_app(app)
    i18n.init_app(app)
    audit.install()
    events.init_app(app)  # the doorbell bus of lobby screens (in-process, or Redis)
    jobs.init_app(app)
    from app.assistant import runtime as voice_runtime

    voice_runtime.init_app(app)  # preloads the Vosk model only when VOSK_MODEL_PATH is set


def _database_hooks(app: Flask) -> None:
    """SQLite's pragmas and busy waits; PostgreSQL's waits under gevent (app/database.py)."""
    from app.database import install_postgres, install_sqlite
    from app.extensions import db

    with app.app_context():
        if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
            install_sqlite(db.engine, app.config)
        else:
            install_postgres(db.engine, app.config)


def register_blueprints(app: Flask) -> None:
    """Every channel: JSON API (and the voice API's WebSocket route and speech cache in front of
    Flask), staff console, easy mode, lobby screens (and their log redaction), Open311, health."""
    import kiosk
    from app.api import register_api
    from app.api import voice as voice_api
    from app.web import register_web

    register_api(app)
    voice_api.init_app(app)
    register_web(app)
    kiosk.init_app(app)


def register_errorhandlers(app: Flask) -> None:
    """One JSON envelope for API errors, friendly pages for HTML."""
    from app.errors import init_app

    init_app(app)


def register_commands(app: Flask) -> None:
    """flask seed-demo, create-user, …"""
    from app.cli import init_app

    init_app(app)


def register_listeners(app: Flask) -> None:
    """Who follows which change (app/infra/events.py `changed`), in the same transaction."""
    from app.affairs import urgent
    from app.infra import events
    from app.participation import points
    from app.screens import feed

    events.on_change(app, "feed", feed.touch_feed)  # announcements → the screens' feed version
    # an acknowledged urgent-help notice (app/people) → a step on the case (app/affairs)
    events.on_change(app, "help_acknowledged", urgent.record_acknowledged)
    # a resident confirms a fixed case (app/affairs) → points (app/participation); a reopening
    # takes them back
    events.on_change(app, "case_confirmed", points.on_case_confirmed)
    events.on_change(app, "case_reopened", points.on_case_reopened)


def register_jobs(app: Flask) -> None:
    """What runs on a clock (app/infra/jobs.py): `flask jobs run` from cron runs them all; each
    process's feed watcher runs those marked loop, at most every `every` seconds."""
    from app.affairs import deadlines, urgent
    from app.assistant import runtime as voice_runtime
    from app.assistant import stores as voice_stores
    from app.infra import housekeeping, idempotency, jobs, ratelimit
    from app.participation import activities, votes
    from app.people import auth, delivery, notifications
    from app.screens import feed

    hourly = housekeeping.INTERVAL_SECONDS
    housekeeping.register_purge(app, "login_throttles", auth.purge_throttles)
    housekeeping.register_purge(app, "idempotency_keys", lambda now: idempotency.purge_expired())
    housekeeping.register_purge(app, "rate_limits", ratelimit.purge_expired)
    housekeeping.register_purge(
        app, "voice_conversations", voice_stores.purge_expired_conversations
    )
    housekeeping.register_purge(app, "delivery_records", delivery.purge_deliveries)

    # Deadlines stay with cron (and list reads, every CASE_LIST_SWEEP_SECONDS): the watcher
    # does not take them.
    jobs.register(app, "case_deadlines", deadlines.deadlines_job, loop=False)
    jobs.register(app, "case_auto_close", deadlines.auto_close_job, loop=False)
    # A vote past its window already reads as closed; the job only stores it.
    jobs.register(app, "consultation_close", votes.close_due_job, loop=False)
    jobs.register(app, "announcement_boundaries", feed.boundaries_job)
    # The alert centre: urgent help climbs its chain; open console pages hear other workers.
    jobs.register(app, "urgent_help_escalation", urgent.escalation_job, every=1.0)
    jobs.register(app, "alert_doorbells", notifications.doorbells_job)
    jobs.register(app, "purge_expired", housekeeping.purge_job, every=hourly)
    jobs.register(app, "speech_cache", voice_runtime.trim_speech_cache, every=hourly)
    # SMS and e-mail, after the commit that queued them (retries, quiet hours).
    every = app.config["DELIVERY_EVERY_SECONDS"]
    jobs.register(app, "deliveries", delivery.deliveries_job, every=every)
    jobs.register(app, "activity_reminders", activities.remind_job, every=300)
