"""Settings. The only module that reads os.environ."""

from __future__ import annotations

import os
import secrets
from datetime import timedelta
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_INSTANCE = PROJECT_ROOT / "instance"


class ConfigError(RuntimeError):
    """Raised when the environment cannot give a safe configuration."""


def _bool(value: str | None, default: bool = False) -> bool:
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _int(env, name: str, default: int) -> int:
    raw = env.get(name)
    return int(raw) if raw not in (None, "") else default


def _pairs(raw: str | None) -> dict[str, str]:
    """ "a=1, b=2" → {"a": "1", "b": "2"}."""
    pairs = (item.partition("=") for item in (raw or "").split(","))
    return {k.strip(): v.strip() for k, sep, v in pairs if sep and k.strip() and v.strip()}


def _database_url(raw: str | None, instance: Path) -> str:
    if not raw:
        return f"sqlite:///{instance / 'linli.db'}"
    # Heroku-style URLs and bare postgresql:// both use psycopg 3.
    if raw.startswith("postgres://"):
        raw = "postgresql://" + raw[len("postgres://") :]
    if raw.startswith("postgresql://"):
        raw = "postgresql+psycopg://" + raw[len("postgresql://") :]
    return raw


def _dev_secret_key(instance: Path) -> str:
    """Generate once into instance/ so sessions survive restarts in development."""
    instance.mkdir(parents=True, exist_ok=True)
    path = instance / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(48))
        path.chmod(0o600)
    return path.read_text().strip()


