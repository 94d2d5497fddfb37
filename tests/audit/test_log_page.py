"""The clinic admin's access log page and its CSV: who may see it, the filters, the query count."""

import csv
import io
from datetime import UTC, datetime

import pytest
import time_machine
from django.urls import reverse

from audit.actions import do_record_access
from audit.models import AccessEvent
from tests.builders import make_case

LOG = reverse("audit:log")


def record(user, case=None, *, route="dashboard:case", outcome="allowed"):
    return do_record_access(
        user=user,
        route=route,
        key="case_id" if case else None,
        value=case.pk if case else None,
        action="read",
        outcome=outcome,
        status_code=200 if outcome == "allowed" else 404,
        address="192.0.2.7",
    )


def rows(response):
    return response.content.decode().count('class="access-event"')


def test_anonymous_is_sent_to_login(client):
    response = client.get(LOG)
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_a_therapist_may_not_read_the_log(login, therapist):
    assert login(therapist).get(LOG).status_code == 403
    assert login(therapist).get(reverse("audit:export")).status_code == 403


def test_post_is_not_allowed(login, clinic_admin):
    assert login(clinic_admin).post(LOG).status_code == 405


def test_an_admin_sees_only_their_own_clinics_entries(login, clinic_admin, therapist, case, outsider):
    record(therapist, case)
    record(outsider, make_case(outsider))  # another clinic's case
    record(outsider)  # another clinic, no case
    body = login(clinic_admin).get(LOG).content.decode()
    assert body.count('class="access-event"') == 1
    assert therapist.full_name in body and outsider.full_name not in body


def test_the_filters_pick_person_case_and_dates(login, clinic_admin, therapist, colleague, case):
    other_case = make_case(therapist)
    with time_machine.travel(datetime(2026, 3, 1, 12, tzinfo=UTC)):
        record(therapist, case)
    with time_machine.travel(datetime(2026, 3, 5, 12, tzinfo=UTC)):
        record(therapist, other_case)
        record(colleague, case, outcome="denied")
    client = login(clinic_admin)
    assert rows(client.get(LOG)) == 3
    assert rows(client.get(LOG, {"person": colleague.pk})) == 1
    assert rows(client.get(LOG, {"case": case.reference})) == 2
    assert rows(client.get(LOG, {"date_from": "2026-03-02"})) == 2
    assert rows(client.get(LOG, {"date_to": "2026-03-01"})) == 1
    assert rows(client.get(LOG, {"person": therapist.pk, "case": case.reference, "date_to": "2026-03-04"})) == 1


def test_another_clinics_person_is_not_a_choice(login, clinic_admin, therapist, outsider, case):
    record(therapist, case)
    response = login(clinic_admin).get(LOG, {"person": outsider.pk})
    assert response.status_code == 200
    assert outsider.full_name not in response.content.decode()
    assert rows(response) == 1  # an invalid filter filters nothing


def test_newest_first_and_paginated(login, clinic_admin, therapist, case):
    for minute in range(55):
        with time_machine.travel(datetime(2026, 3, 1, 12, minute, tzinfo=UTC)):
            record(therapist, case)
    client = login(clinic_admin)
    first = client.get(LOG).content.decode()
    assert rows(client.get(LOG)) == 50 and "page 1 of 2" in first
    assert first.index("2026-03-01 12:54") < first.index("2026-03-01 12:53")
    assert rows(client.get(LOG, {"page": 2})) == 5


# The log page, for a clinic admin:
#  1. the login session  2. the user
#  3. the person filter's choice (the form validates it)  4. COUNT of the matching entries
#  5. this page's entries with their users and cases
#  6. the user's clinic (page header)   7. the header's count of unseen flags
#  +1. the session's second-factor device (django-otp's OTPMiddleware)
LOG_QUERIES = 8


@pytest.mark.parametrize("entries", [3, 120])
def test_the_log_page_runs_a_fixed_number_of_queries(
    login, clinic_admin, therapist, case, entries, django_assert_num_queries
):
    for _ in range(entries):
        record(therapist, case)
    client = login(clinic_admin)
    with django_assert_num_queries(LOG_QUERIES):
        response = client.get(LOG, {"person": therapist.pk})
    assert rows(response) == min(entries, 50)


def test_the_csv_holds_the_filtered_entries_and_is_itself_recorded(login, clinic_admin, therapist, colleague, case):
    record(therapist, case)
    record(colleague, case, outcome="denied")
    response = login(clinic_admin).get(reverse("audit:export"), {"person": colleague.pk})
    assert response["Content-Type"].startswith("text/csv")
    table = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert [(row["email"], row["case"], row["outcome"]) for row in table] == [
        (colleague.email, case.reference, "denied")
    ]
    export = AccessEvent.objects.latest("pk")
    assert (export.user, export.action, export.target) == (clinic_admin, "export", f"person={colleague.pk}")


def test_the_csv_defuses_spreadsheet_formulas(login, clinic_admin, clinic):
    from tests.builders import make_user

    sly = make_user(clinic, name='=HYPERLINK("http://x")')
    record(sly)
    table = list(csv.DictReader(io.StringIO(login(clinic_admin).get(reverse("audit:export")).content.decode())))
    assert table[0]["person"].startswith("'=")
