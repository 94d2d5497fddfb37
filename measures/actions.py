"""State changes for instruments, invitations, responses and signals.

The only code that writes these rows. Work that leaves the process (email, re-evaluation)
is queued with transaction.on_commit so it never runs for a rolled-back change.
"""

import logging
import secrets
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.db.models import F, Value
from django.db.models.functions import Greatest
from django.utils import timezone
from kombu.exceptions import KombuError

from sessions_app.actions import do_close_case, do_set_session_status
from sessions_app.models import Case, TherapySession

from .definitions import DefinitionError, bundled_definitions, read_definition
from .models import (
    Answer,
    Instrument,
    InvitationToken,
    Item,
    Response,
    Signal,
    SignalAction,
    SurveyInvitation,
    hash_token,
)
from .scoring import compute_scores

logger = logging.getLogger(__name__)

TOKEN_BYTES = 24  # 192 bits of randomness, URL-safe
TABLET_LINK_LIFETIME = timedelta(hours=2)
# Checks are asked only for recent sessions: the email asks how "today's session" went.
LATE_CHECK_WINDOW = timedelta(days=2)


class SessionNotRecordable(ValueError):
    """The session cannot take this status (closed case, or a session still to come)."""


class SurveyClosed(Exception):
    """The invitation can no longer be answered: completed (perhaps concurrently) or expired."""

    def __init__(self, reason="completed"):
        super().__init__(reason)
        self.reason = reason


# Instruments -----------------------------------------------------------------------------


@transaction.atomic
def do_load_instrument(definition):
    """Store a validated definition (from measures.definitions). Idempotent for the same content.

    Loading a different definition under a code and version already loaded raises
    DefinitionError: a changed questionnaire needs a new version, so old answers keep their items.
    """
    existing = Instrument.objects.filter(code=definition["code"], version=definition["version"]).first()
    if existing is not None:
        if existing.definition != definition:
            raise DefinitionError(
                f"{definition['code']} version {definition['version']} is already loaded with other content; "
                "give the changed definition a new version number"
            )
        return existing, False
    instrument = Instrument.objects.create(
        code=definition["code"],
        version=definition["version"],
        name=definition["name"],
        psychometrics=definition["psychometrics"],
        definition=definition,
    )
    Item.objects.bulk_create(
        Item(instrument=instrument, **item) for item in definition["items"]
    )
    return instrument, True


def do_load_bundled_instruments():
    """Load every definition shipped in measures/instruments/ (run after each migrate)."""
    return [do_load_instrument(read_definition(path))[0] for path in bundled_definitions()]


def get_clinic_instrument(clinic):
    instrument = Instrument.objects.latest_version(clinic.instrument_code)
    if instrument is None:
        raise Instrument.DoesNotExist(f"instrument {clinic.instrument_code!r} is not loaded")
    return instrument


def items_for_case(instrument, case):
    """The items a participant of this case is asked, in order (prefetched items are reused)."""
    items = list(instrument.items.all())
    if case.is_multi_person:
        return items
    return [item for item in items if item.audience == Item.Audience.ALL]


# Invitations ----------------------------------------------------------------------------


def do_create_invitations(session, *, channel=SurveyInvitation.Channel.EMAIL, now=None):
    """Create one invitation per active participant of an attended session that has none.

    Idempotent: existing invitations are kept (the unique constraint settles races).
    Returns the invitations created; emailing them is queued on commit.
    """
    now = now or timezone.now()
    clinic = session.case.clinic
    created = []
    for participant in session.case.participants.filter(is_active=True):
        try:
            with transaction.atomic():
                invitation = SurveyInvitation.objects.create(
                    session=session,
                    participant=participant,
                    channel=channel,
                    created_at=now,
                    expires_at=now + timedelta(days=clinic.invitation_expiry_days),
                )
        except IntegrityError:
            continue
        created.append(invitation)
        if channel == SurveyInvitation.Channel.EMAIL and participant.email:
            from .tasks import send_invitation

            # A down broker must not fail the therapist's request: send_due_reminders catches up.
            transaction.on_commit(lambda pk=invitation.pk: enqueue_safely(send_invitation, pk))
    return created


