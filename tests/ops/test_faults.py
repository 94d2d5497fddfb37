"""Faults against the real services, nothing lost (issue 14, Acceptance).

Each test runs its own redis-server (broker and cache at once, as in production) on a free port and
a real `celery worker` process against it and the test database; the shared Redis on 6379 is never
touched. Submissions go through the survey view in this process, pointed at that Redis too.

- Redis shut down during submissions: every answer stored, every case caught up afterwards.
- Redis hung (SIGSTOP): the same, and no submission waits more than a few seconds.
- A transient database error during an evaluation on a real worker: retried, and the case evaluated.
- The worker SIGKILLed while it holds a task: the task is redelivered and runs (acks_late and a
  test-sized visibility timeout, 5 s instead of 300 s).
"""

import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
import redis
from django.db.models import Count, Max
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from alliance_site.celery import app as celery_app
from measures import queue
from measures.models import CaseEvaluation, Response
from sessions_app.models import Case
from tests.builders import make_case, make_invitation, make_session
from tests.conftest import require_service
from tests.measures.test_worker import ROOT, database_url_for_test_db

pytestmark = [
    pytest.mark.services,
    pytest.mark.django_db(transaction=True),
    pytest.mark.filterwarnings("ignore::celery.exceptions.AlwaysEagerIgnored"),
]

RATINGS = ("goals_focus", "goals_agree", "tasks_sense", "tasks_fit", "bond_heard", "bond_trust")
ANSWERS = {**dict.fromkeys(RATINGS, "6"), "rupture": "no", "lang": "en"}
# The worker with a test-sized visibility timeout: a SIGKILLed worker's task comes back in seconds.
WORKER = """
import sys
from alliance_site.celery import app
app.conf.broker_transport_options = {
    **app.conf.broker_transport_options, "visibility_timeout": 5, "unacked_restore_interval": 1,
}
app.worker_main(sys.argv[1:])
"""


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for(condition, timeout, what):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.1)


class PrivateRedis:
    """A throwaway redis-server on a fixed free port: stop, hang, and start again on the same port."""

    def __init__(self):
        self.binary = shutil.which("redis-server")
        require_service(self.binary is not None, "redis-server on PATH (apt-get install redis-server)")
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process = None
        self.start()

    def start(self):
        self.process = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        direct = redis.Redis.from_url(self.url, socket_timeout=1)

        def answers():
            try:
                return direct.ping()
            except redis.ConnectionError:
                return False

        wait_for(answers, 10, "the private Redis")

    def stop(self):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGCONT)  # a stopped process cannot act on SIGTERM
            self.process.terminate()
            self.process.wait(timeout=10)


class PostgresProxy:
    """A TCP forwarder in front of PostgreSQL that can refuse and drop connections (a restart)."""

    def __init__(self, host, port):
        self.target = (host, port)
        self.port = free_port()
        self.links = []
        self.listener = None
        self.up()

    def up(self):
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", self.port))
        self.listener.listen(16)
        threading.Thread(target=self._accept, args=(self.listener,), daemon=True).start()

    def down(self):
        """New connections are refused and open ones cut, as while PostgreSQL restarts."""
        with contextlib.suppress(OSError):
            self.listener.shutdown(socket.SHUT_RDWR)  # wakes the accept(); close() alone would not
        self.listener.close()
        for sock in self.links:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()
        self.links = []

    def _accept(self, listener):
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            server = socket.create_connection(self.target)
            self.links += [client, server]
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(source, sink):
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)


