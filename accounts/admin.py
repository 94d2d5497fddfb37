"""The operator's Django admin: clinics and their staff accounts only.

Clinical data (cases, answers, flags) is deliberately not registered here: the operator runs the
deployment and has no need to read clients' answers; clinic staff work in the app itself.
"""

from django import forms
from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.contrib.auth.forms import UserChangeForm as BaseUserChangeForm
from django.contrib.auth.forms import UserCreationForm as BaseUserCreationForm

from .models import Clinic, User


@admin.register(Clinic)
class ClinicAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "time_zone", "alliance_cutoff", "invitation_expiry_days", "reminder_after_days"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}


class UserCreationForm(BaseUserCreationForm):
    class Meta:
        model = User
        fields = ["email", "full_name", "role", "clinic"]

    def clean_email(self):
        return self.cleaned_data["email"].strip().lower()


class UserChangeForm(BaseUserChangeForm):
    class Meta:
        model = User
        fields = "__all__"


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    form = UserChangeForm
    add_form = UserCreationForm
    ordering = ["clinic__name", "email"]
    list_display = ["email", "full_name", "role", "clinic", "is_active", "last_login"]
    list_filter = ["role", "is_active", "clinic"]
    search_fields = ["email", "full_name"]
    fieldsets = [
        (None, {"fields": ["email", "password"]}),
        ("Person", {"fields": ["full_name", "role", "clinic", "digest"]}),
        ("Access", {"fields": ["is_active", "is_staff", "is_superuser"]}),
        ("Dates", {"fields": ["last_login", "date_joined"]}),
    ]
    add_fieldsets = [
        (None, {"classes": ["wide"], "fields": ["email", "full_name", "role", "clinic", "password1", "password2"]})
    ]
    filter_horizontal = []
    readonly_fields = ["last_login", "date_joined"]

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        if db_field.name == "email":
            kwargs["widget"] = forms.EmailInput
        return super().formfield_for_dbfield(db_field, request, **kwargs)
