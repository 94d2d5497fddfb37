"""One reminder per unanswered emailed check, after the clinic's delay, while the link is still valid."""

import re
from datetime import UTC, datetime, timedelta
from unittest import mock

import pytest
import time_machine

from measures import notifications
from measures.actions.invitations import do_create_invitations
from measures.models import InvitationToken, SurveyInvitation
from measures.tasks import send_due_reminders, send_invitation
from sessions_app.models import Participant, TherapySession
from tests.builders import make_invitation, make_session

pytestmark = pytest.mark.django_db

SENT = datetime(2026, 3, 2, 18, 0, tzinfo=UTC)
LINK = re.compile(r"(/s/[A-Za-z0-9_\-]{20,}/)")


@pytest.fixture
def emailed(case, mailoutbox, django_capture_on_commit_callbacks):
    """An attended session whose check was emailed at SENT."""
    with time_machine.travel(SENT, tick=False):
        session = TherapySession.objects.create(
            case=case, scheduled_start=SENT - timedelta(hours=1), status=TherapySession.Status.ATTENDED
        )
        with django_capture_on_commit_callbacks(execute=True):
            (invitation,) = do_create_invitations(session, acting_user=None)
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
        created = do_create_invitations(tablet, acting_user=None, channel=SurveyInvitation.Channel.TABLET)
        assert len(created) == 2  # never emailed
    assert run_at(SENT + timedelta(days=3)) == 0
    SurveyInvitation.objects.filter(pk=emailed.pk).update(completed_at=None)
    assert run_at(SENT + timedelta(days=4, seconds=1)) == 0  # expired after the default four days
    assert mailoutbox == []


def test_the_clinic_can_remind_sooner(emailed, mailoutbox, clinic):
    clinic.reminder_after_days = 1
    clinic.save()
    assert run_at(SENT + timedelta(days=1, minutes=1)) == 1 and len(mailoutbox) == 1


def test_a_failed_send_releases_the_claim_so_the_next_run_retries(emailed, mailoutbox):
    with mock.patch("measures.notifications.send_mail", side_effect=OSError("SMTP down")):
        assert run_at(SENT + timedelta(days=2, hours=1)) == 0  # logged, not raised: the others still go
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


def test_one_refused_address_does_not_hold_up_the_other_reminders(emailed, mailoutbox, caplog):
    other_session = make_session(emailed.session.case, scheduled_start=SENT - timedelta(hours=2))
    other, _ = make_invitation(
        other_session,
        emailed.participant,
        created_at=emailed.created_at,
        expires_at=emailed.expires_at,
        sent_at=emailed.sent_at,
    )
    refused = emailed.pk
    real_send = notifications.send_invitation_email

    def send(invitation, token, *, reminder):
        if invitation.pk == refused:
            raise OSError("550 mailbox unavailable")
        return real_send(invitation, token, reminder=reminder)

    with mock.patch("measures.notifications.send_invitation_email", side_effect=send):
        assert run_at(SENT + timedelta(days=2, hours=1)) == 1
    other.refresh_from_db()
    emailed.refresh_from_db()
    assert other.reminded_at is not None and emailed.reminded_at is None
    assert f"invitation {refused} failed" in caplog.text and emailed.participant.email not in caplog.text


def test_a_first_email_that_failed_is_sent_by_the_next_run(case, mailoutbox):
    session = make_session(case, days_ago=0)
    invitation, _ = make_invitation(session, case.participants.get())
    with mock.patch("measures.notifications.send_mail", side_effect=OSError("SMTP down")), pytest.raises(OSError):
        send_invitation(invitation.pk)
    invitation.refresh_from_db()
    assert invitation.sent_at is None and mailoutbox == []
    send_due_reminders()
    invitation.refresh_from_db()
    assert invitation.sent_at is not None and len(mailoutbox) == 1


def test_an_alert_email_that_failed_or_was_never_queued_is_sent_by_the_next_run(case, mailoutbox):
    from measures.models import Signal
    from measures.tasks import send_flag_alert

    participant = case.participants.get()
    refused = Signal.objects.create(
        case=case, participant=participant, kind="reliable_drop", severity="alert", message="m"
    )
    unqueued = Signal.objects.create(
        case=case, participant=participant, kind="low_score", severity="alert", message="m"
    )
    with mock.patch("measures.notifications.send_mail", side_effect=OSError("SMTP down")), pytest.raises(OSError):
        send_flag_alert(refused.pk)
    refused.refresh_from_db()
    assert refused.notified_at is None  # the claim was rolled back with the failed send
    send_due_reminders()
    assert len(mailoutbox) == 2 and {m.to[0] for m in mailoutbox} == {case.therapist.email}
    assert not Signal.objects.filter(pk__in=[refused.pk, unqueued.pk], notified_at__isnull=True).exists()
    send_due_reminders()
    assert len(mailoutbox) == 2  # once per flag
