"""State changes for instruments, invitations, responses and signals.

The only code that writes these rows. Work that leaves the process (email, re-evaluation)
is queued with transaction.on_commit so it never runs for a rolled-back change.
"""

import logging
import secrets
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone

from sessions_app.actions import do_set_session_status
from sessions_app.models import TherapySession

from .definitions import DefinitionError, bundled_definitions, read_definition
from .models import Answer, Instrument, InvitationToken, Item, Response, SurveyInvitation, hash_token
from .scoring import compute_scores

logger = logging.getLogger(__name__)

TOKEN_BYTES = 24  # 192 bits of randomness, URL-safe


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
    the check can no longer be answered. `acting_user` is the case's therapist (checked by the view).
    """
    now = now or timezone.now()
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


@transaction.atomic
def do_record_session(session, status, *, acting_user):
    """Mark a session attended / no-show / cancelled. Attended sessions get their checks.

    Any change re-evaluates the case on commit (a no-show is evidence too).
    """
    changed = do_set_session_status(session, status, acting_user=acting_user)
    if status == TherapySession.Status.ATTENDED:
        do_create_invitations(session)
    if changed:
        queue_case_evaluation(session.case_id)
    return changed


def queue_case_evaluation(case_id):
    from .tasks import evaluate_case

    transaction.on_commit(lambda: enqueue_safely(evaluate_case, case_id))


def enqueue_safely(task, *args):
    """Queue a task; if the broker is down, log it and rely on the nightly sweep to catch up."""
    try:
        task.delay(*args)
    except Exception as exc:  # kombu raises several transport-specific errors
        logger.warning("could not queue %s (%s); the nightly sweep will catch up", task.name, type(exc).__name__)
        return False
    return True


def lookup_invitation(token):
    """The invitation a link token belongs to, with its case and clinic, or None if unknown."""
    if not token or len(token) > 100:
        return None
    link = (
        InvitationToken.objects.select_related("invitation__participant", "invitation__session__case__clinic")
        .filter(token_hash=hash_token(token))
        .first()
    )
    return link.invitation if link else None


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
            response = Response.objects.create(
                invitation=invitation,
                session_id=invitation.session_id,
                participant_id=invitation.participant_id,
                instrument=items[0].instrument,
                submitted_at=now,
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
                    text=values.get(item.code) or "" if item.kind == Item.Kind.TEXT else "",
                    scale_min=0 if item.kind == Item.Kind.YES_NO else item.scale_min,
                    scale_max=1 if item.kind == Item.Kind.YES_NO else item.scale_max,
                )
                for item in items
                if values.get(item.code) not in (None, "")
            )
            queue_case_evaluation(invitation.session.case_id)
    except IntegrityError as exc:
        # A concurrent submission won the race on the response's unique constraints.
        raise SurveyClosed() from exc
    invitation.completed_at = now
    return response


def _stored_value(item, value):
    if item.kind == Item.Kind.RATING:
        return value
    if item.kind == Item.Kind.YES_NO:
        return None if value is None else int(bool(value))
    return None
