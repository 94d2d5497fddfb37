"""The clinic overview page: the cached figures of measures.overview, with server-drawn charts.

An admin sees the clinic and, per therapist, the same figures (named, or anonymised as
"Therapist A, B…" with ?anonymise=1); ?therapist=<id> shows one therapist's caseload. A
therapist sees their own caseload's figures only. The page reads one cached row.
"""

from dataclasses import dataclass
from datetime import date, datetime

from django.http import Http404
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from accounts.access import therapist_required
from measures.models import ClinicOverview

from . import charts


def get_overview_for_user(user, *, therapist_id=None):
    """(ClinicOverview or None, scope key) the user may see: an admin the clinic ("clinic") or one
    therapist's caseload; a therapist only their own. Raises Http404 for a therapist id the user
    may not see (another clinic's, or a colleague's for a therapist). One query."""
    overview = ClinicOverview.objects.filter(clinic_id=user.clinic_id).first()
    if user.is_clinic_admin:
        if therapist_id is None:
            return overview, "clinic"
        if overview is None or str(therapist_id) not in overview.payload.get("therapists", {}):
            raise Http404("No such therapist")
        return overview, str(therapist_id)
    if therapist_id is not None and therapist_id != user.pk:
        raise Http404("No such therapist")
    return overview, str(user.pk)


def therapist_labels(payload, *, anonymise):
    """therapist id → the name shown: their name, or "Therapist A", "B"… in the payload's order."""
    ids = list(payload.get("therapists", {}))
    if not anonymise:
        return dict(payload.get("therapists", {}))
    return {pk: f"Therapist {_letters(index)}" for index, pk in enumerate(ids)}


def _letters(index):
    text = ""
    index += 1
    while index:
        index, remainder = divmod(index - 1, 26)
        text = chr(65 + remainder) + text
    return text


def month_text(label):
    return date(int(label[:4]), int(label[5:]), 1).strftime("%b %Y")


@dataclass
class TherapistRow:
    label: str
    figures: dict

    @property
    def open_count(self):
        return sum(bucket["count"] for bucket in self.figures["open_flags_by_age"])


def scope_figures(payload, scope):
    if scope == "clinic":
        return payload.get("clinic")
    return payload.get("by_therapist", {}).get(scope)


def overview_context(payload, scope, *, anonymise=False, chart_prefix="overview"):
    """What the overview and the monthly report show of `payload`'s `scope`: figures, charts and the
    per-therapist rows (the clinic scope only)."""
    figures = scope_figures(payload, scope)
    if figures is None:
        return {"figures": None}
    labels = therapist_labels(payload, anonymise=anonymise)
    months = [month_text(m) for m in payload["months"]]
    # The charts' axes: "Jan" … (a year spelled out in twelve labels crowds a small chart).
    ticks = [date(int(m[:4]), int(m[5:]), 1).strftime("%b") for m in payload["months"]]
    rows = []
    if scope == "clinic":
        rows = [TherapistRow(labels[pk], payload["by_therapist"][pk]) for pk in labels if pk in payload["by_therapist"]]
    own = "The clinic" if scope == "clinic" else labels.get(scope, "This caseload")
    rate_lines = [charts.Line(own, [m["rate"] for m in figures["response"]["by_month"]], style=0)]
    rate_lines += [
        charts.Line(row.label, [m["rate"] for m in row.figures["response"]["by_month"]], style=index)
        for index, row in enumerate(rows, start=1)
    ]
    score_charts = []
    for name in ("goals", "tasks", "bond"):
        series = [(row.label, row.figures["scores"][name]) for row in rows] or [(own, figures["scores"][name])]
        score_charts.append(
            (
                name.capitalize(),
                charts.line_chart(
                    charts.Chart(
                        chart_id=f"{chart_prefix}-{name}",
                        title=f"Average {name} by month" + (" by therapist" if rows else ""),
                        description=(
                            f"Mean {name} score (0 to 10) of the checks answered each month, {months[0]} to "
                            f"{months[-1]}. The same figures are in the table."
                        ),
                        x_labels=ticks,
                        lines=[charts.Line(label, values, style=i) for i, (label, values) in enumerate(series)],
                        width=360,
                        height=200,
                    )
                ),
            )
        )
    rate_chart = charts.line_chart(
        charts.Chart(
            chart_id=f"{chart_prefix}-response",
            title="Check response rate by month",
            description=(
                f"Percent of checks sent that were answered, {months[0]} to {months[-1]}; months without checks are "
                "gaps. The same figures are in the table."
            ),
            x_labels=ticks,
            lines=rate_lines,
            scale=(0.0, 100.0),
        )
    )
    return {
        "figures": figures,
        "therapist_rows": rows,
        "months": list(zip(months, figures["response"]["by_month"], strict=True)),
        "score_table": [
            (month, *(figures["scores"][n][i] for n in ("goals", "tasks", "bond")), figures["scores"]["answered"][i])
            for i, month in enumerate(months)
        ],
        "rate_chart": rate_chart,
        "score_charts": score_charts,
        "budget": payload["budget"],
        "reliability": payload["reliability"],
        "reliability_rows": reliability_rows(payload["reliability"]),
        "scope_label": own,
        "computed_at": datetime.fromisoformat(payload["computed_at"]),
    }


def reliability_rows(reliability):
    """(subscale, alpha, reliability for change) rows, the total first."""
    if not reliability.get("ready"):
        return []
    return [
        (name.capitalize(), reliability["alpha"].get(name), reliability["reliability"].get(name))
        for name in ("total", "goals", "tasks", "bond")
        if name in reliability["alpha"] or name in reliability["reliability"]
    ]


@require_GET
@therapist_required
def clinic_overview(request):
    therapist = request.GET.get("therapist", "")
    if therapist and not therapist.isdigit():
        raise Http404("No such therapist")
    overview, scope = get_overview_for_user(request.user, therapist_id=int(therapist) if therapist else None)
    anonymise = request.GET.get("anonymise") == "1"
    context = {"overview": overview, "scope": scope, "anonymise": anonymise, "is_admin": request.user.is_clinic_admin}
    if overview is not None:
        context.update(overview_context(overview.payload, scope, anonymise=anonymise))
        context["computed_at"] = timezone.localtime(overview.computed_at)
    return render(request, "dashboard/overview.html", context)