def do_ensure_room_invitation(session, participant, *, acting_user, now=None):
    """The open invitation of a participant for an attended session, for the tablet or a QR code.

    Creates it (channel tablet, no email) when the participant has none, e.g. someone added to
    the case after the session was marked attended. Raises SurveyClosed("not_attended") for a
    session that did not take place, SurveyClosed("completed") or SurveyClosed("expired") when
    the check can no longer be answered, SurveyClosed("case_closed") once the case has ended.
    `acting_user` is the case's therapist (checked by the view).
    """
    now = now or timezone.now()
    if session.case.status != Case.Status.ACTIVE:
        raise SurveyClosed("case_closed")
    if session.status != TherapySession.Status.ATTENDED:
        raise SurveyClosed("not_attended")
    if participant.case_id != session.case_id:
        raise ValueError("the participant is not in this session's case")
    try:
        with transaction.atomic():
            invitation, _ = SurveyInvitation.objects.get_or_create(
                session=session,
                participant=participant,
                defaults={
                    "channel": SurveyInvitation.Channel.TABLET,
                    "created_at": now,
                    "expires_at": now + timedelta(days=session.case.clinic.invitation_expiry_days),
                },
            )
    except IntegrityError:
        # Created concurrently (the sweep, a double click): use that one.
        invitation = SurveyInvitation.objects.get(session=session, participant=participant)
    if invitation.is_completed:
        raise SurveyClosed("completed")
    if invitation.is_expired(now):
        raise SurveyClosed("expired")
    return invitation


def do_issue_token(invitation, purpose):
    """Issue a fresh link token for an invitation and store only its hash. Returns the token."""
    token = secrets.token_urlsafe(TOKEN_BYTES)
    InvitationToken.objects.create(invitation=invitation, token_hash=hash_token(token), purpose=purpose)
    return token


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
    two days (see asks_for_checks). Any change re-evaluates the case on commit.
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
            _reopen_invitations(session, now)
        do_create_invitations(session, now=now)
    elif status != TherapySession.Status.ATTENDED and was_attended:
        expire_open_invitations(SurveyInvitation.objects.filter(session=session), now)
    if changed:
        queue_case_evaluation(session.case_id)
    return changed


def _reopen_invitations(session, now):
    """A session marked attended again: its unanswered checks get a fresh expiry and are re-sent."""
    from .tasks import send_invitation

    reopened = SurveyInvitation.objects.filter(session=session, completed_at__isnull=True)
    pks = list(reopened.values_list("pk", flat=True))
    reopened.update(
        expires_at=now + timedelta(days=session.case.clinic.invitation_expiry_days), sent_at=None, reminded_at=None
    )
    emailed = SurveyInvitation.objects.filter(pk__in=pks, participant__is_active=True).exclude(participant__email="")
    for pk in emailed.values_list("pk", flat=True):
        transaction.on_commit(lambda pk=pk: enqueue_safely(send_invitation, pk))


@transaction.atomic
def do_end_case(case, status, *, closed_on=None, acting_user, now=None):
    """Close a case (completed / dropped out / transferred) and its unanswered checks."""
    do_close_case(case, status, closed_on=closed_on, acting_user=acting_user)
    expire_open_invitations(SurveyInvitation.objects.filter(session__case=case), now or timezone.now())
    return case


def expire_open_invitations(invitations, now):
    """End unanswered invitations now: their links then say "expired", no reminder goes out."""
    # The database requires expiry after creation, even for one created this very microsecond.
    return invitations.filter(completed_at__isnull=True, expires_at__gt=now).update(
        expires_at=Greatest(Value(now), F("created_at") + timedelta(microseconds=1))
    )


def queue_case_evaluation(case_id):
    from .tasks import evaluate_case

    transaction.on_commit(lambda: enqueue_safely(evaluate_case, case_id))


def enqueue_safely(task, *args):
    """Queue a task; if the broker is down, log it and rely on the nightly sweep to catch up."""
    try:
        task.delay(*args)
    except (KombuError, OSError) as exc:
        # Only broker trouble is absorbed: an error inside an in-process (eager) task must surface.
        logger.warning("could not queue %s (%s); the nightly sweep will catch up", task.name, type(exc).__name__)
        return False
    return True


