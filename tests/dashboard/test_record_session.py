"""Recording what happened to a session from the case page; a closed case's sessions are history."""

import pytest
from django.urls import reverse

from sessions_app.models import Case, TherapySession
from tests.builders import make_session


def url(session):
    return reverse("dashboard:record_session", args=[session.pk])


def close(case):
    Case.objects.filter(pk=case.pk).update(
        status=Case.Status.CLOSED, outcome=Case.Outcome.DROPPED_OUT, closed_on=case.opened_on
    )


def test_the_therapist_records_a_no_show(login, therapist, case):
    session = make_session(case, status=TherapySession.Status.SCHEDULED)
    response = login(therapist).post(url(session), {"status": "no_show"}, follow=True)
    assert response.redirect_chain[-1][0].endswith("#sessions")
    assert "Session marked no-show." in response.content.decode()
    session.refresh_from_db()
    assert session.status == TherapySession.Status.NO_SHOW


@pytest.mark.parametrize("status", ["attended", "no_show", "cancelled", "late_cancelled"])
def test_a_closed_case_refuses_changes_with_a_message(login, therapist, case, status, mailoutbox):
    session = make_session(case, status=TherapySession.Status.SCHEDULED)
    close(case)
    response = login(therapist).post(url(session), {"status": status}, follow=True)
    assert "This case is closed: its sessions can no longer be changed." in response.content.decode()
    session.refresh_from_db()
    assert session.status == TherapySession.Status.SCHEDULED
    assert not session.invitations.exists() and mailoutbox == []


@pytest.mark.parametrize("status", ["attended", "no_show", "late_cancelled"])
def test_a_session_still_to_come_is_refused_with_a_message_not_an_error(login, therapist, case, status):
    session = make_session(case, days_ago=-3, status=TherapySession.Status.SCHEDULED)
    response = login(therapist).post(url(session), {"status": status}, follow=True)
    assert response.status_code == 200 and "This session has not taken place yet." in response.content.decode()
    session.refresh_from_db()
    assert session.status == TherapySession.Status.SCHEDULED


def test_an_unknown_status_is_a_bad_request(login, therapist, case):
    session = make_session(case, status=TherapySession.Status.SCHEDULED)
    assert login(therapist).post(url(session), {"status": "scheduled"}).status_code == 400
    session.refresh_from_db()
    assert session.status == TherapySession.Status.SCHEDULED


def test_recording_needs_a_login_and_post(client, login, therapist, case):
    session = make_session(case)
    response = client.post(url(session), {"status": "no_show"})
    assert response.status_code == 302 and response["Location"].startswith(reverse("accounts:login"))
    assert login(therapist).get(url(session)).status_code == 405


@pytest.mark.parametrize(("persona", "status"), [("colleague", 404), ("outsider", 404), ("clinic_admin", 403)])
def test_no_one_else_records_a_session_even_on_a_closed_case(login, request, case, persona, status):
    session = make_session(case, status=TherapySession.Status.SCHEDULED)
    close(case)  # the closed-case message must not reveal the case to those who may not see it
    assert login(request.getfixturevalue(persona)).post(url(session), {"status": "no_show"}).status_code == status


# Mistakes are cheap (issue 9.3): a change to a session with answers takes a second step.


def answered_session(case):
    from tests.builders import make_response

    session = make_session(case, days_ago=1)
    make_response(session, case.participants.get())
    return session


def test_a_change_to_an_answered_session_asks_for_confirmation_and_changes_nothing_yet(
    login, therapist, case, django_capture_on_commit_callbacks
):
    from sessions_app.models import CaseEvent

    session = answered_session(case)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = login(therapist).post(url(session), {"status": "no_show"})
    body = response.content.decode()
    assert response.status_code == 200 and "has answers" in body
    assert 'name="confirm" value="1"' in body and "Yes, mark it no-show" in body
    assert reverse("dashboard:case", args=[case.pk]) in body  # "Cancel" goes back, changing nothing
    session.refresh_from_db()
    assert session.status == TherapySession.Status.ATTENDED
    assert not CaseEvent.objects.filter(session=session, action="session_recorded").exists()
    assert callbacks == []  # nothing re-evaluated, nothing emailed


def test_the_confirmed_change_is_made(login, therapist, case):
    session = answered_session(case)
    response = login(therapist).post(url(session), {"status": "no_show", "confirm": "1"}, follow=True)
    assert "Session marked no-show." in response.content.decode()
    session.refresh_from_db()
    assert session.status == TherapySession.Status.NO_SHOW


def test_a_session_without_answers_changes_at_once(login, therapist, case):
    session = make_session(case, days_ago=1)
    login(therapist).post(url(session), {"status": "no_show"})
    session.refresh_from_db()
    assert session.status == TherapySession.Status.NO_SHOW


def test_a_closed_cases_answered_session_is_refused_without_a_confirmation_step(login, therapist, case):
    session = answered_session(case)
    close(case)
    response = login(therapist).post(url(session), {"status": "no_show"}, follow=True)
    assert "This case is closed" in response.content.decode() and "Yes, mark it" not in response.content.decode()
