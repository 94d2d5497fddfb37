"""The "needs evaluation" mark, coalesced evaluations, and a sweep that fans out in batches.

A change that calls for an evaluation marks its case in its own transaction; the evaluation that
saw the mark clears it (only if nobody marked it again meanwhile); a case whose evaluation was
never queued (broker down) keeps its mark until the catch-up job evaluates it.
"""

from datetime import timedelta
from unittest import mock

import pytest
from celery.exceptions import SoftTimeLimitExceeded
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from kombu.exceptions import OperationalError

from accounts.models import Clinic
from measures import evaluation, tasks
from measures.models import CaseEvaluation
from measures.queue import queue_on_commit
from sessions_app.models import Case
from tests.builders import make_case, make_clinic, make_invitation, make_response, make_session, make_user

ANSWERS = {
    **dict.fromkeys(("goals_focus", "goals_agree", "tasks_sense", "tasks_fit", "bond_heard", "bond_trust"), "7"),
    "rupture": "no",
}
BROKER_DOWN = mock.patch("celery.app.task.Task.delay", side_effect=OperationalError("connection refused"))


def mark_of(case):
    return Case.objects.values_list("needs_evaluation_since", flat=True).get(pk=case.pk)


def test_a_submission_marks_its_case_and_its_evaluation_clears_the_mark(
    client, case, django_capture_on_commit_callbacks
):
    _, token = make_invitation(make_session(case), case.participants.get())
    with django_capture_on_commit_callbacks() as queued:
        response = client.post(reverse("surveys:survey", args=[token]), ANSWERS)
    assert response.status_code == 302
    assert mark_of(case) is not None and not CaseEvaluation.objects.filter(case=case).exists()
    for callback in queued:
        callback()  # eager: the evaluation runs here
    assert mark_of(case) is None and CaseEvaluation.objects.filter(case=case).exists()


def test_a_submission_made_while_the_broker_is_down_stays_marked_until_the_catch_up(
    client, case, django_capture_on_commit_callbacks
):
    _, token = make_invitation(make_session(case), case.participants.get())
    with BROKER_DOWN, django_capture_on_commit_callbacks(execute=True):
        assert client.post(reverse("surveys:survey", args=[token]), ANSWERS).status_code == 302
    assert mark_of(case) is not None and not CaseEvaluation.objects.filter(case=case).exists()

    assert tasks.catch_up_evaluations() == 0  # a fresh mark: its task may still be on the way
    Case.objects.filter(pk=case.pk).update(needs_evaluation_since=timezone.now() - timedelta(minutes=3))
    assert tasks.catch_up_evaluations() == 1
    assert mark_of(case) is None
    assert CaseEvaluation.objects.get(case=case).summary[str(case.participants.get().pk)]["answered"] == 1


def test_a_rolled_back_change_leaves_no_mark(case):
    with pytest.raises(RuntimeError), mock.patch("django.db.transaction.on_commit"), transaction.atomic():
        queue_on_commit("measures.tasks.evaluate_case", case.pk)
        raise RuntimeError("the change failed")
    assert mark_of(case) is None


def test_a_mark_set_again_during_an_evaluation_survives_it(case):
    """Compare-and-clear: the evaluation clears only the mark it read."""
    later = timezone.now() + timedelta(seconds=5)
    load = evaluation.load_observations

    def change_meanwhile(*args, **kwargs):
        Case.objects.filter(pk=case.pk).update(needs_evaluation_since=later)
        return load(*args, **kwargs)

    Case.objects.filter(pk=case.pk).update(needs_evaluation_since=timezone.now())
    with mock.patch("measures.evaluation.load_observations", side_effect=change_meanwhile):
        evaluation.do_evaluate_case(case.pk)
    assert mark_of(case) == later


def test_repeated_evaluations_of_one_case_queued_together_run_once(case, django_capture_on_commit_callbacks):
    make_response(make_session(case, days_ago=7), case.participants.get())
    with django_capture_on_commit_callbacks() as queued:
        for _ in range(3):
            queue_on_commit("measures.tasks.evaluate_case", case.pk)  # three changes, one transaction each
    assert len(queued) == 3
    with mock.patch("measures.evaluation.engine.compute_case", wraps=evaluation.engine.compute_case) as engine:
        for callback in queued:
            callback()  # the three tasks, delivered one after another (eager)
    assert engine.call_count == 1  # the first saw every change; the others found no mark
    assert mark_of(case) is None and CaseEvaluation.objects.filter(case=case).exists()


