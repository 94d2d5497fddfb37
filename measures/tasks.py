"""Celery tasks: short adapters that take ids, re-fetch, and call an action.

They act for nobody: every action they call gets acting_user=None, "the system". Actions
queue them by name through measures.queue, so nothing below imports this module.

Every task is idempotent: it claims its work with a conditional update and stops when
that changed nothing, so a retry, a duplicate delivery or a late ack is harmless.
"""

import logging
from datetime import timedelta

from celery import shared_task
from django.db import transaction
from django.db.models import Exists, F, OuterRef, Q
from django.utils import timezone

from accounts.models import Clinic
from sessions_app.models import Case, TherapySession

from . import notifications
from .actions.invitations import do_create_invitations, do_issue_token, sessions_taking_checks
from .evaluation import do_calibrate_clinic, do_evaluate_case
from .models import InvitationToken, Response, Signal, SurveyInvitation

logger = logging.getLogger(__name__)

SWEEP_WINDOW = timedelta(days=14)
# An alert email still unsent after this long is news no more: the case page and digest show it.
ALERT_CATCH_UP = timedelta(days=3)


@shared_task
def evaluate_case(case_id):
    do_evaluate_case(case_id)


@shared_task
def send_invitation(invitation_id):
    """Email a participant their link, once."""
    now = timezone.now()
    # Claim and send in one transaction: if the mail server refuses, the claim is undone and the
    # next reminders run sends the first email instead of it being lost.
    with transaction.atomic():
        claimed = SurveyInvitation.objects.open(now).filter(pk=invitation_id, sent_at__isnull=True).update(sent_at=now)
        if not claimed:
            return
        _email_invitation(invitation_id, reminder=False)


@shared_task
def send_due_reminders():
    """Every 30 minutes: emails that are due and not yet sent, each at most once.

    1. first emails that never went out (the broker was down when the session was recorded),
       and alert emails to therapists that could not be queued or sent;
    2. one reminder per emailed invitation still unanswered `clinic.reminder_after_days` after
       it was created, while it has not expired.
    Each reminder is claimed by a conditional update of reminded_at in the same transaction as
    its email, so two beat runs never send it twice and a failed send is retried next run.
    """
    now = timezone.now()
    open_invitations = (
        SurveyInvitation.objects.open(now).filter(participant__is_active=True).exclude(participant__email="")
    )
    unsent = open_invitations.filter(channel=SurveyInvitation.Channel.EMAIL, sent_at__isnull=True)
    for invitation_id in unsent.values_list("pk", flat=True):
        _one_at_a_time(send_invitation, invitation_id)
    # Alerts whose email could not be queued (broker down) or sent (mail server refused).
    pending_alerts = Signal.objects.alerts_to_notify().filter(updated_at__gte=now - ALERT_CATCH_UP)
    for signal_id in pending_alerts.values_list("pk", flat=True):
        _one_at_a_time(send_flag_alert, signal_id, what="flag")
    reminded = 0
    for clinic in Clinic.objects.only("pk", "reminder_after_days"):
        due = open_invitations.filter(
            session__case__clinic=clinic,
            sent_at__isnull=False,
            reminded_at__isnull=True,
            created_at__lte=now - timedelta(days=clinic.reminder_after_days),
        )
        for invitation_id in due.values_list("pk", flat=True):
            reminded += _one_at_a_time(_send_reminder, invitation_id, now) or 0
    logger.info("reminders: %d sent", reminded)
    return reminded


def _one_at_a_time(send, row_id, *args, what="invitation"):
    """One refused address must not hold up everyone else's email: log it (by id only) and go on."""
    try:
        return send(row_id, *args)
    except Exception:  # SMTP and template errors alike; the claim was rolled back, retried next run
        logger.exception("email for %s %s failed; it will be retried", what, row_id)
        return None


def _send_reminder(invitation_id, now):
    with transaction.atomic():
        unreminded = SurveyInvitation.objects.open(now).filter(pk=invitation_id, reminded_at__isnull=True)
        claimed = unreminded.update(reminded_at=now)
        if not claimed:
            return 0
        _email_invitation(invitation_id, reminder=True)
    return 1


