"""One access log entry per request for client data (the routes in audit/routes.py)."""

import logging

from django.db import DatabaseError
from django.shortcuts import render
from django.urls import Resolver404, get_resolver

from accounts.network import client_address

from .actions import describe_scope, do_record_access
from .logging import current_user_id, known_user_id
from .models import AccessEvent
from .routes import CLIENT_DATA_ROUTES

logger = logging.getLogger(__name__)
READ_METHODS = {"GET", "HEAD", "OPTIONS"}


def client_data_route(request):
    """(route name, table row, URL kwargs) when the request is for client data, else None."""
    try:
        match = get_resolver(getattr(request, "urlconf", None)).resolve(request.path_info)
    except Resolver404:
        return None
    row = CLIENT_DATA_ROUTES.get(match.view_name)
    return None if row is None else (match.view_name, row, match.kwargs)


class AccessLogMiddleware:
    """Records who asked for which client data, what they did, from where, and whether it was
    allowed (any answer below 400), after the view has answered. Placed after authentication. If the entry cannot be
    written the answer is withheld (503): a read that leaves no record is not served."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        current_user_id.set(None)
        found = client_data_route(request)
        user = None
        if found is not None:
            # Taken before the view: "complete now" signs the therapist out while answering.
            user = request.user if request.user.is_authenticated else None
        response = self.get_response(request)
        current_user_id.set(user.pk if user is not None else known_user_id(request))
        if user is None:  # not client data, or anonymous: sent to log in, nothing looked up
            return response
        route, row, kwargs = found
        try:
            self.record(request, response, user, route, row, kwargs)
        except DatabaseError as error:
            logger.error("access log entry not written (%s): answer withheld", type(error).__name__)
            response = render(request, "503.html", status=503)
            response["Retry-After"] = "60"
            response["Cache-Control"] = "no-store"
        return response

    @staticmethod
    def record(request, response, user, route, row, kwargs):
        if row.export:
            action = AccessEvent.Action.EXPORT
        elif request.method in READ_METHODS:
            action = AccessEvent.Action.READ
        else:
            action = AccessEvent.Action.CHANGE
        allowed = response.status_code < 400
        do_record_access(
            user=user,
            route=route,
            key=row.key,
            value=kwargs.get(row.key) if row.key else None,
            action=action,
            outcome=AccessEvent.Outcome.ALLOWED if allowed else AccessEvent.Outcome.DENIED,
            status_code=response.status_code,
            address=client_address(request),
            scope=describe_scope(_export_parameters(request, kwargs)) if row.export else "",
        )


def _export_parameters(request, kwargs):
    """What defines an export's scope: the URL's own keywords (the kind) and the form's fields,
    GET for a filtered page download, POST for the exports form (describe_scope drops secrets)."""
    parameters = (request.GET if request.method in READ_METHODS else request.POST).copy()
    for key, value in kwargs.items():
        parameters.setlist(key, [str(value)])
    return parameters
