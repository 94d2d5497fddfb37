"""gunicorn's settings (README: Scaling): a bounded wait, so overload is refused quickly.

- workers: one process per core plus one (the process count that kept both cores busy in
  bench/load.py; more processes only add memory and contention for the same two cores);
- threads (gthread): a process holds several connections, but alliance_site.overload lets only
  ALLIANCE_MAX_INFLIGHT of them run Django at once and answers the rest 503 after a short wait;
- backlog: at most 64 connections wait in the kernel before a process accepts them, about a second
  of work at capacity, instead of gunicorn's 2048 (a minute);
- timeout: a request stuck for 30 s has its worker restarted; graceful_timeout lets requests in
  flight finish on a stop (compose's stop grace is longer).
"""

import multiprocessing
import os

wsgi_app = "alliance_site.overload:application"
bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
workers = int(os.environ.get("GUNICORN_WORKERS", multiprocessing.cpu_count() + 1))
worker_class = "gthread"
threads = int(os.environ.get("GUNICORN_THREADS", "8"))
backlog = int(os.environ.get("GUNICORN_BACKLOG", "64"))
timeout = 30
graceful_timeout = 30
keepalive = 2
# Recycle a process now and then (with jitter, not all at once): a slow leak never grows for good.
max_requests = 5000
max_requests_jitter = 500
