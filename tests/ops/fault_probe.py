"""A test-only task registered by the fault tests' worker (`-I tests.ops.fault_probe`).

slow_evaluate holds its message for a long while on its first run (long enough to SIGKILL the
worker that holds it), then evaluates the case; each start is counted in Redis.
"""

import time

import redis
from celery import shared_task
from django.conf import settings

from measures.evaluation import do_evaluate_case


@shared_task(name="tests.ops.slow_evaluate")
def slow_evaluate(case_id, key):
    starts = redis.Redis.from_url(settings.REDIS_URL).incr(f"{key}:started")
    if starts == 1:
        time.sleep(60)
    do_evaluate_case(case_id)
