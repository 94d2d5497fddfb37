"""Invitations: created when a session is attended, emailed on commit, handed over in the room, shown as QR."""

import re
from datetime import timedelta
from unittest import mock

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from measures.models import InvitationToken, Response, SurveyInvitation, hash_token
from measures.tasks import nightly_sweep
from sessions_app.models import Participant, TherapySession
from surveys.room import ROOM_KEY
from tests.builders import RATING_CODES, SHARED_CODES, make_invitation, make_response, make_session

pytestmark = pytest.mark.django_db

LINK = re.compile(r"http://127\.0\.0\.1:8000(/s/([A-Za-z0-9_\-]+)/)")


def answers(value="8", shared=False, **extra):
    codes = RATING_CODES + (SHARED_CODES if shared else ())
    return {**dict.fromkeys(codes, value), "rupture": "no", "lang": "en", **extra}


def record_attended(client, session, capture):
    with capture(execute=True):
        response = client.post(reverse("dashboard:record_session", args=[session.pk]), {"status": "attended"})
    assert response.status_code == 302
    return response


# Creation and email ------------------------------------------------------------------------


def test_attending_emails_each_participant_a_link_in_their_language_only_after_commit(
    login, therapist, couple_case, mailoutbox, django_capture_on_commit_callbacks
):
    robin, jordan = couple_case.participants.all()
    Participant.objects.filter(pk=jordan.pk).update(language="es")
    session = make_session(couple_case, status=TherapySession.Status.SCHEDULED)
    with django_capture_on_commit_callbacks() as queued:
        login(therapist).post(reverse("dashboard:record_session", args=[session.pk]), {"status": "attended"})
    assert session.invitations.count() == 2 and mailoutbox == []  # nothing is sent before the commit
    for callback in queued:
        callback()
    by_recipient = {message.to[0]: message for message in mailoutbox}
    assert set(by_recipient) == {robin.email, jordan.email}
    assert by_recipient[robin.email].subject == "A one-minute check from Northside Therapy"
    assert by_recipient[jordan.email].subject == "Una valoración de un minuto de Northside Therapy"
    assert "Hola, Jordan:" in by_recipient[jordan.email].body
    assert "¿Cómo te fue la sesión de hoy?" in by_recipient[jordan.email].body


def test_each_link_carries_at_least_128_random_bits_and_only_its_hash_is_stored(
    login, therapist, case, mailoutbox, django_capture_on_commit_callbacks
):
    record_attended(login(therapist), make_session(case, status="scheduled"), django_capture_on_commit_callbacks)
    path, token = LINK.search(mailoutbox[0].body).groups()
    assert len(token) * 6 >= 128  # URL-safe base64: 6 bits a character
    stored = InvitationToken.objects.get()
    assert stored.token_hash == hash_token(token) and token not in stored.token_hash
    assert stored.purpose == InvitationToken.Purpose.EMAIL
    assert login(therapist).get(path).status_code == 200


def test_invitations_expire_after_the_clinics_setting(
    login, therapist, case, clinic, django_capture_on_commit_callbacks
):
    clinic.invitation_expiry_days, clinic.reminder_after_days = 6, 3
    clinic.save()
    session = make_session(case, status="scheduled")
    record_attended(login(therapist), session, django_capture_on_commit_callbacks)
    invitation = session.invitations.get()
    assert invitation.expires_at - invitation.created_at == timedelta(days=6)


def test_the_default_expiry_is_four_days(login, therapist, case, django_capture_on_commit_callbacks):
    session = make_session(case, status="scheduled")
    record_attended(login(therapist), session, django_capture_on_commit_callbacks)
    invitation = session.invitations.get()
    assert invitation.expires_at - invitation.created_at == timedelta(days=4)


def test_marking_attended_twice_creates_no_second_invitation_or_email(
    login, therapist, case, mailoutbox, django_capture_on_commit_callbacks
):
    session = make_session(case, status="scheduled")
    client = login(therapist)
    record_attended(client, session, django_capture_on_commit_callbacks)
    record_attended(client, session, django_capture_on_commit_callbacks)
    assert session.invitations.count() == 1 and len(mailoutbox) == 1


