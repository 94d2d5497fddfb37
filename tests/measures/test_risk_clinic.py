"""The risk in the app: the clinic's own refit from closed cases, and the evaluation using it."""

import pytest
from django.utils import timezone

from measures.engine.risk import MIN_CLOSED_CASES, SOURCE_CLINIC, shipped_table
from measures.evaluation import compute_clinic_risk, do_calibrate_clinic, do_evaluate_case
from measures.models import CaseEvaluation, ClinicCalibration, Instrument
from sessions_app.models import Case
from tests.builders import give_history, make_case

pytestmark = pytest.mark.django_db


def close_cases(therapist, count, *, dropped_every=2):
    """`count` closed cases of three answered sessions; every `dropped_every`-th dropped out
    (falling scores), the others completed (steady)."""
    for i in range(count):
        case = make_case(therapist, reference=f"closed-{i}")
        dropped = i % dropped_every == 0
        first = 7 + i % 3  # first checks that differ, so the psychometrics can be estimated too
        give_history(case, [first, 4 + i % 2, 3] if dropped else [first, 8, 7 + i % 2])
        outcome = Case.Outcome.DROPPED_OUT if dropped else Case.Outcome.COMPLETED
        closed = {"status": Case.Status.CLOSED, "outcome": outcome, "closed_on": timezone.localdate()}
        Case.objects.filter(pk=case.pk).update(**closed)


def test_below_fifty_closed_cases_the_shipped_calibration_stays(therapist):
    close_cases(therapist, MIN_CLOSED_CASES - 1)
    assert compute_clinic_risk(therapist.clinic) == {}


def test_referred_and_active_cases_do_not_count_towards_the_refit(therapist):
    close_cases(therapist, MIN_CLOSED_CASES - 1)
    referred = make_case(therapist, reference="referred")
    give_history(referred, [8, 8])
    Case.objects.filter(pk=referred.pk).update(
        status=Case.Status.CLOSED, outcome=Case.Outcome.REFERRED, closed_on=timezone.localdate()
    )
    give_history(make_case(therapist, reference="active"), [8, 8])
    assert compute_clinic_risk(therapist.clinic) == {}


def test_the_nightly_calibration_refits_the_risk_on_fifty_closed_cases(therapist):
    close_cases(therapist, MIN_CLOSED_CASES)
    # the risk refit is under test, not the budget's search: 200 simulated courses (nightly: 1000)
    calibration = do_calibrate_clinic(therapist.clinic, courses=200)
    table = calibration.risk_calibration
    assert table["source"] == SOURCE_CLINIC and table["cases"] == MIN_CLOSED_CASES
    assert table["weights"] == shipped_table().to_json()["weights"]
    assert table["probabilities"] == sorted(table["probabilities"])
    # half of this clinic's clients stopped: a client without findings is at more risk here
    assert max(table["probabilities"]) > 0.2


def test_an_evaluation_uses_the_clinics_own_table_once_it_has_one(therapist):
    case = make_case(therapist, reference="open")
    give_history(case, [8, 8, 8])
    do_evaluate_case(case.pk)
    assert CaseEvaluation.objects.get(case=case).risk_score == round(100 * shipped_table().probabilities[0])
    flat = {**shipped_table().to_json(), "knots": [-100, 100], "probabilities": [0.37, 0.37], "source": "clinic"}
    ClinicCalibration.objects.create(
        clinic=therapist.clinic,
        instrument=Instrument.objects.latest_version(therapist.clinic.instrument_code),
        risk_calibration=flat,
    )
    do_evaluate_case(case.pk)
    assert CaseEvaluation.objects.get(case=case).risk_score == 37
