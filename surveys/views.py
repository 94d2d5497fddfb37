"""The client's survey pages, and the therapist's two ways of handing a check over in the room.

Survey pages are reached by a bearer link (/s/<token>/): they are never cached, never send a
Referer, and they show nothing but the survey. A GET never uses a link up (mail scanners
prefetch links); the POST that stores the answers completes it, once.

Tablet hand-over ("complete now"), the design in one paragraph: the therapist presses
"complete now" for one participant on the case page. That POST signs the therapist out of
this browser (their session is flushed, so nothing of theirs stays reachable) and leaves the
browser in a "room" state: a fresh anonymous session holding only the ids of the session's
still-open invitations, that participant first, then the others in order, for two hours.
The tablet opens the first person's survey. After each submission the thank-you page says
"please pass the tablet to <first name>" with one button that opens only that next person's
survey (a fresh link issued at that moment; raw tokens are never stored). When everyone has
answered, or someone presses "finished", the room ends and the tablet shows the sign-in page:
getting back to any therapist page needs the therapist's password. Staff pages are sent with
Cache-Control: no-store (alliance_site.middleware), so Back cannot bring them from the cache,
and an answered survey's link shows only "already answered", never the answers.
"""

import logging
from functools import wraps

import segno
from django.contrib.auth import logout
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.db import InterfaceError, OperationalError
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.safestring import mark_safe
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.access import therapist_required
from accounts.models import Clinic
from measures.actions.invitations import (
    SurveyClosed,
    do_ensure_room_invitation,
    do_issue_token,
    do_mark_opened,
    do_replace_qr_link,
    do_revoke_tablet_links,
)
from measures.actions.responses import do_submit_response
from measures.models import InvitationToken, SurveyInvitation
from measures.notifications import session_day, survey_url
from sessions_app.access import get_session_for_user

from .forms import SurveyForm
from .questions import survey_items
from .ratelimit import is_submission_limited, is_unknown_link_limited
from .room import ROOM_TOKEN_FIELD, Room

logger = logging.getLogger(__name__)

LANGUAGES = ("en", "es")
LANGUAGE_COOKIE = "survey_lang"
CLINIC_COOKIE = "survey_clinic"


def _private(response):
    """Survey pages carry a bearer token in their URL: never cache them, never leak it onward."""
    response["Cache-Control"] = "no-store"
    response["Referrer-Policy"] = "no-referrer"
    return response


def _requested_language(request, participant=None):
    """?lang= or the form's lang; then the participant's own; then the last survey's (the
    thank-you page), then the browser's (LocaleMiddleware)."""
    for candidate in (
        request.GET.get("lang"),
        request.POST.get("lang"),
        participant.language if participant else None,
        request.COOKIES.get(LANGUAGE_COOKIE),
    ):
        if candidate in LANGUAGES:
            return candidate
    return translation.get_language() if translation.get_language() in LANGUAGES else "en"


def _page(request, template, context, *, status=200, language):
    with translation.override(language):
        return _private(render(request, template, {**context, "language": language}, status=status))


def _closed(request, reason, status, *, clinic=None, language):
    return _page(request, "surveys/survey_closed.html", {"reason": reason, "clinic": clinic}, status=status,
                 language=language)


def _limited(request):
    return _page(request, "surveys/survey_limited.html", {}, status=429, language=_requested_language(request))


