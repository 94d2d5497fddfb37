"""One reminder per unanswered emailed check, after the clinic's delay, while the link is still valid."""

import re
import secrets
from datetime import UTC, datetime, timedelta
from unittest import mock

import pytest
import time_machine
from django.test import Client

from measures.actions import do_create_invitations
from measures.models import InvitationToken, SurveyInvitation
from measures.tasks import send_due_reminders
from sessions_app.models import Participant, TherapySession

pytestmark = pytest.mark.django_db

SENT = datetime(2026, 3, 2, 18, 0, tzinfo=UTC)
LINK = re.compile(r"(/s/[A-Za-z0-9_\-]{20,}/)")


@pytest.fixture
def client():
    """A browser with an address of its own, so the rate-limit counters shared in the cache (Redis
    on CI) for 127.0.0.1 are not run up by these tests."""
    return Client(REMOTE_ADDR=f"2001:db8::{secrets.token_hex(4)}")


@pytest.fixture
def emailed(case, mailoutbox, django_capture_on_commit_callbacks):
    """An attended session whose check was emailed at SENT."""
    with time_machine.travel(SENT, tick=False):
        session = TherapySession.objects.create(
            case=case, scheduled_start=SENT - timedelta(hours=1), status=TherapySession.Status.ATTENDED
        )
        with django_capture_on_commit_callbacks(execute=True):
            (invitation,) = do_create_invitations(session)
    invitation.first_email = mailoutbox[0].body
    mailoutbox.clear()
    invitation.refresh_from_db(fields=["sent_at"])
    assert invitation.sent_at == SENT
    return invitation


def run_at(moment):
    with time_machine.travel(moment, tick=False):
        return send_due_reminders()


def test_no_reminder_before_the_clinics_delay(emailed, mailoutbox):
    assert run_at(SENT + timedelta(days=1, hours=23)) == 0
    assert mailoutbox == []


def test_one_reminder_with_a_fresh_working_link_after_two_days(emailed, mailoutbox, client):
    assert run_at(SENT + timedelta(days=2, minutes=1)) == 1
    (message,) = mailoutbox
    assert message.subject == "Reminder: a one-minute check from Northside Therapy"
    assert "A short reminder" in message.body
    emailed.refresh_from_db()
    assert emailed.reminded_at == SENT + timedelta(days=2, minutes=1)
    assert InvitationToken.objects.filter(invitation=emailed, purpose=InvitationToken.Purpose.REMINDER).count() == 1
    with time_machine.travel(SENT + timedelta(days=2, minutes=5), tick=False):
        assert client.get(LINK.search(message.body).group(1)).status_code == 200


def test_reminders_are_sent_once_however_often_beat_runs(emailed, mailoutbox):
    for hours in (49, 49.5, 60, 80):
        run_at(SENT + timedelta(hours=hours))
    assert len(mailoutbox) == 1


def test_a_spanish_speaker_is_reminded_in_spanish(emailed, mailoutbox):
    Participant.objects.filter(pk=emailed.participant_id).update(language="es")
    run_at(SENT + timedelta(days=3))
    assert mailoutbox[0].subject == "Recordatorio: una valoración de un minuto de Northside Therapy"
    assert "Un breve recordatorio" in mailoutbox[0].body


def test_answered_expired_or_handed_over_checks_get_no_reminder(emailed, mailoutbox, couple_case):
    SurveyInvitation.objects.filter(pk=emailed.pk).update(completed_at=SENT + timedelta(hours=2))
    tablet = TherapySession.objects.create(case=couple_case, scheduled_start=SENT, status="attended")
    with time_machine.travel(SENT, tick=False):
        assert len(do_create_invitations(tablet, channel=SurveyInvitation.Channel.TABLET)) == 2  # never emailed
    assert run_at(SENT + timedelta(days=3)) == 0
    SurveyInvitation.objects.filter(pk=emailed.pk).update(completed_at=None)
    assert run_at(SENT + timedelta(days=4, seconds=1)) == 0  # expired after the default four days
    assert mailoutbox == []


def test_the_clinic_can_remind_sooner(emailed, mailoutbox, clinic):
    clinic.reminder_after_days = 1
    clinic.save()
    assert run_at(SENT + timedelta(days=1, minutes=1)) == 1 and len(mailoutbox) == 1


def test_a_failed_send_releases_the_claim_so_the_next_run_retries(emailed, mailoutbox):
    with mock.patch("measures.notifications.send_mail", side_effect=OSError("SMTP down")), pytest.raises(OSError):
        run_at(SENT + timedelta(days=2, hours=1))
    emailed.refresh_from_db()
    assert emailed.reminded_at is None
    assert not InvitationToken.objects.filter(purpose=InvitationToken.Purpose.REMINDER).exists()
    assert run_at(SENT + timedelta(days=2, hours=2)) == 1 and len(mailoutbox) == 1


def test_the_reminder_link_and_the_first_link_complete_the_same_check_once(emailed, mailoutbox, client):
    first = LINK.search(emailed.first_email).group(1)
    run_at(SENT + timedelta(days=2, hours=1))
    reminder = LINK.search(mailoutbox[-1].body).group(1)
    assert first != reminder
    answers = dict.fromkeys(("goals_focus", "goals_agree", "tasks_sense", "tasks_fit", "bond_heard", "bond_trust"), "7")
    with time_machine.travel(SENT + timedelta(days=2, hours=3), tick=False):
        assert client.get(first).status_code == 200 and client.get(reminder).status_code == 200
        assert client.post(reminder, {**answers, "rupture": "no", "lang": "en"}).status_code == 302
        assert client.get(first).status_code == 410  # the first email's link now says "already answered"
    assert run_at(SENT + timedelta(days=3)) == 0
