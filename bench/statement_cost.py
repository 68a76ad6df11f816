"""What one statement costs on each layer between the app and its database (issue #15, round 12).

A create runs 12 statements; this prints what one of them costs through each layer the app
could use, in microseconds and as a ratio against the DB-API cursor measured in the same run
(not a timed test):

- the DB-API cursor itself (sqlite3 or psycopg), the statement as the driver takes it;
- SQLAlchemy's `Connection.exec_driver_sql` (the same string, SQLAlchemy's execution context);
- `Connection.execute` of the built statement (its compiled form cached);
- `Session.execute` of it (what the app's services use: the ORM's execution, the session's
  hooks, Flask-SQLAlchemy's bind lookup);

and the bearer-token check two ways: `resolve_token` (the token with its person and roles as
ORM objects, what each API request does) against the same joins read as plain rows.

    .venv/bin/python bench/statement_cost.py [--database-url postgresql://…] [--loops 3000]

The statement is a read of one row by its key (`case_status_count`), run in one transaction.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.cases import bench_env, build, make_database  # noqa: E402


def _timed(run, loops: int) -> float:
    """Microseconds per call, the best of three rounds (after a warm-up)."""
    for _ in range(min(200, loops)):
        run()
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        for _ in range(loops):
            run()
        best = min(best, (time.perf_counter() - start) / loops * 1e6)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL"))
    parser.add_argument("--loops", type=int, default=3000)
    parser.add_argument("--cases", type=int, default=1000)
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="linli-statement-cost-"))
    db_url, drop = make_database(args.database_url, workdir)
    env = bench_env(workdir, db_url, "statement-cost")
    try:
        info = build(db_url, env, args.cases)
        from sqlalchemy import select

        from app import create_app
        from app.extensions import db
        from app.models import ApiToken, Person, RoleAssignment
        from app.models.case import CaseStatusCount
        from app.people import auth

        app = create_app({"SQLALCHEMY_DATABASE_URI": db_url})
        with app.test_request_context():
            session = db.session
            counts = CaseStatusCount.__table__
            statement = select(counts.c.total).where(
                counts.c.community_id == info["heping_id"], counts.c.status == "submitted"
            )
            connection = session.connection()
            compiled = statement.compile(dialect=connection.dialect)
            params = compiled.construct_params()
            if compiled.positional:
                driver_params = tuple(params[name] for name in compiled.positiontup)
            else:
                driver_params = params
            sql = str(compiled)
            cursor = connection.connection.dbapi_connection.cursor()

            def raw():
                cursor.execute(sql, driver_params)
                cursor.fetchall()

            layers = [
                ("DB-API cursor", raw),
                (
                    "Connection.exec_driver_sql",
                    lambda: connection.exec_driver_sql(sql, driver_params).all(),
                ),
                ("Connection.execute", lambda: connection.execute(statement).all()),
                ("Session.execute", lambda: session.execute(statement).all()),
            ]
            figures = [(label, _timed(run, args.loops)) for label, run in layers]

            person = session.scalar(select(Person).where(Person.username == "heping_staff"))
            token, _row = auth.issue_token(person=person)
            session.commit()
            hashed = auth._token_hash(token)
            tokens, people, roles = ApiToken.__table__, Person.__table__, RoleAssignment.__table__
            as_rows = (
                select(tokens, people, roles)
                .select_from(
                    tokens.outerjoin(people, people.c.id == tokens.c.person_id).outerjoin(
                        roles, roles.c.person_id == people.c.id
                    )
                )
                .where(tokens.c.token_hash == hashed)
            )

            def orm_check():
                assert auth.resolve_token(token) is not None
                session.expunge_all()  # each request loads its own objects

            def row_check():
                assert session.execute(as_rows).all()

            checks = [
                ("token check, ORM objects", _timed(orm_check, args.loops // 3)),
                ("token check, the same joins as rows", _timed(row_check, args.loops // 3)),
            ]
            session.rollback()
    finally:
        drop()

    kind = "SQLite" if db_url.startswith("sqlite") else "PostgreSQL"
    print(f"\nWhat one statement costs — {kind}, {args.loops} loops, best of 3\n")
    base = figures[0][1]
    print(f"{'layer':40s} {'µs/statement':>13s} {'× cursor':>9s}")
    for label, micro in figures:
        print(f"{label:40s} {micro:13.1f} {micro / base:9.1f}")
    print(f"\n{'token check (one request)':40s} {'µs':>13s} {'× rows':>9s}")
    rows = checks[1][1]
    for label, micro in checks:
        print(f"{label:40s} {micro:13.1f} {micro / rows:9.2f}")


if __name__ == "__main__":
    main()
