"""A submission made while the broker is down is kept, answered with a thank-you, and evaluated
by the next nightly sweep — run here by a real worker once Redis is reachable again."""

import time

import pytest
from django.urls import reverse

from alliance_site.celery import app as celery_app
from measures.models import CaseEvaluation, Response
from tests.builders import make_invitation, make_response, make_session
from tests.measures.test_worker import worker  # noqa: F401  (the real-worker fixture)

ANSWERS = dict.fromkeys(("goals_focus", "goals_agree", "tasks_sense", "tasks_fit", "bond_heard", "bond_trust"), "3")


def reset_pool():
    """Forget the app's connection and producer pools, so the next publish uses the broker URL now
    configured (closing them instead would leave kombu's shared pools closed for later tests)."""
    celery_app._pool = None
    celery_app.amqp._producer_pool = None


@pytest.fixture
def broker_down():
    """Point the app at a port where nothing listens, with tasks really queued (not eager)."""
    saved = celery_app.conf.broker_url, celery_app.conf.task_always_eager
    celery_app.conf.broker_url = "redis://127.0.0.1:1/0"
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
    assert seconds < 15  # the client is not kept waiting on a dead broker for long


@pytest.mark.filterwarnings("ignore::celery.exceptions.AlwaysEagerIgnored")
def test_the_nightly_sweep_evaluates_what_the_down_broker_missed(client, case, worker, redis_url):  # noqa: F811
    saved = celery_app.conf.broker_url, celery_app.conf.task_always_eager
    celery_app.conf.broker_url, celery_app.conf.task_always_eager = "redis://127.0.0.1:1/0", False
    reset_pool()
    try:
        response, _ = submit_while_broker_is_down(client, case)
    finally:
        celery_app.conf.broker_url, celery_app.conf.task_always_eager = saved
        reset_pool()
    assert response.status_code == 302
    assert not CaseEvaluation.objects.filter(case=case).exists()

    with celery_app.connection_for_write(redis_url) as conn:
        celery_app.send_task("measures.tasks.nightly_sweep", queue=worker, connection=conn)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not CaseEvaluation.objects.filter(case=case).exists():
        time.sleep(0.25)
    evaluation = CaseEvaluation.objects.get(case=case)
    participant = case.participants.get()
    assert evaluation.summary[str(participant.pk)]["answered"] == 5
