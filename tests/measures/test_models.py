"""Constraints live in the database, so no code path can store impossible clinical data."""

from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction

from measures.models import Answer, Instrument, Response, Signal
from sessions_app.models import Case
from tests.builders import make_response, make_session


@pytest.fixture
def response(case):
    return make_response(make_session(case), case.participants.get())


def test_a_score_outside_the_items_range_is_refused_by_the_database(response):
    item = Instrument.objects.for_clinic(response.session.case.clinic).items.get(code="goals_focus")
    Answer.objects.filter(response=response, item=item).delete()
    with pytest.raises(IntegrityError), transaction.atomic():
        Answer.objects.create(
            response=response, item=item, value=11, scale_min=item.scale_min, scale_max=item.scale_max
        )


def test_an_answer_in_range_is_accepted(response):
    item = Instrument.objects.for_clinic(response.session.case.clinic).items.get(code="goals_focus")
    Answer.objects.filter(response=response, item=item).update(value=10)
    assert Answer.objects.get(response=response, item=item).value == 10


@pytest.mark.parametrize("field", ["goals", "tasks", "bond", "total"])
def test_a_subscale_score_above_ten_is_refused(response, field):
    with pytest.raises(IntegrityError), transaction.atomic():
        Response.objects.filter(pk=response.pk).update(**{field: Decimal("10.5")})


def test_one_response_per_participant_and_session(response):
    with pytest.raises(IntegrityError), transaction.atomic():
        Response.objects.create(
            invitation=response.invitation,
            session=response.session,
            participant=response.participant,
            instrument=response.instrument,
            goals=5,
            tasks=5,
            bond=5,
            total=5,
        )


def test_only_one_open_flag_per_participant_and_kind(case):
    participant = case.participants.get()
    fields = {"case": case, "participant": participant, "kind": "low_score", "severity": "warning", "message": "m"}
    Signal.objects.create(**fields)
    with pytest.raises(IntegrityError), transaction.atomic():
        Signal.objects.create(**fields)


def test_a_closed_case_needs_a_closing_date(case):
    with pytest.raises(IntegrityError), transaction.atomic():
        Case.objects.filter(pk=case.pk).update(status=Case.Status.CLOSED, outcome=Case.Outcome.DROPPED_OUT)


def test_clinical_rows_cannot_be_hard_deleted(response):
    from django.db.models import ProtectedError

    with pytest.raises(ProtectedError):
        response.session.case.delete()
