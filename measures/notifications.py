"""Emails to clients and therapists. Called from tasks only, never from a request.

Rendering and sending only: this module changes no rows (the tasks claim the work and issue
the links), so it imports no actions.
"""

import zoneinfo

from django.conf import settings
from django.core.mail import send_mail
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation


def survey_url(token):
    return settings.SITE_URL + reverse("surveys:survey", args=[token])


def session_day(session, now=None):
    """The session's date in the clinic's zone when it was not today there, else None: the survey
    and the email then ask about "your session on Wednesday 25 November", not "today's session"."""
    zone = zoneinfo.ZoneInfo(session.case.clinic.time_zone)
    day = timezone.localtime(session.scheduled_start, zone).date()
    return None if day == timezone.localtime(now or timezone.now(), zone).date() else day


def send_invitation_email(invitation, token, *, reminder):
    """Email the link of `token` in the participant's language and the clinic's time zone.

    Each email carries its own token (issued by the task; only its hash is stored), so the link
    of the first email and of the reminder both work until the check is answered or expires.
    """
    participant = invitation.participant
    clinic = invitation.session.case.clinic
    context = {
        "participant": participant,
        "clinic": clinic,
        "url": survey_url(token),
        "expires_at": invitation.expires_at,
        "reminder": reminder,
        "session_day": session_day(invitation.session),
    }
    with translation.override(participant.language), timezone.override(clinic.time_zone):
        subject = render_to_string("measures/email/invitation_subject.txt", context).strip()
        body = render_to_string("measures/email/invitation_body.txt", context)
    send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [participant.email])


def send_flag_alert_email(signal):
    """One alert email: the client's first name and a link, nothing else about them.

    Not even the kind of flag: subjects show on lock screens and phone previews.
    """
    therapist = signal.case.therapist
    context = {
        "therapist": therapist,
        "first_name": signal.participant.first_name,
        "url": settings.SITE_URL + reverse("dashboard:case", args=[signal.case_id]),
    }
    subject = render_to_string("measures/email/flag_alert_subject.txt", context).strip()
    body = render_to_string("measures/email/flag_alert_body.txt", context)
    send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [therapist.email])
