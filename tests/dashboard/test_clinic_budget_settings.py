"""The flag budget on the clinic settings page (issue 10.1): the admin sets it, the change is
recorded, and the page says what the calibration and the completed cases show beside it."""

import pytest
from django.db import connection
from django.template.loader import render_to_string
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone, translation

from accounts.models import Clinic, ClinicSettingChange
from dashboard.clinic import budget_report
from measures.models import ClinicCalibration, Instrument, Signal
from sessions_app.models import Case
from tests.builders import make_case, post_clinic_settings

URL = reverse("dashboard:clinic_settings")
BUDGET_ERROR = "Enter a whole percent from 1 to 30."


def calibrate(clinic, **fields):
    instrument = Instrument.objects.latest_version(clinic.instrument_code)
    defaults = {"budget": 0.08, "budget_used": 0.08, "strictness": 1.1, "budget_achieved": 0.079}
    return ClinicCalibration.objects.create(clinic=clinic, instrument=instrument, **{**defaults, **fields})


def completed(therapist, *, individuals, couples=0, flagged=0):
    """Closed completed cases; the first `flagged` clients (in creation order) had a warning."""
    cases = [make_case(therapist, reference=f"i-{i}") for i in range(individuals)]
    cases += [make_case(therapist, kind=Case.Kind.COUPLE, reference=f"c-{i}") for i in range(couples)]
    Case.objects.filter(pk__in=[c.pk for c in cases]).update(
        status=Case.Status.CLOSED, outcome=Case.Outcome.COMPLETED, closed_on=timezone.localdate()
    )
    clients = [p for case in cases for p in case.participants.order_by("pk")]
    for participant in clients[:flagged]:
        Signal.objects.create(case=participant.case, participant=participant, kind="low_score", severity="warning")


def text(response):
    return " ".join(response.content.decode().split())


def test_an_admin_sets_the_budget_and_the_change_is_recorded(login, clinic, clinic_admin):
    client = login(clinic_admin)
    page = text(client.get(URL))
    assert "Flag budget (%)" in page and 'name="false_flag_budget" value="8"' in page
    assert "At most this share of clients who stay in therapy should ever be flagged over a course." in page
    response = post_clinic_settings(client, false_flag_budget="5")
    assert response.status_code == 302
    assert Clinic.objects.get(pk=clinic.pk).false_flag_budget == 5
    change = ClinicSettingChange.objects.get(clinic=clinic)
    assert (change.field, change.old_value, change.new_value) == ("false_flag_budget", "8", "5")
    assert change.actor == clinic_admin
    assert "Flag budget (%) from “8” to “5” by Ada Admin" in text(client.get(URL))


@pytest.mark.parametrize("value", ["0", "31", "abc", "7.5", ""])
def test_a_budget_outside_one_to_thirty_is_refused_and_nothing_is_saved(login, clinic, clinic_admin, value):
    response = post_clinic_settings(login(clinic_admin), false_flag_budget=value, alliance_cutoff="6.0")
    assert response.status_code == 200 and BUDGET_ERROR in text(response)
    assert not ClinicSettingChange.objects.exists()
    clinic.refresh_from_db()
    assert clinic.false_flag_budget == 8 and clinic.alliance_cutoff == 7


def test_the_page_reports_the_simulated_and_the_completers_share(login, clinic, therapist, clinic_admin):
    calibrate(clinic)
    completed(therapist, individuals=6, couples=14, flagged=3)  # 20 cases, 34 clients
    page = text(login(clinic_admin).get(URL))
    assert (
        "Flag budget 8%. On simulated steady courses like this clinic's, 7.9% are flagged. "
        "Of 34 clients who completed therapy and never said something felt off, 3 (8.8%) were ever flagged."
    ) in page
    assert "aims at" not in page and "Not enough completed cases" not in page


def test_under_twenty_completed_cases_the_page_says_so(login, clinic, therapist, clinic_admin):
    calibrate(clinic)
    completed(therapist, individuals=12, flagged=5)
    page = text(login(clinic_admin).get(URL))
    assert "Not enough completed cases yet (12 of 20) to check the budget against outcomes." in page
    assert "were ever flagged" not in page


def test_the_page_says_where_the_correction_aims_and_when_a_new_budget_applies(
    login, clinic, therapist, clinic_admin
):
    calibrate(clinic, budget=0.1, budget_used=0.05, budget_achieved=0.048)
    Clinic.objects.filter(pk=clinic.pk).update(false_flag_budget=6)
    completed(therapist, individuals=20, flagged=4)
    page = text(login(clinic_admin).get(URL))
    assert "Flag budget 6%. On simulated steady courses like this clinic's, 4.8% are flagged." in page
    assert "Of 20 clients who completed therapy and never said something felt off, 4 (20.0%) were ever flagged." in page
    assert "To keep the budget on real courses, the engine aims at 5.0% on simulated ones." in page
    assert "The last calibration kept 10%; a changed budget applies after the next nightly calibration." in page


def test_before_any_calibration_the_page_says_what_it_waits_for(login, clinic_admin):
    page = text(login(clinic_admin).get(URL))
    assert "Flag budget 8%. The engine keeps the budget once the clinic has 100 answered checks from 30 clients" in page
    assert "Not enough completed cases yet (0 of 20)" in page


def test_the_budget_sentences_are_in_spanish(clinic, therapist):
    calibrate(clinic)
    completed(therapist, individuals=20, flagged=2)
    with translation.override("es"):
        html = " ".join(render_to_string("accounts/_flag_budget.html", {"budget": budget_report(clinic)}).split())
    assert "Presupuesto de alertas: 8 %." in html
    assert "En procesos estables simulados como los de esta clínica, el 7,9 % recibe alguna alerta." in html
    assert "De 20 clientes que completaron la terapia, 2 (10,0 %) recibieron alguna alerta." in html


def test_the_settings_page_reads_the_budget_figures_in_two_queries(login, clinic, therapist, clinic_admin):
    client = login(clinic_admin)
    client.get(URL)
    with CaptureQueriesContext(connection) as without:
        client.get(URL)
    calibrate(clinic)
    completed(therapist, individuals=20, couples=5, flagged=7)
    with CaptureQueriesContext(connection) as wide:
        client.get(URL)
    # budget_report: the calibration row, the completers' aggregate; however many cases closed
    assert len(wide) == len(without)
    assert sum("cliniccalibration" in q["sql"] for q in wide.captured_queries) == 1


def test_therapists_neither_see_nor_change_the_budget(login, clinic, therapist):
    client = login(therapist)
    assert client.get(URL).status_code == 403
    assert post_clinic_settings(client, false_flag_budget="20").status_code == 403
    assert Clinic.objects.get(pk=clinic.pk).false_flag_budget == 8


def test_an_admin_of_another_clinic_sees_and_changes_only_their_own(login, clinic, therapist, outsider):
    outsider.role = outsider.Role.CLINIC_ADMIN
    outsider.save()
    calibrate(clinic, budget_achieved=0.123)
    page = text(login(outsider).get(URL))
    assert "12.3%" not in page and "Flag budget 8%." in page
    post_clinic_settings(login(outsider), false_flag_budget="3")
    assert Clinic.objects.get(pk=clinic.pk).false_flag_budget == 8
    assert Clinic.objects.get(pk=outsider.clinic_id).false_flag_budget == 3


def test_the_page_needs_a_login_and_refuses_other_methods(client, login, clinic_admin):
    response = client.get(URL)
    assert response.status_code == 302 and reverse("accounts:login") in response["Location"]
    assert login(clinic_admin).delete(URL).status_code == 405
