"""Overload is refused, not queued: the WSGI application gunicorn serves (gunicorn.conf.py).

Each gunicorn worker process runs at most MAX_INFLIGHT requests in Django at once (its threads
beyond that would only share the same CPU and make every request slower). A request that finds
them all busy waits up to ADMIT_WAIT seconds for a turn, then gets a 503 "please try again" page
with Retry-After, at once and at almost no cost: beyond capacity clients learn it in well under a
second instead of waiting in a queue for a minute. The kernel's listen backlog (small, see
gunicorn.conf.py) bounds what waits before a worker even sees the connection.

Why this and not a queue-time header: gunicorn sets none, and a proxy's X-Request-Start is only
there behind a proxy that sets it; counting the requests a process is running needs nothing.
"""

import logging
import os
import threading
from pathlib import Path

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "alliance_site.settings")

logger = logging.getLogger(__name__)

MAX_INFLIGHT = int(os.environ.get("ALLIANCE_MAX_INFLIGHT", "2"))
ADMIT_WAIT = float(os.environ.get("ALLIANCE_ADMIT_WAIT", "0.3"))
REFUSED_BODY = (
    b"<!doctype html><html lang='en'><meta charset='utf-8'><title>Please try again</title>"
    b"<h1>Please try again in a moment</h1><p>The service is very busy right now. Nothing you sent "
    b"was lost or stored twice: send it again in a few seconds.</p></html>"
)


class AdmissionLimit:
    """WSGI middleware: at most `limit` requests at once in this process; the rest wait `wait`
    seconds for a turn, then are answered 503. Static files and health checks are limited too (they
    are cheap, and a busy process is busy for them as well)."""

    def __init__(self, app, limit=MAX_INFLIGHT, wait=ADMIT_WAIT):
        self.app = app
        self.slots = threading.BoundedSemaphore(limit)
        self.wait = wait
        self.refused = 0

    def __call__(self, environ, start_response):
        if not self.slots.acquire(timeout=self.wait):
            self.refused += 1
            if self.refused % 100 == 1:
                logger.warning("overload: request refused with 503 (%d so far in this process)", self.refused)
            start_response(
                "503 Service Unavailable",
                [("Content-Type", "text/html; charset=utf-8"), ("Retry-After", "5"), ("Cache-Control", "no-store"),
                 ("Content-Length", str(len(REFUSED_BODY)))],
            )
            return [REFUSED_BODY]
        try:
            # The response is produced in full before the slot is given back (Django's responses here
            # are not streamed): the slot counts the work, not the client's slow reading.
            return list(self.app(environ, start_response))
        finally:
            self.slots.release()


def warm_up():
    """Pay a new process's one-off costs before it takes a connection (gunicorn.conf.py's
    post_worker_init): the URLconf and every view module it imports, the project's templates compiled
    into the cached loader, and each language's translation catalogue. Without it the first requests
    of a process (at start, and after each max_requests recycling) pay them while holding one of its
    few slots, and the requests behind them are refused. Returns how many templates it compiled; one
    that does not compile is logged and left to fail as its page would have."""
    from django.conf import settings
    from django.template import TemplateDoesNotExist, TemplateSyntaxError, engines
    from django.urls import get_resolver
    from django.utils import translation

    get_resolver().url_patterns  # noqa: B018  (reading it imports the views)
    engine = engines["django"].engine
    compiled = 0
    for folder in (Path(d) for d in engine.dirs):
        for path in sorted(folder.rglob("*.html")) + sorted(folder.rglob("*.txt")):
            name = path.relative_to(folder).as_posix()
            try:
                engine.get_template(name)
            except (TemplateSyntaxError, TemplateDoesNotExist) as exc:
                # one broken page must not keep the process (and the site) from starting: that page
                # fails as it would have, the rest are served, and the log says which
                logger.error("warm-up: template %s did not compile: %s", name, exc)
                continue
            compiled += 1
    for language, _name in settings.LANGUAGES:
        with translation.override(language):
            translation.gettext("Please try again")
    return compiled


application = AdmissionLimit(get_wsgi_application())
