"""Who may see and handle flags. Views never check ownership themselves.

A flag belongs to a case: whoever may see the case sees its flags (404 otherwise, never
revealing that the flag exists); only the case's therapist acknowledges or resolves (403).
"""

from django.core.exceptions import PermissionDenied
from django.http import Http404

from sessions_app.access import can_write_case
from sessions_app.models import Case

from .models import Signal


def get_signal_for_user(user, signal_id, *, write=False):
    signal = (
        Signal.objects.filter(pk=signal_id, case__in=Case.objects.for_user(user))
        .select_related("case", "participant")
        .first()
    )
    if signal is None:
        raise Http404("No such flag")
    if write and not can_write_case(user, signal.case):
        raise PermissionDenied("Only the case's therapist handles its flags")
    return signal
