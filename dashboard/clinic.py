"""The clinic admin's pages: the clinic's home (every case, riskiest first) and its settings.

The settings form belongs to accounts, which knows no instruments: the choices come from here.
"""

from django.contrib import messages
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods

from accounts.access import clinic_admin_required
from accounts.actions import do_change_clinic_settings
from accounts.forms import ClinicSettingsForm
from accounts.models import Clinic, ClinicSettingChange, User
from measures.evaluation import CALIBRATION_MIN_PARTICIPANTS, CALIBRATION_MIN_RESPONSES
from measures.models import ClinicCalibration, Instrument
from measures.outcomes import MIN_COMPLETED_CASES, completed_flag_counts

from .digests import UNOPENED_DAYS, compute_admin_digest
from .forms import ClinicCaseloadFilterForm
from .pages import load_caseload

SETTINGS_HISTORY = 20


@require_GET
@clinic_admin_required
def clinic_home(request):
    """Every active case of the clinic in the caseload's columns plus the therapist, riskiest
    first; filters by therapist and "needs a therapist"; the admin digest's counts on top."""
    therapists = list(
        User.objects.filter(clinic_id=request.user.clinic_id, role=User.Role.THERAPIST)
        .order_by("-is_active", "full_name")
        .only("full_name", "is_active")
    )
    form = ClinicCaseloadFilterForm(request.GET or None, therapists=therapists)
    filters = form.cleaned_data if form.is_valid() else {}
    rows, page = load_caseload(
        request.user,
        flagged=filters.get("flagged", False),
        kind=filters.get("kind", ""),
        search=filters.get("q", ""),
        page=request.GET.get("page", 1),
        clinic_wide=True,
        therapist_id=filters.get("therapist"),
        needs_therapist=filters.get("needs_therapist", False),
    )
    context = {
        "rows": rows,
        "page": page,
        "filter_form": form,
        "filtered": any(filters.values()),
        "show_therapist": True,
        "digest": compute_admin_digest(request.user.clinic, now=timezone.now()),
        "unopened_days": UNOPENED_DAYS,
    }
    return render(request, "dashboard/clinic_home.html", context)


def instrument_choices():
    """(code, name) of each loaded instrument, by its latest version. One query."""
    latest = {}
    for code, name in Instrument.objects.order_by("code", "version").values_list("code", "name"):
        latest[code] = name
    return sorted(latest.items())


@require_http_methods(["GET", "POST"])
@clinic_admin_required
def clinic_settings(request):
    clinic = Clinic.objects.get(pk=request.user.clinic_id)  # a copy: an invalid form must not alter the header's
    form = ClinicSettingsForm(request.POST or None, instance=clinic, instrument_choices=instrument_choices())
    if request.method == "POST" and form.is_valid():
        changed = do_change_clinic_settings(clinic, form.cleaned_data, acting_user=request.user)
        if changed:
            labels = ", ".join(str(form.fields[name].label).lower() for name in changed)
            messages.success(request, f"Saved: {labels}.")
        else:
            messages.info(request, "Nothing changed.")
        return redirect("dashboard:clinic_settings")
    history = list(
        ClinicSettingChange.objects.filter(clinic_id=clinic.pk).select_related("actor")[:SETTINGS_HISTORY]
    )
    labels = {name: field.label for name, field in form.fields.items()}
    for change in history:
        change.label = labels.get(change.field, change.field)
    context = {"form": form, "history": history, "budget": budget_report(request.user.clinic)}
    return render(request, "accounts/clinic_settings.html", context)


def _percent(share):
    return None if share is None else round(100 * share, 1)


def budget_report(clinic):
    """What the settings page says beside the flag budget: the budget, the share of simulated
    steady courses the engine flags at it (last calibration), and the share of the clinic's
    completers who were ever flagged, once there are enough of them. Two queries."""
    calibration = ClinicCalibration.objects.filter(clinic_id=clinic.pk).first()
    flagged, total, cases = completed_flag_counts(clinic)
    report = {
        "budget": clinic.false_flag_budget,
        "achieved": _percent(calibration.budget_achieved) if calibration else None,
        "calibrated_at": _percent(calibration.budget) if calibration else None,
        "aimed_at": None,
        "enough_outcomes": cases >= MIN_COMPLETED_CASES,
        "completed_cases": cases,
        "minimum_cases": MIN_COMPLETED_CASES,
        "completed": total,
        "completed_flagged": flagged,
        "completed_share": _percent(flagged / total) if total else None,
        "minimum_responses": CALIBRATION_MIN_RESPONSES,
        "minimum_clients": CALIBRATION_MIN_PARTICIPANTS,
    }
    if calibration and calibration.budget_used is not None and calibration.budget_used != calibration.budget:
        report["aimed_at"] = _percent(calibration.budget_used)
    if report["calibrated_at"] == clinic.false_flag_budget:
        report["calibrated_at"] = None  # only said when the budget changed since
    return report
