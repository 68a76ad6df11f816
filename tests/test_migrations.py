"""The committed migrations build exactly the schema the models describe (like `flask db check`)."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import upgrade
from sqlalchemy import create_engine, text

from app import create_app
from app.database import schema_on
from app.extensions import db
from tests.conftest import fresh_database


def test_migrations_match_models(tmp_path):
    # An empty database of the kind under test, built only by the migrations.
    with fresh_database(tmp_path) as url:
        _compare(tmp_path, url)


def _compare(tmp_path, url):
    app = create_app(
        {
            "ENV_OVERRIDES": {"LINLI_ENV": "testing", "LINLI_INSTANCE_PATH": str(tmp_path)},
            "SQLALCHEMY_DATABASE_URI": url,
            "ARGON2_PROFILE": "fast",
        }
    )
    with app.app_context():
        upgrade()
        engine = create_engine(url)
        with engine.connect() as conn:
            opts = {"compare_type": True, "include_object": schema_on(conn.dialect.name)}
            diff = compare_metadata(MigrationContext.configure(conn, opts=opts), db.metadata)
        engine.dispose()
        db.engine.dispose()
    assert diff == [], f"models and migrations differ; run `flask db migrate`: {diff[:5]}"


def _index_definitions(url: str) -> dict[str, str]:
    """Every index as the database itself states it (with a partial index's condition, which
    autogenerate does not compare)."""
    engine = create_engine(url)
    query = (
        "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL"
        if engine.dialect.name == "sqlite"
        else "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public'"
    )
    with engine.connect() as conn:
        found = {
            name: " ".join(sql.replace('"', "").split()) for name, sql in conn.execute(text(query))
        }
    engine.dispose()
    return found


def test_partial_index_conditions_match_models(tmp_path):
    built = {}
    for how in ("migrations", "models"):
        with fresh_database(tmp_path) as url:
            app = create_app(
                {
                    "ENV_OVERRIDES": {"LINLI_ENV": "testing", "LINLI_INSTANCE_PATH": str(tmp_path)},
                    "SQLALCHEMY_DATABASE_URI": url,
                    "ARGON2_PROFILE": "fast",
                }
            )
            with app.app_context():
                upgrade() if how == "migrations" else db.create_all()
                db.engine.dispose()
            built[how] = _index_definitions(url)
    assert "ix_case_record_due_soon" in built["models"]
    assert " WHERE " in built["models"]["ix_case_record_due_soon"]
    differ = {
        name: (built["migrations"].get(name), sql)
        for name, sql in built["models"].items()
        if built["migrations"].get(name) != sql
    }
    assert differ == {}


def test_readyz_reports_current_migrations(client):
    r = client.get("/readyz")
    assert r.status_code == 200
    assert r.get_json() == {"ready": True, "database": "ok", "migrations": "current"}


def test_healthz(client):
    assert client.get("/healthz").get_json() == {"status": "ok"}
