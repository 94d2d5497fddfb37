"""A check lives only as long as its session counts as attended and its case is open."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from measures.actions.invitations import do_issue_token
from measures.actions.sessions import SessionNotRecordable, do_end_case, do_record_session
from measures.models import SurveyInvitation
from measures.tasks import nightly_sweep, send_due_reminders
from sessions_app.models import Case, TherapySession
from tests.builders import make_invitation, make_session


def test_a_session_still_to_come_cannot_be_marked_attended(case, therapist, mailoutbox):
    future = make_session(case, scheduled_start=timezone.now() + timedelta(days=3), status="scheduled")
    for status in ("attended", "no_show", "late_cancelled"):
        with pytest.raises(SessionNotRecordable, match="not taken place yet"):
            do_record_session(future, status, acting_user=therapist)
    assert do_record_session(future, "cancelled", acting_user=therapist)  # cancelling ahead is fine
    assert not SurveyInvitation.objects.exists() and mailoutbox == []


def test_a_closed_cases_sessions_cannot_be_recorded(case, therapist):
    session = make_session(case, status="scheduled")
    Case.objects.filter(pk=case.pk).update(status="closed", outcome="completed", closed_on=case.opened_on)
    session.case.refresh_from_db()
    with pytest.raises(SessionNotRecordable, match="closed"):
        do_record_session(session, "attended", acting_user=therapist)


def test_unmarking_attended_closes_the_unanswered_checks(client, case, therapist):
    session = make_session(case, status="scheduled")
    do_record_session(session, "attended", acting_user=therapist)
    invitation = SurveyInvitation.objects.get(session=session)
    token = do_issue_token(invitation, "email")
    url = reverse("surveys:survey", args=[token])
    assert client.get(url).status_code == 200
    do_record_session(session, "cancelled", acting_user=therapist)
    response = client.get(url)
    assert response.status_code == 410 and "expired" in response.content.decode()
    invitation.refresh_from_db()
    assert invitation.expires_at > invitation.created_at  # the database's rule still holds


def test_no_reminder_for_a_check_whose_session_was_unmarked(case, therapist, mailoutbox):
    session = make_session(case, days_ago=3, status="scheduled")
    invitation, _ = make_invitation(
        session,
        case.participants.get(),
        sent_at=timezone.now() - timedelta(days=3),
        created_at=timezone.now() - timedelta(days=3),
    )
    TherapySession.objects.filter(pk=session.pk).update(status="attended")
    session.refresh_from_db()
    do_record_session(session, "no_show", acting_user=therapist)
    assert send_due_reminders() == 0 and mailoutbox == []


def test_ending_a_case_closes_its_unanswered_checks(client, case):
    session = make_session(case)
    _, token = make_invitation(session, case.participants.get())
    do_end_case(case, Case.Outcome.DROPPED_OUT, acting_user=None)
    case.refresh_from_db()
    assert case.outcome == "dropped_out" and case.closed_on is not None
    assert client.get(reverse("surveys:survey", args=[token])).status_code == 410


def test_the_sweep_gives_checks_only_to_recent_sessions(case, caplog, mailoutbox):
    recent = make_session(case, days_ago=1)
    old = make_session(case, days_ago=6)
    caplog.set_level("INFO", logger="measures.tasks")
    nightly_sweep()
    assert SurveyInvitation.objects.filter(session=recent).count() == 1
    assert not SurveyInvitation.objects.filter(session=old).exists()
    assert "1 sessions given checks" in caplog.text


@pytest.mark.parametrize("view", ["surveys:complete_now", "surveys:participant_qr"])
def test_an_ended_case_offers_no_hand_over_and_no_qr(login, therapist, case, view):
    session = make_session(case)
    participant = case.participants.get()
    do_end_case(case, Case.Outcome.COMPLETED, acting_user=therapist)
    client = login(therapist)
    url = reverse(view, args=[session.pk, participant.pk])
    response = client.post(url) if view.endswith("complete_now") else client.get(url)
    assert response.status_code == 409 and "This case has ended" in response.content.decode()
    assert not SurveyInvitation.objects.filter(session=session).exists()


def test_a_corrected_misclick_reopens_and_resends_the_checks(
    case, therapist, mailoutbox, django_capture_on_commit_callbacks
):
    session = make_session(case, status="scheduled")
    for status in ("attended", "no_show", "attended"):  # three requests, three transactions
        with django_capture_on_commit_callbacks(execute=True):
            do_record_session(session, status, acting_user=therapist)
    invitation = SurveyInvitation.objects.get(session=session)
    assert invitation.expires_at > timezone.now() + timedelta(days=3)  # open again, full expiry
    assert len(mailoutbox) == 2  # the first email, then the re-sent one with a fresh link


def test_an_old_session_marked_attended_asks_no_check(login, therapist, case, mailoutbox):
    session = make_session(case, days_ago=5, status="scheduled")
    response = login(therapist).post(
        reverse("dashboard:record_session", args=[session.pk]), {"status": "attended"}, follow=True
    )
    assert "No check was sent" in response.content.decode()
    session.refresh_from_db()
    assert session.status == "attended" and not SurveyInvitation.objects.exists() and mailoutbox == []


def test_the_digest_runs_at_0630_in_every_clinic_zone():
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from django.conf import settings

    minutes = settings.CELERY_BEAT_SCHEDULE["send-digests"]["schedule"].minute
    for zone in ("Europe/Madrid", "America/Los_Angeles", "Asia/Kolkata", "Asia/Kathmandu", "America/St_Johns"):
        local = datetime(2026, 12, 7, 6, 30, tzinfo=ZoneInfo(zone))
        assert local.astimezone(ZoneInfo("UTC")).minute in minutes, zone


# One rule for which sessions get a check (issue 9.4) -------------------------------------


@pytest.mark.parametrize("view", ["surveys:complete_now", "surveys:participant_qr"])
def test_an_old_session_is_not_handed_over(login, therapist, case, view):
    session = make_session(case, days_ago=6)
    participant = case.participants.get()
    client = login(therapist)
    target = reverse(view, args=[session.pk, participant.pk])
    response = client.post(target) if view.endswith("complete_now") else client.get(target)
    assert response.status_code == 409 and "sessions of the last two days" in response.content.decode()
    assert not SurveyInvitation.objects.filter(session=session).exists()


def test_an_old_session_marked_attended_offers_no_check_on_the_case_page(login, therapist, case):
    session = make_session(case, days_ago=6, status="scheduled")
    participant = case.participants.get()
    client = login(therapist)
    client.post(reverse("dashboard:record_session", args=[session.pk]), {"status": "attended"})
    body = client.get(reverse("dashboard:case", args=[case.pk])).content.decode()
    assert reverse("dashboard:send_checks", args=[session.pk]) not in body
    assert reverse("surveys:complete_now", args=[session.pk, participant.pk]) not in body
    assert reverse("surveys:participant_qr", args=[session.pk, participant.pk]) not in body


def test_an_old_sessions_open_check_can_still_be_handed_over(login, therapist, case):
    session = make_session(case, days_ago=3)
    participant = case.participants.get()
    make_invitation(session, participant, created_at=session.scheduled_start, days_valid=7)
    body = login(therapist).get(reverse("dashboard:case", args=[case.pk])).content.decode()
    assert reverse("surveys:participant_qr", args=[session.pk, participant.pk]) in body
    assert reverse("dashboard:send_checks", args=[session.pk]) in body


def test_the_survey_names_the_sessions_day_when_it_was_not_today(client, case):
    from datetime import datetime
    from zoneinfo import ZoneInfo

    import time_machine

    participant = case.participants.get()
    session = make_session(case, scheduled_start=datetime(2026, 11, 25, 17, 0, tzinfo=ZoneInfo("UTC")))
    _, token = make_invitation(
        session, participant, created_at=session.scheduled_start, expires_at=session.scheduled_start + timedelta(days=7)
    )
    with time_machine.travel(datetime(2026, 11, 26, 9, 0, tzinfo=ZoneInfo("UTC")), tick=False):
        english = client.get(reverse("surveys:survey", args=[token])).content.decode()
        spanish = client.get(reverse("surveys:survey", args=[token]) + "?lang=es").content.decode()
    assert "how was your session on Wednesday 25 November?" in english
    assert "how was today" not in english
    # The instrument's items say "today" (their wording is versioned with the instrument).
    assert "Where a question says “today”, please answer about that session." in english
    assert "¿cómo fue la sesión del miércoles 25 de noviembre?" in spanish
    with time_machine.travel(datetime(2026, 11, 25, 19, 0, tzinfo=ZoneInfo("UTC")), tick=False):
        same_day = client.get(reverse("surveys:survey", args=[token])).content.decode()
    assert "how was today's session?" in same_day and "Where a question says" not in same_day


def test_the_day_is_the_clinics_day(client, case, clinic):
    from datetime import datetime
    from zoneinfo import ZoneInfo

    import time_machine

    clinic.time_zone = "America/Los_Angeles"
    clinic.save()
    participant = case.participants.get()
    # 18:00 in Los Angeles on 25 November is 02:00 UTC on the 26th; asked at 20:00 the same evening.
    session = make_session(case, scheduled_start=datetime(2026, 11, 25, 18, 0, tzinfo=ZoneInfo("America/Los_Angeles")))
    _, token = make_invitation(
        session, participant, created_at=session.scheduled_start, expires_at=session.scheduled_start + timedelta(days=7)
    )
    with time_machine.travel(datetime(2026, 11, 25, 20, 0, tzinfo=ZoneInfo("America/Los_Angeles")), tick=False):
        body = client.get(reverse("surveys:survey", args=[token])).content.decode()
    assert "session on" not in body


def test_the_email_names_the_sessions_day_in_the_clients_language(case, mailoutbox):
    from datetime import datetime
    from zoneinfo import ZoneInfo

    import time_machine

    from measures.tasks import send_invitation

    participant = case.participants.get()
    participant.language = "es"
    participant.save()
    session = make_session(case, scheduled_start=datetime(2026, 11, 25, 17, 0, tzinfo=ZoneInfo("UTC")))
    with time_machine.travel(datetime(2026, 11, 26, 9, 0, tzinfo=ZoneInfo("UTC")), tick=False):
        invitation, _ = make_invitation(session, participant, days_valid=5)
        send_invitation(invitation.pk)
    assert "¿Cómo te fue la sesión del miércoles 25 de noviembre?" in mailoutbox[0].body
