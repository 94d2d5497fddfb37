"""The caseload: whom to look at today and why, riskiest first."""

import pytest
from django.template.loader import render_to_string
from django.urls import reverse

from measures.evaluation import do_evaluate_case
from measures.models import CaseEvaluation, Signal
from sessions_app.models import Case, TherapySession
from tests.builders import give_history, make_case, make_response, make_session
from tests.dashboard.flags import make_signal

URL = reverse("dashboard:caseload")




def row_order(body, references):
    return sorted(references, key=body.index)


def test_cases_come_riskiest_first_with_the_reason(login, therapist):
    steady = make_case(therapist, reference="STEADY", participants=["Sam Steady"])
    falling = make_case(therapist, reference="FALLING", participants=["Fay Falling"])
    give_history(steady, [8, 8, 8.5, 8, 8, 8, 8, 8])
    give_history(falling, [9, 9, 8.5, 9, 9, 9, 6, 5.5])
    for case in (steady, falling):
        do_evaluate_case(case.pk)
    body = login(therapist).get(URL).content.decode()
    assert row_order(body, ["STEADY", "FALLING"]) == ["FALLING", "STEADY"]
    top_row = body[body.index("FALLING") : body.index("STEADY")]
    assert "Reliable drop from usual level" in top_row
    assert "The total fell" in top_row  # the engine's explanation, in the row
    assert "↓" in top_row and "<svg" in top_row and "8 of 8 (100%)" in top_row


def test_a_row_shows_names_kind_sessions_latest_scores_and_next_session(login, therapist, couple_case):
    robin, jordan = couple_case.participants.all()
    for days_ago, scores in ((14, (9, 8, 7)), (7, (8, 7, 6))):
        session = make_session(couple_case, days_ago=days_ago)
        make_response(session, robin, *scores)
    make_session(couple_case, days_ago=-3, status=TherapySession.Status.SCHEDULED)
    make_session(couple_case, days_ago=21, status=TherapySession.Status.NO_SHOW)
    do_evaluate_case(couple_case.pk)
    body = login(therapist).get(URL).content.decode()
    assert "Robin Rivera, Jordan Rivera" in body and "Couple" in body
    assert "2 attended" in body and "next " in body and "none booked" not in body
    assert "8.0 · 7.0 · 6.0 · <strong>7.0</strong>" in body  # Robin's latest check
    assert 'Jordan:</span> <span class="text-body-secondary">no answer yet' in body
    assert "2 of 4 (50%)" in body  # both partners, two attended sessions each


def test_a_case_without_any_answered_check_is_not_shown_as_fine(login, therapist, case):
    make_session(case, days_ago=7)
    do_evaluate_case(case.pk)
    body = login(therapist).get(URL).content.decode()
    assert "No answered checks yet" in body
    never = make_case(therapist, reference="NEVER-EVALUATED")
    body = login(therapist).get(URL).content.decode()
    assert never.reference in body and "not evaluated" in body


def test_filters_flagged_kind_and_name(login, therapist, couple_case):
    single = make_case(therapist, reference="SINGLE", participants=["Alexis Moreno"])
    make_signal(single, severity="warning")
    make_signal(couple_case, kind="ceiling", severity="info")  # info alone is not "flagged"
    client = login(therapist)

    def listed(**params):
        body = client.get(URL, params).content.decode()
        return {ref for ref in ("SINGLE", couple_case.reference) if f">{ref}</a>" in body}

    assert listed() == {"SINGLE", couple_case.reference}
    assert listed(flagged="on") == {"SINGLE"}
    assert listed(kind="couple") == {couple_case.reference}
    assert listed(q="moreno") == {"SINGLE"}
    assert listed(q="Jordan") == {couple_case.reference}
    assert listed(q="nobody") == set()
    assert "No active case matches the filter." in client.get(URL, {"q": "nobody"}).content.decode()


def test_an_unknown_kind_is_ignored_not_an_error(login, therapist, case):
    response = login(therapist).get(URL, {"kind": "cult"})
    assert response.status_code == 200 and case.reference in response.content.decode()


