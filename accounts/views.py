from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.db.models import Count, Q
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_otp import login as otp_login

from .access import (
    clinic_admin_required,
    get_invitation_by_token,
    get_staff_invitation_for_user,
    get_staff_member_for_user,
)
from .actions import (
    InvitationUnusable,
    StaffChangeRefused,
    do_accept_staff_invitation,
    do_change_role,
    do_confirm_second_factor,
    do_deactivate_user,
    do_invite_staff,
    do_reactivate_user,
    do_resend_staff_invitation,
    do_reset_second_factor,
)
from .forms import AcceptInvitationForm, EmailAuthenticationForm, InviteStaffForm, RoleForm, SecondFactorCodeForm
from .models import SecondFactorReset, StaffInvitation, User
from .network import client_address
from .second_factor import confirmed_totp_device, pending_totp_device, qr_svg, recovery_device, secret_text


class LoginView(auth_views.LoginView):
    template_name = "accounts/login.html"
    authentication_form = EmailAuthenticationForm
    redirect_authenticated_user = True


class PasswordResetView(auth_views.PasswordResetView):
    """Django's reset: the same answer for a known and an unknown address (no enumeration);
    a plain-text email with only the link, built on SITE_URL rather than the request's host."""

    template_name = "accounts/password_reset_form.html"
    email_template_name = "accounts/email/password_reset_body.txt"
    subject_template_name = "accounts/email/password_reset_subject.txt"

    def form_valid(self, form):
        self.extra_email_context = {"site_url": settings.SITE_URL}
        return super().form_valid(form)


@require_GET
@login_required
def home(request):
    """Send each role to its own start page."""
    if request.user.is_clinic_admin:
        return redirect("dashboard:clinic_home")
    if request.user.clinic_id is None:
        return redirect("admin:index")
    return redirect("dashboard:caseload")


@require_GET
@clinic_admin_required
def users(request):
    """The clinic's people with their active cases, the pending invitations, and the invite form."""
    members = list(
        User.objects.filter(clinic_id=request.user.clinic_id)
        .annotate(active_cases=Count("cases", filter=Q(cases__status="active")))
        .order_by("role", "full_name")
        .only("full_name", "email", "role", "is_active", "last_login")
    )
    invitations = list(
        StaffInvitation.objects.pending(timezone.now()).filter(clinic_id=request.user.clinic_id).order_by("email")
    )
    resets = list(
        SecondFactorReset.objects.filter(clinic_id=request.user.clinic_id).select_related("member", "actor")[:20]
    )
    context = {
        "members": members,
        "invitations": invitations,
        "resets": resets,
        "invite_form": InviteStaffForm(),
        "roles": RoleForm.base_fields["role"].choices,
    }
    return render(request, "accounts/users.html", context)


@require_POST
@clinic_admin_required
def invite_staff(request):
    form = InviteStaffForm(request.POST)
    if not form.is_valid():
        messages.error(request, "To invite someone, give their name, a valid email address and a role.")
        return redirect("accounts:users")
    try:
        invitation = do_invite_staff(request.user.clinic, acting_user=request.user, **form.cleaned_data)
    except StaffChangeRefused as refused:
        messages.error(request, str(refused))
    else:
        messages.success(request, f"Invitation sent to {invitation.email}. The link works for 72 hours.")
    return redirect("accounts:users")


@require_POST
@clinic_admin_required
def resend_invitation(request, invitation_id):
    invitation = get_staff_invitation_for_user(request.user, invitation_id)
    try:
        do_resend_staff_invitation(invitation, acting_user=request.user)
    except StaffChangeRefused as refused:
        messages.error(request, str(refused))
    else:
        messages.success(request, f"A new link was sent to {invitation.email}; the earlier one no longer works.")
    return redirect("accounts:users")


def _staff_change(request, member_id, change, done):
    """The one shape of a staff button: access (404 outside the clinic), the action, a message."""
    member = get_staff_member_for_user(request.user, member_id)
    try:
        if change(member):
            messages.success(request, done(member))
    except StaffChangeRefused as refused:
        messages.error(request, str(refused))
    return redirect("accounts:users")


@require_POST
@clinic_admin_required
def deactivate_staff(request, member_id):
    return _staff_change(
        request,
        member_id,
        lambda member: do_deactivate_user(member, acting_user=request.user),
        lambda member: f"{member} is deactivated; their cases are listed as needing a new therapist.",
    )


@require_POST
@clinic_admin_required
def reactivate_staff(request, member_id):
    return _staff_change(
        request,
        member_id,
        lambda member: do_reactivate_user(member, acting_user=request.user),
        lambda member: f"{member} can log in again.",
    )


