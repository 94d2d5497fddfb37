"""The exports page and downloads: clinic admins only, every export recorded, fixed query counts."""

import csv
import io
import json

import pytest
from django.urls import reverse
from fhir.resources.R4B.bundle import Bundle

from accounts.models import User
from measures.evaluation import do_evaluate_case
from measures.models import ExportRecord, Signal, SignalAction
from tests.builders import give_history, make_case, make_user
from tests.dashboard.bulk import bulk_caseload

KINDS = [code for code, _label in ExportRecord.Kind.choices]


def _download(client, kind, data=None):
    return client.post(reverse("dashboard:export_download", args=[kind]), data or {})


def _body(response):
    return b"".join(response.streaming_content) if response.streaming else response.content


def _csv(response):
    return list(csv.reader(io.StringIO(_body(response).decode())))


@pytest.fixture
def flagged_case(therapist):
    case = make_case(therapist, reference="R-1")
    give_history(case, [8, 8, 8, 8, 3, 3, 3])
    do_evaluate_case(case.pk)
    return case


def test_the_page_offers_every_export_and_lists_the_recent_ones(login, clinic_admin, flagged_case):
    client = login(clinic_admin)
    _download(client, "scores")
    page = client.get(reverse("dashboard:exports"))
    assert page.status_code == 200
    html = page.content.decode()
    for kind in KINDS:
        assert reverse("dashboard:export_download", args=[kind]) in html
    assert "Ada Admin" in html and "Subscale scores (CSV)" in html and "--no-calibrate" in html


@pytest.mark.parametrize("kind", KINDS)
def test_an_admin_downloads_each_export_and_it_is_recorded(login, clinic_admin, flagged_case, kind):
    response = _download(login(clinic_admin), kind)
    assert response.status_code == 200
    assert "attachment" in response["Content-Disposition"]
    if kind == "fhir":
        bundle = json.loads(_body(response))
        Bundle.model_validate(bundle)
        rows = len(bundle["entry"])
    else:
        table = _csv(response)
        rows = len(table) - 1
        assert rows > 0
    record = ExportRecord.objects.get()
    assert (record.user, record.clinic, record.kind, record.case, record.rows) == (
        clinic_admin, clinic_admin.clinic, kind, None, rows
    )  # fmt: skip
    assert record.completed_at is not None


def test_a_case_and_a_date_range_narrow_the_export(login, clinic_admin, therapist, flagged_case):
    other = make_case(therapist, reference="R-2")
    give_history(other, [7, 7])
    client = login(clinic_admin)
    table = _csv(_download(client, "scores", {"case": "R-2"}))
    assert {row[1] for row in table[1:]} == {"R-2"} and len(table) == 3
    first = flagged_case.sessions.order_by("scheduled_start").first().scheduled_start.date()
    table = _csv(_download(client, "scores", {"date_from": first.isoformat(), "date_to": first.isoformat()}))
    assert [row[1] for row in table[1:]] == ["R-1"]
    record = ExportRecord.objects.order_by("created_at", "pk").last()
    assert (record.date_from, record.date_to, record.rows) == (first, first, 1)
    assert ExportRecord.objects.order_by("created_at", "pk").first().case == other


def test_the_replay_history_is_not_cut_by_a_date_range(login, clinic_admin, flagged_case):
    response = _download(login(clinic_admin), "replay", {"date_from": "2026-01-01"})
    assert response.status_code == 400 and b"exported whole" in response.content
    assert not ExportRecord.objects.exists()


def test_a_therapist_gets_403(login, therapist, flagged_case):
    client = login(therapist)
    assert client.get(reverse("dashboard:exports")).status_code == 403
    for kind in KINDS:
        assert _download(client, kind).status_code == 403
    assert not ExportRecord.objects.exists()


