"""The caseload and case pages run a fixed number of queries, whatever the caseload's size."""

import pytest
from django.urls import reverse

from dashboard.pages import PAGE_SIZE
from measures.models import Signal, SignalAction
from tests.dashboard.bulk import bulk_caseload

# Caseload, for a therapist:
#  1. the login session            2. the user
#  3. COUNT of the matching cases (pagination)
#  4. this page's cases with their evaluation
#  5. their active participants    6. their open flags
#  7. attended count, last and next session per case (one GROUP BY)
#  8. each participant's last ten totals (window function)
#  9. the user's clinic (cutoff; the header reuses it)
#  10. the header's count of unseen flags
#  11. INSERT: the access log entry (audit.middleware)
#  +1. the session's second-factor device (django-otp's OTPMiddleware)
CASELOAD_QUERIES = 12


@pytest.mark.parametrize("cases", [5, 200])
def test_the_caseload_runs_a_fixed_number_of_queries(login, therapist, django_assert_num_queries, cases):
    bulk_caseload(therapist, cases=cases)
    client = login(therapist)
    with django_assert_num_queries(CASELOAD_QUERIES):
        response = client.get(reverse("dashboard:caseload"))
    assert response.status_code == 200
    assert response.content.decode().count('class="sparkline"') == min(cases, PAGE_SIZE)


@pytest.mark.parametrize("cases", [5, 200])
def test_a_filtered_caseload_runs_the_same_queries(login, therapist, django_assert_num_queries, cases):
    bulk_caseload(therapist, cases=cases)
    client = login(therapist)
    with django_assert_num_queries(CASELOAD_QUERIES):
        response = client.get(reverse("dashboard:caseload"), {"flagged": "on", "kind": "couple", "q": "Person"})
    assert response.status_code == 200


# Case page, for its therapist:
#  1. the login session   2. the user
#  3. the case with its clinic, therapist and evaluation (access check included)
#  4. UPDATE: the case's unseen flags marked seen
#  5. participants  6. sessions  7. their invitations  8. their responses  9. the answers with items
#  10. the case's flags with their sessions  11. the flags' actions with their actors
#  12. the header's count of unseen flags  13. the user's clinic (header)
#  14. the couple/family items' answers (the tested case is a couple)
#  15. INSERT: the access log entry, its case and clinic found inside it (audit.middleware)
#  +1. the session's second-factor device (django-otp's OTPMiddleware)
CASE_QUERIES = 16


@pytest.mark.parametrize(("cases", "sessions"), [(5, 3), (200, 3), (5, 50)])
def test_the_case_page_runs_a_fixed_number_of_queries(login, therapist, django_assert_num_queries, cases, sessions):
    built = bulk_caseload(therapist, cases=cases, sessions=sessions)
    case = built[0]  # a couple with an open flag
    signal = Signal.objects.get(case=case)
    SignalAction.objects.create(signal=signal, action="opened", severity="warning")
    client = login(therapist)
    with django_assert_num_queries(CASE_QUERIES):
        response = client.get(reverse("dashboard:case", args=[case.pk]))
    body = response.content.decode()
    assert response.status_code == 200
    assert body.count("A synthetic note") == 2 * sessions  # both partners' notes in every session
