"""State changes for cases, participants and sessions. Views, tasks and commands call these.

Each records who made it (`acting_user`; None is the system) as a CaseEvent row.
"""

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
    """The case already has a session at that time, or is closed."""


def do_schedule_session(case, scheduled_start, *, acting_user):
    """Add a scheduled session to an active case. Raises SessionConflict for a closed case or a
    second session at the same moment (the unique constraint settles a double submit)."""
    if case.status != Case.Status.ACTIVE:
        raise SessionConflict("This case is closed.")
    try:
        with transaction.atomic():
            session = TherapySession.objects.create(case=case, scheduled_start=scheduled_start)
            record_case_event(case.pk, CaseEvent.Action.SESSION_SCHEDULED, acting_user=acting_user, session=session)
    except IntegrityError as exc:
        raise SessionConflict("There is already a session at that time.") from exc
    return session


@transaction.atomic
def do_set_session_status(session, status, *, acting_user):
    """Record what happened to a session. Returns True when the status changed.

    The conditional update makes a double click or a retried request a no-op (and records nothing).
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
