"""Survey abuse without collateral damage: guessing links is limited apart from real submissions,
the QR page keeps one live link per check, and leaving the room needs the room's own token."""

import secrets

import pytest
from django.test import Client
from django.urls import reverse

from measures.models import InvitationToken, Response
from surveys.room import ROOM_KEY
from tests.builders import make_invitation, make_session
from tests.surveys.test_survey import full_answers

QR = InvitationToken.Purpose.QR


def fresh_address():
    return f"2001:db8::{secrets.token_hex(4)}"


def random_link():
    return reverse("surveys:survey", args=[secrets.token_urlsafe(24)])


def test_a_guessing_address_is_limited_without_locking_out_its_clients_with_real_links(case, settings):
    limit = settings.SURVEY_RATE_LIMIT["unknown_per_address"]
    assert limit < settings.SURVEY_RATE_LIMIT["per_address"]
    address = fresh_address()  # the clinic's Wi-Fi: the guesser and the client share it
    guesser = Client(REMOTE_ADDR=address)
    codes = [guesser.post(random_link(), {"lang": "en"}).status_code for _ in range(400)]
    assert codes == [404] * limit + [429] * (400 - limit)
    assert guesser.get(random_link()).status_code == 429  # guessing by GET counts the same

    invitation, token = make_invitation(make_session(case), case.participants.get())
    client = Client(REMOTE_ADDR=address)
    url = reverse("surveys:survey", args=[token])
    assert client.get(url).status_code == 200
    response = client.post(url, full_answers())
    assert response.status_code == 302 and response["Location"] == reverse("surveys:survey_done")
    assert Response.objects.filter(invitation=invitation).exists()
    # The guesser's limit is still there after the real submission.
    assert guesser.post(random_link(), {"lang": "en"}).status_code == 429


def test_real_submissions_do_not_use_up_the_unknown_link_limit(case, settings):
    settings.SURVEY_RATE_LIMIT = {**settings.SURVEY_RATE_LIMIT, "unknown_per_address": 2, "per_link": 50}
    invitation, token = make_invitation(make_session(case), case.participants.get())
    client = Client(REMOTE_ADDR=fresh_address())
    for _ in range(5):  # incomplete forms to a real link
        assert client.post(reverse("surveys:survey", args=[token]), {"lang": "en"}).status_code == 200
    assert [client.post(random_link(), {}).status_code for _ in range(3)] == [404, 404, 429]


# The QR page ---------------------------------------------------------------------------------


@pytest.fixture
def qr_page(case):
    session = make_session(case)
    participant = case.participants.get()
    invitation, _ = make_invitation(session, participant)  # the emailed link
    return invitation, reverse("surveys:participant_qr", args=[session.pk, participant.pk])


def qr_hashes(invitation):
    return set(InvitationToken.objects.filter(invitation=invitation, purpose=QR).values_list("token_hash", flat=True))


def test_each_view_of_the_qr_page_leaves_one_live_qr_link(login, therapist, qr_page):
    invitation, url = qr_page
    client = login(therapist)
    assert client.get(url).status_code == 200
    first = qr_hashes(invitation)
    for _ in range(4):
        assert client.get(url).status_code == 200
    latest = qr_hashes(invitation)
    assert len(first) == 1 and len(latest) == 1 and first != latest  # the earlier QR link is revoked
    # The emailed link is untouched.
    assert InvitationToken.objects.filter(invitation=invitation, purpose=InvitationToken.Purpose.EMAIL).count() == 1


def test_the_qr_link_shown_works_and_an_earlier_one_does_not(login, therapist, qr_page, monkeypatch):
    invitation, url = qr_page
    client = login(therapist)
    issued = []
    from measures.actions import invitations

    real_issue = invitations.do_issue_token

    def remember(inv, purpose):
        token = real_issue(inv, purpose)
        issued.append(token)
        return token

    monkeypatch.setattr(invitations, "do_issue_token", remember)
    client.get(url)
    client.get(url)
    phone = Client(REMOTE_ADDR=fresh_address())
    assert phone.get(reverse("surveys:survey", args=[issued[0]])).status_code == 404
    assert phone.get(reverse("surveys:survey", args=[issued[1]])).status_code == 200


# Leaving the room ----------------------------------------------------------------------------


def test_room_end_without_the_rooms_token_is_refused_and_signs_nobody_out(login, therapist, case):
    client = login(therapist)
    response = client.post(reverse("surveys:room_end"))
    assert response.status_code == 403
    assert client.get(reverse("dashboard:caseload")).status_code == 200  # still signed in


def test_room_end_in_the_room_needs_its_token(login, therapist, case):
    session = make_session(case)
    client = login(therapist)
    client.post(reverse("surveys:complete_now", args=[session.pk, case.participants.get().pk]))
    room = client.session[ROOM_KEY]
    assert client.post(reverse("surveys:room_end")).status_code == 403
    assert client.post(reverse("surveys:room_end"), {"room_token": "forged"}).status_code == 403
    assert client.session[ROOM_KEY] == room  # the room goes on
    response = client.post(reverse("surveys:room_end"), {"room_token": room["token"]})
    assert response.status_code == 302 and response["Location"].startswith(reverse("accounts:login"))
    assert ROOM_KEY not in client.session


def test_the_thank_you_page_in_the_room_carries_the_rooms_token(login, therapist, couple_case):
    session = make_session(couple_case)
    client = login(therapist)
    first = couple_case.participants.first()
    survey = client.post(reverse("surveys:complete_now", args=[session.pk, first.pk]))["Location"]
    client.post(survey, full_answers(shared=True))
    page = client.get(reverse("surveys:survey_done")).content.decode()
    assert f'name="room_token" value="{client.session[ROOM_KEY]["token"]}"' in page


def test_an_anonymous_browser_outside_the_room_is_shown_the_sign_in_page(client, db):
    response = client.post(reverse("surveys:room_end"))
    assert response.status_code == 302 and response["Location"].startswith(reverse("accounts:login"))
