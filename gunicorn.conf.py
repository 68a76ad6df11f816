"""gunicorn settings. gevent workers hold thousands of idle SSE/WebSocket streams cheaply."""

import gc
import multiprocessing
import os

worker_class = os.environ.get("LINLI_WORKER_CLASS", "gevent")
if worker_class == "gevent":
    # Patch before the app is preloaded, so sockets and locks made at import are cooperative.
    from gevent import monkey

    monkey.patch_all()
elif worker_class == "gthread":
    # gunicorn's threaded worker, accepting only while a thread is free (app/infra/gthread.py)
    worker_class = "app.infra.gthread.BalancedThreadWorker"

bind = os.environ.get("LINLI_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", max(2, multiprocessing.cpu_count())))
worker_connections = int(os.environ.get("LINLI_WORKER_CONNECTIONS", "4000"))
# Load the app (and the Vosk model) before forking so workers share the memory.
preload_app = True
timeout = 60
graceful_timeout = 20
keepalive = 5
# Recycle workers now and then; streams end by themselves and clients reconnect.
max_requests = int(os.environ.get("LINLI_MAX_REQUESTS", "0"))
max_requests_jitter = 100
accesslog = os.environ.get("LINLI_ACCESS_LOG", "-")
errorlog = "-"
loglevel = os.environ.get("LINLI_LOG_LEVEL", "info")


def pre_fork(server, worker):
    """The preloaded app's objects (about 190,000) go to the garbage collector's permanent
    generation before each fork: a worker's full collection then no longer walks them (about
    70 ms with every thread of the worker stopped, now well under 1 ms), and they stay shared
    with the master instead of being copied when the collector touches them."""
    gc.freeze()


def post_fork(server, worker):
    """Each worker gets its own database connections (never share a pool across fork)."""
    from app.extensions import db

    app = worker.app.wsgi()
    with app.app_context():
        db.engine.dispose(close=False)