def test_another_clinics_case_is_404_and_nothing_leaves(login, outsider, flagged_case):
    admin = make_user(outsider.clinic, role=User.Role.CLINIC_ADMIN)
    response = _download(login(admin), "fhir", {"case": flagged_case.reference})
    assert response.status_code == 404 and b"No case with this reference" in response.content
    assert not ExportRecord.objects.exists()
    # The whole-clinic export of the other clinic holds none of this clinic's rows.
    assert _csv(_download(login(admin), "scores")) == [_csv(_download(login(admin), "scores"))[0]]


def test_an_unknown_export_is_404(login, clinic_admin):
    assert _download(login(clinic_admin), "passwords").status_code == 404


def test_anonymous_is_sent_to_login_and_wrong_methods_are_405(client, login, clinic_admin):
    for response in (client.get(reverse("dashboard:exports")), _download(client, "scores")):
        assert response.status_code == 302 and response["Location"].startswith(reverse("accounts:login"))
    client = login(clinic_admin)
    assert client.post(reverse("dashboard:exports")).status_code == 405
    assert client.get(reverse("dashboard:export_download", args=["scores"])).status_code == 405


# A CSV download, for an admin:
#  1. the login session  2. the user  3. the user's clinic
#  4. INSERT the export's record  5. the table, one joined query, streamed  6. UPDATE the record's row count
#  and, for every download: INSERT the access log entry (audit.middleware)
#  +1. the session's second-factor device (django-otp's OTPMiddleware)
CSV_QUERIES = 8
# The replay history: 5. participants with their cases  6. counted sessions  7. responses
#  8. the checks' invitations (which are still pending)  9. UPDATE the record's row count  10. the access log
#  +1. the session's second-factor device (django-otp's OTPMiddleware)
REPLAY_QUERIES = 11
# FHIR: 5. responses with sessions, clients, instruments  6. answers with items  7. open flags with clients
#  8. instruments  9. their items  10. UPDATE the record  11. the access log entry
#  +1. the session's second-factor device (django-otp's OTPMiddleware)
FHIR_QUERIES = 12


@pytest.mark.parametrize("cases", [5, 50])
@pytest.mark.parametrize(
    "kind, queries",
    [("responses", CSV_QUERIES), ("scores", CSV_QUERIES), ("flags", CSV_QUERIES), ("repairs", CSV_QUERIES),
     ("replay", REPLAY_QUERIES), ("fhir", FHIR_QUERIES)],
)  # fmt: skip
def test_exports_run_a_fixed_number_of_queries(
    login, clinic_admin, therapist, django_assert_num_queries, cases, kind, queries
):
    bulk_caseload(therapist, cases=cases)
    SignalAction.objects.bulk_create(
        SignalAction(signal=signal, actor=therapist, action="acknowledged", note="Talked it over")
        for signal in Signal.objects.all()
    )
    client = login(clinic_admin)
    with django_assert_num_queries(queries):
        response = _download(client, kind)
        body = _body(response)
    assert response.status_code == 200 and len(body) > 100
    assert ExportRecord.objects.get().rows > 0


# The exports page: 1. the login session  2. the user  3. the user's clinic  4. the clinic's instrument
#  5. the clinic's calibration (both for the replay options)  6. the latest exports with their users and cases
#  7. INSERT the access log entry (the page lists exports by case)
#  +1. the session's second-factor device (django-otp's OTPMiddleware)
PAGE_QUERIES = 8


@pytest.mark.parametrize("exports", [1, 30])
def test_the_page_runs_a_fixed_number_of_queries(login, clinic_admin, flagged_case, django_assert_num_queries, exports):
    ExportRecord.objects.bulk_create(
        ExportRecord(clinic=clinic_admin.clinic, user=clinic_admin, kind="fhir", case=flagged_case, rows=3)
        for _ in range(exports)
    )
    client = login(clinic_admin)
    with django_assert_num_queries(PAGE_QUERIES):
        response = client.get(reverse("dashboard:exports"))
    assert response.content.decode().count(f"case {flagged_case.reference}") == min(exports, 20)
