"""The Celery worker and beat log like the web: survey tokens are redacted in their output.

A real worker process, through Redis, runs a task called with a survey link; its output is read
back. Celery configures the worker's logging itself (not from Django's LOGGING); the redaction
filter is put on its handlers by the after_setup_logger signals (alliance_site/celery.py).
"""

import inspect
import os
import secrets
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest

from alliance_site.celery import app as celery_app
from tests.measures.test_worker import database_url_for_test_db

ROOT = Path(__file__).resolve().parents[2]


def a_survey_link():
    token = secrets.token_urlsafe(24)
    return token, f"https://alliance.example.test/s/{token}/"


def read_lines_into(stream, lines):
    for line in stream:
        lines.append(line)


@pytest.fixture
def worker_output(postgres, redis_url, transactional_db):
    """Start a worker on a queue of its own; yields (queue, the lines it has written so far)."""
    queue = f"test-{uuid.uuid4().hex[:8]}"
    env = {**os.environ, "DATABASE_URL": database_url_for_test_db(), "REDIS_URL": redis_url}
    process = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "alliance_site", "worker", "-Q", queue, "-c", "1",
         "--pool", "solo", "--without-gossip", "--without-mingle", "--without-heartbeat", "-l", "INFO"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    lines = []
    reader = threading.Thread(target=read_lines_into, args=(process.stdout, lines), daemon=True)
    reader.start()
    yield queue, lines
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()


def wait_for(lines, text, seconds=60):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if any(text in line for line in lines):
            return "".join(lines)
        time.sleep(0.2)
    pytest.fail(f"the worker never logged {text!r}; it wrote:\n{''.join(lines)}")


@pytest.mark.filterwarnings("ignore::celery.exceptions.AlwaysEagerIgnored")
def test_the_worker_redacts_a_survey_link_in_a_tasks_log_and_traceback(worker_output, redis_url):
    queue, lines = worker_output
    token, link = a_survey_link()
    other_token, other_link = a_survey_link()
    with celery_app.connection_for_write(redis_url) as conn:
        # A task called with a link where an id belongs: the worker logs the failure, the
        # argument quoted in the exception's message and traceback.
        celery_app.send_task("measures.tasks.evaluate_case", args=[link], queue=queue, connection=conn)
        # A task the worker does not know: Celery logs the whole message body, arguments included.
        celery_app.send_task("measures.tasks.no_such_task", args=[other_link], queue=queue, connection=conn)
    output = wait_for(lines, "raised unexpected")
    output = wait_for(lines, "no_such_task")
    assert "evaluate_case" in output and "/s/[redacted]" in output
    assert token not in output and other_token not in output


def test_beat_sets_up_its_logging_with_the_redaction_filter():
    """Beat (like the worker) sets its logging up through app.log.setup, which sends the signals."""
    token, link = a_survey_link()
    script = (
        "import logging\n"
        "from alliance_site.celery import app\n"
        "app.log.setup(loglevel='INFO')\n"
        f"logging.getLogger('celery.beat').warning('sending a reminder for %s', {link!r})\n"
    )
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=60)
    output = result.stdout + result.stderr
    assert "sending a reminder for https://alliance.example.test/s/[redacted]/" in output, output
    assert token not in output


def test_tasks_take_ids_never_links():
    """Task arguments are ids: a link (a bearer credential) never goes through the broker."""
    celery_app.loader.import_default_modules()
    ours = {name: task for name, task in celery_app.tasks.items() if name.split(".")[0] in {
        "accounts", "sessions_app", "measures", "surveys", "dashboard"}}
    assert ours
    for name, task in ours.items():
        parameters = list(inspect.signature(task.run).parameters)
        # ids, lists of ids (the sweep's batches), and the sweep's start time (an ISO timestamp)
        assert all(p.endswith(("_id", "_ids")) or p == "since" for p in parameters), f"{name} takes {parameters}"
