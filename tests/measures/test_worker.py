"""A real Celery worker process, through Redis, writes to the real database."""

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from django.db import connection

from alliance_site.celery import app as celery_app
from measures.models import CaseEvaluation
from tests.builders import make_response, make_session

ROOT = Path(__file__).resolve().parents[2]


def database_url_for_test_db():
    settings = connection.settings_dict
    auth = settings["USER"] + (f":{settings['PASSWORD']}" if settings["PASSWORD"] else "")
    return f"postgres://{auth}@{settings['HOST'] or '127.0.0.1'}:{settings['PORT'] or 5432}/{settings['NAME']}"


@pytest.fixture
def worker(postgres, redis_url, transactional_db):
    queue = f"test-{uuid.uuid4().hex[:8]}"
    env = {**os.environ, "DATABASE_URL": database_url_for_test_db(), "REDIS_URL": redis_url}
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "alliance_site",
            "worker",
            "-Q",
            queue,
            "-c",
            "1",
            "--pool",
            "solo",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            "-l",
            "WARNING",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    yield queue
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()


@pytest.mark.filterwarnings("ignore::celery.exceptions.AlwaysEagerIgnored")
def test_a_task_sent_through_redis_is_run_by_a_worker_and_lands_in_postgres(worker, case, redis_url):
    participant = case.participants.get()
    for days_ago in (21, 14, 7):
        make_response(make_session(case, days_ago=days_ago), participant, goals=9, tasks=9, bond=9)
    assert not CaseEvaluation.objects.filter(case=case).exists()

    with celery_app.connection_for_write(redis_url) as conn:
        celery_app.send_task("measures.tasks.evaluate_case", args=[case.pk], queue=worker, connection=conn)

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not CaseEvaluation.objects.filter(case=case).exists():
        time.sleep(0.25)
    evaluation = CaseEvaluation.objects.get(case=case)
    assert evaluation.summary[str(participant.pk)]["answered"] == 3