@require_POST
@clinic_admin_required
def change_role(request, member_id):
    get_staff_member_for_user(request.user, member_id)  # access before the form: 404 outside the clinic
    form = RoleForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose therapist or clinic admin.")
        return redirect("accounts:users")
    return _staff_change(
        request,
        member_id,
        lambda member: do_change_role(member, form.cleaned_data["role"], acting_user=request.user),
        lambda member: f"{member} is now a {member.get_role_display().lower()}.",
    )


@require_POST
@clinic_admin_required
def reset_second_factor(request, member_id):
    return _staff_change(
        request,
        member_id,
        lambda member: do_reset_second_factor(member, acting_user=request.user, address=client_address(request)),
        lambda member: f"{member}'s second factor is reset and their sessions ended: they set up a new one "
        "at their next log-in.",
    )


def _next_url(request):
    """Where to go once verified: the page first asked for, on this site only."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    allowed = url_has_allowed_host_and_scheme(target, {request.get_host()}, require_https=request.is_secure())
    return target if allowed else reverse("accounts:home")


def _verified(request, device):
    """The session is now verified by `device` (a new session key: none issued before it counts)."""
    request.session.cycle_key()
    otp_login(request, device)


def _throttled(device):
    """The refusal while django-otp throttles the device (after wrong codes), else None."""
    allowed, data = device.verify_is_allowed()
    if allowed:
        return None
    wait = 1
    if data and data.get("locked_until"):
        wait = max(1, int((data["locked_until"] - timezone.now()).total_seconds()) + 1)
    return f"Too many wrong codes. Wait {wait} seconds, then try again."


WRONG_CODE = "That code is not right. Check the time on your phone and try again."


@require_http_methods(["GET", "POST"])
@login_required
def second_factor_enrol(request):
    """First log-in, or after an admin reset: scan the code into an authenticator app, confirm
    with a code from it, and see the recovery codes (once)."""
    next_url = _next_url(request)
    if request.user.is_verified():
        return redirect(next_url)
    if confirmed_totp_device(request.user) is not None:
        return redirect(reverse("accounts:second_factor_verify") + "?" + urlencode({"next": next_url}))
    device = pending_totp_device(request.user)
    form = SecondFactorCodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        refusal = _throttled(device)
        codes = None if refusal else do_confirm_second_factor(device, form.cleaned_data["code"])
        if codes is not None:
            _verified(request, device)
            return render(request, "accounts/recovery_codes.html", {"codes": codes, "next": next_url})
        form.add_error("code", refusal or WRONG_CODE)
    context = {"form": form, "next": next_url, "qr_svg": qr_svg(device), "secret": secret_text(device)}
    return render(request, "accounts/second_factor_enrol.html", context)


@require_http_methods(["GET", "POST"])
@login_required
def second_factor_verify(request):
    """After the password: a 6-digit code from the app, or one of the recovery codes (single use)."""
    next_url = _next_url(request)
    if request.user.is_verified():
        return redirect(next_url)
    device = confirmed_totp_device(request.user)
    if device is None:
        return redirect(reverse("accounts:second_factor_enrol") + "?" + urlencode({"next": next_url}))
    form = SecondFactorCodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        code = form.cleaned_data["code"]
        recovery = recovery_device(request.user) if not code.isdigit() else None  # letters: a recovery code
        device = recovery or device  # each device counts its own failures (django-otp's throttling)
        refusal = _throttled(device)
        if refusal is None and device.verify_token(code):
            _verified(request, device)
            if recovery is not None:
                left = recovery.token_set.count()
                messages.warning(request, f"You used a recovery code; {left} are left. Each one works once.")
            return redirect(next_url)
        form.add_error("code", refusal or WRONG_CODE)
    return render(request, "accounts/second_factor_verify.html", {"form": form, "next": next_url})


@require_http_methods(["GET", "POST"])
def accept_invitation(request, token):
    """The invitee sets their own password. GET never uses the link up (mail scanners open links)."""
    invitation = get_invitation_by_token(token)
    if invitation is None:
        return render(request, "accounts/invitation_unusable.html", status=410)
    invitee = User(email=invitation.email, full_name=invitation.full_name)  # unsaved: for the password validators
    form = AcceptInvitationForm(invitee, request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            do_accept_staff_invitation(invitation, form.cleaned_data["new_password1"])
        except InvitationUnusable as unusable:
            messages.error(request, str(unusable))
            return redirect("accounts:login")
        messages.success(request, "Your password is set. Please log in.")
        return redirect("accounts:login")
    return render(request, "accounts/accept_invitation.html", {"form": form, "invitation": invitation})
