"""The CSV tables: what each row holds, and a date range read in the clinic's own days."""

import datetime
import json

import pytest

from measures.actions.signals import do_acknowledge_signal
from measures.evaluation import do_evaluate_case
from measures.exports import ExportScope
from measures.exports.csv import flag_table, repair_table, response_table, score_table
from measures.models import Answer, Signal
from tests.builders import give_history, make_case, make_response, make_session


def _dicts(table):
    header, rows = table
    return [dict(zip(header, row, strict=True)) for row in rows]


@pytest.mark.django_db
def test_the_tables_hold_answers_scores_flags_and_their_history(therapist):
    case = make_case(therapist)
    participant = give_history(case, [8, 8, 8, 8, 3, 3, 3])
    do_evaluate_case(case.pk)
    signal = Signal.objects.filter(case=case, severity="alert").first()
    do_acknowledge_signal(signal, acting_user=therapist)
    scope = ExportScope(therapist.clinic)

    answers = _dicts(response_table(scope))
    assert len(answers) == Answer.objects.count()
    first = answers[0]
    assert (first["case_reference"], first["client_id"], first["item"], first["value"]) == (
        case.reference, participant.pk, "goals_focus", 8
    )  # fmt: skip
    scores = _dicts(score_table(scope))
    assert [str(row["total"]) for row in scores] == ["8.00"] * 4 + ["3.00"] * 3
    assert scores[0]["shared"] == "" and scores[0]["is_imported"] == 0
    flags = _dicts(flag_table(scope))
    assert {row["kind"] for row in flags} == set(Signal.objects.values_list("kind", flat=True))
    alert = next(row for row in flags if row["flag_id"] == signal.pk)
    assert alert["kind_label"] == signal.get_kind_display() and json.loads(alert["evidence"]) == signal.evidence
    assert alert["status"] == "acknowledged" and alert["closed_at"] == ""
    history = [row for row in _dicts(repair_table(scope)) if row["flag_id"] == signal.pk]
    assert [(row["action"], row["actor"]) for row in history] == [("opened", ""), ("acknowledged", therapist.full_name)]
    for table in (answers, scores, flags):
        assert not any("@" in str(value) for row in table for value in row.values())  # no contact details


@pytest.mark.django_db
def test_a_date_range_is_read_in_the_clinics_days(therapist):
    clinic = therapist.clinic
    clinic.time_zone = "Pacific/Auckland"  # UTC+13 in December
    clinic.save()
    case = make_case(therapist)
    at = datetime.datetime(2026, 11, 30, 12, 0, tzinfo=datetime.UTC)  # 1 December, 01:00 in Auckland
    make_response(make_session(case, scheduled_start=at), case.participants.first())
    december = ExportScope(clinic, date_from=datetime.date(2026, 12, 1), date_to=datetime.date(2026, 12, 1))
    november = ExportScope(clinic, date_to=datetime.date(2026, 11, 30))
    assert len(_dicts(score_table(december))) == 1
    assert _dicts(score_table(november)) == []
