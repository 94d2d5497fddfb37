"""gunicorn's settings (README: Scaling): a bounded wait, so overload is refused quickly.

- workers: one process per core plus one. Measured against one per core (bench/load.py, two cores,
  50 requests/s, eleven runs alternating): 2 processes spent 11.8-16.2 ms of CPU a request against
  13.2-18.5 ms for 3, but the p95s overlap (56-325 ms against 74-358 ms; run-to-run spread on this
  machine is larger than the difference), and beyond capacity (75/s) the accepted requests waited
  a p50 of 1.3 s with 2 processes against 0.3 s with 3: fewer threads take connections, so more
  wait in the kernel backlog instead of being refused at once;
- threads (gthread): a process holds several connections, but alliance_site.overload lets only
  ALLIANCE_MAX_INFLIGHT of them run Django at once and answers the rest 503 after a short wait;
- backlog: at most 64 connections wait in the kernel before a process accepts them, about a second
  of work at capacity, instead of gunicorn's 2048 (a minute);
- post_worker_init: a new process compiles the templates and imports the views before it takes a
  connection (alliance_site.overload.warm_up), so its first requests are not slow ones that make
  the requests behind them wait and be refused;
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


def post_worker_init(worker):
    from alliance_site.overload import warm_up

    worker.log.info("warmed up: %d templates compiled", warm_up())
