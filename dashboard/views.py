import functools

from django.contrib import messages
from django.http import HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.access import therapist_required
from measures.access import get_signal_for_user
from measures.actions.invitations import takes_new_checks
from measures.actions.sessions import (
    SessionLocked,
    SessionNotRecordable,
    do_delete_session,
    do_record_session,
    do_reschedule_session,
    do_send_checks,
    has_answers,
)
from measures.actions.signals import do_acknowledge_signal, do_mark_case_flags_seen, do_resolve_signal
from measures.models import SignalAction
from sessions_app.access import get_case_for_user, get_session_for_user, may_read_client_words
from sessions_app.actions import SessionConflict, do_schedule_session
from sessions_app.models import Case, TherapySession

from .forms import CaseloadFilterForm, DigestPreferenceForm, ResolveSignalForm, ScheduleSessionForm, SessionStatusForm
from .pages import load_case_page, load_caseload


@require_GET
@therapist_required
def caseload(request):
    form = CaseloadFilterForm(request.GET or None)
    filters = form.cleaned_data if form.is_valid() else {}
    rows, page = load_caseload(
        request.user,
        flagged=filters.get("flagged", False),
        kind=filters.get("kind", ""),
        search=filters.get("q", ""),
        page=request.GET.get("page", 1),
    )
    context = {"rows": rows, "page": page, "filter_fields": _filter_fields(form), "filtered": any(filters.values())}
    return render(request, "dashboard/caseload.html", context)


def _filter_fields(form):
    """The caseload's filter fields as HTML. Unfiltered (the caseload as opened, nearly every visit)
    they are the same on every page: drawn once per process and language, as crispy took a fifth
    of the page's CPU (~5 of ~28 ms, sampled, issue 14)."""
    if form.is_bound:
        return render_to_string("dashboard/_caseload_filters.html", {"filter_form": form})
    return _unfiltered_fields(translation.get_language())


@functools.lru_cache(maxsize=8)
def _unfiltered_fields(language):
    """`language` keys the cache: the fields are drawn in the language active at the call."""
    return render_to_string("dashboard/_caseload_filters.html", {"filter_form": CaseloadFilterForm()})


@require_GET
@therapist_required
def case_detail(request, case_id):
    case = get_case_for_user(request.user, case_id, queryset=Case.objects.select_related("evaluation"))
    return _render_case(request, case)


def _render_case(request, case, *, refused=None, status=200):
    """The case page. `refused` is (flag id, bound ResolveSignalForm) when a resolve was refused:
    that flag's card shows the therapist's entries with the error beside the field."""
    can_write = case.therapist_id == request.user.pk
    # Sessions of a closed case are history: no status buttons, no checks to send (the views refuse both).
    can_record = can_write and case.status == Case.Status.ACTIVE
    page = load_case_page(case, record_choices=SessionStatusForm.base_fields["status"].choices if can_record else ())
    for flag in page["open_flags"]:
        if refused and refused[0] == flag.pk:
            flag.resolve_form = refused[1]
        else:
            flag.resolve_form = ResolveSignalForm(kind=flag.kind, flag_id=flag.pk)
    # Marked seen after loading, so that this page still shows which flags were new.
    do_mark_case_flags_seen(case, acting_user=request.user)
    context = {
        "case": case,
        "can_write": can_write,
        "can_record": can_record,
        "may_read_notes": may_read_client_words(request.user, case),
        "schedule_form": ScheduleSessionForm(case=case, compact=True),
        **page,
    }
    return render(request, "dashboard/case.html", context, status=status)


@require_POST
@therapist_required
def record_session(request, session_id):
    session = get_session_for_user(request.user, session_id, write=True)
    form = SessionStatusForm(request.POST)
    if not form.is_valid():
        return HttpResponseBadRequest("Unknown session status")
    status = form.cleaned_data["status"]
    # A session with answers is changed in two steps: a mis-click must not hide answers.
    is_open = session.case.status == Case.Status.ACTIVE  # a closed case's refusal needs no second step
    if is_open and status != session.status and not form.cleaned_data["confirm"] and has_answers(session):
        label = dict(form.fields["status"].choices)[status]
        context = {"session": session, "status": status, "label": label, "case_url": _case_url(session.case_id, "")}
        return render(request, "dashboard/confirm_status.html", context)
    try:
        changed = do_record_session(session, status, acting_user=request.user)
    except SessionNotRecordable as refused:  # a closed case, or "attended" for a session to come
        messages.error(request, str(refused))
    else:
        if changed:
            messages.success(request, f"Session marked {session.get_status_display().lower()}.")
        if session.status == TherapySession.Status.ATTENDED and not takes_new_checks(session):
            messages.info(request, "No check was sent: clients are asked only about sessions of the last two days.")
    return redirect(_case_url(session.case_id, "sessions"))


