"""CPU-bound work (argon2, image decoding) off a gevent worker's event loop.

Under gevent workers a long C call holds the whole worker: every other request on it waits.
`off_loop` runs such a call in the gevent hub's thread pool (the C code releases the GIL), and
directly when gevent has not patched this process (tests, the CLI, gthread workers).
"""

from __future__ import annotations

import sys

from app.extensions import db


def gevent_patched() -> bool:
    """True in a gevent worker (threading monkey-patched)."""
    monkey = sys.modules.get("gevent.monkey")  # never imported: certainly not patched
    return monkey is not None and monkey.is_module_patched("threading")


def holding_sqlite_write_lock() -> bool:
    """True while this request's SQLite connection holds the database's write lock."""
    # Yielding then would stall the worker: another greenlet's write would wait for the lock
    # in C, blocking the loop this one needs to finish and release it.
    try:
        session = db.session()
        if not session.in_transaction() or session.get_bind().dialect.name != "sqlite":
            return False
        raw = session.connection().connection.dbapi_connection
        return bool(getattr(raw, "in_transaction", False))
    except Exception:
        return False


def off_loop(fn, *args, slots=None):
    """`fn(*args)` in the hub's thread pool under gevent (at most as many at once as `slots`,
    a semaphore, allows), else here; also here while holding SQLite's write lock."""
    if not gevent_patched() or holding_sqlite_write_lock():
        return fn(*args)
    import gevent

    if slots is None:
        return gevent.get_hub().threadpool.apply(fn, args)
    with slots:
        return gevent.get_hub().threadpool.apply(fn, args)