def lookup_invitation(token, *, now=None):
    """The invitation a link token belongs to, with its case and clinic, or None if unknown.

    A tablet link works only for TABLET_LINK_LIFETIME: it lives in a shared device's history.
    """
    if not token or len(token) > 100:
        return None
    now = now or timezone.now()
    link = (
        InvitationToken.objects.select_related("invitation__participant", "invitation__session__case__clinic")
        .filter(token_hash=hash_token(token))
        .exclude(purpose=InvitationToken.Purpose.TABLET, created_at__lt=now - TABLET_LINK_LIFETIME)
        .first()
    )
    return link.invitation if link else None


def do_revoke_tablet_links(invitation_ids, *, keep_invitation_id=None):
    """Revoke the tablet links of a room's unanswered invitations (all, or all but the current
    person's), so the device's history opens nobody's survey once that turn or the room is over.
    Answered ones keep theirs: the link then only says "already answered"."""
    links = InvitationToken.objects.filter(
        invitation_id__in=invitation_ids,
        invitation__completed_at__isnull=True,
        purpose=InvitationToken.Purpose.TABLET,
    )
    if keep_invitation_id is not None:
        links = links.exclude(invitation_id=keep_invitation_id)
    links.delete()


def do_mark_opened(invitation, *, now=None):
    """Record the first opening of a link. Opening never uses it up (mail scanners prefetch)."""
    SurveyInvitation.objects.filter(pk=invitation.pk, opened_at__isnull=True).update(opened_at=now or timezone.now())


def do_submit_response(invitation, values, *, items, note="", now=None):
    """Store a participant's answers, their scores and the invitation's completion, atomically.

    `values` maps item code → validated value. Raises SurveyClosed("completed") when the
    invitation is already completed, including by a concurrent submission; then nothing is written.
    Raises SurveyClosed("expired") past the invitation's expiry. Re-evaluation of the case is
    queued on commit.
    """
    now = now or timezone.now()
    scores = compute_scores(items, values)
    try:
        with transaction.atomic():
            # Claim the invitation: of concurrent submissions exactly one updates the row (the
            # others wait on its row lock, then find completed_at set and update nothing).
            claimed = SurveyInvitation.objects.filter(
                pk=invitation.pk, completed_at__isnull=True, expires_at__gt=now
            ).update(completed_at=now)
            if not claimed:
                raise SurveyClosed("expired" if invitation.is_expired(now) else "completed")
            response = store_response(invitation, items, values, scores=scores, submitted_at=now, note=note)
            queue_case_evaluation(invitation.session.case_id)
    except IntegrityError as exc:
        # A concurrent submission won the race on the response's unique constraints.
        raise SurveyClosed() from exc
    invitation.completed_at = now
    return response


def store_response(invitation, items, values, *, submitted_at, scores=None, note=""):
    """Write a Response with its stored scores and one Answer per answered item. No checks, no
    claim, no queueing: do_submit_response wraps it for clients; the demo seeding and the test
    builders use it to lay down history exactly as a submission stores it."""
    scores = scores or compute_scores(items, values)
    response = Response.objects.create(
        invitation=invitation,
        session_id=invitation.session_id,
        participant_id=invitation.participant_id,
        instrument=items[0].instrument,
        submitted_at=submitted_at,
        goals=scores.goals,
        tasks=scores.tasks,
        bond=scores.bond,
        total=scores.total,
        shared=scores.shared,
        rupture=scores.rupture,
        note=note,
    )
    Answer.objects.bulk_create(
        Answer(
            response=response,
            item=item,
            value=_stored_value(item, values.get(item.code)),
            text=(values.get(item.code) or "") if item.kind == Item.Kind.TEXT else "",
            scale_min=0 if item.kind == Item.Kind.YES_NO else item.scale_min,
            scale_max=1 if item.kind == Item.Kind.YES_NO else item.scale_max,
        )
        for item in items
        if values.get(item.code) not in (None, "")
    )
    return response


def _stored_value(item, value):
    if item.kind == Item.Kind.RATING:
        return value
    if item.kind == Item.Kind.YES_NO:
        return None if value is None else int(bool(value))
    return None


# Checks sent from the case page ------------------------------------------------------------

# A second "send check" within this time re-sends nothing: a double click is not a second email.
RESEND_AFTER = timedelta(minutes=10)