def _answers_client_on_outage(view):
    """A database outage gives the client a "please try again" page in their language, never a thank-you."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        try:
            return view(request, *args, **kwargs)
        except (OperationalError, InterfaceError) as exc:
            logger.error("survey page: database unavailable (%s)", type(exc).__name__)
            response = _page(request, "surveys/survey_unavailable.html", {}, status=503,
                             language=_requested_language(request))
            response["Retry-After"] = "60"
            return response

    return wrapper


# Why the client's pages are exempt from Django's CSRF check: they send Referrer-Policy:
# no-referrer (the URL holds the token), and under that policy browsers send "Origin: null" on
# the form's POST, which Django's origin check refuses. They do not need it: a forged request to
# /s/<token>/ needs the token, which an attacker does not have, and the room's buttons act only
# on this browser's session, whose cookie is SameSite=Lax and so is not sent on a cross-site POST.
@require_http_methods(["GET", "POST"])
@csrf_exempt
@_answers_client_on_outage
def survey(request, token):
    # Unknown links and real submissions are limited apart (surveys/ratelimit.py): an address
    # that guesses reaches its own limit and never the one its clients' real links count in.
    invitation = SurveyInvitation.objects.for_token(token)
    if invitation is None:
        if is_unknown_link_limited(request):
            return _limited(request)
        return _closed(request, "unknown", 404, language=_requested_language(request))
    if request.method == "POST" and is_submission_limited(request, token):
        return _limited(request)
    clinic = invitation.session.case.clinic
    language = _requested_language(request, invitation.participant)
    if invitation.is_completed or invitation.is_expired():
        return _closed(request, "completed" if invitation.is_completed else "expired", 410, clinic=clinic,
                       language=language)
    with translation.override(language):
        items = survey_items(clinic, invitation.session.case)  # remembered by the process: no query
        form = SurveyForm(request.POST if request.method == "POST" else None, items=items, language=language)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                do_submit_response(invitation, form.values(), items=items, note=form.cleaned_data.get("note") or "")
            except SurveyClosed as closed:
                return _closed(request, closed.reason, 409 if closed.reason == "completed" else 410, clinic=clinic,
                               language=language)
            done = _private(redirect("surveys:survey_done"))
            # The thank-you stays in the client's language: a short-lived cookie for /s/ pages only.
            done.set_cookie(LANGUAGE_COOKIE, language, max_age=600, path="/s/", httponly=True, samesite="Lax",
                            secure=request.is_secure())
            # ... and shows the clinic's contact line: which clinic, signed so it cannot be swapped.
            done.set_signed_cookie(CLINIC_COOKIE, str(clinic.pk), salt=CLINIC_COOKIE, max_age=600, path="/s/",
                                   httponly=True, samesite="Lax", secure=request.is_secure())
            return done
        status = 400 if form.is_forged else 200
    else:
        do_mark_opened(invitation, now=timezone.now())
    room = Room.load(request.session)
    context = {
        "form": form,
        "invitation": invitation,
        "clinic": clinic,
        "case": invitation.session.case,
        "session_day": session_day(invitation.session),  # named when it was not today
        # On the tablet, this person may pass without answering (explicitly, never by accident).
        "can_pass": room is not None and room.is_turn_of(invitation.pk),
    }
    return _page(request, "surveys/survey.html", context, status=status, language=language)


@require_GET
@_answers_client_on_outage
def survey_done(request):
    """The neutral thank-you; on a tablet in the room it also offers the next person's survey only.

    In the room it appears only once the current person's check is answered: opened before that,
    it would say "received" for nothing and hand the tablet on, so it returns to their survey.
    """
    room = Room.load(request.session)
    if room is not None and room.current_is_open():
        return _reopen_current(request, room)
    context = {
        "in_room": room is not None,
        "next_invitation": room.next_invitation() if room else None,
        "room_token": room.token if room else "",
        "clinic": _answered_clinic(request),
    }
    return _page(request, "surveys/survey_done.html", context, language=_requested_language(request))


def _answered_clinic(request):
    """The clinic of the check just answered in this browser (for its contact line), or None."""
    clinic_id = request.get_signed_cookie(CLINIC_COOKIE, default=None, salt=CLINIC_COOKIE, max_age=600)
    return Clinic.objects.filter(pk=clinic_id).first() if clinic_id and clinic_id.isdigit() else None


def _handing_over(view):
    """The start both hand-overs share: the session (the therapist must be able to change it), the
    case's active participant, and their open check, or the "cannot be handed over" page."""

    @wraps(view)
    def wrapper(request, session_id, participant_id):
        session = get_session_for_user(request.user, session_id, write=True)
        participant = get_object_or_404(session.case.participants.filter(is_active=True), pk=participant_id)
        try:
            invitation = do_ensure_room_invitation(session, participant, acting_user=request.user)
        except SurveyClosed as closed:
            context = {"session": session, "participant": participant, "reason": closed.reason}
            return render(request, "surveys/handover_refused.html", context, status=409)
        return view(request, session, participant, invitation)

    return wrapper


