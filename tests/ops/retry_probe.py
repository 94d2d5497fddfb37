"""Test-only tasks, registered on the app by the test process and by a real worker (`-I`).

They have the app's base task (alliance_site.celery.ReliableTask) like every task of tasks.py, so
they exercise the same retry policy. State lives in the cache: in-process for the eager tests,
Redis for the real worker and the test process alike.
"""

from celery import shared_task
from django.core.cache import cache
from django.db import OperationalError


@shared_task(name="tests.ops.flaky")
def flaky(key, failures=1):
    """Raise OperationalError on the first `failures` runs for this key, then record success."""
    cache.add(f"{key}:runs", 0, timeout=300)
    runs = cache.incr(f"{key}:runs")
    if runs <= failures:
        raise OperationalError("the database is restarting (test)")
    cache.set(f"{key}:done", runs, timeout=300)
    return runs
