"""CSV import of cases, clients and past sessions (clinic admins only; others signed in get 403).

Upload → preview (counts and the first new clients; nothing written) → confirm → written in one
transaction. Between preview and confirm the files' text waits in a CaseImport row for an hour
(never in a log, nor in the session cookie); confirming empties it. Only its uploader can confirm
it (anyone else: 404). The file formats are described in measures.actions.imports.
"""

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from accounts.access import clinic_admin_required
from measures.actions.imports import MAX_BYTES, ImportRefused, check_case_import, decode_upload, do_import_cases
from sessions_app.forms import CaseImportForm
from sessions_app.models import CaseImport

TEMPLATE = "dashboard/manage/import.html"


@require_http_methods(["GET", "POST"])
@clinic_admin_required
def import_cases(request):
    """GET: the upload form and the formats. POST: check the files and show the preview."""
    form = CaseImportForm(request.POST or None, request.FILES or None)
    if request.method == "GET" or not form.is_valid():
        return render(request, TEMPLATE, {"form": form}, status=200 if request.method == "GET" else 400)
    try:
        cases_text = decode_upload(form.cleaned_data["cases_file"].read(MAX_BYTES + 1), "cases file")
        history = form.cleaned_data.get("history_file")
        history_text = decode_upload(history.read(MAX_BYTES + 1), "history file") if history else ""
        plan = check_case_import(request.user.clinic, cases_text, history_text)
    except ImportRefused as refused:
        return render(request, TEMPLATE, {"form": form, "errors": refused.errors}, status=400)
    # One pending import per admin: an earlier preview's files are dropped now.
    CaseImport.objects.filter(uploaded_by=request.user, imported_at__isnull=True).update(cases_csv="", history_csv="")
    pending = CaseImport.objects.create(
        clinic=request.user.clinic, uploaded_by=request.user, cases_csv=cases_text, history_csv=history_text
    )
    context = {"form": CaseImportForm(), "plan": plan, "pending": pending, "preview_rows": plan.preview_rows()}
    return render(request, TEMPLATE, context)


@require_POST
@clinic_admin_required
def confirm_import(request, import_id):
    pending = CaseImport.objects.filter(pk=import_id, uploaded_by=request.user, clinic=request.user.clinic).first()
    if pending is None:
        raise Http404("No such import")
    if not pending.is_pending() or not pending.cases_csv:
        messages.error(request, "This preview has expired or was already imported: upload the file again.")
        return redirect("dashboard:import_cases")
    try:
        counts = do_import_cases(pending.clinic, pending.cases_csv, pending.history_csv, acting_user=request.user)
    except ImportRefused as refused:  # the clinic changed since the preview
        return render(request, TEMPLATE, {"form": CaseImportForm(), "errors": refused.errors}, status=400)
    CaseImport.objects.filter(pk=pending.pk).update(
        imported_at=timezone.now(), summary=counts, cases_csv="", history_csv=""
    )
    summary = "Imported {cases} new case(s), {participants} client(s), {sessions} session(s), {responses} check(s)."
    messages.success(request, summary.format(**counts))
    return redirect("dashboard:caseload")
