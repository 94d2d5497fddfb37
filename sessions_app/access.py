"""Who may see and change cases and sessions. Views never check ownership themselves.

404 when the user may not see the row (never reveal that it exists); 403 when they may see
it but not change it (a clinic admin reads every case of the clinic; only the case's
therapist records sessions and handles flags).
"""

from django.core.exceptions import PermissionDenied
from django.http import Http404

from .models import Case, TherapySession


def can_write_case(user, case):
    return case.therapist_id == user.pk


def get_case_for_user(user, case_id, *, write=False, queryset=None):
    queryset = (queryset if queryset is not None else Case.objects.all()).filter(
        pk__in=Case.objects.for_user(user).values("pk")
    )
    case = queryset.filter(pk=case_id).select_related("clinic", "therapist").first()
    if case is None:
        raise Http404("No such case")
    if write and not can_write_case(user, case):
        raise PermissionDenied("Only the case's therapist can change it")
    return case


def get_session_for_user(user, session_id, *, write=False):
    session = (
        TherapySession.objects.filter(pk=session_id, case__in=Case.objects.for_user(user))
        .select_related("case__clinic", "case__therapist")
        .first()
    )
    if session is None:
        raise Http404("No such session")
    if write and not can_write_case(user, session.case):
        raise PermissionDenied("Only the case's therapist can change it")
    return session