def _email_invitation(invitation_id, *, reminder):
    """Issue the email's own link (each email carries a fresh token) and send it."""
    invitation = SurveyInvitation.objects.select_related("participant", "session__case__clinic").get(pk=invitation_id)
    purpose = InvitationToken.Purpose.REMINDER if reminder else InvitationToken.Purpose.EMAIL
    notifications.send_invitation_email(invitation, do_issue_token(invitation, purpose), reminder=reminder)


@shared_task
def evaluate_expired_checks():
    """Every 30 minutes: re-evaluate the cases whose checks expired unanswered since their last
    evaluation.

    A pending check is neither answered nor skipped; it becomes skipped when its link expires,
    which is only time passing (expires_at), so no action notices it. Idempotent: the evaluation
    moves the case's evaluated_at past the expiry, and the next run finds nothing. Expiries older
    than SWEEP_WINDOW are left to nobody (the nightly sweep re-evaluated them meanwhile).
    """
    now = timezone.now()
    expired = SurveyInvitation.objects.filter(
        completed_at__isnull=True,
        expires_at__lte=now,
        expires_at__gt=now - SWEEP_WINDOW,
        session__status=TherapySession.Status.ATTENDED,
        session__case__status=Case.Status.ACTIVE,
    ).filter(
        Q(session__case__evaluation__isnull=True)
        | Q(expires_at__gt=F("session__case__evaluation__evaluated_at"))
    )
    case_ids = sorted(set(expired.values_list("session__case_id", flat=True)))
    for case_id in case_ids:
        do_evaluate_case(case_id, now=now)
    logger.info("expired checks: %d cases evaluated", len(case_ids))
    return len(case_ids)


@shared_task
def nightly_sweep():
    """Catch up on what a down broker or a missed click left undone, then re-evaluate.

    1. attended sessions that still take checks (sessions_taking_checks: the last two days)
       with no invitations get them;
    2. every active case with a session or response in that window is re-evaluated, so a
       submission made while Redis was down is evaluated here at the latest;
    3. each clinic's own reliability and spread estimates are refreshed (used from tomorrow).
    """
    now = timezone.now()
    since = now - SWEEP_WINDOW
    missing = list(
        sessions_taking_checks(TherapySession.objects.filter(case__status=Case.Status.ACTIVE), now)
        .exclude(Exists(SurveyInvitation.objects.filter(session=OuterRef("pk"))))
        .select_related("case__clinic")
    )
    for session in missing:
        do_create_invitations(session, acting_user=None)
    recent_cases = set(
        TherapySession.objects.filter(scheduled_start__gte=since, scheduled_start__lte=now).values_list(
            "case_id", flat=True
        )
    ) | set(Response.objects.filter(submitted_at__gte=since).values_list("session__case_id", flat=True))
    for case_id in Case.objects.active().filter(pk__in=recent_cases).values_list("pk", flat=True):
        do_evaluate_case(case_id, now=now)
    for clinic in Clinic.objects.all():
        do_calibrate_clinic(clinic, now=now)
    logger.info("nightly sweep: %d sessions given checks, %d cases evaluated", len(missing), len(recent_cases))


@shared_task
def send_flag_alert(signal_id):
    """Tell the therapist an alert opened on one of their cases, once per flag.

    Claim and send in one transaction: a refused send leaves the flag unnotified, and the next
    reminders run (send_due_reminders) sends it.
    """
    with transaction.atomic():
        claimed = Signal.objects.alerts_to_notify().filter(pk=signal_id).update(notified_at=timezone.now())
        if not claimed:
            return
        signal = Signal.objects.select_related("case__therapist", "participant").get(pk=signal_id)
        therapist = signal.case.therapist
        # Never to someone of another clinic (a therapist moved while still named on the case).
        if therapist is None or not therapist.is_active or therapist.clinic_id != signal.case.clinic_id:
            return
        notifications.send_flag_alert_email(signal)


@shared_task
def compute_clinic_overviews(clinic_id=None):
    """Hourly: recompute and cache each clinic's overview figures (or one clinic's). Idempotent:
    each run overwrites the clinic's one ClinicOverview row with figures as of now."""
    from .models import ClinicOverview
    from .overview import compute_overview

    now = timezone.now()
    clinics = Clinic.objects.all() if clinic_id is None else Clinic.objects.filter(pk=clinic_id)
    for clinic in clinics:
        payload = compute_overview(clinic, now=now)
        ClinicOverview.objects.update_or_create(clinic=clinic, defaults={"payload": payload, "computed_at": now})
