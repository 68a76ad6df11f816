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
    engine_options: dict = {"pool_pre_ping": True}
    if db_url.startswith("sqlite"):
        # Waiting on the write lock beats failing under concurrent requests.
        engine_options = {"connect_args": {"timeout": 30, "check_same_thread": False}}

    cfg = {
        "LINLI_ENV": mode,
        "TESTING": mode == "testing",
        "SECRET_KEY": secret,
        "SQLALCHEMY_DATABASE_URI": db_url,
        "SQLALCHEMY_ENGINE_OPTIONS": engine_options,
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
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": _bool(env.get("SESSION_COOKIE_SECURE"), production),
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        "REMEMBER_COOKIE_SECURE": _bool(env.get("SESSION_COOKIE_SECURE"), production),
        # Elderly residents stay signed in until they sign out.
        "REMEMBER_COOKIE_DURATION": timedelta(days=365),
        "PERMANENT_SESSION_LIFETIME": timedelta(days=365),
        "WTF_CSRF_TIME_LIMIT": None,
        "WTF_CSRF_SSL_STRICT": production,
        # Login throttling: after this many failures the account locks for LOCKOUT_MINUTES.
        "LOGIN_MAX_FAILURES": _int(env, "LOGIN_MAX_FAILURES", 5),
        "LOGIN_LOCKOUT_MINUTES": _int(env, "LOGIN_LOCKOUT_MINUTES", 15),
        "API_TOKEN_DAYS": _int(env, "API_TOKEN_DAYS", 365),
        "VOSK_MODEL_PATH": env.get("VOSK_MODEL_PATH") or None,
        "PUBLIC_BASE_URL": env.get("PUBLIC_BASE_URL", "http://127.0.0.1:8000"),
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
    return cfg
