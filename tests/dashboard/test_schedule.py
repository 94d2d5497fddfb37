"""Scheduling the next session from the case page, in the clinic's own time zone."""

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse

from sessions_app.models import Case, TherapySession
from tests.builders import make_session


def url(case):
    return reverse("dashboard:schedule_session", args=[case.pk])


# Two days from today at 17:30: inside a case opened today, in any clinic's time zone, whenever the
# suite runs (a fixed date falls before the case opened once that day has passed).
AHEAD = date.today() + timedelta(days=2)
START = f"{AHEAD:%Y-%m-%d}T17:30"


@pytest.fixture
def new_york(clinic):
    clinic.time_zone = "America/New_York"
    clinic.save()
    return clinic


def test_the_therapist_adds_a_session_in_clinic_time(login, therapist, case, new_york):
    response = login(therapist).post(url(case), {"start": START})
    assert response.status_code == 302
    session = TherapySession.objects.get(case=case)
    evening = datetime(AHEAD.year, AHEAD.month, AHEAD.day, 17, 30, tzinfo=ZoneInfo("America/New_York"))
    assert session.scheduled_start == evening
    assert session.status == TherapySession.Status.SCHEDULED


def test_the_case_page_shows_times_in_the_clinic_time_zone(login, therapist, case, new_york):
    make_session(case, scheduled_start=datetime(2026, 12, 3, 22, 30, tzinfo=ZoneInfo("UTC")))
    body = login(therapist).get(reverse("dashboard:case", args=[case.pk])).content.decode()
    assert "3 Dec 2026, 17:30" in body and "time in America/New_York" in body


def test_a_second_session_at_the_same_time_is_refused_with_a_message(login, therapist, case):
    client = login(therapist)
    client.post(url(case), {"start": START})
    response = client.post(url(case), {"start": START}, follow=True)
    assert "already a session at that time" in response.content.decode()
    assert TherapySession.objects.filter(case=case).count() == 1


def test_a_missing_or_malformed_time_is_refused(login, therapist, case):
    response = login(therapist).post(url(case), {"start": "next tuesday"}, follow=True)
    assert "Please give the date and time" in response.content.decode()
    assert not TherapySession.objects.filter(case=case).exists()


def test_a_closed_case_takes_no_new_sessions(login, therapist, case):
    Case.objects.filter(pk=case.pk).update(
        status=Case.Status.CLOSED, outcome=Case.Outcome.COMPLETED, closed_on=case.opened_on
    )
    response = login(therapist).post(url(case), {"start": START}, follow=True)
    assert "This case is closed" in response.content.decode()
    assert not TherapySession.objects.filter(case=case).exists()


def test_who_may_schedule(client, login, case, colleague, outsider, clinic_admin):
    data = {"start": START}
    assert client.post(url(case), data)["Location"].startswith(reverse("accounts:login"))
    assert login(colleague).post(url(case), data).status_code == 404
    assert login(outsider).post(url(case), data).status_code == 404
    assert login(clinic_admin).post(url(case), data).status_code == 403
    assert not TherapySession.objects.filter(case=case).exists()


def test_scheduling_needs_post(login, therapist, case):
    assert login(therapist).get(url(case)).status_code == 405


# Dates outside the case's life (issue 9.4).


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("1900-01-01T10:00", "cannot be before that"),
        ("9999-12-31T23:59", "at most a year ahead"),
    ],
)
def test_a_time_outside_the_cases_life_is_refused_beside_the_field(login, therapist, case, new_york, typed, message):
    response = login(therapist).post(url(case), {"start": typed})
    body = response.content.decode()
    assert response.status_code == 400
    assert '<div id="id_start_error" class="invalid-feedback">' in body and message in body
    assert f'value="{typed}"' in body  # what was typed stays, to be corrected
    assert not TherapySession.objects.filter(case=case).exists()


def test_the_day_the_case_opened_and_a_year_ahead_are_accepted(login, therapist, case):
    from datetime import timedelta

    from django.utils import timezone

    client = login(therapist)
    client.post(url(case), {"start": f"{case.opened_on:%Y-%m-%d}T00:00"})
    client.post(url(case), {"start": (timezone.now() + timedelta(days=364)).strftime("%Y-%m-%dT%H:%M")})
    assert TherapySession.objects.filter(case=case).count() == 2


@pytest.mark.parametrize("zone", ["Europe/Madrid", "Asia/Tokyo", "America/New_York"])
def test_a_far_future_row_saved_before_the_check_does_not_break_the_pages(login, therapist, case, clinic, zone):
    clinic.time_zone = zone
    clinic.save()
    make_session(case, days_ago=1)
    make_session(case, scheduled_start=datetime(9999, 12, 31, 23, 59, tzinfo=ZoneInfo("UTC")), status="scheduled")
    client = login(therapist)
    body = client.get(reverse("dashboard:case", args=[case.pk])).content.decode()
    assert "31 Dec 9999" in body
    assert client.get(reverse("dashboard:caseload")).status_code == 200
