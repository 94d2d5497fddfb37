"""Alert emails, the digest and its preference page: first names and links only, once each."""

import datetime

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from dashboard.tasks import send_digests
from measures.evaluation import do_evaluate_case
from measures.models import Response, Signal
from tests.builders import make_invitation, make_response, make_session
from tests.dashboard.flags import make_signal

MONDAY = datetime.datetime(2026, 11, 30, 6, 30, tzinfo=datetime.UTC)
TUESDAY = MONDAY + datetime.timedelta(days=1)
KIND_LABELS = [label.lower() for label in Signal.Kind.labels]


def assert_nothing_clinical(text, scores=()):
    """No kind of flag, no severity, no score: a first name, counts and links only."""
    lowered = text.lower()
    assert not [label for label in KIND_LABELS if label in lowered]
    assert "alert)" not in lowered and "(warning" not in lowered
    assert not [score for score in scores if score in text]


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
    assert message.subject == "Alliance: a new alert on one of your cases"  # phone previews show subjects
    first, surname = participant.display_name.split()
    assert first not in message.subject and first in message.body
    text = message.subject + message.body
    assert surname not in text and "private words" not in text
    assert_nothing_clinical(text, scores=["5.5", "6.0", "8.5", "9.0"])
    assert f"/cases/{case.pk}/" in message.body
    with django_capture_on_commit_callbacks(execute=True):
        do_evaluate_case(case.pk)  # nothing new: no second email
    assert len(mailoutbox) == 1


def test_the_alert_email_is_plain_text_not_html_escaped(therapist, mailoutbox):
    from measures.notifications import send_flag_alert_email
    from tests.builders import make_case

    flag = make_signal(make_case(therapist, participants=["D'Arcy O'Neil"]))
    send_flag_alert_email(flag)
    (message,) = mailoutbox
    assert "for D'Arcy." in message.body and "&#x27;" not in message.body and "O'Neil" not in message.body


def overdue_check(session, participant):
    """A check still unanswered after the clinic's reminder (2 days), not expired yet."""
    now = timezone.now()
    return make_invitation(
        session, participant, created_at=now - datetime.timedelta(days=3), expires_at=now + datetime.timedelta(days=1)
    )


def digest_fixture(therapist, couple_case):
    robin, jordan = couple_case.participants.all()
    make_signal(couple_case, jordan, severity="alert", message="Jordan Rivera's total fell to 3.5")
    make_signal(couple_case, robin, kind="ceiling", severity="info")
    overdue_check(make_session(couple_case, days_ago=3), robin)


@time_machine.travel(TUESDAY, tick=False)
def test_the_daily_digest_lists_first_names_with_counts_and_links_only(therapist, couple_case, mailoutbox):
    digest_fixture(therapist, couple_case)
    robin, jordan = couple_case.participants.all()
    make_signal(couple_case, jordan, kind="rupture", severity="warning")
    make_signal(couple_case, robin, kind="low_score", severity="warning")
    assert send_digests() == 1
    (message,) = mailoutbox
    assert message.to == [therapist.email] and "3 open flags, 1 unanswered check" in message.subject
    assert "- Robin: 1 open flag, 1 unanswered check\n" in message.body
    assert "- Jordan: 2 open flags\n" in message.body
    assert f"/cases/{couple_case.pk}/" in message.body
    assert "Rivera" not in message.subject + message.body
    assert_nothing_clinical(message.subject + message.body, scores=["3.5", "8.7", "4.0"])


@pytest.mark.parametrize(("digest", "unanswered"), [(User.Digest.DAILY, 2), (User.Digest.WEEKLY, 3)])
@time_machine.travel(MONDAY, tick=False)
def test_the_digest_counts_checks_past_the_reminder_or_expired_in_its_period(
    therapist, case, mailoutbox, digest, unanswered
):
    User.objects.filter(pk=therapist.pk).update(digest=digest)
    maria = case.participants.get()
    now, day = timezone.now(), datetime.timedelta(days=1)

    def check(days_ago, created, expires, **fields):
        session = make_session(case, days_ago=days_ago, status=fields.pop("status", "attended"))
        return make_invitation(session, maria, created_at=now - created, expires_at=now + expires, **fields)

    check(0, created=datetime.timedelta(hours=1), expires=4 * day)  # too fresh: no reminder yet
    check(3, created=3 * day, expires=day)  # past the reminder, still open
    check(5, created=5 * day, expires=-day / 2)  # expired unanswered since yesterday
    check(10, created=10 * day, expires=-6 * day)  # expired earlier this week
    check(4, created=4 * day, expires=day, completed_at=now - day)  # answered
    check(6, created=3 * day, expires=day, status="cancelled")  # the session did not take place
    assert send_digests() == 1
    (message,) = mailoutbox
    assert f"{unanswered} unanswered checks" in message.subject
    assert f"- {maria.first_name}: {unanswered} unanswered checks\n" in message.body


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


