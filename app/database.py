"""How the app talks to its database engine: SQLite pragmas and busy waits that do not freeze.

SQLite lets one writer at a time. Its own busy wait sleeps inside the C library, which under
gevent freezes the whole worker: every other request, and the very request that holds the
write lock and needs the CPU to commit it (with a 30 s busy timeout, one worker stood still for
30 s). So SQLite waits only `SQLITE_BUSY_SLICE_MS` itself; a statement refused as busy is tried
again after a cooperative sleep (time.sleep, patched by gevent) until `SQLITE_BUSY_TIMEOUT`
seconds have passed, and then fails (a 503 the client may retry). Retrying is safe because a
statement refused with SQLITE_BUSY did nothing: with Python's sqlite3 a transaction's first
write is its first statement, so it holds no snapshot yet. Within a process, writers do not
poll at all: they wait in line for the write lock (`WriteGate`).
"""

from __future__ import annotations

import random
import select
import sqlite3
import threading
import time

from sqlalchemy import event

# Execution option: this statement's own busy budget in seconds (readiness probes want less).
BUSY_BUDGET = "linli_busy_seconds"


def _is_busy(error: Exception) -> bool:
    return (
        isinstance(error, sqlite3.OperationalError)
        and getattr(error, "sqlite_errorname", "SQLITE_BUSY") == "SQLITE_BUSY"
        and "locked" in str(error)
    )


def _budget(context, budget: float) -> float:
    if context is not None:
        return context.execution_options.get(BUSY_BUDGET, budget)
    return budget


def _retrying(run, deadline: float):
    pause = 0.002
    while True:
        try:
            run()
            return True
        except sqlite3.OperationalError as error:
            if not _is_busy(error) or time.monotonic() >= deadline:
                raise
        time.sleep(min(pause * (0.5 + random.random()), max(0.0, deadline - time.monotonic())))
        pause = min(pause * 2, 0.05)


def install_sqlite(engine, config) -> None:
    """Pragmas on every new SQLite connection, and cooperative retries of busy statements."""
    slice_ms = int(config["SQLITE_BUSY_SLICE_MS"])
    budget = float(config["SQLITE_BUSY_TIMEOUT"])

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record):  # pragma: no cover - trivial
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA journal_mode=WAL")
        # Durable across a crash of the process in WAL mode; FULL stalled gevent workers for
        # seconds on a busy disk (only a power cut can lose the last commits).
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute(f"PRAGMA busy_timeout={slice_ms}")
        cur.close()

    gate = WriteGate()
    gate.install(engine)

    def _deadline(cursor, statement, context) -> float:
        deadline = time.monotonic() + _budget(context, budget)
        gate.enter(cursor.connection, statement, deadline)
        return deadline

    @event.listens_for(engine, "do_execute")
    def _execute(cursor, statement, parameters, context):
        deadline = _deadline(cursor, statement, context)
        return _retrying(lambda: cursor.execute(statement, parameters), deadline)

    @event.listens_for(engine, "do_execute_no_params")
    def _execute_no_params(cursor, statement, context):
        deadline = _deadline(cursor, statement, context)
        return _retrying(lambda: cursor.execute(statement), deadline)

    @event.listens_for(engine, "do_executemany")
    def _executemany(cursor, statement, parameters, context):
        deadline = _deadline(cursor, statement, context)
        return _retrying(lambda: cursor.executemany(statement, parameters), deadline)


# Statements that never open a write transaction (Python's sqlite3 opens one before
# INSERT, UPDATE, DELETE and REPLACE only).
_READS = ("SELECT", "PRAGMA", "WITH", "EXPLAIN", "SAVEPOINT", "RELEASE", "ROLLBACK", "BEGIN")


_GATE_GRACE = 1.0  # seconds