def test_a_down_broker_does_not_fail_the_therapists_request_and_the_email_goes_out_later(
    login, therapist, case, mailoutbox, django_capture_on_commit_callbacks
):
    session = make_session(case, status="scheduled")
    with mock.patch("measures.tasks.send_invitation.delay", side_effect=OSError("broker down")):
        record_attended(login(therapist), session, django_capture_on_commit_callbacks)
    invitation = session.invitations.get()
    assert mailoutbox == [] and invitation.sent_at is None
    from measures.tasks import send_due_reminders

    send_due_reminders()
    invitation.refresh_from_db()
    assert len(mailoutbox) == 1 and invitation.sent_at is not None


def test_the_nightly_sweep_gives_checks_to_attended_sessions_that_have_none(
    case, mailoutbox, django_capture_on_commit_callbacks
):
    session = make_session(case, days_ago=1)  # attended, but no invitation (e.g. recorded by an import)
    with django_capture_on_commit_callbacks(execute=True):
        nightly_sweep()
    assert session.invitations.count() == 1 and len(mailoutbox) == 1
    with django_capture_on_commit_callbacks(execute=True):
        nightly_sweep()
    assert session.invitations.count() == 1 and len(mailoutbox) == 1


# Complete now (tablet hand-over) ------------------------------------------------------------


def complete_now_url(session, participant):
    return reverse("surveys:complete_now", args=[session.pk, participant.pk])


def test_complete_now_signs_the_therapist_out_and_opens_only_that_participants_survey(login, therapist, couple_case):
    session = make_session(couple_case)
    robin, jordan = couple_case.participants.all()
    client = login(therapist)
    response = client.post(complete_now_url(session, robin))
    assert response.status_code == 302 and response["Location"].startswith("/s/")
    assert "_auth_user_id" not in client.session  # the therapist is signed out of this browser
    assert client.get(reverse("dashboard:caseload")).status_code == 302  # → the sign-in page
    invitation = SurveyInvitation.objects.get(session=session, participant=robin)
    assert invitation.channel == SurveyInvitation.Channel.TABLET
    assert invitation.tokens.get().purpose == InvitationToken.Purpose.TABLET
    page = client.get(response["Location"])
    assert page.status_code == 200 and "Robin, how was today" in page.content.decode()
    assert client.session[ROOM_KEY]["queue"] == [SurveyInvitation.objects.get(participant=jordan).pk]


def test_the_tablet_goes_round_the_couple_and_the_second_partner_reaches_only_their_own_survey(
    login, therapist, couple_case
):
    session = make_session(couple_case)
    robin, jordan = couple_case.participants.all()
    client = login(therapist)
    robin_url = client.post(complete_now_url(session, robin))["Location"]
    done = client.post(robin_url, answers("9", shared=True), follow=True)
    body = done.content.decode()
    assert "Thank you" in body and "Please pass the tablet to Jordan." in body
    assert "Robin" not in body and "9" not in re.sub(r"<[^>]+>", "", body)  # no trace of the answers
    jordan_url = client.post(reverse("surveys:room_next"))["Location"]
    assert jordan_url != robin_url and "Jordan, how was today" in client.get(jordan_url).content.decode()
    # What Jordan could try: Robin's link (back button), the therapist's pages, the next button again.
    back = client.get(robin_url)
    assert back.status_code == 410 and "already answered" in back.content.decode()
    assert "9" not in re.sub(r"<[^>]+>", "", back.content.decode())
    assert client.get(reverse("dashboard:case", args=[couple_case.pk])).status_code == 302
    assert client.post(jordan_url, answers("3", shared=True)).status_code == 302
    end = client.get(reverse("surveys:survey_done")).content.decode()
    assert "Everyone has answered." in end and "Please pass the tablet" not in end
    assert Response.objects.get(participant=robin).goals == 9 and Response.objects.get(participant=jordan).goals == 3
    assert client.post(reverse("surveys:room_next"))["Location"].startswith(reverse("accounts:login"))


def test_pressing_next_with_nobody_left_ends_the_room_at_the_sign_in_page(login, therapist, couple_case):
    session = make_session(couple_case)
    robin, jordan = couple_case.participants.all()
    client = login(therapist)
    client.post(complete_now_url(session, robin))
    jordan_url = client.post(reverse("surveys:room_next"), {"pass": "1"})["Location"]  # Robin passes
    assert "Jordan, how was today" in client.get(jordan_url).content.decode()
    again = client.post(reverse("surveys:room_next"), {"pass": "1"})  # and so does Jordan
    assert again["Location"].startswith(reverse("accounts:login")) and ROOM_KEY not in client.session
    # Both were issued, and both were revoked with the room: neither answered.
    assert not InvitationToken.objects.filter(purpose=InvitationToken.Purpose.TABLET).exists()


