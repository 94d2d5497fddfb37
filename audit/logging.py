"""Request log lines carry the id of the signed-in user ("user=12", "user=-" when none)."""

import contextvars
import logging

from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject, empty

# Set by the access log middleware for the request being served. It is not reset when the
# response leaves the middleware: the development server (django.server) and gunicorn write
# their request line after that, in the same thread; the next request overwrites it first thing.
current_user_id = contextvars.ContextVar("alliance_current_user_id", default=None)
REQUEST_LOGGERS = ("django.request", "django.server", "gunicorn.access")


def known_user_id(request):
    """The signed-in user's id if this request has already looked its user up, else None.

    Never runs a query: a request that did not need its user (a client's survey page) is not
    charged a session and a user lookup for a log line."""
    user = request.__dict__.get("user")
    if user is None or (isinstance(user, SimpleLazyObject) and user._wrapped is empty):
        return None
    return user.pk if user.is_authenticated else None


class RequestUserFilter(logging.Filter):
    """On the console handler, before the token redaction (which drops `record.request`)."""

    def filter(self, record):
        if not record.name.startswith(REQUEST_LOGGERS):
            return True
        request = getattr(record, "request", None)
        user_id = known_user_id(request) if isinstance(request, HttpRequest) else None
        if user_id is None:
            user_id = current_user_id.get()
        record.user_id = user_id
        record.msg = f"{record.getMessage()} user={user_id if user_id is not None else '-'}"
        record.args = ()
        return True
