"""The walk of one case submission (POST /api/v1/cases by a resident), as issue #11 measured it.

Traces the Python calls between Linli's own files (app/, kiosk/, voice/; models excluded) while
the request runs, and prints the path: each call from one file into another is a stop; a file
that calls back into a file it already called and left again ("back into a file it left") is a
return. Usage: .venv/bin/python scripts/walk.py
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
INSTANCE = tempfile.mkdtemp(prefix="linli-walk-")


def _ours(filename: str) -> str | None:
    path = Path(filename)
    try:
        rel = path.resolve().relative_to(ROOT)
    except ValueError:
        return None
    if rel.parts[0] not in ("app", "kiosk", "voice") or rel.parts[:2] == ("app", "models"):
        return None
    return str(rel)


# Layers, lowest first (docs/ARCHITECTURE.md); a call into a higher layer is a call back up.
LAYERS = [("app/database.py", "app/infra/"), ("app/people/",),
          ("app/affairs/", "app/notices/", "app/screens/", "app/assistant/", "app/residents/"),
          ("app/",)]
AFFAIRS = ["rules", "policy", "common", "words", "counts", "notify", "deadlines", "views",
           "queries", "intake", "workflow"]


def _rank(path: str) -> tuple[int, int]:
    layer = next(i for i, prefixes in enumerate(LAYERS)
                 if any(path.startswith(p) for p in prefixes)) if path.startswith("app/") else 3
    name = Path(path).stem
    within = AFFAIRS.index(name) if path.startswith("app/affairs/") and name in AFFAIRS else -1
    return layer, within


def main() -> None:
    from app import create_app
    from app.cli import _import_feature_modules

    app = create_app({"ENV_OVERRIDES": {"LINLI_INSTANCE_PATH": INSTANCE},
                      "SQLALCHEMY_DATABASE_URI": f"sqlite:///{INSTANCE}/walk.db",
                      "INSTANCE_PATH": INSTANCE, "ARGON2_PROFILE": "fast"})
    with app.app_context():
        from flask_migrate import upgrade

        from app import demo
        from app.extensions import db

        upgrade()
        _import_feature_modules()
        summary = demo.seed()
        db.session.commit()
    resident = next(a for a in summary["accounts"] if a["role"] == "resident")
    client = app.test_client()
    token = client.post("/api/v1/auth/token",
                        json={"login": resident["login"], "pin": resident["pin"]}).get_json()
    headers = {"Authorization": f"Bearer {token['token']}", "Idempotency-Key": "walk-0001"}
    body = {"category_code": "repair", "description": "楼道灯不亮了，晚上看不清台阶。"}

    # Direct calls only (the caller is the frame right below): library callbacks such as
    # SQLAlchemy's flush hooks are not a step of the walk.
    stops: list[str] = []
    last_callee: dict[int, str] = {}  # caller frame → the file it called last
    called: dict[int, set] = {}  # caller frame → files it called
    returns: list[str] = []
    upward: list[str] = []

    def profile(frame, event, arg):
        if event != "call" or frame.f_back is None:
            return
        here, caller = _ours(frame.f_code.co_filename), _ours(frame.f_back.f_code.co_filename)
        if here is None or caller is None or here == caller:
            return
        key = id(frame.f_back)
        if last_callee.get(key) == here:
            return
        if _rank(here) > _rank(caller):
            upward.append(f"{caller} → {here}")
        if here in called.setdefault(key, set()):
            returns.append(f"{caller} → {here}")
        called[key].add(here)
        last_callee[key] = here
        stops.append(f"{caller} → {here}")

    sys.setprofile(profile)
    try:
        response = client.post("/api/v1/cases", json=body, headers=headers)
    finally:
        sys.setprofile(None)
    assert response.status_code == 201, response.get_json()
    files = {s.split(" → ")[1] for s in stops}
    print(f"POST /api/v1/cases → {response.status_code}: {len(stops)} stops in {len(files)} files, "
          f"{len(returns)} calls into a file the same function called before")
    route = [s for s in stops if s.startswith("app/api/cases/routes.py")]
    print("the route calls:", ", ".join(s.split(" → ")[1] for s in route))
    print(f"calls back up a layer (or up the affairs modules' order): {len(upward)}")
    for s in upward:
        print("  up:", s)


if __name__ == "__main__":
    os.environ.setdefault("LINLI_ENV", "development")
    main()
