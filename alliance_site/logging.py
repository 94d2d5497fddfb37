"""Keeps survey link tokens out of every log line."""

import logging
import re

# Survey links look like /s/<token>/...; the token is a bearer credential.
TOKEN_IN_PATH = re.compile(r"(/s/)[A-Za-z0-9_\-]{8,}")


def redact(text):
    return TOKEN_IN_PATH.sub(r"\1[redacted]", text)


class RedactTokensFilter(logging.Filter):
    def filter(self, record):
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg = cleaned
            record.args = ()
        # A traceback can carry a token too (an exception message quoting a task's argument):
        # format it here, redacted; formatters use a record's exc_text as it is.
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        # django.server and django.request attach the request; their repr carries the path.
        if hasattr(record, "request"):
            record.request = None
        return True


def install_redaction(logger):
    """Put the redaction filter on every handler of `logger` (once each).

    Celery configures the worker's and beat's logging itself, not from Django's LOGGING; a
    filter on a handler applies to every record the handler writes, including those propagated
    from child loggers and the worker's redirected stdout, where a logger filter would not.
    """
    for handler in logger.handlers:
        if not any(isinstance(existing, RedactTokensFilter) for existing in handler.filters):
            handler.addFilter(RedactTokensFilter())


def install_redaction_in_celery(logger=None, **kwargs):
    """Celery's after_setup_logger / after_setup_task_logger signals (alliance_site/celery.py)."""
    install_redaction(logger if logger is not None else logging.getLogger())