def test_the_evaluate_case_task_evaluates_a_never_evaluated_case_without_a_mark(case):
    tasks.evaluate_case(case.pk)
    assert CaseEvaluation.objects.filter(case=case).exists()


@pytest.fixture
def queued():
    """Record what the sweep queues instead of running it."""
    calls = []
    with mock.patch("measures.tasks.enqueue_safely", side_effect=lambda name, *args: calls.append((name, args)) or 1):
        yield calls


def evaluated_at(case, days_ago):
    CaseEvaluation.objects.update_or_create(case=case, defaults={"evaluated_at": timezone.now() - timedelta(days_ago)})


def test_the_sweep_queues_batches_with_the_oldest_evaluation_first(therapist, queued, monkeypatch):
    monkeypatch.setattr(tasks, "SWEEP_BATCH", 2)
    cases = [make_case(therapist) for _ in range(5)]
    for case in cases:
        make_session(case, days_ago=3)
    for case, days_ago in zip(cases, (1, 5, 3, 2), strict=False):
        evaluated_at(case, days_ago)  # cases[4]: never evaluated
    stale_closed = make_case(therapist, status=Case.Status.CLOSED, closed_on=timezone.localdate(), outcome="other")
    make_session(stale_closed, days_ago=3)
    marked_old = make_case(therapist)  # nothing recent, but marked: its evaluation was lost
    Case.objects.filter(pk=marked_old.pk).update(needs_evaluation_since=timezone.now() - timedelta(days=30))
    evaluated_at(marked_old, 40)

    tasks.nightly_sweep()

    batches = [args for name, args in queued if name == "measures.tasks.evaluate_cases"]
    order = [cases[4], marked_old, cases[1], cases[2], cases[3], cases[0]]
    assert [ids for ids, _ in batches] == [[c.pk for c in order[i : i + 2]] for i in (0, 2, 4)]
    assert all(since == batches[0][1] for _, since in batches)  # the sweep's start, for idempotence
    clinics = [args for name, args in queued if name == "measures.tasks.calibrate_clinic"]
    assert sorted(clinics) == sorted((pk,) for pk in Clinic.objects.values_list("pk", flat=True))


def test_a_sweep_batch_skips_cases_evaluated_since_the_sweep_began(therapist):
    first, second = make_case(therapist), make_case(therapist)
    started = timezone.now()
    evaluation.do_evaluate_case(first.pk)
    with mock.patch("measures.evaluation.engine.compute_case", wraps=evaluation.engine.compute_case) as engine:
        assert tasks.evaluate_cases([first.pk, second.pk], started.isoformat()) == 1
    assert engine.call_count == 1 and CaseEvaluation.objects.filter(case=second).exists()


def test_a_batch_cut_by_its_time_limit_queues_the_rest_again(therapist, queued):
    cases = [make_case(therapist) for _ in range(3)]
    real = evaluation.do_evaluate_case

    def slow(case_id, **kwargs):
        if case_id == cases[1].pk:
            raise SoftTimeLimitExceeded()
        return real(case_id, **kwargs)

    with mock.patch("measures.tasks.do_evaluate_case", side_effect=slow):
        tasks.evaluate_cases([c.pk for c in cases], "2026-01-01T00:00:00+00:00")
    assert queued == [("measures.tasks.evaluate_cases", ([cases[1].pk, cases[2].pk], "2026-01-01T00:00:00+00:00"))]


def test_one_broken_case_does_not_hold_up_its_batch(therapist, caplog):
    broken, fine = make_case(therapist), make_case(therapist)
    real = evaluation.do_evaluate_case

    def bug(case_id, **kwargs):
        if case_id == broken.pk:
            raise ValueError("a bug")
        return real(case_id, **kwargs)

    with mock.patch("measures.tasks.do_evaluate_case", side_effect=bug):
        assert tasks.evaluate_cases([broken.pk, fine.pk]) == 1
    assert CaseEvaluation.objects.filter(case=fine).exists()
    assert f"evaluation of case {broken.pk} failed" in caplog.text


def test_calibration_is_a_task_per_clinic(db):
    clinic = make_clinic()
    make_user(clinic)
    with mock.patch("measures.tasks.do_calibrate_clinic") as calibrate:
        tasks.calibrate_clinic(clinic.pk)
        tasks.calibrate_clinic(10**9)  # gone: nothing to do
    assert [c.args[0].pk for c in calibrate.call_args_list] == [clinic.pk]
