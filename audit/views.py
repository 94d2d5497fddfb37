"""The clinic admin's access log: filter by person, case and dates; download as CSV."""

import csv

from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from accounts.access import clinic_admin_required

from .access import get_access_events_for_user
from .forms import AccessLogFilterForm

PAGE_SIZE = 50
CSV_COLUMNS = ["time", "person", "email", "case", "route", "target", "action", "outcome", "status", "address"]
# A spreadsheet runs a cell that starts with one of these as a formula.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def filtered_events(request):
    form = AccessLogFilterForm(request.GET or None, clinic_id=request.user.clinic_id)
    filters = form.cleaned_data if form.is_valid() else {}
    events = get_access_events_for_user(
        request.user,
        person=filters.get("person"),
        case_reference=filters.get("case", ""),
        date_from=filters.get("date_from"),
        date_to=filters.get("date_to"),
    )
    return form, events


@require_GET
@clinic_admin_required
def access_log(request):
    form, events = filtered_events(request)
    page = Paginator(events, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "audit/log.html", {"form": form, "page": page, "events": list(page.object_list)})


def spreadsheet_safe(value):
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_START) else text


@require_GET
@clinic_admin_required
def export_access_log(request):
    """The filtered log as CSV (this download is itself an entry: audit/routes.py)."""
    _, events = filtered_events(request)
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="access-log-{timezone.localdate():%Y-%m-%d}.csv"'
    writer = csv.writer(response)
    writer.writerow(CSV_COLUMNS)
    for event in events.iterator(chunk_size=2000):
        row = [
            timezone.localtime(event.at).isoformat(timespec="seconds"),
            event.user.full_name,
            event.user.email,
            event.case.reference if event.case else "",
            event.route,
            event.target,
            event.action,
            event.outcome,
            event.status_code,
            event.address,
        ]
        writer.writerow([spreadsheet_safe(value) for value in row])
    return response