def test_finishing_the_room_leaves_only_the_sign_in_page(login, therapist, couple_case):
    session = make_session(couple_case)
    client = login(therapist)
    client.post(complete_now_url(session, couple_case.participants.first()))
    response = client.post(reverse("surveys:room_end"), {"room_token": client.session[ROOM_KEY]["token"]})
    assert response.status_code == 302
    assert response["Location"] == reverse("accounts:login") + f"?next=/cases/{couple_case.pk}/"
    assert ROOM_KEY not in client.session
    assert client.post(reverse("surveys:room_next"))["Location"].startswith(reverse("accounts:login"))


def test_the_room_skips_participants_who_already_answered(login, therapist, couple_case):
    session = make_session(couple_case)
    robin, jordan = couple_case.participants.all()
    make_response(session, jordan)
    client = login(therapist)
    client.post(complete_now_url(session, robin))
    assert client.session[ROOM_KEY]["queue"] == []


def test_a_session_not_attended_or_an_answered_check_cannot_be_handed_over(login, therapist, case):
    participant = case.participants.get()
    scheduled = make_session(case, days_ago=1, status=TherapySession.Status.SCHEDULED)
    response = login(therapist).post(complete_now_url(scheduled, participant))
    assert response.status_code == 409 and "not marked attended" in response.content.decode()
    assert not SurveyInvitation.objects.exists()
    answered = make_session(case, days_ago=2)
    make_response(answered, participant)
    response = login(therapist).post(complete_now_url(answered, participant))
    assert response.status_code == 409 and "already answered" in response.content.decode()
    assert "_auth_user_id" in login(therapist).session  # a refusal does not sign the therapist out


def test_complete_now_is_post_only(login, therapist, case):
    session = make_session(case)
    assert login(therapist).get(complete_now_url(session, case.participants.get())).status_code == 405


def test_complete_now_sends_anonymous_visitors_to_sign_in(client, case):
    session = make_session(case)
    response = client.post(complete_now_url(session, case.participants.get()))
    assert response.status_code == 302 and response["Location"].startswith(reverse("accounts:login"))


@pytest.mark.parametrize("persona", ["colleague", "outsider"])
def test_other_staff_get_404_from_complete_now_and_the_qr_page(login, request, case, persona):
    session = make_session(case)
    client = login(request.getfixturevalue(persona))
    participant = case.participants.get()
    assert client.post(complete_now_url(session, participant)).status_code == 404
    assert client.get(reverse("surveys:participant_qr", args=[session.pk, participant.pk])).status_code == 404
    assert not SurveyInvitation.objects.exists()


def test_the_clinic_admin_may_not_hand_over_or_show_a_qr_code(login, clinic_admin, case):
    session = make_session(case)
    client = login(clinic_admin)
    participant = case.participants.get()
    assert client.post(complete_now_url(session, participant)).status_code == 403
    assert client.get(reverse("surveys:participant_qr", args=[session.pk, participant.pk])).status_code == 403
    assert not InvitationToken.objects.exists()


def test_a_participant_of_another_case_is_404(login, therapist, case, couple_case):
    session = make_session(case)
    stranger = couple_case.participants.first()
    assert login(therapist).post(complete_now_url(session, stranger)).status_code == 404


def test_signed_in_pages_are_never_cached(login, therapist, case):
    response = login(therapist).get(reverse("dashboard:case", args=[case.pk]))
    assert response.status_code == 200 and "no-store" in response["Cache-Control"]


# QR code -----------------------------------------------------------------------------------