def load_config(env: dict | None = None, **overrides) -> dict:
    """Build the Flask config mapping from the environment (and test overrides)."""
    env = dict(os.environ if env is None else env)
    env.update({k: str(v) for k, v in overrides.pop("ENV_OVERRIDES", {}).items()})
    mode = env.get("LINLI_ENV", "development")
    if mode not in {"development", "production", "testing"}:
        raise ConfigError(f"LINLI_ENV must be development, production or testing, not {mode!r}")
    instance = Path(env.get("LINLI_INSTANCE_PATH", DEFAULT_INSTANCE))
    production = mode == "production"

    secret = env.get("SECRET_KEY")
    database = env.get("DATABASE_URL")
    if production and not secret:
        raise ConfigError("SECRET_KEY must be set in production")
    if production and not database:
        raise ConfigError("DATABASE_URL must be set in production")
    if not secret:
        secret = _dev_secret_key(instance)

    db_url = _database_url(database, instance)

    cfg = {
        "LINLI_ENV": mode,
        "TESTING": mode == "testing",
        "SECRET_KEY": secret,
        "SQLALCHEMY_DATABASE_URI": db_url,
        # Per worker process. gevent runs many requests at once in a worker, each holding one
        # connection until it ends; beyond pool size + overflow they wait up to POOL_TIMEOUT
        # seconds, then get 503 with Retry-After. Keep WEB_CONCURRENCY × (size + overflow)
        # below the server's max_connections.
        "DATABASE_POOL_SIZE": _int(env, "DATABASE_POOL_SIZE", 10),
        "DATABASE_MAX_OVERFLOW": _int(env, "DATABASE_MAX_OVERFLOW", 5),
        "DATABASE_POOL_TIMEOUT": float(env.get("DATABASE_POOL_TIMEOUT") or 30),
        # SQLite: how long a write waits for another one in all (cooperatively, see
        # app/database.py), and the longest single wait inside SQLite (it blocks the worker).
        "SQLITE_BUSY_TIMEOUT": float(env.get("SQLITE_BUSY_TIMEOUT") or 10),
        "SQLITE_BUSY_SLICE_MS": _int(env, "SQLITE_BUSY_SLICE_MS", 10),
        # PostgreSQL under gevent: how long a connection that has written in its transaction
        # waits for the server without letting the worker's other requests run (0: always
        # lets them run). See app/database.py install_postgres.
        "PG_HOLDING_WAIT_MS": _int(env, "PG_HOLDING_WAIT_MS", 5),
        "REDIS_URL": env.get("REDIS_URL") or None,
        "UPLOAD_FOLDER": env.get("UPLOAD_FOLDER") or str(instance / "uploads"),
        "MEDIA_CACHE_FOLDER": env.get("MEDIA_CACHE_FOLDER") or str(instance / "cache"),
        "INSTANCE_PATH": str(instance),
        "TIMEZONE": env.get("LINLI_TIMEZONE", "Asia/Shanghai"),
        "BABEL_DEFAULT_LOCALE": "zh_CN",
        "BABEL_DEFAULT_TIMEZONE": env.get("LINLI_TIMEZONE", "Asia/Shanghai"),
        "BABEL_TRANSLATION_DIRECTORIES": "translations",
        "LANGUAGES": ["zh_CN", "en"],
        # 8 MiB covers a phone photo or a 60 s recording; larger bodies get 413.
        "MAX_CONTENT_LENGTH": _int(env, "MAX_CONTENT_LENGTH", 8 * 1024 * 1024),
        # JSON bodies are small: larger ones get 413 before they are read, and the parser
        # refuses more values or deeper nesting than this (app/jsonbody.py).
        "JSON_MAX_BYTES": _int(env, "JSON_MAX_BYTES", 256 * 1024),
        # A request body must arrive within BODY_READ_TIMEOUT seconds plus one second per
        # BODY_MIN_RATE bytes, else 408 (app/bodyread.py; slow clients, slowloris).
        "BODY_READ_TIMEOUT": _int(env, "BODY_READ_TIMEOUT", 30),
        "BODY_MIN_RATE": _int(env, "BODY_MIN_RATE", 64 * 1024),
        "JSON_MAX_ITEMS": _int(env, "JSON_MAX_ITEMS", 10_000),
        "JSON_MAX_DEPTH": _int(env, "JSON_MAX_DEPTH", 32),
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": _bool(env.get("SESSION_COOKIE_SECURE"), production),
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        "REMEMBER_COOKIE_SECURE": _bool(env.get("SESSION_COOKIE_SECURE"), production),
        # Elderly residents stay signed in until they sign out (the cookie carries the
        # sign-in's random key; the server decides whether it still counts).
        "REMEMBER_COOKIE_DURATION": timedelta(days=_int(env, "EASY_SESSION_DAYS", 365)),
        "PERMANENT_SESSION_LIFETIME": timedelta(days=365),
        "WTF_CSRF_TIME_LIMIT": None,
        "WTF_CSRF_SSL_STRICT": production,
        # Reverse proxies in front of the app whose X-Forwarded-For/Proto/Host are believed
        # (0: none, the client's own address counts; 1: one nginx in front).
        "PROXY_HOPS": _int(env, "LINLI_PROXY_HOPS", 0),
        # Login throttling (app/people/auth.py): after LOGIN_MAX_FAILURES wrong secrets in a
        # row the account locks, for LOGIN_LOCKOUT_FIRST_MINUTES at first and twice as long at
        # each further lock, up to LOGIN_LOCKOUT_MINUTES. An address with LOGIN_IP_MAX_FAILURES
        # wrong secrets within LOGIN_IP_WINDOW_MINUTES gets 429 until that window ends.
        "LOGIN_MAX_FAILURES": _int(env, "LOGIN_MAX_FAILURES", 5),
        "LOGIN_LOCKOUT_MINUTES": _int(env, "LOGIN_LOCKOUT_MINUTES", 15),
        "LOGIN_LOCKOUT_FIRST_MINUTES": _int(env, "LOGIN_LOCKOUT_FIRST_MINUTES", 1),
        "LOGIN_IP_MAX_FAILURES": _int(env, "LOGIN_IP_MAX_FAILURES", 10),
        "LOGIN_IP_WINDOW_MINUTES": _int(env, "LOGIN_IP_WINDOW_MINUTES", 15),
        # argon2 hashes at once per process (64 MiB each); under gevent they run in threads.
        "PASSWORD_HASH_THREADS": _int(env, "PASSWORD_HASH_THREADS", 2),
        "API_TOKEN_DAYS": _int(env, "API_TOKEN_DAYS", 365),
        # Sign-ins (app/people/auth.py): easy mode stays signed in until sign-out, at most
        # this many days; a staff console sign-in lasts a working shift.
        "EASY_SESSION_DAYS": _int(env, "EASY_SESSION_DAYS", 365),
        "STAFF_SESSION_HOURS": _int(env, "STAFF_SESSION_HOURS", 12),
        "VOSK_MODEL_PATH": env.get("VOSK_MODEL_PATH") or None,
        # Voice assistant (app/assistant/runtime.py): dialog language(s), limits, speech cache.
        "VOICE_LANGUAGE": env.get("VOICE_LANGUAGE") or "zh-CN",
        # Language packs to load: built-in codes (zh-CN, en) or paths to pack JSON files.
        "VOICE_LANGUAGES": env.get("VOICE_LANGUAGES") or "zh-CN,en",
        "VOICE_MAX_SECONDS": _int(env, "VOICE_MAX_SECONDS", 60),
        # The voice WebSocket (flask-sock, simple-websocket): a message is held whole before
        # the stream sees it, so its size is capped here (its audio frames are at most 64 KB);
        # a larger one closes the socket (1009) instead of filling the worker's memory.
        "SOCK_SERVER_OPTIONS": {"max_message_size": 256 * 1024},
        "VOICE_MAX_BYTES": _int(env, "VOICE_MAX_BYTES", 8 * 1024 * 1024),
        # Rendered speech; default MEDIA_CACHE_FOLDER/voice. Shared storage when several hosts.
        "VOICE_CACHE": env.get("VOICE_CACHE") or None,
        "VOICE_CONVERSATION_SECONDS": _int(env, "VOICE_CONVERSATION_SECONDS", 120),
        # Where conversations live: redis | database | memory (one process only); default
        # redis with REDIS_URL, else database (every worker takes any turn).
        "VOICE_CONVERSATIONS": env.get("VOICE_CONVERSATIONS") or None,
        "VOICE_TTS_TIMEOUT": _int(env, "VOICE_TTS_TIMEOUT", 30),
        # The speech cache's size (least recently used speech goes first; prompts and live
        # announcements stay) and new renderings an hour per person or address / per screen.
        "VOICE_CACHE_MAX_MB": _int(env, "VOICE_CACHE_MAX_MB", 200),
        "VOICE_RENDER_PER_HOUR": _int(env, "VOICE_RENDER_PER_HOUR", 120),
        "VOICE_RENDER_PER_HOUR_DEVICE": _int(env, "VOICE_RENDER_PER_HOUR_DEVICE", 300),
        # Per worker, in the background: fixed prompts and announcement speech rendered ahead.
        "VOICE_BACKGROUND": _bool(env.get("VOICE_BACKGROUND"), mode != "testing"),
        "VOICE_STREAM_IDLE_SECONDS": _int(env, "VOICE_STREAM_IDLE_SECONDS", 120),
        # Where people and partner systems reach the service (links, QR codes, Open311
        # discovery and media_url); unset: the host each request came to (app/urls.py).
        "PUBLIC_BASE_URL": env.get("PUBLIC_BASE_URL") or None,
        # Announcements and lobby screens (kiosk): live stream, pairing, defaults.
        "EVENTS_CHANNEL_PREFIX": env.get("EVENTS_CHANNEL_PREFIX", "linli"),
        "KIOSK_STREAM_SECONDS": _int(env, "KIOSK_STREAM_SECONDS", 300),
        "KIOSK_HEARTBEAT_SECONDS": float(env.get("KIOSK_HEARTBEAT_SECONDS") or 15),
        "KIOSK_RETRY_MS": _int(env, "KIOSK_RETRY_MS", 3000),
        "KIOSK_POLL_SECONDS": _int(env, "KIOSK_POLL_SECONDS", 120),
        "KIOSK_FEED_POLL_SECONDS": float(env.get("KIOSK_FEED_POLL_SECONDS") or 0.25),
        "KIOSK_OFFLINE_AFTER_SECONDS": _int(env, "KIOSK_OFFLINE_AFTER_SECONDS", 300),
        "KIOSK_TICKET_SECONDS": _int(env, "KIOSK_TICKET_SECONDS", 120),
        "KIOSK_PAIRING_MINUTES": _int(env, "KIOSK_PAIRING_MINUTES", 10),
        "KIOSK_PAIRING_PER_ADDRESS": _int(env, "KIOSK_PAIRING_PER_ADDRESS", 10),
        "KIOSK_PAIRING_MAX_FAILURES": _int(env, "KIOSK_PAIRING_MAX_FAILURES", 5),
        # 查进度 at a screen: lookups (by digits or phone + PIN) per screen and hour.
        "KIOSK_PROGRESS_PER_HOUR": _int(env, "KIOSK_PROGRESS_PER_HOUR", 30),
        "ANNOUNCEMENT_DEFAULT_DAYS": _int(env, "ANNOUNCEMENT_DEFAULT_DAYS", 30),
        "ANNOUNCEMENT_URGENT_HOURS": _int(env, "ANNOUNCEMENT_URGENT_HOURS", 24),
        # The alert centre: unacknowledged urgent help climbs grid worker -> committee staff ->
        # street office after this many minutes at each step (fractions allowed, for tests).
        "ALERT_ESCALATE_MINUTES": float(env.get("ALERT_ESCALATE_MINUTES") or 5),
        "ALERT_STREAM_SECONDS": _int(env, "ALERT_STREAM_SECONDS", 300),
        # Community affairs (诉求): deadlines, automatic steps, attachments, idempotency, Open311.
        "CASE_AUTO_CLOSE_DAYS": _int(env, "CASE_AUTO_CLOSE_DAYS", 7),
        "CASE_ESCALATION_GRACE_HOURS": _int(env, "CASE_ESCALATION_GRACE_HOURS", 24),
        # Remind the handlers this long before a deadline (at most half the category's
        # deadline, so a short one does not remind at once); 0 turns the reminder off.
        "CASE_DUE_SOON_HOURS": _int(env, "CASE_DUE_SOON_HOURS", 4),
        # A list read sweeps its community's due work at most this often per process (0: every
        # read); "overdue" and its count are read from the deadlines themselves.
        "CASE_LIST_SWEEP_SECONDS": _int(env, "CASE_LIST_SWEEP_SECONDS", 10),
        "CASE_SIMILAR_RADIUS_M": _int(env, "CASE_SIMILAR_RADIUS_M", 150),
        "CASE_PHOTO_MAX_BYTES": _int(env, "CASE_PHOTO_MAX_BYTES", 8 * 1024 * 1024),
        "CASE_PHOTO_MAX_PIXELS": _int(env, "CASE_PHOTO_MAX_PIXELS", 40_000_000),
        "CASE_PHOTO_MAX_EDGE": _int(env, "CASE_PHOTO_MAX_EDGE", 2560),
        # Pictures (app/infra/images.py): pixels actually decoded (a JPEG is decoded scaled
        # down, so this bounds PNG/WebP/GIF), decodes at once per process and how long a
        # request waits for one (then 503).
        "IMAGE_MAX_DECODE_PIXELS": _int(env, "IMAGE_MAX_DECODE_PIXELS", 16_000_000),
        "IMAGE_DECODE_CONCURRENCY": _int(env, "IMAGE_DECODE_CONCURRENCY", 2),
        "IMAGE_DECODE_WAIT_SECONDS": _int(env, "IMAGE_DECODE_WAIT_SECONDS", 15),
        "CASE_AUDIO_MAX_BYTES": _int(env, "CASE_AUDIO_MAX_BYTES", 8 * 1024 * 1024),
        "CASE_ATTACHMENTS_MAX": _int(env, "CASE_ATTACHMENTS_MAX", 12),
        "IDEMPOTENCY_TTL_HOURS": _int(env, "IDEMPOTENCY_TTL_HOURS", 48),
        # New cases an hour per person (a proxy counts as themselves) and per lobby screen;
        # staff taking cases down are not limited; 0 turns a limit off.
        "CASE_CREATE_PER_HOUR": _int(env, "CASE_CREATE_PER_HOUR", 20),
        "CASE_CREATE_PER_HOUR_DEVICE": _int(env, "CASE_CREATE_PER_HOUR_DEVICE", 120),
        "OPEN311_PUBLIC_READ": _bool(env.get("OPEN311_PUBLIC_READ"), True),
        # Open311 discovery's `contact` and `key_service` (unset: where the committee is, and
        # the staff console page that issues keys).
        "OPEN311_CONTACT": env.get("OPEN311_CONTACT") or None,
        "OPEN311_KEY_SERVICE": env.get("OPEN311_KEY_SERVICE") or None,
        # Outbound delivery (app/infra/outbound.py, app/people/delivery.py, docs/DELIVERY.md):
        # e-mail over SMTP and SMS through Alibaba Cloud (SMS_PROVIDER=aliyun). A channel
        # without its settings is not configured: its deliveries are recorded as skipped.
        "SMTP_HOST": env.get("SMTP_HOST") or None,
        "SMTP_PORT": _int(env, "SMTP_PORT", 0),  # 0: 465 with SMTP_SSL, else 25
        "SMTP_FROM": env.get("SMTP_FROM") or None,
        "SMTP_USER": env.get("SMTP_USER") or None,
        "SMTP_PASSWORD": env.get("SMTP_PASSWORD") or None,
        "SMTP_STARTTLS": _bool(env.get("SMTP_STARTTLS")),
        "SMTP_SSL": _bool(env.get("SMTP_SSL")),
        "SMTP_TIMEOUT": float(env.get("SMTP_TIMEOUT") or 10),
        "SMS_PROVIDER": (env.get("SMS_PROVIDER") or "").lower() or None,
        "SMS_ENDPOINT": env.get("SMS_ENDPOINT") or "https://dysmsapi.aliyuncs.com/",
        "SMS_ACCESS_KEY_ID": env.get("SMS_ACCESS_KEY_ID") or None,
        "SMS_ACCESS_KEY_SECRET": env.get("SMS_ACCESS_KEY_SECRET") or None,
        "SMS_SIGN_NAME": env.get("SMS_SIGN_NAME") or None,
        "SMS_REGION": env.get("SMS_REGION") or "cn-hangzhou",
        # The approved template (variables ${title} and ${detail}); per kind of notice
        # "urgent_help=SMS_1,case_status=SMS_2" overrides it.
        "SMS_TEMPLATE_CODE": env.get("SMS_TEMPLATE_CODE") or None,
        "SMS_TEMPLATE_CODES": _pairs(env.get("SMS_TEMPLATE_CODES")),
        "SMS_TIMEOUT": float(env.get("SMS_TIMEOUT") or 10),
        # Tries per delivery, the first wait before a retry (doubled each time, at most
        # DELIVERY_RETRY_MAX_SECONDS), how often each process's loop sends, rows per round.
        "DELIVERY_MAX_ATTEMPTS": _int(env, "DELIVERY_MAX_ATTEMPTS", 5),
        "DELIVERY_RETRY_SECONDS": _int(env, "DELIVERY_RETRY_SECONDS", 60),
        "DELIVERY_RETRY_MAX_SECONDS": _int(env, "DELIVERY_RETRY_MAX_SECONDS", 3600),
        "DELIVERY_EVERY_SECONDS": float(env.get("DELIVERY_EVERY_SECONDS") or 15),
        "DELIVERY_BATCH": _int(env, "DELIVERY_BATCH", 20),
        # A delivery claimed this long ago and never finished (its worker died mid-send) is
        # marked failed, not sent again: it may have gone out.
        "DELIVERY_CLAIM_SECONDS": _int(env, "DELIVERY_CLAIM_SECONDS", 300),
        # Quiet hours in LINLI_TIMEZONE ("21:00-08:00"; empty: none): deliveries wait for
        # the morning, except urgent help.
        "DELIVERY_QUIET_HOURS": env.get("DELIVERY_QUIET_HOURS", "21:00-08:00"),
        "DELIVERY_KEEP_DAYS": _int(env, "DELIVERY_KEEP_DAYS", 90),
        # flask-smorest / OpenAPI
        "API_TITLE": "Linli API",
        "API_VERSION": "v1",
        "OPENAPI_VERSION": "3.0.3",
        "OPENAPI_URL_PREFIX": "/api",
        "OPENAPI_JSON_PATH": "openapi.json",
        "OPENAPI_REDOC_PATH": "/docs",
        "OPENAPI_REDOC_URL": "/static/vendor/redoc/redoc.standalone.js",
        "JSON_SORT_KEYS": False,
    }
    cfg.update(overrides)
    cfg.setdefault("SQLALCHEMY_ENGINE_OPTIONS", engine_options(cfg["SQLALCHEMY_DATABASE_URI"], cfg))
    return cfg


def engine_options(url: str, cfg: dict) -> dict:
    """Connection settings suited to the database behind `url`."""
    pool = {
        "pool_size": cfg["DATABASE_POOL_SIZE"],
        "max_overflow": cfg["DATABASE_MAX_OVERFLOW"],
        "pool_timeout": cfg["DATABASE_POOL_TIMEOUT"],
    }
    if url.startswith("sqlite"):
        # SQLite's own busy wait blocks the whole (gevent) worker: keep it to a short slice;
        # app/database.py waits the rest cooperatively.
        options = {
            "connect_args": {
                "timeout": cfg["SQLITE_BUSY_SLICE_MS"] / 1000,
                "check_same_thread": False,
            }
        }
        return options if ":memory:" in url or url.rstrip("/") == "sqlite:" else {**options, **pool}
    return {"pool_pre_ping": True, **pool}
