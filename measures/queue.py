"""Queueing Celery tasks on commit, by name: a leaf module, so actions never import tasks.

Tasks import actions (a task is an adapter that calls one); actions queue tasks. Naming the task
instead of importing it keeps that one-way, with no function-level imports to hide a cycle.
"""

import importlib
import logging
import time

from celery import current_app
from django.db import transaction
from django.utils import timezone
from kombu.exceptions import KombuError
from redis.exceptions import RedisError

from sessions_app.models import Case

logger = logging.getLogger(__name__)

EVALUATE_CASE = "measures.tasks.evaluate_case"


def queue_on_commit(task_name, *args):
    """Queue the task `task_name` ("measures.tasks.evaluate_case") with `args` once the current
    transaction commits (at once outside one); nothing runs for a rolled-back change.

    An evaluation also marks its case as needing one, in the current transaction: if the broker
    is down or the task is lost, the mark stays and the catch-up job evaluates the case.
    """
    if task_name == EVALUATE_CASE:
        mark_needs_evaluation(*args)
    # robust: the change has committed, so a failure after it (an in-process evaluation that met a
    # locked SQLite database, say) is logged and left to the mark, never turned into an error page
    # for a client whose answers are stored.
    transaction.on_commit(lambda: enqueue_safely(task_name, *args), robust=True)


def mark_needs_evaluation(case_id):
    """Mark the case as changed since its last evaluation (one UPDATE of the case row).

    Called last in the change's transaction on purpose: the row lock it takes waits for a running
    evaluation of the same case, so it is held for as short a time as possible.
    """
    Case.objects.filter(pk=case_id).update(needs_evaluation_since=timezone.now())


# After the broker failed, this process does not try it again for this long (seconds): a down or
# hung Redis then costs one request its socket timeouts, not every request. What is not queued
# meanwhile is caught up from its mark (evaluations) or by the periodic jobs (emails).
BROKER_BACKOFF = 5.0
_broker_down_until = 0.0


def enqueue_safely(task_name, *args):
    """Queue a task; if the broker is down, log it and rely on the catch-up jobs.

    Returns whether it was queued. Only broker trouble is absorbed: an error inside an
    in-process (eager) task must surface.
    """
    global _broker_down_until
    # delay(), not app.send_task(): send_task ignores task_always_eager (the embedded default
    # and the tests run tasks in-process). Importing the module registers its tasks.
    importlib.import_module(task_name.rpartition(".")[0])
    task = current_app.tasks[task_name]
    in_process = current_app.conf.task_always_eager  # no broker to back off from
    if not in_process and time.monotonic() < _broker_down_until:
        logger.warning("not queueing %s: the broker failed moments ago; the catch-up will run it", task_name)
        return False
    try:
        task.delay(*args)
    except (KombuError, OSError, RedisError) as exc:
        if not in_process:
            _broker_down_until = time.monotonic() + BROKER_BACKOFF
        logger.warning("could not queue %s (%s); the catch-up will run it", task_name, type(exc).__name__)
        return False
    return True
