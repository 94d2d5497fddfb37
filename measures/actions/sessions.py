"""Recording, moving and removing sessions and closing cases, with what that does to their checks.

Which sessions get a check is one rule, measures.actions.invitations.takes_new_checks: marking
attended, "Send check", "complete now", the QR code, the nightly sweep and the case page ask it.
"""

from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from sessions_app import actions as session_rows
from sessions_app.actions import SessionConflict, do_close_case, do_set_session_status, record_case_event
from sessions_app.models import Case, CaseEvent, TherapySession

from ..models import Response, Signal, SurveyInvitation
from ..queue import queue_on_commit
from .invitations import (
    SEND_INVITATION,
    do_create_invitations,
    expire_open_invitations,
    is_within_check_window,
    reopen_invitations,
    takes_new_checks,
)

# A second "send check" within this time re-sends nothing: a double click is not a second email.
RESEND_AFTER = timedelta(minutes=10)


class SessionNotRecordable(ValueError):
    """The session cannot take this status (closed case, or a session still to come)."""


def has_answers(session):
    """Whether any client answered this session's check: changing its record then needs a confirmation."""
    return Response.objects.filter(session=session).exists()


@transaction.atomic
def do_record_session(session, status, *, acting_user, now=None):
    """Mark a session attended / no-show / cancelled. A recent attended session gets its checks.

    Raises SessionNotRecordable for a closed case, or for "attended"/"no-show"/"late cancel" on
    a session that has not started yet (its clients would be asked about a session to come).
    Moving a session away from "attended" closes its unanswered checks; moving it back (a
    corrected misclick) reopens and re-sends them. Checks are asked only for sessions of the last
    two days (takes_new_checks). Any change is recorded (a SESSION_RECORDED CaseEvent) and
    re-evaluates the case on commit.
    """
    now = now or timezone.now()
    if session.case.status != Case.Status.ACTIVE:
        raise SessionNotRecordable("This case is closed: its sessions can no longer be changed.")
    if status in TherapySession.COUNTED and session.scheduled_start > now:
        raise SessionNotRecordable("This session has not taken place yet.")
    was_attended = session.status == TherapySession.Status.ATTENDED
    changed = do_set_session_status(session, status, acting_user=acting_user)
    if status == TherapySession.Status.ATTENDED and is_within_check_window(session, now):
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
    when the session still takes new checks (takes_new_checks), and re-sends by email the open
    ones not answered yet whose last email is older than RESEND_AFTER. Returns (created, resent)
    counts. Records CHECKS_CREATED / CHECKS_RESENT CaseEvents. `acting_user` is the case's
    therapist (checked by the view). Raises SessionNotRecordable for a closed case, a session that
    is not marked attended, or an older session that has no open check to re-send.
    """
    now = now or timezone.now()
    if session.case.status != Case.Status.ACTIVE:
        raise SessionNotRecordable("This case is closed: no more checks are sent for its sessions.")
    if session.status != TherapySession.Status.ATTENDED:
        raise SessionNotRecordable("Checks are sent for attended sessions only: mark the session attended first.")
    with transaction.atomic():
        fresh = takes_new_checks(session, now)
        created = do_create_invitations(session, acting_user=acting_user, now=now) if fresh else []
        # Claim the re-sends: clearing sent_at lets send_invitation's own claim send once more.
        open_checks = (
            SurveyInvitation.objects.open(now)
            .filter(session=session, participant__is_active=True)
            .exclude(participant__email="")
            .exclude(pk__in=[invitation.pk for invitation in created])
        )
        if not fresh and not open_checks.exists():
            raise SessionNotRecordable(TOO_OLD_FOR_CHECKS)
        due = list(open_checks.exclude(sent_at__gte=now - RESEND_AFTER).values_list("pk", flat=True))
        resent = SurveyInvitation.objects.filter(pk__in=due).update(sent_at=None)
        for pk in due:
            queue_on_commit(SEND_INVITATION, pk)
        if resent:
            record_case_event(
                session.case_id, CaseEvent.Action.CHECKS_RESENT, acting_user=acting_user, session=session, count=resent
            )
    return len(created), resent


TOO_OLD_FOR_CHECKS = "No check was sent: clients are asked only about sessions of the last two days."


class SessionLocked(ValueError):
    """The session has answers (or is in a closed case): it cannot be moved or removed."""


def _check_changeable(session):
    if session.case.status != Case.Status.ACTIVE:
        raise SessionLocked("This case is closed: its sessions can no longer be changed.")
    if has_answers(session):
        raise SessionLocked("This session has answers: it can be corrected, but not moved or removed.")


@transaction.atomic
def do_reschedule_session(session, scheduled_start, *, acting_user, now=None):
    """Move a session that has no answers to another time. Returns True when it moved.

    Raises SessionLocked when it has answers or the case is closed, SessionConflict for a time
    outside the case's life, a time already taken, or a time still to come for a session already
    recorded as attended or missed. Unanswered checks stay (their links keep working); a moved
    session re-evaluates the case on commit, as a correction when it already counted.
    """
    now = now or timezone.now()
    session = TherapySession.objects.select_for_update().select_related("case").get(pk=session.pk)
    _check_changeable(session)
    if session.status in TherapySession.COUNTED and scheduled_start > now:
        raise SessionConflict(
            f"This session is recorded as {session.get_status_display().lower()}: "
            "it cannot move to a time still to come."
        )
    moved = session_rows.do_reschedule_session(session, scheduled_start, acting_user=acting_user, now=now)
    if moved:
        queue_on_commit("measures.tasks.evaluate_case", session.case_id)
    return moved


@transaction.atomic
def do_delete_session(session, *, acting_user):
    """Remove a session entered by mistake, for good: only one that nobody answered.

    Its unanswered checks go with it (their links then say "not found"); a flag pointing at it
    keeps its place in the case's history and is re-pointed by the evaluation queued on commit.
    Raises SessionLocked when it has answers (or a completed check) or the case is closed.
    Recorded on the case as a SESSION_RECORDED CaseEvent {"to": "deleted"}.
    """
    session = TherapySession.objects.select_for_update().select_related("case").get(pk=session.pk)
    _check_changeable(session)
    invitations = SurveyInvitation.objects.filter(session=session)
    if invitations.filter(completed_at__isnull=False).exists():
        raise SessionLocked("This session has answers: it can be corrected, but not moved or removed.")
    invitations.delete()  # their link tokens go with them (CASCADE)
    Signal.objects.filter(session=session).update(session=None)
    session_rows.do_delete_session(session, acting_user=acting_user)
    queue_on_commit("measures.tasks.evaluate_case", session.case_id)
