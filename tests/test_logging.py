"""Survey tokens never reach a log line, with the logging configured exactly as Django does it."""

import io
import logging
import sys

import pytest
from django.conf import settings as django_settings
from django.urls import reverse
from django.utils.log import configure_logging

from tests.builders import make_invitation, make_session


@pytest.fixture
def stderr_logs(settings):
    """Django's logging setup (its defaults, then ours) with DEBUG on, as under `make run`,
    every handler writing to a buffer; the normal configuration is restored afterwards."""
    settings.DEBUG = True
    buffer, saved = io.StringIO(), sys.stderr
    sys.stderr = buffer
    try:
        configure_logging(django_settings.LOGGING_CONFIG, django_settings.LOGGING)
        yield buffer
    finally:
        sys.stderr = saved
        configure_logging(django_settings.LOGGING_CONFIG, django_settings.LOGGING)


def test_no_token_in_any_log_line(client, case, stderr_logs):
    session = make_session(case)
    invitation, token = make_invitation(session, case.participants.get())
    url = reverse("surveys:survey", args=[token])
    client.get(url.replace(token, token[:-3] + "zzz"))  # 404, logged by django.request
    client.post(url, {"goals_focus": "99"})  # 400
    invitation.completed_at = invitation.created_at
    invitation.save()
    client.get(url)  # 410
    logging.getLogger("django.server").info('"GET %s HTTP/1.1" 200 12', url)
    logging.getLogger("celery.worker").warning("odd request for %s", url)
    written = stderr_logs.getvalue()
    assert "/s/[redacted]/" in written  # the lines were logged, redacted
    assert token not in written and token[:-3] not in written
