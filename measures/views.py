from django.shortcuts import redirect, render
from django.utils import timezone, translation
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.http import require_GET, require_http_methods

from .actions import (
    SurveyClosed,
    do_mark_opened,
    do_submit_response,
    get_clinic_instrument,
    items_for_case,
    lookup_invitation,
)
from .forms import SurveyForm


def _private(response):
    """Survey pages carry a bearer token in their URL: never cache them, never leak it onward."""
    response["Cache-Control"] = "no-store"
    response["Referrer-Policy"] = "no-referrer"
    return response


def _closed(request, reason, status, clinic=None):
    return _private(render(request, "measures/survey_closed.html", {"reason": reason, "clinic": clinic}, status=status))


def _language(request, participant):
    requested = request.GET.get("lang") or request.POST.get("lang")
    return requested if requested in {"en", "es"} else participant.language


@require_http_methods(["GET", "POST"])
@csrf_protect
def survey(request, token):
    invitation = lookup_invitation(token)
    if invitation is None:
        return _closed(request, "unknown", 404)
    clinic = invitation.session.case.clinic
    if invitation.is_completed:
        return _closed(request, "completed", 410, clinic)
    if invitation.is_expired():
        return _closed(request, "expired", 410, clinic)
    language = _language(request, invitation.participant)
    with translation.override(language):
        items = items_for_case(get_clinic_instrument(clinic), invitation.session.case)
        form = SurveyForm(request.POST or None, items=items, language=language)
        status = 200
        if request.method == "POST":
            if form.is_valid():
                try:
                    do_submit_response(invitation, form.values(), items=items, note=form.cleaned_data.get("note") or "")
                except SurveyClosed:
                    return _closed(request, "completed", 409, clinic)
                return _private(redirect("measures:survey_done"))
            status = 400 if form.is_forged else 200
        else:
            do_mark_opened(invitation, now=timezone.now())
        context = {"form": form, "invitation": invitation, "clinic": clinic, "language": language, "token": token}
        return _private(render(request, "measures/survey.html", context, status=status))


@require_GET
def survey_done(request):
    return _private(render(request, "measures/survey_done.html"))
