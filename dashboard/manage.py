"""Case administration pages: open a case, its clients, assignment and transfer, closing and reopening.

Who may do what (decided in sessions_app.access, never here):
- a therapist opens cases for themselves and administers their own cases: clients' details,
  adding or removing a family member, closing and reopening;
- a clinic admin does all of that for every case of the clinic, and is the only one who assigns
  or transfers a case (a therapist gets 403);
- clinical records stay the therapist's: an admin still cannot record sessions, send checks, or
  acknowledge or resolve flags (403 on those views, in dashboard.views);
- another therapist of the clinic, or anyone of another clinic, gets 404 on every page here.
Every change is a do_* action that records the acting user as a CaseEvent.
"""

from django.contrib import messages
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.access import therapist_required
from accounts.models import User
from measures.actions.sessions import do_end_case
from sessions_app.access import can_assign_case, get_case_for_user, get_participant_for_user
from sessions_app.actions import (
    CaseChangeRefused,
    do_add_participant,
    do_assign_case,
    do_create_case,
    do_remove_participant,
    do_reopen_case,
    do_update_participant,
)
from sessions_app.forms import (
    OPEN_CASE_MAX_ROWS,
    OPEN_CASE_ROWS,
    AssignCaseForm,
    CloseCaseForm,
    OpenCaseForm,
    ParticipantForm,
    participant_formset,
)
from sessions_app.models import Case, CaseEvent, Participant


def _rows(request):
    """How many client rows the "open a case" form shows: two, or more after "add another row"."""
    try:
        asked = int(request.GET.get("rows") or request.POST.get("form-TOTAL_FORMS") or OPEN_CASE_ROWS)
    except ValueError:
        asked = OPEN_CASE_ROWS
    return max(1, min(asked, OPEN_CASE_MAX_ROWS))


@require_http_methods(["GET", "POST"])
@therapist_required
def open_case(request):
    """Open a case with its clients. A therapist gets it themselves; an admin chooses the therapist."""
    user = request.user
    is_admin = user.is_clinic_admin
    data = request.POST if request.method == "POST" else None
    form = OpenCaseForm(data, clinic=user.clinic, choose_therapist=is_admin)
    formset = participant_formset(_rows(request))(data)
    if data is not None and form.is_valid() and formset.is_valid():
        participants = [f.cleaned_data for f in formset.filled_forms()]
        try:
            case = do_create_case(
                clinic=user.clinic,
                reference=form.cleaned_data["reference"],
                kind=form.cleaned_data["kind"],
                therapist=form.cleaned_data.get("therapist") if is_admin else user,
                participants=participants,
                opened_on=form.cleaned_data["opened_on"],
                acting_user=user,
            )
        except CaseChangeRefused as refused:
            form.add_error(None, str(refused))
        else:
            messages.success(request, f"Case {case.reference} opened.")
            return redirect("dashboard:manage_case", case.pk)
    rows = len(formset.forms)
    context = {"form": form, "formset": formset, "more_rows": min(rows + 1, OPEN_CASE_MAX_ROWS), "rows": rows}
    return render(request, "dashboard/manage/open_case.html", context, status=400 if data is not None else 200)


@require_GET
@therapist_required
def manage_case(request, case_id):
    """The case's clients, therapist history and closing, with the forms the user may use."""
    case = get_case_for_user(request.user, case_id, manage=True)
    return render(request, "dashboard/manage/case.html", _manage_context(request.user, case))


def _manage_context(user, case, **forms):
    participants = list(case.participants.all())
    events = list(CaseEvent.objects.filter(case=case).select_related("actor").order_by("-created_at", "-id")[:50])
    assignments = [event for event in events if event.action == CaseEvent.Action.ASSIGNED]
    therapist_ids = {event.detail.get(key) for event in assignments for key in ("from", "to")} - {None}
    names = dict(User.objects.filter(pk__in=therapist_ids).values_list("pk", "full_name")) if therapist_ids else {}
    active = case.is_active
    can_assign = can_assign_case(user, case) and active
    return {
        "case": case,
        "participants": participants,
        "events": events,
        "assignments": [(e, names.get(e.detail.get("from")), names.get(e.detail.get("to"))) for e in assignments],
        "can_assign": can_assign,
        "assign_form": forms.get("assign_form") or (AssignCaseForm(case=case) if can_assign else None),
        "close_form": forms.get("close_form") or (CloseCaseForm(case=case) if active else None),
        "add_form": forms.get("add_form") or (ParticipantForm() if active and case.kind == Case.Kind.FAMILY else None),
        "can_remove": active and case.kind == Case.Kind.FAMILY and sum(p.is_active for p in participants) > 2,
    }


