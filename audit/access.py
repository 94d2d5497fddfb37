"""Who reads the access log: a clinic admin, and only their own clinic's entries."""

from datetime import datetime, time, timedelta

from django.utils import timezone

from .models import AccessEvent


def get_access_events_for_user(user, *, person=None, case_reference="", date_from=None, date_to=None):
    """The entries `user` (a clinic admin: the views check the role) may read, filtered, newest
    first. Dates are days in the current time zone (the clinic's, set by its middleware)."""
    events = AccessEvent.objects.for_clinic(user.clinic_id)
    if person is not None:
        events = events.filter(user=person)
    if case_reference:
        events = events.filter(case__reference=case_reference)
    zone = timezone.get_current_timezone()
    if date_from:
        events = events.filter(at__gte=datetime.combine(date_from, time.min, tzinfo=zone))
    if date_to:
        events = events.filter(at__lt=datetime.combine(date_to + timedelta(days=1), time.min, tzinfo=zone))
    return events.select_related("user", "case").order_by("-at", "-pk")
