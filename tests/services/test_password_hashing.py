"""argon2 must not hold a gevent worker's event loop: under gevent it runs in the hub's thread
pool (other greenlets go on meanwhile); without gevent it runs directly."""

import json
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

from app.infra import offload
from app.people import auth

ROOT = Path(__file__).resolve().parents[2]

GEVENT_SCRIPT = textwrap.dedent("""
    from gevent import monkey
    monkey.patch_all()

    import json, sys, threading, time
    import gevent
    from app import create_app

    tmp = sys.argv[1]
    app = create_app({
        "ENV_OVERRIDES": {"LINLI_ENV": "testing", "LINLI_INSTANCE_PATH": tmp},
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp}/x.db", "INSTANCE_PATH": tmp,
        "ARGON2_PROFILE": "default",  # the real cost: tens of milliseconds per hash
    })
    through_pool = []
    real_get_hub = gevent.get_hub

    class Pool:  # the hub's pool, recording what it is given
        def apply(self, fn, args=None, kwds=None):
            through_pool.append(getattr(fn, "__name__", repr(fn)))
            return real_get_hub().threadpool.apply(fn, args, kwds)

    class Hub:
        threadpool = Pool()

    gevent.get_hub = Hub
    ticks = []

    def ticker():
        while True:
            ticks.append(time.perf_counter())
            gevent.sleep(0.001)

    gevent.spawn(ticker)
    gevent.sleep(0.01)
    with app.app_context():
        from app.people import auth
        start = time.perf_counter()
        hashed = auth.hash_secret("246813")
        ok = auth.verify_secret(hashed, "246813")
        wrong = auth.verify_secret(hashed, "135790")
        unknown = auth.verify_secret(None, "135790")
        end = time.perf_counter()
        counted = list(through_pool)
        here = threading.get_ident()
        ran_on = auth.off_loop(threading.get_ident)
        # Holding SQLite's write lock, it must not yield (another greenlet's write would wait
        # for the lock in C and block the loop): then it runs directly.
        from sqlalchemy import text
        from app.extensions import db
        db.session.execute(text("CREATE TABLE t (x INTEGER)"))
        db.session.execute(text("INSERT INTO t VALUES (1)"))
        before = len(through_pool)
        locked_ran_on = auth.off_loop(threading.get_ident)
        auth.hash_secret("246813")
        direct_while_locked = locked_ran_on == here and len(through_pool) == before
        db.session.rollback()
    print(json.dumps({"ok": ok, "wrong": wrong, "unknown": unknown,
                      "through_pool": counted, "seconds": end - start,
                      "ticks_during": sum(start < t < end for t in ticks),
                      "other_thread": ran_on != here,
                      "direct_while_locked": direct_while_locked}))
""")


def test_under_gevent_hashing_goes_through_the_pool_and_the_loop_keeps_running(tmp_path):
    done = subprocess.run(
        [sys.executable, "-c", GEVENT_SCRIPT, str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    got = json.loads(done.stdout.strip().splitlines()[-1])
    assert (got["ok"], got["wrong"], got["unknown"]) == (True, False, False)
    assert got["through_pool"].count("hash") == 2  # hash_secret, and the unknown login's
    assert got["through_pool"].count("_verify") == 2
    assert got["other_thread"] and got["direct_while_locked"]
    # Four argon2 runs took tens of milliseconds; a greenlet ticking every millisecond ran
    # meanwhile (blocked, it could not tick at all between start and end).
    assert got["ticks_during"] >= 4, got


def test_without_gevent_hashing_runs_directly(app):
    with app.app_context():
        assert not offload.gevent_patched()
        assert auth.off_loop(threading.get_ident) == threading.get_ident()
        hashed = auth.hash_secret("246813")
        assert auth.verify_secret(hashed, "246813")
        assert not auth.verify_secret(hashed, "135790")
        assert not auth.verify_secret(None, "135790")
