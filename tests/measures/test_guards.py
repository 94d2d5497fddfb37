"""Table-driven tests for two guards that a hand mutation used to survive (issue 8): the link
lookup's token-length guard and the case lock taken before an evaluation reads anything."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from measures.evaluation import do_evaluate_case
from measures.models import MAX_TOKEN_LENGTH, SurveyInvitation
from tests.builders import make_invitation, make_session

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("token", "queries"),
    [
        ("", 0),  # nothing to look up
        ("x" * (MAX_TOKEN_LENGTH + 1), 0),  # not one of ours: never hashed, never queried
        ("x" * (MAX_TOKEN_LENGTH + 500), 0),
        ("x" * MAX_TOKEN_LENGTH, 1),  # as long as one may be: looked up (and not found)
        ("x", 1),
    ],
)
def test_the_link_lookup_refuses_empty_and_overlong_tokens_before_any_query(token, queries):
    with CaptureQueriesContext(connection) as captured:
        assert SurveyInvitation.objects.for_token(token) is None
    assert len(captured) == queries


def test_a_real_token_is_found_and_the_guard_is_above_its_length(case):
    invitation, token = make_invitation(make_session(case, days_ago=0), case.participants.get())
    assert len(token) < MAX_TOKEN_LENGTH
    assert SurveyInvitation.objects.for_token(token) == invitation


def test_an_evaluation_locks_the_case_row_before_it_reads_anything(postgres, case):
    # On PostgreSQL the first query of an evaluation must take the case's row lock (SELECT ...
    # FOR UPDATE): a stale evaluation otherwise applies its older verdict on top of a newer one.
    make_session(case, days_ago=7)
    with CaptureQueriesContext(connection) as captured:
        do_evaluate_case(case.pk)
    selects = [q["sql"] for q in captured if q["sql"].lstrip().upper().startswith("SELECT")]
    assert "sessions_app_case" in selects[0] and "FOR UPDATE" in selects[0].upper()
