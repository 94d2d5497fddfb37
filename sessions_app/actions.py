"""State changes for cases, participants and sessions. Views, tasks and commands call these."""

from django.db import IntegrityError, transaction
from django.utils import timezone

from .models import Case, Participant, TherapySession


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
            return TherapySession.objects.create(case=case, scheduled_start=scheduled_start)
    except IntegrityError as exc:
        raise SessionConflict("There is already a session at that time.") from exc


def do_set_session_status(session, status, *, acting_user):
    """Record what happened to a session. Returns True when the status changed.

    The conditional update makes a double click or a retried request a no-op.
    """
    changed = (
        TherapySession.objects.filter(pk=session.pk)
        .exclude(status=status)
        .update(status=status, status_changed_at=timezone.now())
    )
    if changed:
        session.status = status
    return bool(changed)


@transaction.atomic
def do_close_case(case, status, *, closed_on=None, acting_user):
    """Close a case as completed, dropped out or transferred."""
    case.status = status
    case.closed_on = closed_on or timezone.localdate()
    case.save(update_fields=["status", "closed_on"])
    return case
