from django.conf import settings
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.db.models import Count, Q
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

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
    do_deactivate_user,
    do_invite_staff,
    do_reactivate_user,
    do_resend_staff_invitation,
)
from .forms import AcceptInvitationForm, EmailAuthenticationForm, InviteStaffForm, RoleForm
from .models import StaffInvitation, User


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
    context = {
        "members": members,
        "invitations": invitations,
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
