"""Printable reports: the one-page case report, the monthly clinic report and its command."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core.management import CommandError, call_command
from django.urls import reverse

from measures.models import Signal, SignalAction
from tests.builders import give_history, make_case
from tests.dashboard.bulk import bulk_caseload

pytestmark = pytest.mark.django_db
NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


@pytest.fixture
def reported(therapist, colleague):
    """Tess's case: three answered checks, an open alert and a resolved flag with a repair note;
    Colin's case with a flag of its own."""
    with time_machine.travel(NOW, tick=False):
        case = make_case(therapist, participants=["Robin Reed"])
        person = give_history(case, [8, 7, 3])
        last = case.sessions.order_by("-scheduled_start").first()
        Signal.objects.create(
            case=case, participant=person, session=last, kind="low_score", severity="alert", message="Scored low."
        )
        opened = NOW - timedelta(days=25)  # 26 October
        resolved = Signal.objects.create(
            case=case,
            participant=person,
            kind="reliable_drop",
            severity="warning",
            message="Lower than usual.",
            status="resolved",
            opened_at=opened,
            closed_at=opened + timedelta(days=1),
        )
        SignalAction.objects.create(
            signal=resolved,
            actor=therapist,
            action="resolved",
            repair="adjusted_goals",
            suggestion="drop_revisit_goals",
            note="Agreed to focus on sleep first.",
            created_at=opened + timedelta(days=1),
        )
        other = make_case(colleague)
        give_history(other, [9])
    return case


def test_the_case_report_has_charts_flags_with_repairs_and_the_last_checks_answers(login, therapist, reported):
    response = login(therapist).get(reverse("dashboard:report_case", args=[reported.pk]))
    assert response.status_code == 200
    html = response.content.decode()
    assert 'href="/static/css/report.css"' in html and "<nav" not in html
    assert html.count('<svg class="chart"') == 4  # total and the three subscales
    assert "Scored low." in html  # the open alert
    assert "Adjusted the goals" in html and "Agreed to focus on sleep first." in html
    assert "Go back to what the client came for" in html  # the suggestion used
    last_check = html.split('id="report-last-check"', 1)[1]
    assert "session 3" in last_check and "<strong>3.0</strong>" in last_check  # the last check's total
    assert "3 of 10" in last_check  # an item answer in words


def test_the_case_report_is_for_those_who_see_the_case(login, clinic_admin, colleague, outsider, reported, client):
    url = reverse("dashboard:report_case", args=[reported.pk])
    assert login(clinic_admin).get(url).status_code == 200
    assert login(colleague).get(url).status_code == 404
    assert login(outsider).get(url).status_code == 404
    assert login(clinic_admin).post(url).status_code == 405


def test_anonymous_visitors_are_sent_to_login(client, reported):
    for url in (reverse("dashboard:report_case", args=[reported.pk]), reverse("dashboard:report_clinic")):
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith(reverse("accounts:login"))


def test_the_monthly_clinic_report_shows_that_months_figures(login, clinic_admin, reported):
    with time_machine.travel(NOW, tick=False):
        html = login(clinic_admin).get(reverse("dashboard:report_clinic"), {"month": "2026-11"}).content.decode()
    assert "November 2026" in html and "The whole clinic" in html
    assert "Tess Therapist" in html and "Colin Colleague" in html
    assert "flags opened this month: 1." in html  # the alert; the resolved flag opened in October
    assert "<details open>" in html  # tables print


def test_a_therapists_monthly_report_is_their_own_caseload(login, therapist, reported):
    with time_machine.travel(NOW, tick=False):
        html = login(therapist).get(reverse("dashboard:report_clinic"), {"month": "2026-10"}).content.decode()
    assert "The caseload of Tess Therapist" in html and "Colin Colleague" not in html
    assert "flags opened this month: 1." in html  # the resolved flag, opened in October


def test_a_malformed_month_is_not_found(login, clinic_admin):
    assert login(clinic_admin).get(reverse("dashboard:report_clinic"), {"month": "2026-13"}).status_code == 404


def test_the_command_writes_a_standalone_report(clinic, reported, tmp_path):
    output = tmp_path / "report.html"
    with time_machine.travel(NOW, tick=False):
        call_command("clinic_report", "--clinic", str(clinic.pk), "--month", "2026-11", "--output", str(output))
    html = output.read_text()
    assert "<style>" in html and "@page" in html and "report.css" not in html
    assert "November 2026" in html and "Tess Therapist" in html
    assert output.stat().st_mode & 0o077 == 0  # the owner's only
    call_command("clinic_report", "--clinic", clinic.slug, "--month", "2026-11", "--output", str(output), "--anonymise")
    assert "Tess Therapist" not in output.read_text() and "Therapist A" in output.read_text()


def test_the_command_refuses_an_unknown_clinic_or_month(clinic, tmp_path):
    with pytest.raises(CommandError, match="no clinic"):
        call_command("clinic_report", "--clinic", "99999", "--month", "2026-11", "--output", str(tmp_path / "r.html"))
    with pytest.raises(CommandError, match="not a month"):
        call_command(
            "clinic_report", "--clinic", str(clinic.pk), "--month", "Nov", "--output", str(tmp_path / "r.html")
        )
    assert not (tmp_path / "r.html").exists()


# The monthly report, for an admin:
#  1. the login session  2. the user  3. the user's clinic
#  4–11. measures.overview.load_rows: cases, staff, sessions, checks sent, scores, flags, actions, calibration
#  12. INSERT: the access log entry (audit.middleware)
#  13. the session's second-factor device (django_otp.middleware.OTPMiddleware)
CLINIC_REPORT_QUERIES = 13


@pytest.mark.parametrize("cases", [5, 200])
def test_the_monthly_report_runs_a_fixed_number_of_queries(
    login, clinic_admin, therapist, django_assert_num_queries, cases
):
    bulk_caseload(therapist, cases=cases)
    client = login(clinic_admin)
    with django_assert_num_queries(CLINIC_REPORT_QUERIES):
        response = client.get(reverse("dashboard:report_clinic"))
    assert response.status_code == 200
