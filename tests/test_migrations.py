"""The committed migrations build exactly the schema the models describe (like `flask db check`)."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import upgrade
from sqlalchemy import create_engine

from app import create_app
from app.extensions import db
from tests.conftest import fresh_database


def test_migrations_match_models(tmp_path):
    # An empty database of the kind under test, built only by the migrations.
    with fresh_database(tmp_path) as url:
        _compare(tmp_path, url)


def _compare(tmp_path, url):
    app = create_app({"ENV_OVERRIDES": {"LINLI_ENV": "testing",
                                        "LINLI_INSTANCE_PATH": str(tmp_path)},
                      "SQLALCHEMY_DATABASE_URI": url, "ARGON2_PROFILE": "fast"})
    with app.app_context():
        upgrade()
        engine = create_engine(url)
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}),
                                    db.metadata)
        engine.dispose()
        db.engine.dispose()
    assert diff == [], f"models and migrations differ; run `flask db migrate`: {diff[:5]}"


def test_readyz_reports_current_migrations(client):
    r = client.get("/readyz")
    assert r.status_code == 200
    assert r.get_json() == {"ready": True, "database": "ok", "migrations": "current"}


def test_healthz(client):
    assert client.get("/healthz").get_json() == {"status": "ok"}
