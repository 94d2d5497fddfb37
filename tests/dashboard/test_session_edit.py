"""Moving and removing a session entered by mistake, while nobody has answered it (issue 9.3)."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from measures.models import SurveyInvitation
from sessions_app.models import Case, CaseEvent, TherapySession
from tests.builders import make_invitation, make_response, make_session


def typed(moment):
    """What a datetime-local field sends (the clinic's zone is UTC in these tests)."""
    return moment.strftime("%Y-%m-%dT%H:%M")


def move_url(session):
    return reverse("dashboard:reschedule_session", args=[session.pk])


def remove_url(session):
    return reverse("dashboard:delete_session", args=[session.pk])


def test_the_case_page_offers_move_and_remove_only_without_answers(login, therapist, case):
    answered = make_session(case, days_ago=8)
    make_response(answered, case.participants.get())
    booked = make_session(case, days_ago=-3, status="scheduled")
    body = login(therapist).get(reverse("dashboard:case", args=[case.pk])).content.decode()
    assert move_url(booked) in body and remove_url(booked) in body
    assert move_url(answered) not in body and remove_url(answered) not in body


def test_the_therapist_moves_a_session_in_clinic_time(login, therapist, case):
    session = make_session(case, days_ago=-3, status="scheduled")
    client = login(therapist)
    assert 'type="datetime-local"' in client.get(move_url(session)).content.decode()
    new_time = (timezone.now() + timedelta(days=8)).replace(second=0, microsecond=0)
    response = client.post(move_url(session), {"start": typed(new_time)})
    assert response.status_code == 302
    session.refresh_from_db()
    assert session.scheduled_start == new_time
    event = CaseEvent.objects.filter(session=session, action="session_scheduled").last()
    assert event.actor == therapist and event.detail["to"] == new_time.isoformat()
    assert "correction" not in event.detail  # a booked session moving is not a correction of the record


@pytest.mark.parametrize("start", ["1900-01-01T10:00", "9999-12-31T23:59"])
def test_a_time_outside_the_cases_life_is_refused_beside_the_field(login, therapist, case, start):
    session = make_session(case, days_ago=-3, status="scheduled")
    before = session.scheduled_start
    response = login(therapist).post(move_url(session), {"start": start})
    body = response.content.decode()
    assert response.status_code == 400 and 'id="id_start_error"' in body
    assert "a year ahead" in body or "cannot be before that" in body
    session.refresh_from_db()
    assert session.scheduled_start == before


def test_a_session_with_answers_cannot_be_moved_or_removed(login, therapist, case):
    session = make_session(case, days_ago=1)
    make_response(session, case.participants.get())
    before = session.scheduled_start
    Case.objects.filter(pk=case.pk).update(opened_on=timezone.localdate() - timedelta(days=30))
    client = login(therapist)
    earlier = typed(timezone.now() - timedelta(minutes=5))
    response = client.post(move_url(session), {"start": earlier}, follow=True)
    assert "can be corrected, but not moved or removed" in response.content.decode()
    response = client.post(remove_url(session), follow=True)
    assert "can be corrected, but not moved or removed" in response.content.decode()
    session.refresh_from_db()
    assert session.scheduled_start == before


def test_an_attended_session_cannot_move_to_a_time_still_to_come(login, therapist, case):
    session = make_session(case, days_ago=1)
    response = login(therapist).post(move_url(session), {"start": typed(timezone.now() + timedelta(days=2))})
    assert response.status_code == 400 and "cannot move to a time still to come" in response.content.decode()


def test_removing_asks_first_then_deletes_the_session_and_its_unanswered_checks(login, therapist, case):
    session = make_session(case, days_ago=1)
    make_invitation(session, case.participants.get())
    client = login(therapist)
    page = client.get(remove_url(session))
    assert page.status_code == 200 and "Remove the session" in page.content.decode()
    assert TherapySession.objects.filter(pk=session.pk).exists()  # the GET changed nothing
    response = client.post(remove_url(session), follow=True)
    assert "Session removed." in response.content.decode()
    assert not TherapySession.objects.filter(pk=session.pk).exists()
    assert not SurveyInvitation.objects.filter(session_id=session.pk).exists()
    event = CaseEvent.objects.filter(case=case, action="session_recorded").last()
    assert event.actor == therapist and event.session is None
    assert event.detail["to"] == "deleted" and event.detail["from"] == "attended"


def test_a_closed_cases_sessions_stay(login, therapist, case):
    session = make_session(case, days_ago=1)
    Case.objects.filter(pk=case.pk).update(
        status=Case.Status.CLOSED, outcome=Case.Outcome.COMPLETED, closed_on=case.opened_on
    )
    response = login(therapist).post(remove_url(session), follow=True)
    assert "This case is closed" in response.content.decode()
    assert TherapySession.objects.filter(pk=session.pk).exists()


@pytest.mark.parametrize("view", [move_url, remove_url])
def test_who_may_move_or_remove(client, login, request, case, view):
    session = make_session(case, days_ago=-3, status="scheduled")
    anonymous = client.post(view(session))
    assert anonymous.status_code == 302 and anonymous["Location"].startswith(reverse("accounts:login"))
    for persona, status in (("colleague", 404), ("outsider", 404), ("clinic_admin", 403)):
        assert login(request.getfixturevalue(persona)).post(view(session)).status_code == status
    assert login(request.getfixturevalue("therapist")).put(view(session)).status_code == 405
    assert TherapySession.objects.filter(pk=session.pk).exists()