def therapists_in(zones, digest):
    """One therapist per clinic time zone, each with an open flag to report."""
    from tests.builders import make_case, make_clinic, make_user

    by_zone = {}
    for zone in zones:
        therapist = make_user(make_clinic(time_zone=zone), digest=digest)
        make_signal(make_case(therapist), severity="warning")
        by_zone[zone] = therapist
    return by_zone


def run_beat_hourly(start, hours, mailoutbox):
    """Run the digest task at :30 every hour, as beat does: {recipient: [UTC times it got a digest]}."""
    sent = {}
    for hour in range(hours):
        when = start + datetime.timedelta(hours=hour)
        with time_machine.travel(when, tick=False):
            before = len(mailoutbox)
            send_digests()
            for message in mailoutbox[before:]:
                sent.setdefault(message.to[0], []).append(when)
    return sent


def test_the_daily_digest_goes_out_at_half_past_six_in_each_clinics_time_zone(db, mailoutbox):
    therapists = therapists_in(["Europe/Madrid", "America/Los_Angeles"], User.Digest.DAILY)
    sunday = datetime.date(2026, 11, 29)
    User.objects.update(last_digest_on=sunday)  # Sunday's digests went out already
    sent = run_beat_hourly(datetime.datetime(2026, 11, 30, 0, 30, tzinfo=datetime.UTC), 24, mailoutbox)
    assert sent == {
        therapists["Europe/Madrid"].email: [datetime.datetime(2026, 11, 30, 5, 30, tzinfo=datetime.UTC)],  # 06:30 CET
        therapists["America/Los_Angeles"].email: [datetime.datetime(2026, 11, 30, 14, 30, tzinfo=datetime.UTC)],
    }
    assert set(User.objects.values_list("last_digest_on", flat=True)) == {sunday + datetime.timedelta(days=1)}


def test_a_late_beat_still_sends_the_days_digest_dated_in_the_clinics_zone(db, mailoutbox):
    therapist = therapists_in(["America/Los_Angeles"], User.Digest.DAILY)["America/Los_Angeles"]
    # Tuesday 03:30 UTC is still Monday 19:30 in Los Angeles: Monday's digest, claimed for Monday.
    with time_machine.travel(TUESDAY.replace(hour=3), tick=False):
        assert send_digests() == 1
        assert send_digests() == 0
    therapist.refresh_from_db()
    assert therapist.last_digest_on == MONDAY.date()


def test_a_weekly_digest_goes_out_on_the_clinics_monday(db, mailoutbox):
    therapists = therapists_in(["Europe/Madrid", "America/Los_Angeles"], User.Digest.WEEKLY)
    # From Saturday 00:30 UTC to Wednesday 23:30 UTC: one digest each, on their own Monday morning.
    sent = run_beat_hourly(datetime.datetime(2026, 11, 28, 0, 30, tzinfo=datetime.UTC), 5 * 24, mailoutbox)
    assert sent == {
        therapists["Europe/Madrid"].email: [datetime.datetime(2026, 11, 30, 5, 30, tzinfo=datetime.UTC)],
        therapists["America/Los_Angeles"].email: [datetime.datetime(2026, 11, 30, 14, 30, tzinfo=datetime.UTC)],
    }


@time_machine.travel(TUESDAY, tick=False)
def test_never_means_never_and_nothing_to_report_sends_nothing(therapist, colleague, couple_case, mailoutbox):
    User.objects.filter(pk=therapist.pk).update(digest=User.Digest.NEVER)
    digest_fixture(therapist, couple_case)
    assert send_digests() == 0  # the colleague is due but has nothing to report
    assert mailoutbox == []
    colleague.refresh_from_db()
    assert colleague.last_digest_on == TUESDAY.date()


@time_machine.travel(TUESDAY, tick=False)
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
