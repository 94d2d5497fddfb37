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
        # django.server and django.request attach the request; their repr carries the path.
        if hasattr(record, "request"):
            record.request = None
        return True
