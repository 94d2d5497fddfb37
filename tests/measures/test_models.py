"""Constraints live in the database, so no code path can store impossible clinical data.

Each test checks that the database refuses the write *for the named constraint*: an
IntegrityError from another constraint that happens to fire first would not show that the one
under test exists.
"""

from contextlib import contextmanager
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import IntegrityError, connection, models, transaction

from measures.models import Answer, Instrument, Response, Signal
from sessions_app.models import Case
from tests.builders import make_invitation, make_response, make_session


def constraint_named(model, name):
    return next(constraint for constraint in model._meta.constraints if constraint.name == name)


def refusal_text(model, name):
    """What the database's error says when `name` refuses a row. PostgreSQL names every
    constraint; SQLite names check constraints but reports a unique one by its columns."""
    constraint = constraint_named(model, name)
    if connection.vendor == "sqlite" and isinstance(constraint, models.UniqueConstraint):
        columns = [f"{model._meta.db_table}.{model._meta.get_field(field).column}" for field in constraint.fields]
        return "UNIQUE constraint failed: " + ", ".join(columns)
    return name


@contextmanager
def refused_by(model, name):
    with pytest.raises(IntegrityError) as refused, transaction.atomic():
        yield
    assert refusal_text(model, name) in str(refused.value)


@pytest.fixture
def response(case):
    return make_response(make_session(case), case.participants.get())


def test_a_score_outside_the_items_range_is_refused_by_the_database(response):
    item = Instrument.objects.for_clinic(response.session.case.clinic).items.get(code="goals_focus")
    Answer.objects.filter(response=response, item=item).delete()
    with refused_by(Answer, "answer_value_in_item_range"):
        Answer.objects.create(
            response=response, item=item, value=11, scale_min=item.scale_min, scale_max=item.scale_max
        )


def test_an_answer_in_range_is_accepted(response):
    item = Instrument.objects.for_clinic(response.session.case.clinic).items.get(code="goals_focus")
    Answer.objects.filter(response=response, item=item).update(value=10)
    assert Answer.objects.get(response=response, item=item).value == 10


@pytest.mark.parametrize("field", ["goals", "tasks", "bond", "total"])
def test_a_subscale_score_above_ten_is_refused(response, field):
    with refused_by(Response, f"response_{field}_0_to_10"):
        Response.objects.filter(pk=response.pk).update(**{field: Decimal("10.5")})


def test_one_response_per_participant_and_session(response):
    # A second invitation (of another session: invitations are one per participant and session
    # too) so that the response's one-to-one invitation cannot be what refuses the row.
    later = make_session(response.session.case, scheduled_start=response.session.scheduled_start + timedelta(days=7))
    invitation, _ = make_invitation(later, response.participant)
    with refused_by(Response, "response_one_per_session"):
        Response.objects.create(
            invitation=invitation,
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
    with refused_by(Signal, "signal_one_open_per_participant_kind"):
        Signal.objects.create(**fields)


def test_a_closed_case_needs_a_closing_date(case):
    with refused_by(Case, "case_closing_matches_status"):
        Case.objects.filter(pk=case.pk).update(status=Case.Status.CLOSED, outcome=Case.Outcome.DROPPED_OUT)


def test_clinical_rows_cannot_be_hard_deleted(response):
    from django.db.models import ProtectedError

    with pytest.raises(ProtectedError):
        response.session.case.delete()
