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


class CaseChangeRefused(ValueError):
    """The change would break a rule of the case (its kind's client count, a closed case, a
    therapist of another clinic); the message says which, for the person who asked."""


PARTICIPANT_FIELDS = ("display_name", "email", "phone", "language", "client_ref")


def check_therapist_for_case(clinic, therapist):
    """A case's therapist is an active therapist of the case's clinic (or nobody yet)."""
    if therapist is None:
        return
    if therapist.clinic_id != clinic.pk or not therapist.is_active or therapist.role != therapist.Role.THERAPIST:
        raise CaseChangeRefused("Cases go to an active therapist of the same clinic.")


@transaction.atomic
def do_create_case(*, clinic, reference, kind, therapist, participants, opened_on=None, acting_user, event_detail=None):
    """Open a case with its participants (a list of dicts: display_name, email, language and
    optionally phone, client_ref). Raises CaseChangeRefused when the number of clients does not
    fit the kind (see Case.participant_count_error) or the therapist is not an active therapist
    of the clinic. Recorded as an OPENED CaseEvent (and an ASSIGNED one when it has a therapist)."""
    error = Case.participant_count_error(kind, len(participants))
    if error:
        raise CaseChangeRefused(error)
    check_therapist_for_case(clinic, therapist)
    case = Case.objects.create(
        clinic=clinic,
        reference=reference,
        kind=kind,
        therapist=therapist,
        opened_on=opened_on or timezone.localdate(),
    )
    for data in participants:
        Participant.objects.create(case=case, **data)
    record_case_event(case.pk, CaseEvent.Action.OPENED, acting_user=acting_user, **(event_detail or {}))
    if therapist is not None:
        record_case_event(
            case.pk, CaseEvent.Action.ASSIGNED, acting_user=acting_user, **{"from": None, "to": therapist.pk}
        )
    return case


@transaction.atomic
def do_assign_case(case, therapist, *, acting_user):
    """Give an active case to `therapist` (an active therapist of its clinic): assigning it or
    transferring it. The previous therapist loses access at once (access follows Case.therapist);
    its sessions, checks and open flags belong to the case and move with it. Recorded as an
    ASSIGNED CaseEvent {"from": old id or None, "to": new id}: the case's history of who had it when.
    Returns False (and records nothing) when the case already is theirs."""
    if not case.is_active:
        raise CaseChangeRefused("This case is closed: reopen it before assigning it.")
    check_therapist_for_case(case.clinic, therapist)
    previous = case.therapist_id
    changed = Case.objects.filter(pk=case.pk).exclude(therapist=therapist).update(therapist=therapist)
    if not changed:
        return False
    case.therapist = therapist
    record_case_event(
        case.pk, CaseEvent.Action.ASSIGNED, acting_user=acting_user, **{"from": previous, "to": therapist.pk}
    )
    return True


def _active_count(case):
    return Participant.objects.filter(case=case, is_active=True).count()


@transaction.atomic
def do_add_participant(case, *, display_name, email="", phone="", language=Participant.Language.ENGLISH, acting_user):
    """Add a member to an active family case (couples and individuals have a fixed number of
    clients). Recorded as a PARTICIPANT_ADDED CaseEvent."""
    if not case.is_active:
        raise CaseChangeRefused("This case is closed.")
    if case.kind != Case.Kind.FAMILY:
        raise CaseChangeRefused("Only a family case takes more clients.")
    if Participant.objects.filter(case=case, display_name=display_name).exists():
        raise CaseChangeRefused(f"This case already has a client called {display_name}.")
    participant = Participant.objects.create(
        case=case, display_name=display_name, email=email, phone=phone, language=language
    )
    record_case_event(case.pk, CaseEvent.Action.PARTICIPANT_ADDED, acting_user=acting_user, participant=participant.pk)
    return participant


@transaction.atomic
def do_remove_participant(participant, *, acting_user):
    """A member leaves a family case: is_active False, never a delete (their answers, sessions
    and flags stay in the case's history). A family keeps at least two active members. Recorded
    as a PARTICIPANT_REMOVED CaseEvent."""
    case = Case.objects.select_for_update().get(pk=participant.case_id)
    if case.kind != Case.Kind.FAMILY:
        raise CaseChangeRefused("Only a member of a family case can leave it; close the case instead.")
    if not participant.is_active:
        return False
    if _active_count(case) <= 2:
        raise CaseChangeRefused("A family case keeps at least two clients; close the case instead.")
    Participant.objects.filter(pk=participant.pk).update(is_active=False)
    participant.is_active = False
    record_case_event(
        case.pk, CaseEvent.Action.PARTICIPANT_REMOVED, acting_user=acting_user, participant=participant.pk
    )
    return True


@transaction.atomic
def do_update_participant(participant, *, acting_user, **changes):
    """Correct a client's display name, contact details or language. Records which fields
    changed (names only, never the values: the audit log is no copy of client data) as a
    PARTICIPANT_UPDATED CaseEvent; returns the changed field names (empty: nothing recorded)."""
    changed = [
        name for name, value in changes.items() if name in PARTICIPANT_FIELDS and getattr(participant, name) != value
    ]
    if not changed:
        return []
    if "display_name" in changed and (
        Participant.objects.filter(case_id=participant.case_id, display_name=changes["display_name"])
        .exclude(pk=participant.pk)
        .exists()
    ):
        raise CaseChangeRefused(f"This case already has a client called {changes['display_name']}.")
    for name in changed:
        setattr(participant, name, changes[name])
    participant.save(update_fields=changed)
    record_case_event(
        participant.case_id,
        CaseEvent.Action.PARTICIPANT_UPDATED,
        acting_user=acting_user,
        participant=participant.pk,
        fields=changed,
    )
    return changed


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
def do_close_case(case, outcome, *, closed_on=None, acting_user):
    """Close an active case with its outcome (Case.Outcome) on `closed_on` (default today, never
    before the case opened). Only the case row: measures.actions.sessions.do_end_case wraps this
    to close its unanswered checks too, and is what views and commands call. Recorded as a
    CLOSED CaseEvent."""
    closed_on = closed_on or timezone.localdate()
    if outcome not in Case.Outcome.values:
        raise CaseChangeRefused("Choose how the case ended.")
    if closed_on < case.opened_on:
        raise CaseChangeRefused("A case cannot close before it opened.")
    changed = Case.objects.filter(pk=case.pk, status=Case.Status.ACTIVE).update(
        status=Case.Status.CLOSED, outcome=outcome, closed_on=closed_on
    )
    if not changed:
        raise CaseChangeRefused("This case is already closed.")
    case.status, case.outcome, case.closed_on = Case.Status.CLOSED, outcome, closed_on
    record_case_event(
        case.pk, CaseEvent.Action.CLOSED, acting_user=acting_user, outcome=outcome, closed_on=closed_on.isoformat()
    )
    return case


@transaction.atomic
def do_reopen_case(case, *, acting_user):
    """Reopen a closed case (closed by mistake, or the client came back). Checks expired at the
    closing stay expired. Recorded as a REOPENED CaseEvent with the outcome it had."""
    previous = case.outcome
    changed = Case.objects.filter(pk=case.pk, status=Case.Status.CLOSED).update(
        status=Case.Status.ACTIVE, outcome="", closed_on=None
    )
    if not changed:
        raise CaseChangeRefused("This case is open already.")
    case.status, case.outcome, case.closed_on = Case.Status.ACTIVE, "", None
    record_case_event(case.pk, CaseEvent.Action.REOPENED, acting_user=acting_user, outcome=previous)
    return case