@require_POST
@therapist_required
@_handing_over
def complete_now(request, session, participant, first):
    """Hand the tablet over: sign the therapist out and open this participant's survey."""
    queue = [first.pk]
    for other in session.case.participants.filter(is_active=True).exclude(pk=participant.pk):
        try:
            queue.append(do_ensure_room_invitation(session, other, acting_user=request.user).pk)
        except SurveyClosed:
            continue  # already answered or expired: not asked again
    case_id = session.case_id
    logout(request)  # flushes the therapist's session: nothing of theirs is reachable from here on
    return _open_next_in_room(request, Room.start(request.session, case_id=case_id, invitation_ids=queue))


@require_POST
@csrf_exempt
def room_next(request):
    """The next person in the room opens their own survey (only theirs: the head of the queue).

    The current person's turn ends when they have answered, or when they press "pass" on their
    own survey page (`pass=1`); any other press returns to their survey.
    """
    room = Room.load(request.session)
    if room is None:
        return redirect_to_login(reverse("accounts:home"))
    if room.current_is_open() and request.POST.get("pass") != "1":
        return _reopen_current(request, room)
    return _open_next_in_room(request, room)


@require_POST
@csrf_exempt
def room_end(request):
    """Leave the room state: the tablet shows the sign-in page, the therapist's password is needed.

    It flushes the session, so it asks for the room's own token (Room.csrf_token, in the room's
    forms) in place of Django's CSRF check, which these no-referrer pages cannot pass: without it
    a forged POST could sign a therapist out. A browser not in the room has nothing to end: a
    signed-in user is refused, anyone else is shown the sign-in page.
    """
    room = Room.load(request.session)
    if room is None:
        if request.user.is_authenticated:
            raise PermissionDenied("not in the room")
        return _private(redirect_to_login(reverse("accounts:home")))
    if not room.accepts_token(request.POST.get(ROOM_TOKEN_FIELD, "")):
        raise PermissionDenied("the room's token is missing or wrong")
    return _end_room(request, room)


@require_GET
@therapist_required
@_handing_over
def participant_qr(request, session, participant, invitation):
    """A QR code of a fresh link, drawn here as inline SVG, for the participant's own phone.

    Only the hash of a link is ever stored, so an earlier QR link cannot be shown again: each view
    issues a new one and revokes the invitation's earlier QR links, so at most one is live.
    """
    token = do_replace_qr_link(invitation)
    # segno draws the code from the URL alone (no user text goes into the SVG), so it is safe markup.
    svg = mark_safe(segno.make(survey_url(token), error="m").svg_inline(scale=6, border=4))
    context = {"session": session, "participant": participant, "invitation": invitation, "qr_svg": svg}
    return _private(render(request, "surveys/participant_qr.html", context))


def _end_room(request, room):
    do_revoke_tablet_links(room.everyone if room else [])  # the tablet's history opens no survey any more
    request.session.flush()
    has_case = room is not None and room.case_id is not None
    target = reverse("dashboard:case", args=[room.case_id]) if has_case else reverse("accounts:home")
    return _private(redirect_to_login(target))


def _reopen_current(request, room):
    """Back to the current person's own survey, on a fresh tablet link (the old one may be gone)."""
    invitation = SurveyInvitation.objects.get(pk=room.current)
    do_revoke_tablet_links(room.everyone, keep_invitation_id=invitation.pk)
    return _private(redirect("surveys:survey", token=do_issue_token(invitation, InvitationToken.Purpose.TABLET)))


def _open_next_in_room(request, room):
    invitation = room.next_invitation()
    if invitation is None:
        return _end_room(request, room)
    room.advance_to(invitation)
    room.save(request.session)
    # The previous person's turn is over: their link in the tablet's history stops working.
    do_revoke_tablet_links(room.everyone, keep_invitation_id=invitation.pk)
    token = do_issue_token(invitation, InvitationToken.Purpose.TABLET)
    return _private(redirect("surveys:survey", token=token))