def test_the_qr_page_draws_a_fresh_working_link_inline_without_any_other_host(login, therapist, case, client):
    session = make_session(case)
    participant = case.participants.get()
    url = reverse("surveys:participant_qr", args=[session.pk, participant.pk])
    import segno

    drawn = []
    real_make = segno.make

    def spy(content, **kwargs):
        drawn.append(content)
        return real_make(content, **kwargs)

    with mock.patch("surveys.views.segno.make", spy):
        response = login(therapist).get(url)
    body = response.content.decode()
    assert response.status_code == 200 and "<svg" in body and 'class="qrline"' in body
    assert response["Cache-Control"] == "no-store"
    assert InvitationToken.objects.get().purpose == InvitationToken.Purpose.QR
    path, token = LINK.match(drawn[0]).groups()
    assert token not in body  # the link is only in the picture
    client.logout()
    assert client.get(path).status_code == 200  # a phone scanning it gets the survey


def test_the_qr_page_is_get_only(login, therapist, case):
    session = make_session(case)
    url = reverse("surveys:participant_qr", args=[session.pk, case.participants.get().pk])
    assert login(therapist).post(url).status_code == 405


def test_the_qr_page_sends_anonymous_visitors_to_sign_in(client, case):
    session = make_session(case)
    response = client.get(reverse("surveys:participant_qr", args=[session.pk, case.participants.get().pk]))
    assert response.status_code == 302 and response["Location"].startswith(reverse("accounts:login"))


def test_an_expired_check_has_no_qr_code(login, therapist, case):
    session = make_session(case, days_ago=9)
    created = timezone.now() - timedelta(days=8)
    make_invitation(session, case.participants.get(), created_at=created, expires_at=created + timedelta(days=4))
    url = reverse("surveys:participant_qr", args=[session.pk, case.participants.get().pk])
    response = login(therapist).get(url)
    assert response.status_code == 409 and "expired" in response.content.decode()
    assert InvitationToken.objects.count() == 1


def test_the_tablets_history_opens_no_survey_once_a_turn_or_the_room_is_over(login, therapist, couple_case):
    session = make_session(couple_case)
    robin, jordan = couple_case.participants.all()
    client = login(therapist)
    robin_url = client.post(complete_now_url(session, robin))["Location"]
    assert client.get(robin_url).status_code == 200
    jordan_url = client.post(reverse("surveys:room_next"), {"pass": "1"})["Location"]  # Robin passed
    assert client.get(robin_url).status_code == 404  # Jordan cannot go back and answer as Robin
    assert client.get(jordan_url).status_code == 200
    client.post(reverse("surveys:room_end"), {"room_token": client.session[ROOM_KEY]["token"]})
    assert client.get(jordan_url).status_code == 404  # nor can whoever picks the tablet up next
    assert not InvitationToken.objects.filter(purpose=InvitationToken.Purpose.TABLET).exists()
    # The emailed links are untouched: both can still answer from their own phones.
    assert SurveyInvitation.objects.filter(session=session, completed_at__isnull=True).count() == 2


def test_a_tablet_link_stops_working_after_two_hours(login, therapist, case):
    session = make_session(case)
    client = login(therapist)
    url = client.post(complete_now_url(session, case.participants.get()))["Location"]
    with time_machine.travel(timezone.now() + timedelta(hours=2, minutes=1)):
        assert client.get(url).status_code == 404


def test_a_turn_ends_only_by_answering_or_passing_explicitly(login, therapist, couple_case):
    """Opening the thank-you page or pressing "next" before answering neither claims "received"
    nor hands the tablet on: it returns to the current person's own survey."""
    session = make_session(couple_case)
    robin, jordan = couple_case.participants.all()
    client = login(therapist)
    robin_url = client.post(complete_now_url(session, robin))["Location"]
    assert "Not now: pass the tablet on" in client.get(robin_url).content.decode()
    for attempt in (client.get(reverse("surveys:survey_done")), client.post(reverse("surveys:room_next"))):
        assert attempt.status_code == 302
        back = client.get(attempt["Location"]).content.decode()
        assert "Robin, how was today" in back and "Jordan" not in back
        assert "answers were received" not in back
    passed = client.post(reverse("surveys:room_next"), {"pass": "1"})
    assert "Jordan, how was today" in client.get(passed["Location"]).content.decode()
    assert not Response.objects.filter(participant=robin).exists()


def test_the_pass_button_appears_only_on_the_tablet(client, case):
    session = make_session(case)
    _, token = make_invitation(session, case.participants.get())
    assert "pass the tablet on" not in client.get(reverse("surveys:survey", args=[token])).content.decode()
