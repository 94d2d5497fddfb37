from django.contrib import messages
from django.db.models import Count, F, Prefetch, Q
from django.http import HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from accounts.access import therapist_required
from measures.actions import do_record_session
from measures.models import Response
from sessions_app.access import get_case_for_user, get_session_for_user
from sessions_app.models import Case, Participant, TherapySession

from .forms import SessionStatusForm


@require_GET
@therapist_required
def caseload(request):
    cases = list(
        Case.objects.for_user(request.user)
        .active()
        .filter(therapist=request.user)
        .select_related("evaluation")
        .prefetch_related(Prefetch("participants", queryset=Participant.objects.filter(is_active=True)))
        .annotate(session_count=Count("sessions", filter=Q(sessions__status=TherapySession.Status.ATTENDED)))
        .order_by(F("evaluation__risk_score").desc(nulls_last=True), "reference")
    )
    return render(request, "dashboard/caseload.html", {"cases": cases})


@require_GET
@therapist_required
def case_detail(request, case_id):
    case = get_case_for_user(request.user, case_id)
    sessions = list(
        case.sessions.order_by("-scheduled_start").prefetch_related(
            Prefetch("responses", queryset=Response.objects.select_related("participant"))
        )
    )
    participants = list(case.participants.all())
    return render(
        request,
        "dashboard/case.html",
        {"case": case, "sessions": sessions, "participants": participants, "status_form": SessionStatusForm()},
    )


@require_POST
@therapist_required
def record_session(request, session_id):
    session = get_session_for_user(request.user, session_id, write=True)
    form = SessionStatusForm(request.POST)
    if not form.is_valid():
        return HttpResponseBadRequest("Unknown session status")
    if do_record_session(session, form.cleaned_data["status"], acting_user=request.user):
        messages.success(request, f"Session marked {session.get_status_display().lower()}.")
    return redirect("dashboard:case", case_id=session.case_id)