def _manage_url(case_id):
    return reverse("dashboard:manage_case", args=[case_id])


def _refused(request, case, refused):
    messages.error(request, str(refused))
    return redirect(_manage_url(case.pk))


@require_POST
@therapist_required
def assign_case(request, case_id):
    """Assign or transfer the case (clinic admins only: 403 for a therapist). The previous
    therapist loses access at once; the case's sessions and open flags go with it."""
    case = get_case_for_user(request.user, case_id, assign=True)
    form = AssignCaseForm(request.POST, case=case)
    if not form.is_valid():
        return render(
            request, "dashboard/manage/case.html", _manage_context(request.user, case, assign_form=form), status=400
        )
    try:
        do_assign_case(case, form.cleaned_data["therapist"], acting_user=request.user)
    except CaseChangeRefused as refused:
        return _refused(request, case, refused)
    messages.success(request, f"Case {case.reference} is now {case.therapist.full_name}'s.")
    return redirect(_manage_url(case.pk))


@require_POST
@therapist_required
def close_case(request, case_id):
    """Close the case with its outcome and date; its unanswered checks close with it (do_end_case)."""
    case = get_case_for_user(request.user, case_id, manage=True)
    form = CloseCaseForm(request.POST, case=case)
    if not form.is_valid():
        return render(
            request, "dashboard/manage/case.html", _manage_context(request.user, case, close_form=form), status=400
        )
    try:
        do_end_case(
            case, form.cleaned_data["outcome"], closed_on=form.cleaned_data["closed_on"], acting_user=request.user
        )
    except CaseChangeRefused as refused:
        return _refused(request, case, refused)
    messages.success(request, f"Case {case.reference} closed: {case.get_outcome_display().lower()}.")
    return redirect(_manage_url(case.pk))


@require_POST
@therapist_required
def reopen_case(request, case_id):
    case = get_case_for_user(request.user, case_id, manage=True)
    try:
        do_reopen_case(case, acting_user=request.user)
    except CaseChangeRefused as refused:
        return _refused(request, case, refused)
    messages.success(request, f"Case {case.reference} reopened.")
    return redirect(_manage_url(case.pk))


@require_POST
@therapist_required
def add_participant(request, case_id):
    """Add a member to a family case."""
    case = get_case_for_user(request.user, case_id, manage=True)
    form = ParticipantForm(request.POST)
    if not form.is_valid():
        return render(
            request, "dashboard/manage/case.html", _manage_context(request.user, case, add_form=form), status=400
        )
    try:
        participant = do_add_participant(case, **form.cleaned_data, acting_user=request.user)
    except CaseChangeRefused as refused:
        return _refused(request, case, refused)
    messages.success(request, f"{participant.display_name} added to the case.")
    return redirect(_manage_url(case.pk))


@require_http_methods(["GET", "POST"])
@therapist_required
def edit_participant(request, participant_id):
    """Correct a client's name, contact details or language."""
    participant = get_participant_for_user(request.user, participant_id, manage=True)
    form = ParticipantForm(request.POST or None, instance=Participant(**_fields(participant)))
    if request.method == "POST" and form.is_valid():
        try:
            do_update_participant(participant, **form.cleaned_data, acting_user=request.user)
        except CaseChangeRefused as refused:
            form.add_error("display_name", str(refused))
        else:
            messages.success(request, f"{participant.display_name}'s details saved.")
            return redirect(_manage_url(participant.case_id))
    status = 400 if request.method == "POST" else 200
    context = {"participant": participant, "case": participant.case, "form": form}
    return render(request, "dashboard/manage/participant.html", context, status=status)


def _fields(participant):
    # The form edits a copy: a refused change must not leave the row half-changed in memory.
    return {name: getattr(participant, name) for name in ("display_name", "email", "phone", "language")}


@require_POST
@therapist_required
def remove_participant(request, participant_id):
    """A family member leaves the case (kept, inactive: their history stays)."""
    participant = get_participant_for_user(request.user, participant_id, manage=True)
    try:
        do_remove_participant(participant, acting_user=request.user)
    except CaseChangeRefused as refused:
        return _refused(request, participant.case, refused)
    messages.success(request, f"{participant.display_name} has left the case; their history stays.")
    return redirect(_manage_url(participant.case_id))
