"""Celery is set for reliability (README: Reliability): the settings, the base task's retry policy,
the failure record, and a real worker retrying a task that hit a transient database error."""

import logging
import os
import smtplib
import subprocess
import sys
import time
import uuid

import pytest
from django.core.cache import cache
from django.db import InterfaceError, OperationalError

from alliance_site.celery import MAIL_TASKS, ReliableTask
from alliance_site.celery import app as celery_app
from tests.measures.test_worker import ROOT, database_url_for_test_db
from tests.ops import retry_probe

TASKS_OF_THE_APP = [
    "measures.tasks.evaluate_case",
    "measures.tasks.send_invitation",
    "measures.tasks.send_due_reminders",
    "measures.tasks.nightly_sweep",
    "measures.tasks.evaluate_cases",
    "measures.tasks.calibrate_clinic",
    "measures.tasks.create_missing_invitations",
    "measures.tasks.catch_up_evaluations",
    "measures.tasks.send_flag_alert",
    "dashboard.tasks.send_digests",
]


def conf():
    celery_app.loader.import_default_modules()
    return celery_app.conf


def test_a_task_is_acknowledged_only_after_it_ran_and_redelivered_if_its_worker_dies():
    assert conf().task_acks_late is True
    assert conf().task_reject_on_worker_lost is True
    assert conf().worker_prefetch_multiplier == 1


def test_the_visibility_timeout_outlasts_the_longest_a_message_stays_unacknowledged():
    visibility = conf().broker_transport_options["visibility_timeout"]
    limit = conf().task_time_limit
    assert limit == 120
    # Waiting behind a running task, its own run, and a retry's countdown: no redelivery meanwhile.
    assert visibility >= 2 * limit + ReliableTask.retry_backoff_max
    # ... and far below Redis's default hour: a SIGKILLed worker's tasks come back within minutes.
    assert visibility <= 600


def test_periodic_jobs_are_scheduled_by_the_single_beat_scheduler():
    assert conf().beat_scheduler == "alliance_site.celery:SingleBeatScheduler"


@pytest.mark.parametrize("name", TASKS_OF_THE_APP)
def test_every_task_retries_transient_database_errors_with_back_off(name):
    task = celery_app.tasks[name]
    assert isinstance(task, ReliableTask)
    assert set(task.autoretry_for) >= {OperationalError, InterfaceError}
    assert hasattr(task, "_orig_run")  # Celery wrapped run() with the autoretry
    assert task.retry_backoff and task.retry_jitter
    assert 0 < task.max_retries <= 10
    assert task.retry_backoff_max < conf().broker_transport_options["visibility_timeout"]


@pytest.mark.parametrize("name", TASKS_OF_THE_APP)
def test_only_the_mail_tasks_retry_mail_errors(name):
    retries_mail = any(issubclass(smtplib.SMTPServerDisconnected, exc) for exc in celery_app.tasks[name].autoretry_for)
    assert retries_mail == (name in MAIL_TASKS)


def test_in_process_a_task_is_not_retried_and_its_error_propagates_as_before():
    key = f"flaky-{uuid.uuid4().hex[:8]}"
    with pytest.raises(OperationalError):
        retry_probe.flaky.delay(key)  # eager: no broker to hold a retry's countdown
    assert cache.get(f"{key}:runs") == 1


def test_a_failed_task_is_logged_by_name_and_id_without_its_arguments(caplog):
    key = f"flaky-{uuid.uuid4().hex[:8]}-client@example.org"
    with caplog.at_level(logging.WARNING, logger="alliance.tasks"):
        result = retry_probe.flaky.apply(args=[key, 99], task_id="probe-id-1", throw=False)
    assert result.failed()
    records = [r.getMessage() for r in caplog.records if r.name == "alliance.tasks"]
    assert records == ["task failed: tests.ops.flaky[probe-id-1] OperationalError after 0 retries"]


@pytest.fixture
def probe_worker(postgres, redis_url, transactional_db):
    """A real worker (the pattern of tests/measures/test_worker.py) that also imports the probe tasks."""
    queue = f"test-{uuid.uuid4().hex[:8]}"
    env = {**os.environ, "DATABASE_URL": database_url_for_test_db(), "REDIS_URL": redis_url}
    command = [sys.executable, "-m", "celery", "-A", "alliance_site", "worker", "-I", "tests.ops.retry_probe"]
    command += ["-Q", queue, "-c", "1", "--pool", "solo", "--without-gossip", "--without-mingle"]
    command += ["--without-heartbeat", "-l", "WARNING"]
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    yield queue
    process.terminate()
    try:
        output, _ = process.communicate(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        output, _ = process.communicate()
    print(output)  # shown when the test fails


@pytest.mark.filterwarnings("ignore::celery.exceptions.AlwaysEagerIgnored")
def test_a_real_worker_retries_a_task_that_hit_a_database_error(probe_worker, redis_url):
    key = f"flaky-{uuid.uuid4().hex[:8]}"
    with celery_app.connection_for_write(redis_url) as conn:
        celery_app.send_task("tests.ops.flaky", args=[key], queue=probe_worker, connection=conn)
    deadline = time.monotonic() + 45
    while time.monotonic() < deadline and cache.get(f"{key}:done") is None:
        time.sleep(0.25)
    assert cache.get(f"{key}:done") == 2  # failed once, retried after its back-off, succeeded