class WriteGate:
    """SQLite's writers of one process wait in line for its write lock instead of polling it.

    A write transaction's first statement takes SQLite's one write lock. A thread that finds it
    taken polls: SQLite's short slice, then the cooperative retries above, whose pauses grow to
    50 ms, so a writer could keep missing a lock that stood free between its polls (with 16
    concurrent creates, p95 271-368 ms). Here a connection about to open a write transaction
    first takes its process's gate, and gives it back when the transaction commits, rolls back
    or the connection closes; the next in line is woken at once (bench/PROFILE.md round 8).
    Other processes still meet at SQLite's lock, as before.

    Bounded: a statement waits at most its busy budget here, and only what is left of it at
    SQLite. A holder whose transaction ended without passing through the engine (a raw
    connection committed by hand) is passed over after _GATE_GRACE, not waited for."""

    def __init__(self):
        self._turn = threading.Condition(threading.Lock())
        self._holder = None  # the DBAPI connection in its write transaction, or None
        self._since = 0.0  # when it took the gate

    def enter(self, raw, statement: str, deadline: float) -> None:
        """Take the gate before `statement` opens a write transaction on `raw`."""
        if raw.in_transaction or self._holder is raw:
            return
        if statement[:32].lstrip().upper().startswith(_READS):
            return
        with self._turn:
            while self._held():
                left = deadline - time.monotonic()
                if left <= 0:
                    return  # SQLite's own busy handling decides, as before
                self._turn.wait(timeout=min(left, 0.05))
            self._holder, self._since = raw, time.monotonic()

    def _held(self) -> bool:
        # Held while its holder's transaction is open, and for a moment before it opens (the
        # statement that opens it may itself be waiting at SQLite, for another process).
        holder = self._holder
        if holder is None:
            return False
        try:
            open_ = holder.in_transaction
        except sqlite3.ProgrammingError:  # closed without the pool saying so
            self._holder = None
            return False
        return open_ or time.monotonic() - self._since < _GATE_GRACE

    def leave(self, raw) -> None:
        """`raw`'s transaction ended: let the next writer in."""
        raw = getattr(raw, "dbapi_connection", raw)  # the pool's proxy, or the connection
        if self._holder is not raw:
            return
        with self._turn:
            if self._holder is raw:
                self._holder = None
                self._turn.notify()

    def install(self, engine) -> None:
        """Give the gate back after each commit and rollback, and when a connection closes."""
        on_transaction_end(engine, self.leave)


def on_transaction_end(engine, ended) -> None:
    """Call `ended(raw)` with the DBAPI connection (or the pool's proxy of it) after each of
    `engine`'s commits and rollbacks, even a failed one, and when a connection closes or is
    invalidated."""
    dialect = engine.dialect
    commit, rollback = dialect.do_commit, dialect.do_rollback

    def do_commit(raw):
        try:
            commit(raw)
        finally:
            ended(raw)

    def do_rollback(raw):
        try:
            rollback(raw)
        finally:
            ended(raw)

    dialect.do_commit, dialect.do_rollback = do_commit, do_rollback
    event.listen(engine, "close", lambda raw, _record: ended(raw))
    event.listen(engine, "close_detached", ended)
    event.listen(engine, "invalidate", lambda raw, _record, _error: ended(raw))


