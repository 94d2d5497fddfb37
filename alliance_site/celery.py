"""The Celery application. Tasks live in <app>/tasks.py; the schedule in settings."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "alliance_site.settings")

app = Celery("alliance")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# The worker and beat write through Celery's own log handlers: redact survey tokens there too.
from celery.signals import after_setup_logger, after_setup_task_logger  # noqa: E402

from alliance_site.logging import install_redaction_in_celery  # noqa: E402

after_setup_logger.connect(install_redaction_in_celery, weak=False)
after_setup_task_logger.connect(install_redaction_in_celery, weak=False)
