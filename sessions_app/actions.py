"""State changes for cases, participants and sessions. Views, tasks and commands call these.

Each records who made it (`acting_user`; None is the system) as a CaseEvent row.
"""

from datetime import timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone

from .models import Case, CaseEvent, Participant, TherapySession


def record_case_event(case_id, action, *, acting_user, session=None, **detail):
    """Append who did what to a case (part of a do_* action, inside its transaction)."""
    return CaseEvent.objects.create(case_id=case_id, session=session, actor=acting_user, action=action, detail=detail)


@transaction.atomic
def do_create_case(*, clinic, reference, kind, therapist, participants, opened_on=None, acting_user):
    """Open a case with its participants (a list of dicts: display_name, email, language)."""
    case = Case.objects.create(
        clinic=clinic,
        reference=reference,
        kind=kind,
        therapist=therapist,
        opened_on=opened_on or timezone.localdate(),
    )
    for data in participants:
        Participant.objects.create(case=case, **data)
    record_case_event(case.pk, CaseEvent.Action.OPENED, acting_user=acting_user)
    return case


class SessionConflict(ValueError):
    """The case already has a session at that time, or is closed, or the time is outside the case's life."""


# How far ahead a session may be booked: further is a typing mistake (9999 for 2026), not a plan.
SCHEDULE_HORIZON = timedelta(days=365)


def check_session_start(case, scheduled_start, *, now=None):
    """Refuse a start outside the case's life: before the day the case opened (it would renumber
    every session), or more than SCHEDULE_HORIZON ahead. Raises SessionConflict with the message
    the form shows beside the field."""
    now = now or timezone.now()
    if scheduled_start > now + SCHEDULE_HORIZON:
        raise SessionConflict("A session can be booked at most a year ahead.")
    if timezone.localdate(scheduled_start) < case.opened_on:
        raise SessionConflict(f"This case opened on {case.opened_on:%-d %b %Y}: a session cannot be before that.")


def do_schedule_session(case, scheduled_start, *, acting_user, now=None):
    """Add a scheduled session to an active case. Raises SessionConflict for a closed case, a time
    outside the case's life (check_session_start) or a second session at the same moment (the
    unique constraint settles a double submit)."""
    if case.status != Case.Status.ACTIVE:
        raise SessionConflict("This case is closed.")
    check_session_start(case, scheduled_start, now=now)
    try:
        with transaction.atomic():
            session = TherapySession.objects.create(case=case, scheduled_start=scheduled_start)
            record_case_event(case.pk, CaseEvent.Action.SESSION_SCHEDULED, acting_user=acting_user, session=session)
    except IntegrityError as exc:
        raise SessionConflict("There is already a session at that time.") from exc
    return session


def do_reschedule_session(session, scheduled_start, *, acting_user, now=None):
    """Move a session to another time. The caller (measures.actions.sessions) has checked that it
    has no answers. Recorded as a SESSION_SCHEDULED CaseEvent with {"from", "to"} and, when the
    session already counted in the series (attended or missed), "correction": the engine's next
    run then records its changes as a correction. Raises SessionConflict as do_schedule_session."""
    case = session.case
    if case.status != Case.Status.ACTIVE:
        raise SessionConflict("This case is closed.")
    check_session_start(case, scheduled_start, now=now)
    previous = session.scheduled_start
    if previous == scheduled_start:
        return False
    try:
        with transaction.atomic():
            TherapySession.objects.filter(pk=session.pk).update(scheduled_start=scheduled_start)
            session.scheduled_start = scheduled_start
            record_case_event(
                case.pk,
                CaseEvent.Action.SESSION_SCHEDULED,
                acting_user=acting_user,
                session=session,
                **{"from": previous.isoformat(), "to": scheduled_start.isoformat()},
                **_correction(session.status),
            )
    except IntegrityError as exc:
        session.scheduled_start = previous
        raise SessionConflict("There is already a session at that time.") from exc
    return True


@transaction.atomic
def do_delete_session(session, *, acting_user):
    """Remove a session entered by mistake. The caller (measures.actions.sessions) has checked it
    has no answers and removed its unanswered checks. The case keeps the record: a SESSION_RECORDED
    CaseEvent {"from": status, "to": "deleted", "scheduled_start"} (the session's earlier events
    stay, detached from the row that no longer exists)."""
    CaseEvent.objects.filter(session=session).update(session=None)
    record_case_event(
        session.case_id,
        CaseEvent.Action.SESSION_RECORDED,
        acting_user=acting_user,
        scheduled_start=session.scheduled_start.isoformat(),
        **{"from": session.status, "to": "deleted"},
        **_correction(session.status),
    )
    TherapySession.objects.filter(pk=session.pk).delete()


def _correction(previous_status):
    """A change to a session that was already recorded is a correction of the record."""
    return {"correction": True} if previous_status != TherapySession.Status.SCHEDULED else {}


@transaction.atomic
def do_set_session_status(session, status, *, acting_user):
    """Record what happened to a session. Returns True when the status changed.

    The conditional update makes a double click or a retried request a no-op (and records nothing).
    Changing a status that was already recorded (not "scheduled") is marked as a correction.
    """
    previous = session.status
    changed = (
        TherapySession.objects.filter(pk=session.pk)
        .exclude(status=status)
        .update(status=status, status_changed_at=timezone.now())
    )
    if changed:
        session.status = status
        record_case_event(
            session.case_id,
            CaseEvent.Action.SESSION_RECORDED,
            acting_user=acting_user,
            session=session,
            **{"from": previous, "to": status},
            **_correction(previous),
        )
    return bool(changed)


@transaction.atomic
def do_close_case(case, status, *, closed_on=None, acting_user):
    """Close a case as completed, dropped out or transferred."""
    case.status = status
    case.closed_on = closed_on or timezone.localdate()
    case.save(update_fields=["status", "closed_on"])
    record_case_event(
        case.pk, CaseEvent.Action.CLOSED, acting_user=acting_user, status=status, closed_on=case.closed_on.isoformat()
    )
    return case
