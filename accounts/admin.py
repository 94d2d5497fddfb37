"""The operator's Django admin: clinics and their staff accounts only.

Clinical data (cases, answers, flags) is deliberately not registered here: the operator runs the
deployment and has no need to read clients' answers; clinic staff work in the app itself.
Nor does the operator ever know or set a clinic staff member's password: a clinic's first admin
is invited (StaffInvitation) and chooses their own, like everyone the clinic invites later.
"""

from django import forms
from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.core.exceptions import PermissionDenied
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

from .actions import StaffChangeRefused, do_invite_staff
from .models import Clinic, ClinicSettingChange, StaffInvitation, User


@admin.register(Clinic)
class ClinicAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "time_zone", "alliance_cutoff", "invitation_expiry_days", "reminder_after_days"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}


class UserChangeForm(forms.ModelForm):
    """No password field: the model's clean() refuses a move to another clinic while cases are held."""

    class Meta:
        model = User
        fields = ["email", "full_name", "role", "clinic", "digest", "is_active", "is_staff", "is_superuser"]


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    form = UserChangeForm
    ordering = ["clinic__name", "email"]
    list_display = ["email", "full_name", "role", "clinic", "is_active", "last_login"]
    list_filter = ["role", "is_active", "clinic"]
    search_fields = ["email", "full_name"]
    fieldsets = [
        (None, {"fields": ["email"]}),
        ("Person", {"fields": ["full_name", "role", "clinic", "digest"]}),
        ("Access", {"fields": ["is_active", "is_staff", "is_superuser"]}),
        ("Dates", {"fields": ["last_login", "date_joined"]}),
    ]
    filter_horizontal = []
    readonly_fields = ["last_login", "date_joined"]

    def has_add_permission(self, request):
        return False  # clinic staff are invited (Staff invitations); operators come from createsuperuser

    def user_change_password(self, request, id, form_url=""):
        user = self.get_object(request, id)
        if user is not None and user.clinic_id is not None:
            raise PermissionDenied("Clinic staff set their own passwords")
        return super().user_change_password(request, id, form_url)

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        if db_field.name == "email":
            kwargs["widget"] = forms.EmailInput
        return super().formfield_for_dbfield(db_field, request, **kwargs)


class StaffInvitationForm(forms.ModelForm):
    class Meta:
        model = StaffInvitation
        fields = ["clinic", "email", "full_name", "role"]

    def clean_email(self):
        email = self.cleaned_data["email"].strip().lower()
        if User.objects.filter(email__iexact=email).exists():
            raise forms.ValidationError("This address already has an account.")
        return email


@admin.register(StaffInvitation)
class StaffInvitationAdmin(admin.ModelAdmin):
    """The operator invites a clinic's first admin; the link lets them set their own password."""

    form = StaffInvitationForm
    list_display = ["email", "full_name", "role", "clinic", "created_at", "sent_at", "accepted_at"]
    list_filter = ["clinic"]

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        try:
            invitation = do_invite_staff(
                data["clinic"], email=data["email"], full_name=data["full_name"], role=data["role"],
                acting_user=request.user,
            )
        except StaffChangeRefused as refused:
            raise PermissionDenied(str(refused)) from refused
        obj.pk = invitation.pk


@admin.register(ClinicSettingChange)
class ClinicSettingChangeAdmin(admin.ModelAdmin):
    list_display = ["clinic", "field", "old_value", "new_value", "actor", "changed_at"]
    list_filter = ["clinic"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


# django-otp registers its devices here; the operator has no business reading or replacing a
# clinic staff member's authenticator secret or recovery codes (resets are the clinic admin's,
# recorded in SecondFactorReset).
for _model in (TOTPDevice, StaticDevice):
    if admin.site.is_registered(_model):
        admin.site.unregister(_model)
