"""Staff sessions: 15 minutes idle, 12 hours in all, a cookie that dies with the browser; the
tablet room keeps its own two hours."""

from datetime import timedelta

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from surveys.room import ROOM_KEY
from tests.builders import PASSWORD, make_session, verified_login

CASELOAD = "/caseload/"


def goes_to_login(response, path=CASELOAD):
    return response.status_code == 302 and response["Location"] == f"{reverse('accounts:login')}?next={path}"


@pytest.fixture
def start():
    return timezone.now()


def test_sixteen_idle_minutes_end_the_session(client, therapist, start, settings):
    assert settings.STAFF_SESSION_IDLE_SECONDS == 15 * 60
    with time_machine.travel(start, tick=False):
        verified_login(client, therapist)
        assert client.get(CASELOAD).status_code == 200
    with time_machine.travel(start + timedelta(minutes=14), tick=False):
        assert client.get(CASELOAD).status_code == 200  # fourteen idle minutes: still signed in
    with time_machine.travel(start + timedelta(minutes=30), tick=False):
        assert goes_to_login(client.get(CASELOAD))
        assert "_auth_user_id" not in client.session
        assert goes_to_login(client.get(CASELOAD))  # and it stays ended


def test_idle_sixteen_minutes_after_signing_in(client, therapist, start):
    with time_machine.travel(start, tick=False):
        verified_login(client, therapist)
    with time_machine.travel(start + timedelta(minutes=16), tick=False):
        assert goes_to_login(client.get(CASELOAD))


def test_twelve_hours_end_the_session_however_active(client, therapist, start, settings):
    assert settings.STAFF_SESSION_MAX_SECONDS == 12 * 60 * 60
    with time_machine.travel(start, tick=False):
        verified_login(client, therapist)
    for minutes in range(10, 12 * 60 + 1, 10):  # a page every ten minutes for twelve hours
        with time_machine.travel(start + timedelta(minutes=minutes), tick=False):
            assert client.get(CASELOAD).status_code == 200, minutes
    with time_machine.travel(start + timedelta(hours=12, minutes=1), tick=False):
        assert goes_to_login(client.get(CASELOAD))


def test_the_session_cookie_dies_with_the_browser(client, therapist):
    response = client.post(reverse("accounts:login"), {"username": therapist.email, "password": PASSWORD})
    assert response.status_code == 302
    cookie = response.cookies["sessionid"]
    assert cookie["max-age"] == "" and cookie["expires"] == ""  # no persistent cookie
    assert cookie["httponly"]
    assert client.session.get_expiry_age() <= 12 * 60 * 60


def test_a_password_change_ends_the_other_sessions(client, therapist):
    verified_login(client, therapist)
    assert client.get(CASELOAD).status_code == 200
    therapist.set_password("a-new-long-passphrase-2026")
    therapist.save()
    assert goes_to_login(client.get(CASELOAD))


def test_logging_out_ends_the_session(client, therapist):
    verified_login(client, therapist)
    client.post(reverse("accounts:logout"))
    assert goes_to_login(client.get(CASELOAD))


def test_the_tablet_room_keeps_its_own_two_hours(client, therapist, case, start):
    session = make_session(case)
    participant = case.participants.get()
    with time_machine.travel(start, tick=False):
        verified_login(client, therapist)
        url = reverse("surveys:complete_now", args=[session.pk, participant.pk])
        survey_url = client.post(url)["Location"]
        assert client.session.get_expiry_age() == 2 * 60 * 60  # the room's own rule
    with time_machine.travel(start + timedelta(minutes=45), tick=False):
        # Forty-five minutes without a request: the room (an anonymous session) is still there.
        assert client.get(survey_url).status_code == 200
        assert ROOM_KEY in client.session
