"""Celery tasks: short adapters that take ids, re-fetch, and call an action.

They act for nobody: every action they call gets acting_user=None, "the system". Actions
queue them by name through measures.queue, so nothing below imports this module.

Every task is idempotent: it claims its work with a conditional update and stops when
that changed nothing, so a retry, a duplicate delivery or a late ack is harmless.
"""

import logging
from datetime import datetime, timedelta
from itertools import islice

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded
from django.db import InterfaceError, OperationalError, transaction
from django.db.models import Exists, F, OuterRef, Q
from django.utils import timezone

from accounts.models import Clinic
from sessions_app.models import Case, TherapySession

from . import notifications
from .actions.invitations import do_create_invitations, do_issue_token, sessions_taking_checks
from .evaluation import do_calibrate_clinic, do_evaluate_case
from .models import CaseEvaluation, InvitationToken, Response, Signal, SurveyInvitation
from .queue import enqueue_safely

logger = logging.getLogger(__name__)

SWEEP_WINDOW = timedelta(days=14)
# An alert email still unsent after this long is news no more: the case page and digest show it.
ALERT_CATCH_UP = timedelta(days=3)
# The sweep's unit of work: a batch of cases is one task of a few seconds (about 30 ms a case), far
# below the 90 s soft limit, so the sweep finishes at any size by adding tasks, not time.
SWEEP_BATCH = 200
# A mark younger than this has its evaluate_case task on the way: the catch-up leaves it be.
CATCH_UP_AFTER = timedelta(minutes=2)
# Cases per catch-up run (every few minutes): a backlog after a long outage drains over a few
# runs instead of one run flooding the queue; the nightly sweep takes every marked case anyway.
CATCH_UP_LIMIT = 20_000


@shared_task
def evaluate_case(case_id):
    """Evaluate a case after a change; a no-op when an earlier run already saw the change."""
    do_evaluate_case(case_id, if_needed=True)


@shared_task
def evaluate_cases(case_ids, since=None):
    """One batch of the sweep or the catch-up: evaluate each case, one transaction per case.

    Idempotent: with `since` (the sweep's start, ISO 8601) a case evaluated since then and not
    marked again is skipped, so a redelivered batch costs one query. Without it (the catch-up)
    only cases still marked are evaluated. Near the soft time limit, the cases not yet done are
    queued as a new batch instead of being lost with this one.
    """
    pending = list(case_ids)
    if since is not None:
        done = CaseEvaluation.objects.filter(
            case_id__in=pending, evaluated_at__gte=datetime.fromisoformat(since), case__needs_evaluation_since=None
        ).values_list("case_id", flat=True)
        skip = set(done)
        pending = [pk for pk in pending if pk not in skip]
    evaluated = 0
    try:
        while pending:
            case_id = pending[0]
            try:
                evaluated += do_evaluate_case(case_id, if_needed=since is None) is not None
            except (SoftTimeLimitExceeded, OperationalError, InterfaceError):
                raise  # retried whole by the task's policy: done cases are skipped then
            except Exception:  # one broken case must not hold up the batch; its mark stays, logged
                logger.exception("evaluation of case %s failed", case_id)
            pending.pop(0)
    except SoftTimeLimitExceeded:
        logger.warning("evaluation batch cut at its time limit; %d cases queued again", len(pending))
        enqueue_safely("measures.tasks.evaluate_cases", pending, since)
    return evaluated


@shared_task
def calibrate_clinic(clinic_id):
    """Refresh one clinic's reliability and spread estimates (used by its evaluations from then)."""
    clinic = Clinic.objects.filter(pk=clinic_id).first()
    if clinic is not None:
        do_calibrate_clinic(clinic)


@shared_task
def create_missing_invitations(session_ids):
    """One batch of the sweep's step 1: checks for attended sessions that have none (idempotent)."""
    sessions = (
        TherapySession.objects.filter(pk__in=session_ids)
        .exclude(Exists(SurveyInvitation.objects.filter(session=OuterRef("pk"))))
        .select_related("case__clinic")
    )
    for session in sessions:
        do_create_invitations(session, acting_user=None)


@shared_task
def catch_up_evaluations():
    """Every few minutes: evaluate the cases whose evaluation was never queued or got lost
    (the broker was down), by their "needs evaluation" mark, oldest mark first, in batches."""
    marked = (
        Case.objects.filter(needs_evaluation_since__lte=timezone.now() - CATCH_UP_AFTER)
        .order_by("needs_evaluation_since", "pk")
        .values_list("pk", flat=True)[:CATCH_UP_LIMIT]
    )
    return _fan_out("measures.tasks.evaluate_cases", marked)


def _fan_out(task_name, ids, *args):
    """Queue `task_name` once per SWEEP_BATCH ids (in their order). Returns how many ids were queued."""
    queued, ids = 0, iter(ids)
    while batch := list(islice(ids, SWEEP_BATCH)):
        if enqueue_safely(task_name, batch, *args):
            queued += len(batch)
    return queued


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

    It only decides what to do and queues it, one task per batch, so it finishes at any size:
    1. attended sessions that still take checks (sessions_taking_checks: the last two days)
       with no invitations get them (create_missing_invitations);
    2. every case marked "needs evaluation", and every active case with a session or response in
       the last 14 days, is re-evaluated (evaluate_cases), the longest unevaluated first;
    3. each clinic's own reliability and spread estimates are refreshed (calibrate_clinic,
       one task per clinic; used from then on).
    """
    now = timezone.now()
    since = now - SWEEP_WINDOW
    missing = (
        sessions_taking_checks(TherapySession.objects.filter(case__status=Case.Status.ACTIVE), now)
        .exclude(Exists(SurveyInvitation.objects.filter(session=OuterRef("pk"))))
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    sessions = _fan_out("measures.tasks.create_missing_invitations", missing.iterator(chunk_size=2000))
    recent = Exists(
        TherapySession.objects.filter(case=OuterRef("pk"), scheduled_start__gte=since, scheduled_start__lte=now)
    ) | Exists(Response.objects.filter(session__case=OuterRef("pk"), submitted_at__gte=since))
    due = (
        Case.objects.filter(Q(needs_evaluation_since__isnull=False) | (Q(status=Case.Status.ACTIVE) & recent))
        # Oldest verdict first (never evaluated before all): if the night's work is cut short,
        # tomorrow's sweep starts with the cases it did not reach, not the same low ids again.
        .order_by(F("evaluation__evaluated_at").asc(nulls_first=True), "pk")
        .values_list("pk", flat=True)
    )
    cases = _fan_out("measures.tasks.evaluate_cases", due.iterator(chunk_size=2000), now.isoformat())
    clinics = 0
    for clinic_id in Clinic.objects.order_by("pk").values_list("pk", flat=True):
        clinics += enqueue_safely("measures.tasks.calibrate_clinic", clinic_id)
    logger.info(
        "nightly sweep queued: %d sessions given checks, %d cases evaluated, %d clinics calibrated",
        sessions,
        cases,
        clinics,
    )
    return cases


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
