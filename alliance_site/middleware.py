"""Request-wide concerns: a database outage answered with 503, no caching of staff pages, staff
times shown in the clinic's time zone, the staff session's idle and total limits, and the
Permissions-Policy header."""

import logging
import time
import zoneinfo

from django.conf import settings
from django.contrib.auth import logout
from django.contrib.auth.views import redirect_to_login
from django.db import DatabaseError, InterfaceError, OperationalError
from django.shortcuts import render
from django.utils import timezone

logger = logging.getLogger(__name__)


class ServiceUnavailableMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        # IntegrityError and friends are programming or data errors: let them surface.
        if isinstance(exception, (OperationalError, InterfaceError)) or type(exception) is DatabaseError:
            logger.error("database unavailable: %s", type(exception).__name__)
            response = render(request, "503.html", status=503)
            response["Retry-After"] = "60"
            response["Cache-Control"] = "no-store"
            return response
        return None


class NoStoreForSignedInMiddleware:
    """Pages shown to a signed-in user are never kept in the browser's cache.

    A therapist hands the tablet to a client ("complete now") and is signed out of it; without
    no-store, the Back button would bring the caseload and case pages back from the cache.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        signed_in = getattr(request, "user", None) is not None and request.user.is_authenticated
        response = self.get_response(request)
        if signed_in and not response.has_header("Cache-Control"):
            response["Cache-Control"] = "no-store"
        return response


class ClinicTimeZoneMiddleware:
    """Staff see dates and times in their clinic's time zone (stored times stay UTC).

    The clinic row is the one the page header shows anyway, so this adds no query to a page.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        try:
            clinic = user.clinic if user is not None and user.is_authenticated and user.clinic_id else None
        except DatabaseError:
            clinic = None  # the view meets the outage too and answers it with the 503 page
        if clinic is None:
            return self.get_response(request)
        with timezone.override(zoneinfo.ZoneInfo(clinic.time_zone)):
            return self.get_response(request)


SIGNED_IN_KEY = "staff_signed_in_at"
SEEN_KEY = "staff_seen_at"
# The last-seen time is rewritten at most once a minute: a session write on every page would add
# a query to every page for a precision nobody needs.
SEEN_RESOLUTION_SECONDS = 60


def stamp_staff_session(sender, request, user, **kwargs):
    """user_logged_in: the session remembers when its user signed in (connected in apps.py)."""
    now = int(time.time())
    request.session[SIGNED_IN_KEY] = now
    request.session[SEEN_KEY] = now


class StaffSessionTimeoutMiddleware:
    """A signed-in session ends after STAFF_SESSION_IDLE_SECONDS without a request, and
    STAFF_SESSION_MAX_SECONDS after signing in however active it was: the next request signs the
    user out and shows the sign-in page. A session without the sign-in stamp (made before this
    rule, or by anything but `login`) is ended too. Anonymous sessions, such as the tablet room's,
    keep their own expiry."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and self._has_expired(request.session):
            logout(request)
            return redirect_to_login(request.get_full_path())
        return self.get_response(request)

    @staticmethod
    def _has_expired(session):
        now = int(time.time())
        signed_in, seen = session.get(SIGNED_IN_KEY), session.get(SEEN_KEY)
        if signed_in is None or seen is None:
            return True
        if now - seen > settings.STAFF_SESSION_IDLE_SECONDS or now - signed_in > settings.STAFF_SESSION_MAX_SECONDS:
            return True
        if now - seen >= SEEN_RESOLUTION_SECONDS:
            session[SEEN_KEY] = now
        return False


class PermissionsPolicyMiddleware:
    """Every page switches off the browser features the app never uses (camera, microphone...)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        response.setdefault("Permissions-Policy", settings.PERMISSIONS_POLICY)
        return response
