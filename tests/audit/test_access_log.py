"""Every request for client data leaves exactly one access log entry: who, clinic, case, what,
when, from where, allowed or denied."""

import pytest
from django.db import DatabaseError
from django.urls import reverse

from audit.models import AccessEvent
from tests.builders import make_session, own_address_client, verified_login
from tests.dashboard.flags import make_signal


def only_event():
    events = list(AccessEvent.objects.all())
    assert len(events) == 1, events
    return events[0]


def test_the_therapist_reading_a_case_leaves_one_allowed_read(login, therapist, case):
    client = login(therapist)
    assert client.get(reverse("dashboard:case", args=[case.pk])).status_code == 200
    event = only_event()
    assert (event.user, event.clinic, event.case) == (therapist, case.clinic, case)
    assert (event.route, event.action, event.outcome, event.status_code) == ("dashboard:case", "read", "allowed", 200)
    assert event.target == f"case {case.pk}"
    assert event.address == client.defaults["REMOTE_ADDR"]


def test_a_colleague_reading_the_case_leaves_one_denied_read(login, colleague, case):
    assert login(colleague).get(reverse("dashboard:case", args=[case.pk])).status_code == 404
    event = only_event()
    assert (event.user, event.case, event.clinic) == (colleague, case, case.clinic)
    assert (event.action, event.outcome, event.status_code) == ("read", "denied", 404)


def test_another_clinics_probe_is_recorded_for_the_clinic_whose_case_it_is(login, outsider, case):
    login(outsider).get(reverse("dashboard:case", args=[case.pk]))
    event = only_event()
    assert (event.user, event.clinic, event.outcome) == (outsider, case.clinic, "denied")


def test_an_id_that_is_no_case_is_recorded_with_the_users_clinic(login, therapist):
    login(therapist).get(reverse("dashboard:case", args=[987654]))
    event = only_event()
    assert (event.case, event.clinic, event.target, event.outcome) == (None, therapist.clinic, "case 987654", "denied")


def test_anonymous_is_sent_to_log_in_and_leaves_no_entry(client, case):
    # Nothing was looked up; an entry would let anyone write to the log without signing in.
    assert client.get(reverse("dashboard:case", args=[case.pk])).status_code == 302  # to the login page
    assert AccessEvent.objects.count() == 0


def test_a_post_is_one_change_with_the_case_found_through_the_session(login, therapist, case):
    session = make_session(case, status="scheduled")
    response = login(therapist).post(reverse("dashboard:record_session", args=[session.pk]), {"status": "attended"})
    assert response.status_code == 302
    event = only_event()
    assert (event.case, event.route, event.action, event.outcome) == (
        case,
        "dashboard:record_session",
        "change",
        "allowed",
    )
    assert event.target == f"session {session.pk}"


def test_a_flag_and_a_client_lead_to_their_case(login, therapist, colleague, case):
    signal = make_signal(case)
    login(therapist).post(reverse("dashboard:acknowledge_signal", args=[signal.pk]))
    colleague_client = own_address_client()
    verified_login(colleague_client, colleague)
    colleague_client.get(reverse("dashboard:edit_participant", args=[case.participants.get().pk]))
    flag, participant = AccessEvent.objects.order_by("pk")
    assert (flag.case, flag.action, flag.outcome, flag.target) == (case, "change", "allowed", f"signal {signal.pk}")
    assert (participant.user, participant.case, participant.outcome) == (colleague, case, "denied")


def test_complete_now_is_recorded_for_the_therapist_who_signed_out(login, therapist, case):
    session = make_session(case)
    participant = case.participants.get()
    login(therapist).post(reverse("surveys:complete_now", args=[session.pk, participant.pk]))
    event = only_event()
    assert (event.user, event.case, event.action, event.outcome) == (therapist, case, "change", "allowed")


def test_the_query_string_is_never_stored(login, therapist, case):
    login(therapist).get(reverse("dashboard:case", args=[case.pk]), {"token": "s3cr3t-t0ken", "x": "1"})
    event = only_event()
    assert "s3cr3t" not in f"{event.route} {event.target}"


def test_the_address_is_the_clients_behind_the_trusted_proxies(settings, therapist, case):
    settings.NUM_PROXIES = 1
    client = own_address_client(HTTP_X_FORWARDED_FOR="203.0.113.9, 198.51.100.7")
    verified_login(client, therapist)
    client.get(reverse("dashboard:case", args=[case.pk]))
    assert only_event().address == "198.51.100.7"  # the one the trusted proxy saw; the left is client-supplied


def test_the_clients_survey_and_pages_without_client_data_are_not_recorded(client, login, therapist):
    client.get(reverse("surveys:survey", args=["no-such-token-at-all"]))
    client.get(reverse("accounts:login"))
    login(therapist).get(reverse("dashboard:notification_settings"))
    assert AccessEvent.objects.count() == 0


def test_a_read_that_cannot_be_recorded_is_not_served(login, therapist, case, monkeypatch):
    def fail(**kwargs):
        raise DatabaseError("log table unavailable")

    monkeypatch.setattr("audit.middleware.do_record_access", fail)
    response = login(therapist).get(reverse("dashboard:case", args=[case.pk]))
    assert response.status_code == 503
    assert case.reference not in response.content.decode()


@pytest.mark.parametrize(
    ("query", "scope"),
    [
        ({}, ""),
        ({"case": "C-1", "date_from": "2026-01-01"}, "case=C-1 date_from=2026-01-01"),
        ({"case": "=HYPERLINK(x)", "token": "abc", "Evil Key": "1"}, "case=HYPERLINKx"),
    ],
)
def test_an_export_is_one_entry_with_its_scope(login, clinic_admin, query, scope):
    response = login(clinic_admin).get(reverse("audit:export"), query)
    assert response.status_code == 200
    event = only_event()
    assert (event.user, event.clinic, event.route, event.action, event.outcome) == (
        clinic_admin,
        clinic_admin.clinic,
        "audit:export",
        "export",
        "allowed",
    )
    assert event.target == scope


def test_a_refused_export_is_recorded_as_denied(login, therapist):
    assert login(therapist).get(reverse("audit:export")).status_code == 403
    event = only_event()
    assert (event.user, event.action, event.outcome, event.status_code) == (therapist, "export", "denied", 403)


def test_a_clinic_export_download_is_one_entry_with_its_kind_and_case(login, clinic_admin, case):
    client = login(clinic_admin)
    response = client.post(reverse("dashboard:export_download", args=["scores"]), {"case": case.reference})
    assert response.status_code == 200
    b"".join(response.streaming_content)  # the whole file, as a browser would read it
    event = only_event()
    assert (event.route, event.action, event.outcome) == ("dashboard:export_download", "export", "allowed")
    assert event.target == f"case={case.reference} kind=scores"
