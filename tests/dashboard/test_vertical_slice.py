"""The first end-to-end path: log in, see cases, open a case, answer a survey link, admin's user list."""

import pytest
from django.urls import reverse

from measures.models import Response
from sessions_app.models import TherapySession
from tests.builders import PASSWORD, make_case, make_invitation, make_session, make_totp_device, totp_code


def test_a_therapist_logs_in_with_email_and_lands_on_the_caseload(client, therapist, case):
    response = client.post(reverse("accounts:login"), {"username": therapist.email.upper(), "password": PASSWORD})
    assert response.status_code == 302
    code = totp_code(make_totp_device(therapist))
    assert client.post(reverse("accounts:second_factor_verify"), {"code": code}).status_code == 302
    response = client.get(reverse("accounts:home"), follow=True)
    assert response.redirect_chain[-1][0] == reverse("dashboard:caseload")
    assert case.reference in response.content.decode()


def test_a_wrong_password_is_refused(client, therapist):
    response = client.post(reverse("accounts:login"), {"username": therapist.email, "password": "nope"})
    assert response.status_code == 200
    assert "_auth_user_id" not in client.session


def test_the_caseload_lists_only_the_therapists_own_cases(login, therapist, colleague, case):
    other = make_case(colleague, reference="OTHER-1")
    body = login(therapist).get(reverse("dashboard:caseload")).content.decode()
    assert case.reference in body and other.reference not in body


def test_the_case_page_lists_sessions_and_responses(login, therapist, case):
    session = make_session(case, days_ago=2)
    from tests.builders import make_response

    make_response(session, case.participants.get(), goals=7, tasks=8, bond=9)
    body = login(therapist).get(reverse("dashboard:case", args=[case.pk])).content.decode()
    assert "7.0 · 8.0 · 9.0 · <strong>8.0</strong>" in body


@pytest.mark.parametrize("persona", ["colleague", "outsider"])
def test_other_staff_get_404_on_a_case(login, request, case, persona):
    user = request.getfixturevalue(persona)
    assert login(user).get(reverse("dashboard:case", args=[case.pk])).status_code == 404


def test_marking_a_session_attended_creates_one_check_per_participant(
    login, therapist, couple_case, mailoutbox, django_capture_on_commit_callbacks
):
    session = make_session(couple_case, status=TherapySession.Status.SCHEDULED)
    with django_capture_on_commit_callbacks(execute=True):
        response = login(therapist).post(reverse("dashboard:record_session", args=[session.pk]), {"status": "attended"})
    assert response.status_code == 302
    assert session.invitations.count() == 2
    assert len(mailoutbox) == 2
    assert all("/s/" in message.body for message in mailoutbox)


def test_a_colleague_cannot_record_a_session(login, colleague, case):
    session = make_session(case, status=TherapySession.Status.SCHEDULED)
    response = login(colleague).post(reverse("dashboard:record_session", args=[session.pk]), {"status": "attended"})
    assert response.status_code == 404


def test_the_clinic_admin_reads_a_case_but_cannot_record_sessions(login, clinic_admin, case):
    session = make_session(case, status=TherapySession.Status.SCHEDULED)
    client = login(clinic_admin)
    assert client.get(reverse("dashboard:case", args=[case.pk])).status_code == 200
    assert (
        client.post(reverse("dashboard:record_session", args=[session.pk]), {"status": "attended"}).status_code == 403
    )


def test_a_survey_link_stores_a_response(client, case):
    session = make_session(case)
    participant = case.participants.get()
    _, token = make_invitation(session, participant)
    url = reverse("surveys:survey", args=[token])
    assert client.get(url).status_code == 200
    answers = dict.fromkeys(("goals_focus", "goals_agree", "tasks_sense", "tasks_fit", "bond_heard", "bond_trust"), "8")
    response = client.post(url, {**answers, "rupture": "no"})
    assert response.status_code == 302
    stored = Response.objects.get(participant=participant, session=session)
    assert stored.total == 8 and stored.rupture == 0


def test_the_clinic_admin_sees_the_clinics_users_only(login, clinic_admin, therapist, outsider):
    body = login(clinic_admin).get(reverse("accounts:users")).content.decode()
    assert therapist.email in body and outsider.email not in body


def test_a_therapist_cannot_open_the_user_list(login, therapist):
    assert login(therapist).get(reverse("accounts:users")).status_code == 403