def test_only_active_cases_of_the_therapist_are_listed(login, therapist, colleague, case):
    closed = make_case(
        therapist,
        reference="CLOSED",
        status=Case.Status.CLOSED,
        outcome=Case.Outcome.COMPLETED,
        opened_on="2025-01-01",
        closed_on="2026-01-01",
    )
    other = make_case(colleague, reference="THEIRS")
    body = login(therapist).get(URL).content.decode()
    assert case.reference in body and f">{closed.reference}<" not in body and other.reference not in body


def test_the_header_counts_unseen_flags(login, therapist, case):
    make_signal(case, severity="alert")
    make_signal(case, kind="low_score", severity="warning")
    make_signal(case, kind="ceiling", severity="info")
    closed = make_case(therapist, status="closed", outcome="dropped_out", closed_on=case.opened_on)
    make_signal(closed, severity="alert")  # a case that ended: nothing left to act on
    body = login(therapist).get(URL).content.decode()
    assert '2<span class="visually-hidden"> new flags</span>' in body


def test_anonymous_users_are_sent_to_log_in(client):
    response = client.get(URL)
    assert response.status_code == 302 and response["Location"].startswith(reverse("accounts:login"))


def test_only_get_is_allowed(login, therapist):
    assert login(therapist).post(URL).status_code == 405


@pytest.mark.parametrize("persona", ["outsider", "clinic_admin", "colleague"])
def test_other_staff_see_none_of_the_therapists_cases(login, request, case, persona):
    CaseEvaluation.objects.create(case=case, risk_score=90)
    body = login(request.getfixturevalue(persona)).get(URL).content.decode()
    assert case.reference not in body


def test_a_long_caseload_is_paged_riskiest_first_keeping_the_filters(login, therapist):
    from dashboard.pages import PAGE_SIZE
    from tests.dashboard.bulk import bulk_caseload

    built = bulk_caseload(therapist, cases=PAGE_SIZE + 5, sessions=1)
    # Every flag acted on, so that risk alone orders the pages (unacted flags would come first).
    Signal.objects.filter(case__in=built).update(status="acknowledged")
    CaseEvaluation.objects.filter(case=built[3]).update(risk_score=100)
    CaseEvaluation.objects.filter(case=built[4]).update(risk_score=0)
    client = login(therapist)
    first = client.get(URL, {"q": "bulk"}).content.decode()
    assert f"{PAGE_SIZE + 5} active cases match the filter · page 1 of 2" in first
    assert first.index(built[3].reference) < first.index(built[1].reference) and built[4].reference not in first
    assert "?q=bulk&amp;page=2" in first
    second = client.get(URL, {"q": "bulk", "page": 2}).content.decode()
    assert built[4].reference in second and built[3].reference not in second
    assert client.get(URL, {"page": "abc"}).status_code == 200


# The filter fields: drawn once per process while unfiltered (dashboard.views._filter_fields) -------

FILTERS = "dashboard/_caseload_filters.html"


def drawn(response):
    return [template.name for template in response.templates].count(FILTERS)


def test_the_unfiltered_caseload_draws_its_filter_fields_once_per_process(login, therapist, case):
    from dashboard.forms import CaseloadFilterForm
    from dashboard.views import _unfiltered_fields

    _unfiltered_fields.cache_clear()
    client = login(therapist)
    first, second = client.get(URL), client.get(URL)
    assert (drawn(first), drawn(second)) == (1, 0)
    # What the page shows is what crispy draws for an unbound form, on every visit.
    fresh = render_to_string(FILTERS, {"filter_form": CaseloadFilterForm()})
    assert 'name="q"' in fresh and fresh in first.content.decode() and fresh in second.content.decode()


def test_a_filtered_caseload_draws_its_fields_with_the_values_and_errors_given(login, therapist, case):
    client = login(therapist)
    client.get(URL)
    response = client.get(URL, {"flagged": "on", "q": "x" * 90})
    body = response.content.decode()
    assert drawn(response) == 1
    assert 'id="id_flagged" checked' in body and 'value="' + "x" * 90 + '"' in body
    assert "Ensure this value has at most 80 characters" in body
    assert 'id="id_flagged" checked' not in client.get(URL).content.decode()  # nothing of it is kept