class Worker:
    """A real `celery worker` (solo pool) against the private Redis; restarted as a supervisor would."""

    def __init__(self, redis_url, database_url):
        self.env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "ALLIANCE_ENV": "test",
            "PYTHONPATH": str(ROOT),
        }
        self.process = None
        self.restarts = 0
        self.output = []

    def start(self):
        self.process = subprocess.Popen(
            [sys.executable, "-c", WORKER, "worker", "--pool", "solo", "-I", "tests.ops.fault_probe",
             "--without-gossip", "--without-mingle", "--without-heartbeat", "-l", "WARNING"],
            cwd=ROOT, env=self.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )
        threading.Thread(target=self._drain, args=(self.process,), daemon=True).start()

    def _drain(self, process):
        for line in process.stdout:
            self.output.append(line)

    def ensure_running(self):
        if self.process is None or self.process.poll() is not None:
            self.restarts += self.process is not None
            self.start()

    def kill(self):
        self.process.kill()
        self.process.wait(timeout=10)

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        print("".join(self.output))  # shown when the test fails


def reset_pool():
    celery_app._pool = None
    celery_app.amqp._producer_pool = None
    queue._broker_down_until = 0.0  # a fresh start for this process's broker back-off


@pytest.fixture
def private_redis(postgres, settings):
    """The private Redis as this process's cache and broker (tasks really queued, not eager)."""
    server = PrivateRedis()
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": server.url,
            "OPTIONS": settings.REDIS_CACHE_OPTIONS,
        }
    }
    saved = celery_app.conf.broker_url, celery_app.conf.task_always_eager
    celery_app.conf.broker_url, celery_app.conf.task_always_eager = server.url, False
    reset_pool()
    yield server
    celery_app.conf.broker_url, celery_app.conf.task_always_eager = saved
    reset_pool()
    server.stop()


@pytest.fixture
def worker(private_redis):
    process = Worker(private_redis.url, database_url_for_test_db())
    process.start()
    yield process
    process.stop()


def send(task_name, *args):
    with celery_app.connection_for_write(celery_app.conf.broker_url) as conn:
        celery_app.send_task(task_name, args=list(args), connection=conn)


def links_for(therapist, cases=4, per_case=5):
    """Links to answer, one per session, several per case (so repeated evaluations coalesce)."""
    links = []
    for _ in range(cases):
        case = make_case(therapist)
        participant = case.participants.get()
        for days_ago in range(per_case * 7, 0, -7):
            invitation, token = make_invitation(make_session(case, days_ago=days_ago), participant)
            links.append((invitation, reverse("surveys:survey", args=[token])))
    # Interleave the cases, as submissions arrive in real life.
    return [links[i] for step in range(per_case) for i in range(step, len(links), per_case)]


def submit(url):
    client = Client(REMOTE_ADDR=f"2001:db8::{secrets.token_hex(4)}")
    started = time.monotonic()
    response = client.post(url, ANSWERS)
    return response.status_code, time.monotonic() - started


def catch_up():
    """What the beat does every 5 minutes, 5 minutes later (the marks are aged, not waited for)."""
    Case.objects.filter(needs_evaluation_since__isnull=False).update(
        needs_evaluation_since=timezone.now() - timedelta(minutes=5)
    )
    send("measures.tasks.catch_up_evaluations")


def every_case_evaluated_after_its_last_answer():
    answers = Response.objects.values("session__case_id").annotate(at=Max("submitted_at"))
    last = dict(answers.values_list("session__case_id", "at"))
    evaluated = dict(CaseEvaluation.objects.filter(case_id__in=last).values_list("case_id", "evaluated_at"))
    marked = Case.objects.filter(pk__in=last, needs_evaluation_since__isnull=False).exists()
    return not marked and all(case_id in evaluated and evaluated[case_id] >= at for case_id, at in last.items())


def assert_nothing_lost(links, statuses):
    assert statuses == [302] * len(links)  # a thank-you for every one
    stored = dict(Response.objects.annotate(n=Count("answers")).values_list("invitation_id", "n"))
    assert sorted(stored) == sorted(invitation.pk for invitation, _ in links)
    assert set(stored.values()) == {len(RATINGS) + 1}  # the six ratings and the rupture question


