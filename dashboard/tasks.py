"""Celery tasks of the dashboard: short adapters (see measures/tasks.py for the conventions)."""

import logging

from celery import shared_task
from django.utils import timezone

from .digests import do_send_digest, due_digest_users

logger = logging.getLogger(__name__)


@shared_task
def send_digests():
    """Beat, every 15 minutes: each therapist whose digest is due (06:30 or later in their clinic's
    time zone) gets it, once per clinic-local day."""
    now = timezone.now()
    sent = 0
    for user in due_digest_users(now=now):
        try:
            sent += do_send_digest(user, now=now)
        except Exception:  # one bad mailbox must not stop the others; the next run retries it
            logger.exception("digest for user %s failed", user.pk)
    logger.info("digests sent: %d", sent)
    return sent
