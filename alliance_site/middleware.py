"""Request-wide concerns: a database outage answered with 503, no caching of staff pages, and
staff times shown in the clinic's time zone."""

import logging
import zoneinfo

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
