"""Printable reports: a one-page case report and a monthly clinic report, as print-styled HTML
that a browser saves as PDF. No server-side PDF library: none we found installs from the package
registries alone without native downloads (WeasyPrint needs Pango), and the browser's own
"Save as PDF" renders the same HTML faithfully.

The case report reuses the case page's loader (pages.load_case_page); the clinic report the
overview's figures (measures.overview) for one calendar month, computed on request in a fixed
number of queries. `render_clinic_report` is shared with the `clinic_report` command, which
writes a standalone file (the stylesheet inlined).
"""

import re
from zoneinfo import ZoneInfo

from django.contrib.staticfiles import finders
from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.templatetags.static import static
from django.utils import timezone
from django.views.decorators.http import require_GET

from accounts.access import therapist_required
from measures.models import Signal, SignalAction
from measures.overview import compute_overview, month_bounds
from sessions_app.access import get_case_for_user
from sessions_app.models import Case

from .overview import overview_context
from .pages import is_actionable, load_case_page

MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


def case_report_context(case, *, now=None):
    """The case report's content: the case page's charts, its open flags, its resolved flags with
    the repair recorded, and the last answered check (every person's answers)."""
    page = load_case_page(case, now=now)
    resolved = []
    for signal in page["flag_history"]:
        if signal.status == Signal.Status.RESOLVED and is_actionable(signal):
            signal.resolution = next(
                (a for a in reversed(signal.history) if a.action == SignalAction.Action.RESOLVED), None
            )
            resolved.append(signal)
    last = next((row for row in page["session_rows"] if row.has_answers), None)
    return {
        "case": case,
        "charts": page["charts"],
        "marker_legend": page["marker_legend"],
        "open_flags": page["open_flags"],
        "resolved_flags": resolved,
        "last_row": last,
        "last_checks": [cell for cell in last.checks if cell.response is not None] if last else [],
        "participants": [p for p in page["participants"] if p.is_active],
        "evaluation": page["evaluation"],
    }


@require_GET
@therapist_required
def case_report(request, case_id):
    case = get_case_for_user(request.user, case_id, queryset=Case.objects.select_related("evaluation"))
    return render(request, "dashboard/report_case.html", case_report_context(case))


def parse_month(text):
    """ "YYYY-MM" → the same string, or None when it is not a month."""
    return text if MONTH.match(text or "") else None


def render_clinic_report(clinic, month, *, scope="clinic", anonymise=False, standalone=False, now=None):
    """The monthly report of `clinic` (the whole clinic or one therapist's caseload, `scope`) for
    `month` ("YYYY-MM") as an HTML string. `standalone` inlines the stylesheet (a file on disk)."""
    now = now or timezone.now()
    period = month_bounds(month, ZoneInfo(clinic.time_zone))
    payload = compute_overview(clinic, now=now, period=period)
    context = {
        "clinic": clinic,
        "month": month,
        "month_start": period[0],
        "scope": scope,
        "report": True,
        "anonymise": anonymise,
        "generated_at": timezone.localtime(now, ZoneInfo(clinic.time_zone)),
        **overview_context(payload, scope, anonymise=anonymise, chart_prefix="report"),
    }
    html = render_to_string("dashboard/report_clinic.html", context)
    if standalone:
        # A file opened from disk cannot load /static/: the sheet goes in. (Pages served by the app
        # never carry inline style: the CSP forbids it, tests/security/test_headers.py checks it.)
        with open(finders.find("css/report.css"), encoding="utf-8") as css:
            html = html.replace(
                f'<link rel="stylesheet" href="{static("css/report.css")}">', f"<style>{css.read()}</style>", 1
            )
    return html


@require_GET
@therapist_required
def clinic_report(request):
    """?month=YYYY-MM (default: this month). An admin gets the clinic's report (?anonymise=1 hides the
    therapists' names); a therapist their own caseload's."""
    user = request.user
    month = parse_month(request.GET.get("month", "") or f"{timezone.localdate():%Y-%m}")
    if month is None:
        raise Http404("No such month")
    scope = "clinic" if user.is_clinic_admin else str(user.pk)
    html = render_clinic_report(user.clinic, month, scope=scope, anonymise=request.GET.get("anonymise") == "1")
    return HttpResponse(html)
