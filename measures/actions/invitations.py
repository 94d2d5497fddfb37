"""Invitations (the post-session checks) and their link tokens."""

import secrets
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.db.models import F, Value
from django.db.models.functions import Greatest
from django.utils import timezone

from sessions_app.actions import record_case_event
from sessions_app.models import Case, CaseEvent, TherapySession

from ..models import InvitationToken, SurveyInvitation, hash_token
from ..queue import queue_on_commit

TOKEN_BYTES = 24  # 192 bits of randomness, URL-safe
SEND_INVITATION = "measures.tasks.send_invitation"

# The one rule for which sessions get a check: one that started at most this long ago. Older,
# a client no longer remembers it well enough to rate it; the survey and the email name its date
# when it was not today. A check already created stays answerable (and is reminded, re-sent)
# until it expires.
LATE_CHECK_WINDOW = timedelta(days=2)


def takes_new_checks(session, now=None):
    """Whether new checks may be created for this session now: it is attended, has started, and
    started within LATE_CHECK_WINDOW. The single rule; see sessions_taking_checks for queries."""
    now = now or timezone.now()
    return session.status == TherapySession.Status.ATTENDED and is_within_check_window(session, now)


def is_within_check_window(session, now):
    """Whether the session started, at most LATE_CHECK_WINDOW before `now`."""
    return now - LATE_CHECK_WINDOW <= session.scheduled_start <= now


def sessions_taking_checks(sessions, now):
    """The same rule as takes_new_checks, as a filter on a TherapySession queryset."""
    return sessions.filter(
        status=TherapySession.Status.ATTENDED,
        scheduled_start__gte=now - LATE_CHECK_WINDOW,
        scheduled_start__lte=now,
    )


class SurveyClosed(Exception):
    """The invitation can no longer be answered: completed (perhaps concurrently) or expired."""

    def __init__(self, reason="completed"):
        super().__init__(reason)
        self.reason = reason


def do_create_invitations(session, *, acting_user, channel=SurveyInvitation.Channel.EMAIL, now=None):
    """Create one invitation per active participant of an attended session that has none.

    Idempotent: existing invitations are kept (the unique constraint settles races).
    Returns the invitations created; emailing them is queued on commit. Records a CHECKS_CREATED
    CaseEvent when it created any (`acting_user` None: the nightly sweep).
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
            # A down broker must not fail the therapist's request: send_due_reminders catches up.
            queue_on_commit(SEND_INVITATION, invitation.pk)
    if created:
        _record_created(session, created, channel, acting_user)
    return created


def _record_created(session, invitations, channel, acting_user):
    record_case_event(
        session.case_id,
        CaseEvent.Action.CHECKS_CREATED,
        acting_user=acting_user,
        session=session,
        count=len(invitations),
        channel=channel,
    )


def do_ensure_room_invitation(session, participant, *, acting_user, now=None):
    """The open invitation of a participant for an attended session, for the tablet or a QR code.

    Creates it (channel tablet, no email) when the participant has none, e.g. someone added to
    the case after the session was marked attended, and records that as a CHECKS_CREATED
    CaseEvent. Raises SurveyClosed("not_attended") for a session that did not take place,
    SurveyClosed("completed") or SurveyClosed("expired") when the check can no longer be
    answered, SurveyClosed("case_closed") once the case has ended, SurveyClosed("too_late") when
    there is no check to create for a session older than the check window (the one rule,
    takes_new_checks). `acting_user` is the case's therapist (checked by
    the view).
    """
    now = now or timezone.now()
    if session.case.status != Case.Status.ACTIVE:
        raise SurveyClosed("case_closed")
    if session.status != TherapySession.Status.ATTENDED:
        raise SurveyClosed("not_attended")
    if participant.case_id != session.case_id:
        raise ValueError("the participant is not in this session's case")
    if not takes_new_checks(session, now) and not session.invitations.filter(participant=participant).exists():
        raise SurveyClosed("too_late")
    try:
        with transaction.atomic():
            invitation, created = SurveyInvitation.objects.get_or_create(
                session=session,
                participant=participant,
                defaults={
                    "channel": SurveyInvitation.Channel.TABLET,
                    "created_at": now,
                    "expires_at": now + timedelta(days=session.case.clinic.invitation_expiry_days),
                },
            )
            if created:
                _record_created(session, [invitation], SurveyInvitation.Channel.TABLET, acting_user)
    except IntegrityError:
        # Created concurrently (the sweep, a double click): use that one.
        invitation = SurveyInvitation.objects.get(session=session, participant=participant)
    if invitation.is_completed:
        raise SurveyClosed("completed")
    if invitation.is_expired(now):
        raise SurveyClosed("expired")
    return invitation


def do_issue_token(invitation, purpose):
    """Issue a fresh link token for an invitation and store only its hash. Returns the token.

    The InvitationToken row (purpose, created_at) is the record: a tablet or QR link is issued
    for the case's therapist, an email or reminder link by a task.
    """
    token = secrets.token_urlsafe(TOKEN_BYTES)
    InvitationToken.objects.create(invitation=invitation, token_hash=hash_token(token), purpose=purpose)
    return token


@transaction.atomic
def do_replace_qr_link(invitation):
    """Issue the invitation's QR link and revoke its earlier ones. Returns the token.

    Only hashes are stored, so a QR page cannot show the same link twice; instead at most one QR
    link is live per check. The invitation's row lock makes two concurrent views leave one, not two.
    """
    SurveyInvitation.objects.select_for_update().filter(pk=invitation.pk).first()
    InvitationToken.objects.filter(invitation=invitation, purpose=InvitationToken.Purpose.QR).delete()
    return do_issue_token(invitation, InvitationToken.Purpose.QR)


def reopen_invitations(session, now):
    """A session marked attended again: its unanswered checks get a fresh expiry and are re-sent.
    Part of do_record_session (which records the change)."""
    reopened = SurveyInvitation.objects.filter(session=session, completed_at__isnull=True)
    pks = list(reopened.values_list("pk", flat=True))
    reopened.update(
        expires_at=now + timedelta(days=session.case.clinic.invitation_expiry_days), sent_at=None, reminded_at=None
    )
    emailed = SurveyInvitation.objects.filter(pk__in=pks, participant__is_active=True).exclude(participant__email="")
    for pk in emailed.values_list("pk", flat=True):
        queue_on_commit(SEND_INVITATION, pk)


def expire_open_invitations(invitations, now):
    """End unanswered invitations now: their links then say "expired", no reminder goes out.
    Part of do_record_session and do_end_case (which record the change)."""
    # The database requires expiry after creation, even for one created this very microsecond.
    return invitations.open(now).update(expires_at=Greatest(Value(now), F("created_at") + timedelta(microseconds=1)))


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
