"""A submission made while Redis is down — the broker and the cache alike, as they are one Redis
in production — is kept, answered with a thank-you, marked "needs evaluation", and evaluated by
the nightly sweep: run here by a real worker once Redis is reachable again. (tests/ops/test_faults.py
stops and hangs a real Redis; this one points at a port where nothing listens.)"""

import time

import pytest
from django.urls import reverse

from alliance_site.celery import app as celery_app
from measures import queue
from measures.models import CaseEvaluation, Response
from sessions_app.models import Case
from tests.builders import make_invitation, make_response, make_session
from tests.ops.test_faults import private_redis, send, wait_for, worker  # noqa: F401  (real-Redis fixtures)

ANSWERS = dict.fromkeys(("goals_focus", "goals_agree", "tasks_sense", "tasks_fit", "bond_heard", "bond_trust"), "3")


DEAD_REDIS = "redis://127.0.0.1:1/0"


def reset_pool():
    """Forget the app's connection and producer pools, so the next publish uses the broker URL now
    configured (closing them instead would leave kombu's shared pools closed for later tests)."""
    celery_app._pool = None
    celery_app.amqp._producer_pool = None
    queue._broker_down_until = 0.0


@pytest.fixture
def cache_down(settings):
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": DEAD_REDIS,
            "OPTIONS": settings.REDIS_CACHE_OPTIONS,
        }
    }


@pytest.fixture
def broker_down(cache_down):
    """Point the app at a port where nothing listens, with tasks really queued (not eager)."""
    saved = celery_app.conf.broker_url, celery_app.conf.task_always_eager
    celery_app.conf.broker_url = DEAD_REDIS
    celery_app.conf.task_always_eager = False
    reset_pool()
    yield
    celery_app.conf.broker_url, celery_app.conf.task_always_eager = saved
    reset_pool()


def submit_while_broker_is_down(client, case):
    participant = case.participants.get()
    for days_ago in (28, 21, 14, 7):
        make_response(make_session(case, days_ago=days_ago), participant, goals=9, tasks=9, bond=9)
    session = make_session(case, days_ago=0)
    _, token = make_invitation(session, participant)
    started = time.monotonic()
    response = client.post(reverse("surveys:survey", args=[token]), {**ANSWERS, "rupture": "no"})
    return response, time.monotonic() - started


@pytest.mark.django_db(transaction=True)
def test_a_submission_survives_a_down_broker(client, case, broker_down):
    response, seconds = submit_while_broker_is_down(client, case)
    assert response.status_code == 302 and response["Location"].endswith(reverse("surveys:survey_done"))
    assert Response.objects.filter(session__case=case).count() == 5
    assert not CaseEvaluation.objects.filter(case=case).exists()  # nothing could be queued
    assert Case.objects.get(pk=case.pk).needs_evaluation_since is not None  # ... so the case is marked
    assert seconds < 15  # the client is not kept waiting on a dead broker for long


@pytest.mark.django_db(transaction=True)
@pytest.mark.filterwarnings("ignore::celery.exceptions.AlwaysEagerIgnored")
def test_the_nightly_sweep_evaluates_what_the_down_redis_missed(client, case, private_redis, worker):  # noqa: F811
    """A real Redis (broker and cache) stopped, then started again, and a real worker's sweep."""
    private_redis.stop()
    response, _ = submit_while_broker_is_down(client, case)
    assert response.status_code == 302
    assert not CaseEvaluation.objects.filter(case=case).exists()
    assert Case.objects.get(pk=case.pk).needs_evaluation_since is not None
    private_redis.start()
    reset_pool()
    worker.ensure_running()

    send("measures.tasks.nightly_sweep")  # it queues the case's batch; the same worker runs it
    wait_for(lambda: CaseEvaluation.objects.filter(case=case).exists(), 30, "the sweep's evaluation")
    evaluation = CaseEvaluation.objects.get(case=case)
    participant = case.participants.get()
    assert evaluation.summary[str(participant.pk)]["answered"] == 5
    assert Case.objects.get(pk=case.pk).needs_evaluation_since is None
