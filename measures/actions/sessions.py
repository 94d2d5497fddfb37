"""Recording sessions and closing cases, with what that does to their checks."""

from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from sessions_app.actions import do_close_case, do_set_session_status, record_case_event
from sessions_app.models import Case, CaseEvent, TherapySession

from ..models import SurveyInvitation
from ..queue import queue_on_commit
from .invitations import SEND_INVITATION, do_create_invitations, expire_open_invitations, reopen_invitations

# Checks are asked only for recent sessions: the email asks how "today's session" went.
LATE_CHECK_WINDOW = timedelta(days=2)
# A second "send check" within this time re-sends nothing: a double click is not a second email.
RESEND_AFTER = timedelta(minutes=10)


class SessionNotRecordable(ValueError):
    """The session cannot take this status (closed case, or a session still to come)."""


def asks_for_checks(session, now):
    """Whether marking this session attended now asks its clients for a check: only for a
    session of the last LATE_CHECK_WINDOW (the email asks how today's session went)."""
    return now - session.scheduled_start <= LATE_CHECK_WINDOW


@transaction.atomic
def do_record_session(session, status, *, acting_user, now=None):
    """Mark a session attended / no-show / cancelled. A recent attended session gets its checks.

    Raises SessionNotRecordable for a closed case, or for "attended"/"no-show"/"late cancel" on
    a session that has not started yet (its clients would be asked about a session to come).
    Moving a session away from "attended" closes its unanswered checks; moving it back (a
    corrected misclick) reopens and re-sends them. Checks are asked only for sessions of the last
    two days (see asks_for_checks). Any change is recorded (a SESSION_RECORDED CaseEvent) and
    re-evaluates the case on commit.
    """
    now = now or timezone.now()
    if session.case.status != Case.Status.ACTIVE:
        raise SessionNotRecordable("This case is closed: its sessions can no longer be changed.")
    if status in TherapySession.COUNTED and session.scheduled_start > now:
        raise SessionNotRecordable("This session has not taken place yet.")
    was_attended = session.status == TherapySession.Status.ATTENDED
    changed = do_set_session_status(session, status, acting_user=acting_user)
    if status == TherapySession.Status.ATTENDED and asks_for_checks(session, now):
        if not was_attended:
            reopen_invitations(session, now)
        do_create_invitations(session, acting_user=acting_user, now=now)
    elif status != TherapySession.Status.ATTENDED and was_attended:
        expire_open_invitations(SurveyInvitation.objects.filter(session=session), now)
    if changed:
        queue_on_commit("measures.tasks.evaluate_case", session.case_id)
    return changed


@transaction.atomic
def do_end_case(case, outcome, *, closed_on=None, acting_user, now=None):
    """Close a case with its outcome (Case.Outcome: completed / dropped out / referred / other)
    and its unanswered checks. Raises CaseChangeRefused for a closed case. Recorded as a CLOSED
    CaseEvent."""
    do_close_case(case, outcome, closed_on=closed_on, acting_user=acting_user)
    expire_open_invitations(SurveyInvitation.objects.filter(session__case=case), now or timezone.now())
    return case


def do_send_checks(session, *, acting_user, now=None):
    """Send the post-session checks of an attended session from the case page.

    Creates the missing invitations (emailed on commit, as when the session was marked attended)
    and re-sends by email the open ones not answered yet whose last email is older than
    RESEND_AFTER. Returns (created, resent) counts. Records CHECKS_CREATED / CHECKS_RESENT
    CaseEvents. `acting_user` is the case's therapist (checked by the view). Raises
    SessionNotRecordable for a closed case or a session that is not marked attended.
    """
    now = now or timezone.now()
    if session.case.status != Case.Status.ACTIVE:
        raise SessionNotRecordable("This case is closed: no more checks are sent for its sessions.")
    if session.status != TherapySession.Status.ATTENDED:
        raise SessionNotRecordable("Checks are sent for attended sessions only: mark the session attended first.")
    with transaction.atomic():
        created = do_create_invitations(session, acting_user=acting_user, now=now)
        # Claim the re-sends: clearing sent_at lets send_invitation's own claim send once more.
        due = list(
            SurveyInvitation.objects.open(now)
            .filter(session=session, participant__is_active=True)
            .exclude(participant__email="")
            .exclude(pk__in=[invitation.pk for invitation in created])
            .exclude(sent_at__gte=now - RESEND_AFTER)
            .values_list("pk", flat=True)
        )
        resent = SurveyInvitation.objects.filter(pk__in=due).update(sent_at=None)
        for pk in due:
            queue_on_commit(SEND_INVITATION, pk)
        if resent:
            record_case_event(
                session.case_id, CaseEvent.Action.CHECKS_RESENT, acting_user=acting_user, session=session, count=resent
            )
    return len(created), resent
