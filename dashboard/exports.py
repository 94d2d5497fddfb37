"""Exports for an EHR or an analyst (clinic admins only; anyone else signed in gets 403).

The page (GET) offers each export for a scope: one case (by its reference; a case the admin's
clinic does not have is 404), the sessions of a date range, or the whole clinic. A download
(POST, because it writes the export's record first) streams CSV row by row, or sends one FHIR
Bundle validated before it leaves. The builders live in measures.exports.
"""

import csv
import json

from django import forms
from django.http import Http404, HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from accounts.access import clinic_admin_required
from measures.actions.exports import do_finish_export, do_record_export
from measures.evaluation import engine_settings_parts
from measures.exports import ExportScope
from measures.exports import csv as tables
from measures.exports.fhir import build_bundle, validate_bundle
from measures.exports.replay import COLUMNS as REPLAY_COLUMNS
from measures.exports.replay import replay_options, replay_rows
from measures.models import ExportRecord
from sessions_app.models import Case

TEMPLATE = "dashboard/exports.html"
Kind = ExportRecord.Kind
TABLES = {
    Kind.RESPONSES: tables.response_table,
    Kind.SCORES: tables.score_table,
    Kind.FLAGS: tables.flag_table,
    Kind.REPAIRS: tables.repair_table,
}
RECENT = 20


class ExportScopeForm(forms.Form):
    case = forms.CharField(required=False, max_length=40, label="Case reference", help_text="Empty: every case.")
    date_from = forms.DateField(required=False, label="Sessions from", widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(required=False, label="Sessions to", widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args, kind=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.kind = kind

    def clean_case(self):
        return self.cleaned_data["case"].strip()

    def clean(self):
        data = super().clean()
        start, end = data.get("date_from"), data.get("date_to")
        if start and end and start > end:
            raise forms.ValidationError("The range ends before it starts.")
        if self.kind == Kind.REPLAY and (start or end):
            raise forms.ValidationError(
                "The replay history is exported whole (a cut history would number sessions differently):"
                " choose a case or leave the scope empty."
            )
        return data


class _Echo:
    """csv.writer writes into this and gets the line back, to be streamed."""

    def write(self, value):
        return value


def _stream(header, rows, record):
    writer = csv.writer(_Echo(), lineterminator="\n")
    yield writer.writerow(header)
    count = 0
    for row in rows:
        count += 1
        yield writer.writerow(row)
    do_finish_export(record, count)


def _page(request, form, status=200):
    clinic = request.user.clinic
    options = replay_options(*engine_settings_parts(clinic))
    records = list(ExportRecord.objects.filter(clinic=clinic).select_related("user", "case")[:RECENT])
    context = {"form": form, "kinds": Kind.choices, "records": records, "replay_options": " ".join(options)}
    return render(request, TEMPLATE, context, status=status)


@require_GET
@clinic_admin_required
def exports(request):
    return _page(request, ExportScopeForm())


@require_POST
@clinic_admin_required
def download(request, kind):
    """Record the export, then send it: CSV streamed, or one validated FHIR Bundle (JSON)."""
    if kind not in Kind.values:
        raise Http404("No such export")
    kind = Kind(kind)
    form = ExportScopeForm(request.POST, kind=kind)
    if not form.is_valid():
        return _page(request, form, status=400)
    clinic = request.user.clinic
    case = None
    if form.cleaned_data["case"]:
        # Only the admin's own clinic is searched: another clinic's case is as unknown as a typo.
        case = Case.objects.filter(clinic=clinic, reference=form.cleaned_data["case"]).first()
        if case is None:
            form.add_error("case", "No case with this reference in your clinic.")
            return _page(request, form, status=404)
    scope = ExportScope(clinic, case, form.cleaned_data["date_from"], form.cleaned_data["date_to"])
    record = do_record_export(scope, kind, acting_user=request.user)
    stamp = timezone.localdate().isoformat()
    name = f"{clinic.slug}-{kind}-{scope.slug}-{stamp}"
    if kind == Kind.FHIR:
        bundle, count = build_bundle(scope)
        validate_bundle(bundle)  # a malformed resource is a bug: better a 500 than a bad record sent on
        body = json.dumps(bundle, ensure_ascii=False)
        do_finish_export(record, count)
        response = HttpResponse(body, content_type="application/fhir+json")
        response["Content-Disposition"] = f'attachment; filename="{name}.json"'
        return response
    if kind == Kind.REPLAY:
        header, rows = REPLAY_COLUMNS, replay_rows(scope)
    else:
        header, rows = TABLES[kind](scope)
    response = StreamingHttpResponse(_stream(header, rows, record), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{name}.csv"'
    return response
