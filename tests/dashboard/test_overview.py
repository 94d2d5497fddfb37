"""The clinic overview page: who sees which figures, the cached row, and a fixed number of queries."""

from datetime import timedelta

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from measures.models import ClinicOverview, Signal, SignalAction
from measures.overview import compute_overview
from measures.tasks import compute_clinic_overviews
from tests.builders import give_history, make_case
from tests.dashboard.bulk import bulk_caseload

pytestmark = pytest.mark.django_db
URL = reverse("dashboard:overview")


@pytest.fixture
def computed(clinic, therapist, colleague):
    """Tess has an answered case with a resolved flag, Colin one with an open flag; figures computed."""
    mine = make_case(therapist)
    person = give_history(mine, [8, 7, 3])
    opened = timezone.now() - timedelta(days=3)
    resolved = Signal.objects.create(
        case=mine,
        participant=person,
        kind="reliable_drop",
        severity="warning",
        message="Lower.",
        status="resolved",
        opened_at=opened,
        closed_at=opened + timedelta(hours=30),
    )
    SignalAction.objects.create(
        signal=resolved,
        action="resolved",
        repair="talked_through",
        suggestion="drop_revisit_goals",
        note="Went back over the goals.",
        created_at=resolved.opened_at + timedelta(hours=30),
    )
    theirs = make_case(colleague)
    give_history(theirs, [9, None])
    Signal.objects.create(
        case=theirs, participant=theirs.participants.first(), kind="low_score", severity="alert", message="Low."
    )
    compute_clinic_overviews()
    return ClinicOverview.objects.get(clinic=clinic)


def test_the_task_is_scheduled_and_caches_one_row_per_clinic(clinic, computed, outsider):
    assert (
        settings.CELERY_BEAT_SCHEDULE["compute-clinic-overviews"]["task"] == "measures.tasks.compute_clinic_overviews"
    )
    compute_clinic_overviews()  # idempotent: a second run overwrites, never adds
    assert ClinicOverview.objects.filter(clinic=clinic).count() == 1
    assert ClinicOverview.objects.filter(clinic=outsider.clinic).count() == 1


def test_the_admin_sees_the_clinic_with_each_therapist(login, clinic_admin, computed):
    response = login(clinic_admin).get(URL)
    assert response.status_code == 200
    html = response.content.decode()
    assert "Clinic overview" in html and 'id="computed-at"' in html
    assert "Tess Therapist" in html and "Colin Colleague" in html
    assert html.count('<svg class="chart"') == 4  # response rate, goals, tasks, bond
    assert "Resolved with a repair note" in html and "100.0% (1 of 1)" in html
    assert "Go back to what the client came for" in html  # the suggestion used, in words
    fidelity = computed.payload["clinic"]["fidelity"]
    assert fidelity["median_hours_to_resolve"] == 30.0
    assert f"{fidelity['median_hours_to_resolve']} hours" in html


def test_the_admin_can_show_therapists_anonymised(login, clinic_admin, computed):
    html = login(clinic_admin).get(URL, {"anonymise": "1"}).content.decode()
    assert "Therapist A" in html and "Therapist B" in html
    assert "Tess Therapist" not in html.split("</nav>", 1)[1] and "Colin Colleague" not in html


def test_the_admin_can_open_one_therapists_caseload(login, clinic_admin, therapist, computed):
    html = login(clinic_admin).get(URL, {"therapist": therapist.pk}).content.decode()
    assert "Overview: Tess Therapist" in html and "Colin Colleague" not in html


def test_a_therapist_sees_only_their_own_caseloads_figures(login, therapist, colleague, computed):
    client = login(therapist)
    html = client.get(URL).content.decode()
    assert "Overview: Tess Therapist" in html
    assert "Colin Colleague" not in html and 'id="by-therapist"' not in html
    mine = computed.payload["by_therapist"][str(therapist.pk)]["response"]
    assert f"{mine['answered']} of {mine['sent']} checks sent were answered" in html
    assert client.get(URL, {"therapist": colleague.pk}).status_code == 404


def test_another_clinics_staff_see_nothing_of_this_clinic(login, outsider, clinic_admin, computed):
    html = login(outsider).get(URL).content.decode()
    assert "Tess Therapist" not in html and "Colin Colleague" not in html
    assert login(clinic_admin).get(URL, {"therapist": outsider.pk}).status_code == 404
    assert login(clinic_admin).get(URL, {"therapist": "x"}).status_code == 404


def test_the_page_says_when_nothing_has_been_computed_yet(login, clinic_admin):
    html = login(clinic_admin).get(URL).content.decode()
    assert 'id="not-computed"' in html


def test_anonymous_visitors_are_sent_to_login_and_post_is_refused(client, login, clinic_admin):
    response = client.get(URL)
    assert response.status_code == 302 and response["Location"].startswith(reverse("accounts:login"))
    assert login(clinic_admin).post(URL).status_code == 405


# The overview, for an admin:
#  1. the login session  2. the user  3. the cached ClinicOverview row
#  4. the user's clinic (header)  5. INSERT: the access log entry (audit.middleware)
#  6. the session's second-factor device (django_otp.middleware.OTPMiddleware)
OVERVIEW_QUERIES = 6


@pytest.mark.parametrize("cases", [5, 200])
def test_the_page_runs_a_fixed_number_of_queries(login, clinic_admin, therapist, django_assert_num_queries, cases):
    bulk_caseload(therapist, cases=cases)
    compute_clinic_overviews()
    client = login(clinic_admin)
    with django_assert_num_queries(OVERVIEW_QUERIES):
        response = client.get(URL)
    assert response.status_code == 200
    assert "Tess Therapist" in response.content.decode()


@pytest.mark.parametrize("cases", [5, 200])
def test_the_figures_are_computed_in_eight_queries(clinic, therapist, django_assert_num_queries, cases):
    """measures.overview.load_rows: cases, staff, sessions, checks sent, scores, flags, actions, calibration."""
    bulk_caseload(therapist, cases=cases)
    with django_assert_num_queries(8):
        figures = compute_overview(clinic)
    assert figures["clinic"]["cases"]["active"] == cases
