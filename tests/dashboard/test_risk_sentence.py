"""The case page says what the risk means: how many clients with this pattern stopped coming."""

import pytest
from django.urls import reverse

from dashboard.pages import risk_sentence
from measures.models import CaseEvaluation

TAIL = " clients with this pattern stopped coming within three sessions."


@pytest.mark.parametrize(
    "risk, share",
    [
        (0, "Fewer than 1 in 50"),
        (1, "Fewer than 1 in 50"),
        (2, "About 1 in 50"),
        (10, "About 1 in 10"),
        (33, "About 1 in 3"),
        (34, "About 1 in 3"),
        (40, "About 4 in 10"),  # not "1 in 2"
        (45, "About 5 in 10"),
        (62, "About 6 in 10"),
        (94, "About 9 in 10"),
        (95, "Nearly all"),
        (100, "Nearly all"),
    ],
)
def test_the_probability_is_worded_as_a_frequency(risk, share):
    assert risk_sentence(risk) == share + TAIL


def test_no_evaluation_no_sentence():
    assert risk_sentence(None) is None


def test_the_case_page_shows_the_sentence_in_the_risk_badge(login, therapist, case):
    CaseEvaluation.objects.create(case=case, risk_score=33)
    body = login(therapist).get(reverse("dashboard:case", args=[case.pk])).content.decode()
    assert f"About 1 in 3{TAIL}</span>" in body
    assert 'title="Chance of stopping within three sessions: 33%"' in body
    assert "risk 33" not in body