def do_send_checks(session, *, acting_user, now=None):
    """Send the post-session checks of an attended session from the case page.

    Creates the missing invitations (emailed on commit, as when the session was marked attended)
    and re-sends by email the open ones not answered yet whose last email is older than
    RESEND_AFTER. Returns (created, resent) counts. `acting_user` is the case's therapist
    (checked by the view). Raises SessionNotRecordable for a closed case or a session that is not
    marked attended.
    """
    now = now or timezone.now()
    if session.case.status != Case.Status.ACTIVE:
        raise SessionNotRecordable("This case is closed: no more checks are sent for its sessions.")
    if session.status != TherapySession.Status.ATTENDED:
        raise SessionNotRecordable("Checks are sent for attended sessions only: mark the session attended first.")
    from .tasks import send_invitation

    with transaction.atomic():
        created = do_create_invitations(session, now=now)
        # Claim the re-sends: clearing sent_at lets send_invitation's own claim send once more.
        due = list(
            SurveyInvitation.objects.filter(
                session=session, completed_at__isnull=True, expires_at__gt=now, participant__is_active=True
            )
            .exclude(participant__email="")
            .exclude(pk__in=[invitation.pk for invitation in created])
            .exclude(sent_at__gte=now - RESEND_AFTER)
            .values_list("pk", flat=True)
        )
        resent = SurveyInvitation.objects.filter(pk__in=due).update(sent_at=None)
        for pk in due:
            transaction.on_commit(lambda pk=pk: enqueue_safely(send_invitation, pk))
    return len(created), resent


# Flags (signals) handled by the therapist -------------------------------------------------


def do_mark_case_flags_seen(case, *, acting_user, now=None):
    """The case's therapist opened the case page: its open flags are no longer "new".

    Only the therapist's own look counts (a clinic admin reading the case changes nothing).
    Returns the number of flags marked; the conditional update makes a reload a no-op.
    """
    if case.therapist_id != acting_user.pk:
        return 0
    return Signal.objects.filter(case=case, status__in=Signal.OPEN_STATUSES, seen_at__isnull=True).update(
        seen_at=now or timezone.now()
    )


def _lock_case(case_id):
    # The reconciler (measures.evaluation) holds this row lock while it rewrites a case's flags;
    # taking it here keeps a therapist's change and an evaluation from interleaving.
    Case.objects.select_for_update().filter(pk=case_id).values_list("pk", flat=True).first()


def do_acknowledge_signal(signal, *, acting_user, now=None):
    """Mark an open flag acknowledged ("I have seen it and will address it"). Returns True if it changed.

    Only an OPEN flag changes; acknowledging twice (a double click), or a resolved or cleared
    flag, is a no-op that writes nothing. Appends an ACKNOWLEDGED SignalAction.
    """
    now = now or timezone.now()
    with transaction.atomic():
        _lock_case(signal.case_id)
        changed = Signal.objects.filter(pk=signal.pk, status=Signal.Status.OPEN).update(
            status=Signal.Status.ACKNOWLEDGED, updated_at=now
        )
        if changed:
            SignalAction.objects.create(
                signal_id=signal.pk,
                actor=acting_user,
                action=SignalAction.Action.ACKNOWLEDGED,
                severity=signal.severity,
                created_at=now,
            )
    if changed:
        signal.status = Signal.Status.ACKNOWLEDGED
        signal.updated_at = now
    return bool(changed)


def do_resolve_signal(signal, *, repair, note, acting_user, now=None):
    """Close an open or acknowledged flag with what was done about it. Returns True if it changed.

    `repair` is a SignalAction.Repair value, `note` a short free text (may be empty). The flag
    keeps holds=True: while the engine still finds the condition, the reconciler reopens it
    only on a more severe finding, not on every re-evaluation. A second submission (double
    click) or a flag already closed is a no-op. Appends a RESOLVED SignalAction.
    """
    if repair not in SignalAction.Repair.values:
        raise ValueError(f"unknown repair {repair!r}")
    now = now or timezone.now()
    with transaction.atomic():
        _lock_case(signal.case_id)
        changed = Signal.objects.filter(pk=signal.pk, status__in=Signal.OPEN_STATUSES).update(
            status=Signal.Status.RESOLVED, closed_at=now, updated_at=now
        )
        if changed:
            SignalAction.objects.create(
                signal_id=signal.pk,
                actor=acting_user,
                action=SignalAction.Action.RESOLVED,
                severity=signal.severity,
                repair=repair,
                note=note.strip(),
                created_at=now,
            )
    if changed:
        signal.status = Signal.Status.RESOLVED
        signal.closed_at = signal.updated_at = now
    return bool(changed)
