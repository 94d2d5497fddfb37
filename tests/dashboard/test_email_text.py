"""Emails are plain text: names arrive as typed (no HTML escaping), dates read as a sentence."""

import datetime

import pytest
import time_machine

from dashboard.tasks import send_digests
from measures.notifications import send_invitation_email
from sessions_app.models import Participant
from tests.builders import make_case, make_clinic, make_invitation, make_session, make_user
from tests.dashboard.flags import make_signal

NOW = datetime.datetime(2026, 12, 1, 13, 0, tzinfo=datetime.UTC)  # 14:00 in Madrid
HTML_ESCAPES = ("&amp;", "&#x27;", "&#39;", "&quot;", "&lt;", "&gt;")


@pytest.fixture
def darcy_case(db):
    clinic = make_clinic("Smith & Jones", time_zone="Europe/Madrid")
    therapist = make_user(clinic, name="Tess O'Brien")
    return make_case(therapist, participants=["D'Arcy O'Neil"])


def assert_plain(message):
    text = message.subject + message.body
    assert not [escape for escape in HTML_ESCAPES if escape in text]


@pytest.mark.parametrize(
    ("language", "subject", "expiry"),
    [
        ("en", "A one-minute check from Smith & Jones", "works until 5 December 2026, 14:00. Please"),
        ("es", "Una valoración de un minuto de Smith & Jones", "hasta el 5 de diciembre de 2026 a las 14:00. Por"),
    ],
)
@time_machine.travel(NOW, tick=False)
def test_the_invitation_email_keeps_names_as_typed_and_dates_the_expiry(
    darcy_case, mailoutbox, language, subject, expiry
):
    darcy = darcy_case.participants.get()
    Participant.objects.filter(pk=darcy.pk).update(language=language)
    darcy.refresh_from_db()
    invitation, token = make_invitation(make_session(darcy_case), darcy, days_valid=4)
    send_invitation_email(invitation, token, reminder=False)
    (message,) = mailoutbox
    assert_plain(message)
    assert message.subject == subject
    assert "D'Arcy" in message.body and message.body.rstrip().endswith("Smith & Jones")
    assert expiry in message.body and ".." not in message.body


@time_machine.travel(NOW, tick=False)
def test_the_reminder_subject_keeps_the_clinic_name_as_typed(darcy_case, mailoutbox):
    invitation, token = make_invitation(make_session(darcy_case), darcy_case.participants.get())
    send_invitation_email(invitation, token, reminder=True)
    assert mailoutbox[0].subject == "Reminder: a one-minute check from Smith & Jones"


@time_machine.travel(NOW, tick=False)
def test_the_digest_keeps_first_names_as_typed(darcy_case, mailoutbox):
    make_signal(darcy_case, severity="warning")
    assert send_digests() == 1
    (message,) = mailoutbox
    assert_plain(message)
    assert "- D'Arcy: 1 open flag\n" in message.body and "Hello Tess," in message.body
