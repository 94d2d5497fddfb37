"""'Send check' on an attended session: creates missing checks, re-sends open ones, never twice in a row."""

from datetime import timedelta

import pytest
from django.urls import reverse

from measures.models import SurveyInvitation
from sessions_app.models import Case, TherapySession
from tests.builders import make_invitation, make_response, make_session


def url(session):
    return reverse("dashboard:send_checks", args=[session.pk])


def test_it_creates_and_emails_the_missing_checks_once(
    login, therapist, couple_case, mailoutbox, django_capture_on_commit_callbacks
):
    session = make_session(couple_case, days_ago=0)
    client = login(therapist)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url(session))
    assert response.status_code == 302 and response["Location"].endswith("#sessions")
    assert session.invitations.count() == 2 and len(mailoutbox) == 2
    with django_capture_on_commit_callbacks(execute=True):
        client.post(url(session))  # a double click sends nothing more
    assert session.invitations.count() == 2 and len(mailoutbox) == 2


def test_it_resends_open_checks_after_a_while_but_not_answered_ones(
    login, therapist, couple_case, mailoutbox, django_capture_on_commit_callbacks
):
    robin, jordan = couple_case.participants.all()
    session = make_session(couple_case, days_ago=1)
    make_response(session, robin)
    long_ago = session.scheduled_start
    make_invitation(session, jordan, sent_at=long_ago, created_at=long_ago, expires_at=long_ago + timedelta(days=4))
    with django_capture_on_commit_callbacks(execute=True):
        login(therapist).post(url(session))
    assert [message.to for message in mailoutbox] == [[jordan.email]]
    assert SurveyInvitation.objects.get(session=session, participant=jordan).sent_at > long_ago


def test_it_refuses_a_session_that_did_not_take_place(login, therapist, case, mailoutbox):
    session = make_session(case, days_ago=-2, status=TherapySession.Status.SCHEDULED)
    response = login(therapist).post(url(session), follow=True)
    assert "mark the session attended first" in response.content.decode()
    assert not session.invitations.exists() and mailoutbox == []


def test_it_refuses_a_closed_case(login, therapist, case, mailoutbox, django_capture_on_commit_callbacks):
    session = make_session(case, days_ago=1)
    Case.objects.filter(pk=case.pk).update(
        status=Case.Status.CLOSED, outcome=Case.Outcome.COMPLETED, closed_on=case.opened_on
    )
    with django_capture_on_commit_callbacks(execute=True):
        response = login(therapist).post(url(session), follow=True)
    assert "This case is closed: no more checks are sent" in response.content.decode()
    assert not session.invitations.exists() and mailoutbox == []


def test_only_post_is_allowed(login, therapist, case):
    assert login(therapist).get(url(make_session(case))).status_code == 405


def test_anonymous_users_are_sent_to_log_in(client, case):
    response = client.post(url(make_session(case)))
    assert response.status_code == 302 and response["Location"].startswith(reverse("accounts:login"))


@pytest.mark.parametrize(("persona", "status"), [("colleague", 404), ("outsider", 404), ("clinic_admin", 403)])
def test_no_one_else_sends_checks(login, request, case, persona, status):
    session = make_session(case)
    assert login(request.getfixturevalue(persona)).post(url(session)).status_code == status
    assert not session.invitations.exists()


# One rule for which sessions get a check (issue 9.4): the last two days.


def test_an_old_session_gets_no_new_check(login, therapist, case, mailoutbox, django_capture_on_commit_callbacks):
    session = make_session(case, days_ago=6)
    with django_capture_on_commit_callbacks(execute=True):
        response = login(therapist).post(url(session), follow=True)
    assert "clients are asked only about sessions of the last two days" in response.content.decode()
    assert not session.invitations.exists() and mailoutbox == []


def test_an_old_sessions_check_still_open_is_sent_again(
    login, therapist, case, mailoutbox, django_capture_on_commit_callbacks
):
    session = make_session(case, days_ago=3)
    created = session.scheduled_start
    make_invitation(session, case.participants.get(), sent_at=created, created_at=created, days_valid=7)
    with django_capture_on_commit_callbacks(execute=True):
        login(therapist).post(url(session))
    assert len(mailoutbox) == 1 and "today's session" not in mailoutbox[0].body
