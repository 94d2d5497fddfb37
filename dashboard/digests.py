"""The digest emails. A therapist's: per case, first names with counts and a link, nothing else.
A clinic admin's: the clinic's loose ends as counts (cases with no active therapist, flags nobody
has opened for UNOPENED_DAYS days, checks and staff invitations whose email never went out).

Beat runs the task every 15 minutes; each therapist gets the digest at the first run at or after
DIGEST_TIME in their clinic's time zone (weekly ones on that zone's Monday), once per local day.
"""

import logging
from dataclasses import dataclass, field
from datetime import time, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import Count, Q
from django.template.loader import render_to_string
from django.urls import reverse

from accounts.models import Clinic, StaffInvitation, User
from measures.models import Signal, SurveyInvitation
from sessions_app.models import Case, TherapySession

from .pages import needs_therapist_q

logger = logging.getLogger(__name__)

DIGEST_TIME = time(6, 30)  # clinic-local
PERIOD = {User.Digest.DAILY: timedelta(days=1), User.Digest.WEEKLY: timedelta(days=7)}
# A flag still unopened after this long is the admin's business: its therapist may be away.
UNOPENED_DAYS = 3
# An email still unsent after this long failed (the sender retries every 30 minutes): it "bounces".
UNSENT_AFTER = timedelta(hours=1)


@dataclass
class DigestPerson:
    first_name: str
    flags: int = 0
    unanswered: int = 0


@dataclass
class DigestCase:
    url: str
    people: dict = field(default_factory=dict)  # participant id -> DigestPerson

    def person(self, participant):
        if participant.pk not in self.people:
            self.people[participant.pk] = DigestPerson(participant.first_name)
        return self.people[participant.pk]


def clinic_today(time_zone, now):
    """The clinic's local date at `now`: the day a digest belongs to (User.last_digest_on)."""
    return now.astimezone(ZoneInfo(time_zone)).date()


def compute_digest(user, *, now):
    """What the user's digest lists, per case (ordered by case id): two queries.

    Per participant, a count of the open warning/alert flags of the user's active cases, and
    a count of unanswered checks: those still open past the clinic's reminder_after_days (the
    client already got the reminder), and those that expired unanswered during the digest's
    period (a day, or a week). Checks of sessions no longer attended are left out.
    Nothing about the client but a first name: no kinds of flag, no scores, no notes.
    """
    period = PERIOD.get(user.digest, PERIOD[User.Digest.DAILY])
    clinic = user.clinic
    # The clinic as well as the therapist: a case of a clinic the user left is not theirs to hear about.
    cases = Case.objects.filter(therapist=user, clinic_id=user.clinic_id, status=Case.Status.ACTIVE)
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
        .order_by("case_id", "participant_id")
    )
    for flag in flags:
        entry(flag.case_id).person(flag.participant).flags += 1
    overdue = Q(expires_at__gt=now, created_at__lte=now - timedelta(days=clinic.reminder_after_days))
    expired = Q(expires_at__gt=now - period, expires_at__lte=now)
    invitations = (
        SurveyInvitation.objects.filter(
            overdue | expired,
            session__case__in=cases,
            session__status=TherapySession.Status.ATTENDED,
            completed_at__isnull=True,
        )
        .select_related("participant", "session")
        .order_by("session__case_id", "participant_id")
    )
    for invitation in invitations:
        entry(invitation.session.case_id).person(invitation.participant).unanswered += 1
    return [by_case[case_id] for case_id in sorted(by_case)]


@dataclass
class AdminDigest:
    needs_therapist: int
    unopened_flags: int
    unopened_cases: int
    unsent_checks: int
    unsent_staff_invitations: int

    @property
    def is_empty(self):
        return not (self.needs_therapist or self.unopened_flags or self.unsent_checks or self.unsent_staff_invitations)


