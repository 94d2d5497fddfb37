"""Tasks are queued on commit by name: eagerly run in the embedded default, a down broker absorbed."""

import logging
from unittest import mock

import pytest
from kombu.exceptions import OperationalError

from measures.models import CaseEvaluation
from measures.queue import enqueue_safely, queue_on_commit


def test_a_task_queued_by_name_runs_only_once_the_transaction_commits(case, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as queued:
        queue_on_commit("measures.tasks.evaluate_case", case.pk)
    assert len(queued) == 1 and not CaseEvaluation.objects.filter(case=case).exists()
    queued[0]()  # eager in tests (task_always_eager): delay() runs the task in-process
    assert CaseEvaluation.objects.filter(case=case).exists()


def test_a_down_broker_is_logged_and_absorbed(case, caplog):
    down = mock.patch("celery.app.task.Task.delay", side_effect=OperationalError("connection refused"))
    with down, caplog.at_level(logging.WARNING, logger="measures.queue"):
        assert enqueue_safely("measures.tasks.evaluate_case", case.pk) is False
    assert "could not queue measures.tasks.evaluate_case (OperationalError)" in caplog.text


def test_an_error_inside_an_eager_task_surfaces(db):
    bug = mock.patch("measures.tasks.do_evaluate_case", side_effect=ValueError("a bug"))
    with bug, pytest.raises(ValueError, match="a bug"):
        enqueue_safely("measures.tasks.evaluate_case", 1)


def test_an_unknown_task_name_is_an_error_not_a_silent_loss(db):
    with pytest.raises(KeyError):
        enqueue_safely("measures.tasks.no_such_task", 1)