def test_redis_shut_down_during_submissions_loses_nothing(therapist, private_redis, worker):
    links = links_for(therapist)
    before, during, after = links[:6], links[6:14], links[14:]
    statuses = [submit(url)[0] for _, url in before]
    private_redis.stop()
    outage = [submit(url) for _, url in during]
    private_redis.start()
    reset_pool()  # the pooled connection died with the old server
    statuses += [status for status, _ in outage] + [submit(url)[0] for _, url in after]

    assert_nothing_lost(links, statuses)
    assert max(seconds for _, seconds in outage) < 5
    marked = Case.objects.filter(needs_evaluation_since__isnull=False).count()
    assert marked >= 1  # the evaluations queued into the dead Redis wait for the catch-up
    worker.ensure_running()  # compose restarts a worker that exited with its broker
    catch_up()
    wait_for(every_case_evaluated_after_its_last_answer, 20, "every case evaluated after its last answer")


def test_redis_hung_during_submissions_loses_nothing_and_keeps_nobody_waiting(therapist, private_redis, worker):
    links = links_for(therapist, cases=3, per_case=4)
    statuses = [submit(url)[0] for _, url in links[:4]]
    private_redis.process.send_signal(signal.SIGSTOP)
    try:
        hung = [submit(url) for _, url in links[4:8]]
    finally:
        private_redis.process.send_signal(signal.SIGCONT)
    statuses += [status for status, _ in hung] + [submit(url)[0] for _, url in links[8:]]

    assert_nothing_lost(links, statuses)
    assert max(seconds for _, seconds in hung) < 8  # bounded by the socket timeouts, not the hang
    worker.ensure_running()
    catch_up()
    wait_for(every_case_evaluated_after_its_last_answer, 20, "every case evaluated after its last answer")


def test_a_transient_database_error_during_an_evaluation_is_retried_on_a_real_worker(
    therapist, private_redis, settings
):
    database = settings.DATABASES["default"]
    proxy = PostgresProxy(database["HOST"] or "127.0.0.1", int(database["PORT"] or 5432))
    through_proxy = database_url_for_test_db().replace(
        f":{urlsplit(database_url_for_test_db()).port}/", f":{proxy.port}/"
    )
    worker = Worker(private_redis.url, through_proxy)
    worker.start()
    try:
        case = make_case(therapist)
        status, _ = submit(links_for_case(case))
        assert status == 302
        wait_for(lambda: CaseEvaluation.objects.filter(case=case).exists(), 20, "the first evaluation")
        first = CaseEvaluation.objects.get(case=case).evaluated_at

        proxy.down()  # PostgreSQL "restarts" under the worker
        status, _ = submit(links_for_case(case))  # stored directly, evaluation queued
        assert status == 302
        wait_for(lambda: any("task retry: measures.tasks.evaluate_case" in line for line in worker.output), 15,
                 "the worker to retry the evaluation")
        proxy.up()
        wait_for(every_case_evaluated_after_its_last_answer, 25, "the retried evaluation")
        assert CaseEvaluation.objects.get(case=case).evaluated_at > first
    finally:
        worker.stop()
        proxy.down()


def links_for_case(case):
    invitation, token = make_invitation(make_session(case, days_ago=1), case.participants.get())
    return reverse("surveys:survey", args=[token])


def test_a_task_held_by_a_sigkilled_worker_is_redelivered_and_runs(therapist, private_redis, worker):
    case = make_case(therapist)
    key = f"held-{secrets.token_hex(4)}"
    direct = redis.Redis.from_url(private_redis.url)
    send("tests.ops.slow_evaluate", case.pk, key)
    wait_for(lambda: direct.get(f"{key}:started") == b"1", 15, "the worker to take the task")
    worker.kill()  # SIGKILL: no chance to acknowledge or give the task back
    assert not CaseEvaluation.objects.filter(case=case).exists()

    worker.ensure_running()
    wait_for(lambda: CaseEvaluation.objects.filter(case=case).exists(), 25, "the redelivered task to run")
    assert direct.get(f"{key}:started") == b"2"  # the same message, run a second time to its end