def compute_admin_digest(clinic, *, now):
    """What a clinic admin's digest counts, for their clinic only. Four queries: cases needing a
    therapist; flags (warning/alert) open and unopened for UNOPENED_DAYS days, and over how many
    cases; open email checks never sent an hour after they were created; staff invitations
    still pending and unsent an hour on."""
    active = Case.objects.filter(clinic=clinic, status=Case.Status.ACTIVE)
    needs = active.filter(needs_therapist_q()).count()
    unopened = (
        Signal.objects.filter(
            case__in=active,
            status=Signal.Status.OPEN,
            seen_at__isnull=True,
            opened_at__lte=now - timedelta(days=UNOPENED_DAYS),
        )
        .exclude(severity=Signal.Severity.INFO)
        .aggregate(flags=Count("pk"), cases=Count("case_id", distinct=True))
    )
    unsent_checks = (
        SurveyInvitation.objects.open(now)
        .filter(
            session__case__in=active,
            channel=SurveyInvitation.Channel.EMAIL,
            sent_at__isnull=True,
            created_at__lte=now - UNSENT_AFTER,
        )
        .count()
    )
    unsent_staff = (
        StaffInvitation.objects.pending(now)
        .filter(clinic=clinic, sent_at__isnull=True, created_at__lte=now - UNSENT_AFTER)
        .count()
    )
    return AdminDigest(needs, unopened["flags"], unopened["cases"], unsent_checks, unsent_staff)


def do_send_digest(user, *, now):
    """Email the user their digest for today (in their clinic's time zone), at most once a day.
    Returns True if one was sent.

    The day is claimed with a conditional update on User.last_digest_on (the clinic-local date)
    in the same transaction as the sending, so two beat runs (or a retried task) send one email;
    a failed send rolls the claim back and the next run tries again. Nothing to report sends
    nothing (the day stays claimed).
    """
    today = clinic_today(user.clinic.time_zone, now)
    with transaction.atomic():
        claimed = (
            User.objects.filter(pk=user.pk, is_active=True).exclude(last_digest_on=today).update(last_digest_on=today)
        )
        if not claimed:
            return False
        if user.is_clinic_admin:
            return _send_admin_digest(user, now=now)
        cases = compute_digest(user, now=now)
        if not cases:
            return False
        people = [person for case in cases for person in case.people.values()]
        context = {
            "user": user,
            "cases": cases,
            "flag_count": sum(person.flags for person in people),
            "unanswered_count": sum(person.unanswered for person in people),
            "weekly": user.digest == User.Digest.WEEKLY,
            "settings_url": settings.SITE_URL + reverse("dashboard:notification_settings"),
        }
        subject = render_to_string("dashboard/email/digest_subject.txt", context).strip()
        body = render_to_string("dashboard/email/digest_body.txt", context)
        send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [user.email])
    return True


def _send_admin_digest(user, *, now):
    digest = compute_admin_digest(user.clinic, now=now)
    if digest.is_empty:
        return False
    context = {
        "user": user,
        "digest": digest,
        "unopened_days": UNOPENED_DAYS,
        "weekly": user.digest == User.Digest.WEEKLY,
        "home_url": settings.SITE_URL + reverse("dashboard:clinic_home"),
        "needs_url": settings.SITE_URL + reverse("dashboard:clinic_home") + "?needs_therapist=on",
        "users_url": settings.SITE_URL + reverse("accounts:users"),
        "settings_url": settings.SITE_URL + reverse("dashboard:notification_settings"),
    }
    subject = render_to_string("dashboard/email/admin_digest_subject.txt", context).strip()
    body = render_to_string("dashboard/email/admin_digest_body.txt", context)
    send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [user.email])
    return True


def due_digest_users(*, now):
    """Therapists and clinic admins whose digest is due at `now`: it is DIGEST_TIME or later in their clinic's time
    zone, they have not had today's (local) digest, and today is their day (daily: every day;
    weekly: the clinic's Monday). Two queries: the clinics' time zones, then the users."""
    due = Q(pk__in=[])
    for time_zone in Clinic.objects.order_by().values_list("time_zone", flat=True).distinct():
        local = now.astimezone(ZoneInfo(time_zone))
        if local.time() < DIGEST_TIME:
            continue
        choices = [User.Digest.DAILY] + ([User.Digest.WEEKLY] if local.weekday() == 0 else [])
        due |= Q(clinic__time_zone=time_zone, digest__in=choices) & ~Q(last_digest_on=local.date())
    return (
        User.objects.filter(
            due, role__in=[User.Role.THERAPIST, User.Role.CLINIC_ADMIN], is_active=True, clinic__isnull=False
        )
        .select_related("clinic")
        .order_by("pk")
    )
