"""Alert emails, the digest and its preference page: first names and links only, once each."""

import datetime

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from dashboard.tasks import send_digests
from measures.evaluation import do_evaluate_case
from measures.models import Response
from tests.builders import make_invitation, make_response, make_session
from tests.dashboard.flags import make_signal

MONDAY = datetime.datetime(2026, 11, 30, 6, 30, tzinfo=datetime.UTC)
TUESDAY = MONDAY + datetime.timedelta(days=1)


def test_an_alert_is_emailed_once_on_commit_with_a_first_name_and_a_link(
    therapist, case, mailoutbox, django_capture_on_commit_callbacks
):
    participant = case.participants.get()
    for index, total in enumerate([9, 9, 8.5, 9, 9, 9, 6, 5.5]):
        response = make_response(make_session(case, days_ago=7 * (8 - index)), participant, total, total, total)
    Response.objects.filter(pk=response.pk).update(note="private words")
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        do_evaluate_case(case.pk)
    assert callbacks and len(mailoutbox) == 1
    message = mailoutbox[0]
    assert message.to == [therapist.email]
    first, surname = participant.display_name.split()
    text = message.subject + message.body
    assert first in text and surname not in text and "private words" not in text and "5.5" not in text
    assert f"/cases/{case.pk}/" in message.body
    with django_capture_on_commit_callbacks(execute=True):
        do_evaluate_case(case.pk)  # nothing new: no second email
    assert len(mailoutbox) == 1


def digest_fixture(therapist, couple_case):
    robin, jordan = couple_case.participants.all()
    make_signal(couple_case, jordan, severity="alert", message="Jordan Rivera's total fell to 3.5")
    make_signal(couple_case, robin, kind="ceiling", severity="info")
    session = make_session(couple_case, days_ago=0)
    make_invitation(session, robin)


@time_machine.travel(TUESDAY, tick=False)
def test_the_daily_digest_lists_open_flags_and_unanswered_checks_by_first_name(therapist, couple_case, mailoutbox):
    digest_fixture(therapist, couple_case)
    assert send_digests() == 1
    (message,) = mailoutbox
    assert message.to == [therapist.email] and "1 open flag, 1 unanswered check" in message.subject
    assert "Jordan: reliable drop from usual level (alert)" in message.body
    assert "Robin: 1 check not answered" in message.body
    assert f"/cases/{couple_case.pk}/" in message.body
    assert "Rivera" not in message.body and "3.5" not in message.body and "ceiling" not in message.body.lower()


@time_machine.travel(TUESDAY, tick=False)
def test_the_digest_goes_out_once_a_day(therapist, couple_case, mailoutbox):
    digest_fixture(therapist, couple_case)
    assert send_digests() == 1
    assert send_digests() == 0  # beat ran twice, or the task was retried
    assert len(mailoutbox) == 1
    therapist.refresh_from_db()
    assert therapist.last_digest_on == TUESDAY.date()
    with time_machine.travel(TUESDAY + datetime.timedelta(days=1), tick=False):
        make_signal(couple_case, kind="low_score", severity="warning")
        assert send_digests() == 1


@pytest.mark.parametrize(("when", "sent"), [(MONDAY, 1), (TUESDAY, 0)])
def test_a_weekly_digest_goes_out_on_mondays_only(therapist, couple_case, mailoutbox, when, sent):
    User.objects.filter(pk=therapist.pk).update(digest=User.Digest.WEEKLY)
    digest_fixture(therapist, couple_case)
    with time_machine.travel(when, tick=False):
        assert send_digests() == sent
    assert len(mailoutbox) == sent
    if sent:
        assert "weekly" in mailoutbox[0].subject


def test_never_means_never_and_nothing_to_report_sends_nothing(therapist, colleague, couple_case, mailoutbox):
    User.objects.filter(pk=therapist.pk).update(digest=User.Digest.NEVER)
    digest_fixture(therapist, couple_case)
    assert send_digests() == 0  # the colleague is due but has nothing to report
    assert mailoutbox == []


def test_a_failing_mailbox_does_not_stop_the_others_and_is_retried(therapist, colleague, couple_case, mailoutbox):
    from tests.builders import make_case

    digest_fixture(therapist, couple_case)
    make_signal(make_case(colleague), severity="warning")
    from unittest import mock

    real = __import__("dashboard.digests", fromlist=["send_mail"]).send_mail
    calls = []

    def flaky(subject, body, sender, to):
        calls.append(to)
        if to == [therapist.email] and len(calls) == 1:
            raise OSError("SMTP down")
        return real(subject, body, sender, to)

    with mock.patch("dashboard.digests.send_mail", flaky):
        assert send_digests() == 1
        therapist.refresh_from_db()
        assert therapist.last_digest_on is None  # the claim rolled back with the failed send
        assert send_digests() == 1
    assert sorted(m.to[0] for m in mailoutbox) == sorted([therapist.email, colleague.email])


SETTINGS_URL = reverse("dashboard:notification_settings")


def test_the_therapist_chooses_weekly_digests(login, therapist):
    client = login(therapist)
    page = client.get(SETTINGS_URL).content.decode()
    assert 'value="weekly"' in page and 'value="never"' in page
    response = client.post(SETTINGS_URL, {"digest": "weekly"})
    assert response.status_code == 302
    therapist.refresh_from_db()
    assert therapist.digest == "weekly"
    assert client.post(SETTINGS_URL, {"digest": "hourly"}).status_code == 200
    therapist.refresh_from_db()
    assert therapist.digest == "weekly"


def test_saving_the_preference_does_not_undo_the_days_claim(login, therapist):
    User.objects.filter(pk=therapist.pk).update(last_digest_on=timezone.now().date())
    login(therapist).post(SETTINGS_URL, {"digest": "never"})
    therapist.refresh_from_db()
    assert therapist.digest == "never" and therapist.last_digest_on == timezone.now().date()


def test_the_settings_page_needs_a_login_and_get_or_post(client, login, therapist):
    response = client.get(SETTINGS_URL)
    assert response.status_code == 302 and response["Location"].startswith(reverse("accounts:login"))
    assert login(therapist).put(SETTINGS_URL).status_code == 405


def test_staff_change_only_their_own_preference(login, therapist, outsider):
    login(outsider).post(SETTINGS_URL, {"digest": "never"})
    therapist.refresh_from_db()
    outsider.refresh_from_db()
    assert therapist.digest == "daily" and outsider.digest == "never"
