"""The therapist's digest email: open flags and unanswered checks, first names and links only."""

import logging
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse

from accounts.models import User
from measures.models import Signal, SurveyInvitation
from sessions_app.models import Case

logger = logging.getLogger(__name__)

PERIOD = {User.Digest.DAILY: timedelta(days=1), User.Digest.WEEKLY: timedelta(days=7)}


@dataclass
class DigestCase:
    url: str
    flags: list = field(default_factory=list)  # (first name, flag kind label, severity)
    unanswered: dict = field(default_factory=dict)  # first name -> count


def compute_digest(user, *, now):
    """What the user's digest lists, per case (ordered by case id): two queries.

    Open warning/alert flags of their active cases, and the checks of the digest's period
    (a day, or a week) still unanswered. Nothing else about the client than a first name.
    """
    period = PERIOD.get(user.digest, PERIOD[User.Digest.DAILY])
    cases = Case.objects.filter(therapist=user, status=Case.Status.ACTIVE)
    by_case = {}

    def entry(case_id):
        if case_id not in by_case:
            by_case[case_id] = DigestCase(url=settings.SITE_URL + reverse("dashboard:case", args=[case_id]))
        return by_case[case_id]

    flags = (
        Signal.objects.open()
        .filter(case__in=cases)
        .exclude(severity=Signal.Severity.INFO)
        .select_related("participant")
        .order_by("case_id", "-opened_at")
    )
    for flag in flags:
        entry(flag.case_id).flags.append((flag.participant.first_name, flag.get_kind_display(), flag.severity))
    invitations = (
        SurveyInvitation.objects.filter(
            session__case__in=cases, completed_at__isnull=True, created_at__gte=now - period, created_at__lte=now
        )
        .select_related("participant", "session")
        .order_by("session__case_id", "created_at")
    )
    for invitation in invitations:
        unanswered = entry(invitation.session.case_id).unanswered
        name = invitation.participant.first_name
        unanswered[name] = unanswered.get(name, 0) + 1
    return [by_case[case_id] for case_id in sorted(by_case)]


def do_send_digest(user, *, now):
    """Email the user their digest for today (UTC), at most once a day. Returns True if one was sent.

    The day is claimed with a conditional update on User.last_digest_on in the same transaction
    as the sending, so two beat runs (or a retried task) send one email; a failed send rolls the
    claim back and the next run tries again. Nothing to report sends nothing (the day stays claimed).
    """
    today = now.date()
    with transaction.atomic():
        claimed = (
            User.objects.filter(pk=user.pk, is_active=True).exclude(last_digest_on=today).update(last_digest_on=today)
        )
        if not claimed:
            return False
        cases = compute_digest(user, now=now)
        if not cases:
            return False
        context = {
            "user": user,
            "cases": cases,
            "flag_count": sum(len(c.flags) for c in cases),
            "unanswered_count": sum(sum(c.unanswered.values()) for c in cases),
            "weekly": user.digest == User.Digest.WEEKLY,
            "settings_url": settings.SITE_URL + reverse("dashboard:notification_settings"),
        }
        subject = render_to_string("dashboard/email/digest_subject.txt", context).strip()
        body = render_to_string("dashboard/email/digest_body.txt", context)
        send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [user.email])
    return True


def due_digest_users(*, now):
    """Therapists whose digest is due today: daily ones every day, weekly ones on Mondays."""
    today = now.date()
    choices = [User.Digest.DAILY] + ([User.Digest.WEEKLY] if today.weekday() == 0 else [])
    return (
        User.objects.filter(role=User.Role.THERAPIST, is_active=True, clinic__isnull=False, digest__in=choices)
        .exclude(last_digest_on=today)
        .order_by("pk")
    )