@require_POST
@therapist_required
def schedule_session(request, case_id):
    case = get_case_for_user(request.user, case_id, write=True)
    form = ScheduleSessionForm(request.POST, case=case)
    if form.is_valid():
        try:
            session = do_schedule_session(case, form.cleaned_data["start"], acting_user=request.user)
        except SessionConflict as conflict:
            form.add_error("start", str(conflict))
        else:
            messages.success(request, f"Session added for {session.scheduled_start:%a %-d %b %Y, %H:%M}.")
            return redirect(_case_url(case.pk, "sessions"))
    # The refusal is shown beside the field, with what was typed.
    return render(request, "dashboard/session_form.html", {"case": case, "form": form, "session": None}, status=400)


@require_http_methods(["GET", "POST"])
@therapist_required
def reschedule_session(request, session_id):
    session = get_session_for_user(request.user, session_id, write=True)
    start = timezone.localtime(session.scheduled_start).replace(tzinfo=None) if _is_displayable(session) else None
    form = ScheduleSessionForm(request.POST or None, case=session.case, initial={"start": start})
    if request.method == "POST" and form.is_valid():
        try:
            moved = do_reschedule_session(session, form.cleaned_data["start"], acting_user=request.user)
        except SessionLocked as locked:
            messages.error(request, str(locked))
            return redirect(_case_url(session.case_id, f"session-{session.pk}"))
        except SessionConflict as conflict:
            form.add_error("start", str(conflict))
        else:
            if moved:
                messages.success(request, f"Session moved to {session.scheduled_start:%a %-d %b %Y, %H:%M}.")
            return redirect(_case_url(session.case_id, f"session-{session.pk}"))
    status = 400 if request.method == "POST" else 200
    context = {"case": session.case, "form": form, "session": session}
    return render(request, "dashboard/session_form.html", context, status=status)


@require_http_methods(["GET", "POST"])
@therapist_required
def delete_session(request, session_id):
    session = get_session_for_user(request.user, session_id, write=True)
    if request.method == "GET":
        context = {"session": session, "case_url": _case_url(session.case_id, f"session-{session.pk}")}
        return render(request, "dashboard/confirm_delete_session.html", context)
    try:
        do_delete_session(session, acting_user=request.user)
    except SessionLocked as locked:
        messages.error(request, str(locked))
        return redirect(_case_url(session.case_id, f"session-{session.pk}"))
    messages.success(request, "Session removed.")
    return redirect(_case_url(session.case_id, "sessions"))


def _is_displayable(session):
    """Whether the session's time can be shown in the clinic's zone (not a year-9999 typing slip)."""
    try:
        timezone.localtime(session.scheduled_start)
    except OverflowError:
        return False
    return True


@require_POST
@therapist_required
def send_checks(request, session_id):
    session = get_session_for_user(request.user, session_id, write=True)
    try:
        created, resent = do_send_checks(session, acting_user=request.user)
    except SessionNotRecordable as refused:
        messages.error(request, str(refused))
        return redirect(_case_url(session.case_id, "sessions"))
    if created or resent:
        messages.success(request, f"Check sent: {created} new, {resent} sent again.")
    else:
        messages.info(request, "Nothing to send: every check is answered, expired, or was emailed minutes ago.")
    return redirect(_case_url(session.case_id, "sessions"))


@require_POST
@therapist_required
def acknowledge_signal(request, signal_id):
    signal = get_signal_for_user(request.user, signal_id, write=True)
    if do_acknowledge_signal(signal, acting_user=request.user):
        messages.success(request, f"Flag acknowledged: {signal.get_kind_display().lower()}.")
    return redirect(_case_url(signal.case_id, f"flag-{signal.pk}"))


@require_POST
@therapist_required
def resolve_signal(request, signal_id):
    signal = get_signal_for_user(request.user, signal_id, write=True)
    form = ResolveSignalForm(request.POST, kind=signal.kind, flag_id=signal.pk)
    if not form.is_valid():  # the case page again, the errors beside the fields
        case = get_case_for_user(request.user, signal.case_id, queryset=Case.objects.select_related("evaluation"))
        return _render_case(request, case, refused=(signal.pk, form), status=400)
    data = form.cleaned_data
    resolved = do_resolve_signal(
        signal, repair=data["repair"], suggestion=data["suggestion"], note=data["note"], acting_user=request.user
    )
    if resolved:
        repair = SignalAction.Repair(data["repair"]).label.lower()
        messages.success(request, f"Flag resolved ({repair}). It stays in the case's history.")
    return redirect(_case_url(signal.case_id, "history"))


@require_http_methods(["GET", "POST"])
@therapist_required
def notification_settings(request):
    form = DigestPreferenceForm(request.POST or None, instance=request.user)
    if request.method == "POST" and form.is_valid():
        # Only this column: a full save could undo the digest task's concurrent claim (last_digest_on).
        form.save(commit=False).save(update_fields=["digest"])
        messages.success(request, f"Digest: {request.user.get_digest_display().lower()}.")
        return redirect("dashboard:notification_settings")
    return render(request, "dashboard/notification_settings.html", {"form": form})


def _case_url(case_id, anchor):
    return reverse("dashboard:case", args=[case_id]) + f"#{anchor}"
