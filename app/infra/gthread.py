"""gunicorn's threaded worker, taking a new connection only while one of its threads is free.

Every worker waits on the one listening socket, and the first to wake takes what comes. A
burst of new keep-alive connections (a reverse proxy's upstream pool, the bench's 16 clients)
could so land 8 · 5 · 2 · 1 on four workers (seen with `ss`, bench/PROFILE.md round 10), and
stay there: the worker holding eight serves them on one core (one GIL) while the cores of the
others idle. This worker stops accepting while all its threads are busy, so a new connection
goes to a worker with a free thread; requests on connections it already holds are served as
before, and with every worker busy new connections wait in the listen backlog, as they would
otherwise have waited in a worker's queue.
"""

from __future__ import annotations

from gunicorn.workers.gthread import ThreadWorker


class BalancedThreadWorker(ThreadWorker):
    @property
    def worker_connections(self) -> int:
        # gunicorn's run loop accepts while nr_conns < worker_connections; nr_conns counts the
        # connections being served and the waiting ones (idle keep-alive, or opened with no
        # request yet), so this admits a new one only while fewer than `threads` are served.
        waiting = len(self.keepalived_conns) + len(self.pending_conns)
        busy_limit = waiting + self.cfg.threads
        return min(self._configured_connections, busy_limit)

    @worker_connections.setter
    def worker_connections(self, value: int) -> None:
        self._configured_connections = value
