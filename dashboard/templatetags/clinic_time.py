"""Times shown in the clinic's zone, robustly."""

from datetime import UTC

from django import template
from django.utils import timezone

register = template.Library()


@register.filter
def clinic_time(value):
    """An aware datetime in the active (clinic) time zone, as a naive one for |date.

    A time at the very end of the calendar (9999-12-31, a typing slip saved before dates were
    checked) cannot be shifted into a zone ahead of UTC; it is shown as stored (UTC) rather than
    failing the whole page.
    """
    if value is None or timezone.is_naive(value):
        return value
    try:
        return timezone.localtime(value).replace(tzinfo=None)
    except OverflowError:
        return value.astimezone(UTC).replace(tzinfo=None)
