"""The couple/family items of the case page: loaded in one query, charted per person per item."""

import re

import pytest
from django.template.loader import render_to_string
from django.utils import timezone

from dashboard import charts, couple
from measures.models import Answer
from sessions_app.models import TherapySession
from tests.builders import make_case, make_response, make_session

pytestmark = pytest.mark.django_db


def polylines(svg):
    return re.findall(r'<polyline points="([^"]+)"', svg)


def answer(response, *, purpose, safety):
    """Set a response's couple/family answers (the builder answers 8 to both)."""
    Answer.objects.filter(response=response, item__code="shared_purpose").update(value=purpose)
    Answer.objects.filter(response=response, item__code="shared_safety").update(value=safety)


@pytest.fixture
def history(couple_case):
    """Three counted sessions (the second a no-show), a cancelled one and one to come."""
    robin, jordan = couple_case.participants.order_by("pk")
    first = make_session(couple_case, days_ago=21)
    answer(make_response(first, robin), purpose=9, safety=9)
    answer(make_response(first, jordan), purpose=8, safety=7)
    make_session(couple_case, days_ago=14, status=TherapySession.Status.NO_SHOW)
    cancelled = make_session(couple_case, days_ago=10, status=TherapySession.Status.CANCELLED)
    answer(make_response(cancelled, robin), purpose=1, safety=1)  # not a counted session
    third = make_session(couple_case, days_ago=7)
    answer(make_response(third, robin), purpose=9, safety=8)  # Jordan did not answer
    make_session(couple_case, days_ago=-7, status=TherapySession.Status.SCHEDULED)
    active = list(couple_case.participants.order_by("pk"))
    counted = TherapySession.counted(couple_case.sessions.all(), timezone.now())
    return couple_case, active, counted


def test_the_items_are_loaded_in_one_query_per_person_by_session(history, django_assert_num_queries):
    case, active, counted = history
    with django_assert_num_queries(1):  # the shared items' Answer rows of the case's responses
        shared = couple.load_shared_items(case, active, counted)
    assert [item.code for item in shared.items] == ["shared_purpose", "shared_safety"]
    assert [item.label for item in shared.items] == [
        "Working towards the same thing", "Safe to speak with the others there"
    ]
    assert "safe saying what I really think with the others in the room" in shared.items[1].prompt
    assert shared.people == ["Robin", "Jordan"]
    # per session: per item, Robin then Jordan; the no-show and Jordan's missing check are empty,
    # the cancelled session's answers are not counted
    assert shared.table == [
        (1, [[9.0, 8.0], [9.0, 7.0]]),
        (2, [[None, None], [None, None]]),
        (3, [[9.0, None], [8.0, None]]),
    ]


def test_each_item_is_charted_with_a_line_per_person(history):
    shared = couple.load_shared_items(*history)
    safety = shared.items[1].chart
    assert 'aria-labelledby="chart-shared-' in safety and "Robin and Jordan" in safety
    assert "Robin Rivera, session 1: 9.0" in safety and "Jordan Rivera, session 1: 7.0" in safety
    assert "Robin Rivera, session 3: 8.0" in safety and "Jordan Rivera, session 3" not in safety
    assert 'class="marker-no-show"' in safety and "Session 2: no-show" in safety
    # each person's line is broken by the no-show, so each is a lone point per run: no polyline
    assert polylines(safety) == []
    assert safety.count("stroke-dasharray=\"7 4\"") >= 1  # Jordan's style in the legend


def test_a_case_of_one_person_has_no_couple_items_and_runs_no_query(therapist, django_assert_num_queries):
    case = make_case(therapist)
    make_response(make_session(case, days_ago=7), case.participants.get())
    counted = TherapySession.counted(case.sessions.all(), timezone.now())
    active = list(case.participants.all())
    with django_assert_num_queries(0):
        shared = couple.load_shared_items(case, active, counted)
    assert not shared and shared.items == []
    assert render_to_string("dashboard/_shared_items.html", {"shared_items": shared}).strip() == ""


def test_the_partial_shows_each_item_beside_the_others_with_its_figures(history):
    shared = couple.load_shared_items(*history)
    html = render_to_string("dashboard/_shared_items.html", {"shared_items": shared})
    assert html.count('<svg class="chart"') == 2
    assert "With the others in the room" in html and "Safe to speak with the others there" in html
    assert "Safe to speak with the others there: Robin · Jordan" in html
    assert '<th scope="row">3</th><td>9 · —</td><td>8 · —</td>' in html


def test_item_charts_draw_one_line_per_person_and_escape_the_prompt():
    lines = {
        "shared_safety": [
            charts.Line("Robin Rivera", [9, 9, 8], 0),
            charts.Line("Jordan Rivera", [8, 5, 3], 1),
        ]
    }
    (label, svg), = charts.item_charts(
        "c9", [("shared_safety", "Safe to speak", "Safe <with> the others & me")], ["1", "2", "3"], lines
    )
    assert label == "Safe to speak"
    assert [len(points.split()) for points in polylines(svg)] == [3, 3]
    assert "Safe &lt;with&gt; the others &amp; me" in svg and "<with>" not in svg
    assert "Safe to speak over sessions for Robin and Jordan" in svg
    assert "below cutoff" not in svg  # the clinic cutoff is about the total, not these items