class HoldingWaits:
    """PostgreSQL under gevent: a connection that has written in its transaction waits for the
    server without yielding to the worker's other requests, for up to `budget` seconds a wait.

    psycopg waits cooperatively once gevent has patched `select`: each round trip hands the
    worker to its other requests, which may keep it for milliseconds of their own work. A
    transaction that holds row locks (a create holds the year's `case_serial` row from its
    UPDATE to its commit) then holds them through every such turn, and the creates behind it
    wait in line for the sum. Blocking the worker for a short round trip costs the machine
    nothing (gunicorn runs more workers than there are cores, so another process takes the
    core) and keeps the lock's hold to the server's time. Bounded, so that no request can
    stall its worker: a wait longer than `budget` (a lock another transaction holds, perhaps
    one of this worker's own requests, which needs the worker to finish) goes on
    cooperatively. Reads outside a write transaction stay cooperative (blocking them made
    the staff inbox's p95 worse: bench/PROFILE.md round 13)."""

    def __init__(self, budget: float, blocking_poll, cooperative_poll, cooperative_wait):
        from psycopg import waiting

        self._waiting = waiting  # psycopg's wait states and its checks of a closed socket
        self.budget = budget
        self._blocking_poll = blocking_poll
        self._cooperative_poll = cooperative_poll
        self._cooperative_wait = cooperative_wait
        self.holding: set[int] = set()  # sockets of connections in a write transaction

    def wait(self, gen, fileno: int, interval: float = 0.0, timeout: float | None = None):
        """psycopg's `waiting.wait`: blocking first for a connection in a write transaction,
        psycopg's cooperative wait otherwise (and for waits with a timeout, as for NOTIFY)."""
        if fileno not in self.holding or timeout is not None:
            return self._cooperative_wait(gen, fileno, interval=interval, timeout=timeout)
        waiting = self._waiting
        masks = waiting._poll_evmasks
        until = time.monotonic() + self.budget
        interval_ms = max(0, int(interval * 1000))
        try:
            state = next(gen)
            poll = self._blocking_poll()
            poll.register(fileno, masks[state])
            blocking = True
            while True:
                if blocking:
                    left = until - time.monotonic()
                    if left <= 0:  # long: let the worker's other requests run meanwhile
                        blocking, poll = False, self._cooperative_poll()
                        poll.register(fileno, masks[state])
                        continue
                    events = poll.poll(max(1, int(left * 1000)))
                else:
                    events = poll.poll(interval_ms)
                if not events:
                    if not blocking:
                        gen.send(waiting.READY_NONE)
                    continue
                event_mask = events[0][1]
                ready = waiting.READY_NONE
                if event_mask & select.POLLIN:
                    ready = waiting.READY_R
                if event_mask & select.POLLOUT:
                    ready |= waiting.READY_W
                if not ready and event_mask & waiting.POLL_BAD:
                    waiting._check_fd_closed(fileno)
                    raise waiting.e.OperationalError("connection socket closed")
                state = gen.send(ready)
                poll.modify(fileno, masks[state])
        except StopIteration as done:
            return done.value

    def begin(self, raw) -> None:
        if getattr(raw, "_linli_holding", None) is None:
            try:
                fileno = raw.pgconn.socket
            except Exception:  # the connection is gone: the statement fails as it would have
                return
            raw._linli_holding = fileno
            self.holding.add(fileno)

    def end(self, raw) -> None:
        raw = getattr(raw, "dbapi_connection", raw)  # the pool's proxy, or the connection
        fileno = getattr(raw, "_linli_holding", None)
        if fileno is not None:
            raw._linli_holding = None
            self.holding.discard(fileno)


_holding_waits: HoldingWaits | None = None
# Statements that take no row lock (a SET LOCAL of the planner's is not a write).
_PG_READS = (*_READS, "SET", "SHOW")


def install_postgres(engine, config) -> HoldingWaits | None:
    """`HoldingWaits` for a psycopg engine when gevent has patched `select` (otherwise every
    wait blocks already and there is nothing to do)."""
    budget = config["PG_HOLDING_WAIT_MS"] / 1000
    if budget <= 0 or engine.dialect.driver != "psycopg":
        return None
    try:
        from gevent import monkey
    except ImportError:
        return None
    if not monkey.is_module_patched("select"):
        return None
    from psycopg import waiting

    global _holding_waits
    if _holding_waits is None:  # once a process: one app's engine or several (tests)
        _holding_waits = HoldingWaits(
            budget, monkey.get_original("select", "poll"), select.poll, waiting.wait
        )
        waiting.wait = _holding_waits.wait
    waits = _holding_waits

    @event.listens_for(engine, "before_cursor_execute")
    def _writes(_conn, cursor, statement, _parameters, _context, _executemany):
        if not statement[:32].lstrip().upper().startswith(_PG_READS) or " FOR " in statement:
            waits.begin(cursor.connection)

    on_transaction_end(engine, waits.end)
    return waits


def schema_on(dialect_name: str):
    """An Alembic `include_object` for comparing the models with a database of `dialect_name`:
    autogenerate does not read `ddl_if`, so the model objects that `ddl_if(dialect=…)` builds
    on other databases only are left out (ix_case_record_open_due: PostgreSQL)."""

    def include_object(obj, name, type_, reflected, compare_to):
        ddl_if = getattr(obj, "_ddl_if", None)
        if reflected or ddl_if is None or ddl_if.dialect is None:
            return True
        dialects = (ddl_if.dialect,) if isinstance(ddl_if.dialect, str) else ddl_if.dialect
        return dialect_name in dialects

    return include_object


def plain(session, statement, params=None):
    """The result of a statement of plain columns (no ORM entities to build) run on `session`'s
    connection, in its transaction, past the ORM's execution layer: its context, events and
    row loading cost 0.05-0.1 ms a statement (bench/PROFILE.md round 9). The session's pending
    changes are flushed first, as `session.execute` would (a list read after a change in the
    same request sees it)."""
    if session.autoflush:
        session.flush()
    return session.connection().execute(statement, params)
