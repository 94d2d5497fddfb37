"""Production does not start with console email: invitations printed to a log reach no client.

The check is at settings load, so every entry point trips it: manage.py (check --deploy, migrate),
gunicorn and the Celery worker alike; a system check would not run under gunicorn or Celery."""

import os
import subprocess
import sys

import pytest

from tests.test_settings import PRODUCTION_ENV, ROOT, run_manage

WITHOUT_EMAIL = {k: v for k, v in PRODUCTION_ENV.items() if k != "EMAIL_URL"}


@pytest.mark.parametrize("email", [{"EMAIL_URL": "console://"}, {"EMAIL_URL": "locmem://"}, {}], ids=str)
def test_production_refuses_console_or_missing_email(email):
    result = run_manage("check", "--deploy", env={**WITHOUT_EMAIL, **email})
    assert result.returncode != 0
    assert "EMAIL_URL must be smtp:// or smtps:// when ALLIANCE_ENV=production" in result.stderr


@pytest.mark.parametrize("command", [["gunicorn", "alliance_site.wsgi:application"], ["celery", "-A", "alliance_site"]])
def test_gunicorn_and_the_worker_refuse_it_too(command):
    if command[0] == "celery":
        command = [*command, "worker", "--pool", "solo"]
    else:
        command = [*command, "--bind", "127.0.0.1:0", "--workers", "1"]
    binary = os.path.join(os.path.dirname(sys.executable), command[0])
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL", "DEBUG"}}
    result = subprocess.run(
        [binary, *command[1:]],
        cwd=ROOT,
        env={**env, **WITHOUT_EMAIL, "EMAIL_URL": "console://"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "EMAIL_URL must be smtp://" in result.stdout + result.stderr


def test_production_starts_with_smtp_or_with_no_mail_at_all():
    assert run_manage("check", "--deploy", "--fail-level", "WARNING", env=PRODUCTION_ENV).returncode == 0
    # none:// is the beat container's explicit "sends no mail" (no mail password there).
    result = run_manage("check", env={**WITHOUT_EMAIL, "EMAIL_URL": "none://"})
    assert result.returncode == 0, result.stderr


def test_the_embedded_default_still_prints_email_on_the_console():
    result = run_manage("shell", "-c", "from django.conf import settings; print(settings.EMAIL_BACKEND)", env={})
    assert result.stdout.strip().splitlines()[-1] == "django.core.mail.backends.console.EmailBackend", result.stderr
