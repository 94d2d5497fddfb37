import zoneinfo

from django import forms
from django.contrib.auth.forms import AuthenticationForm, SetPasswordForm
from django.utils.translation import gettext_lazy as _

from .models import FALSE_FLAG_BUDGET_RANGE, LANGUAGES, Clinic, User


class EmailAuthenticationForm(AuthenticationForm):
    username = forms.EmailField(
        label="Email", widget=forms.EmailInput(attrs={"autofocus": True, "autocomplete": "email"})
    )

    def clean_username(self):
        return self.cleaned_data["username"].strip().lower()


class SecondFactorCodeForm(forms.Form):
    code = forms.CharField(
        label="Code",
        max_length=40,
        widget=forms.TextInput(attrs={"autofocus": True, "autocomplete": "one-time-code", "spellcheck": "false"}),
    )

    def clean_code(self):
        return "".join(self.cleaned_data["code"].split()).replace("-", "").lower()


STAFF_ROLES = [
    (User.Role.THERAPIST, User.Role.THERAPIST.label),
    (User.Role.CLINIC_ADMIN, User.Role.CLINIC_ADMIN.label),
]


class InviteStaffForm(forms.Form):
    full_name = forms.CharField(label="Name", max_length=150)
    email = forms.EmailField(label="Email", widget=forms.EmailInput(attrs={"autocomplete": "off"}))
    role = forms.ChoiceField(choices=STAFF_ROLES, initial=User.Role.THERAPIST)

    def clean_email(self):
        return self.cleaned_data["email"].strip().lower()


class RoleForm(forms.Form):
    role = forms.ChoiceField(choices=STAFF_ROLES)


class ClinicSettingsForm(forms.ModelForm):
    """The settings a clinic admin changes. `instrument_choices` come from the layer above
    (accounts knows no instruments): (code, name) of the instruments loaded."""

    languages = forms.MultipleChoiceField(
        label="Languages offered to clients",
        choices=LANGUAGES,
        widget=forms.CheckboxSelectMultiple,
        help_text="Clients choose among these on the survey; with one, the survey offers no switch.",
    )
    time_zone = forms.ChoiceField(label="Time zone", help_text="Dates in emails and the digest's hour follow it.")
    instrument_code = forms.ChoiceField(label="Questionnaire in use")
    alliance_cutoff = forms.DecimalField(
        label="Alliance cutoff",
        min_value=0,
        max_value=10,
        max_digits=3,
        decimal_places=1,
        help_text="Total alliance score (0–10) below which a check counts as low.",
    )
    invitation_expiry_days = forms.IntegerField(label="Check links expire after (days)", min_value=1, max_value=30)
    reminder_after_days = forms.IntegerField(label="Send a reminder after (days)", min_value=0, max_value=29)
    false_flag_budget = forms.IntegerField(
        label=_("Flag budget (%)"),
        min_value=FALSE_FLAG_BUDGET_RANGE[0],
        max_value=FALSE_FLAG_BUDGET_RANGE[1],
        help_text=_(
            "At most this share of clients who stay in therapy should ever be flagged over a course. "
            "Lower means fewer flags and more missed dropouts."
        ),
        error_messages={
            key: _("Enter a whole percent from 1 to 30.") for key in ("invalid", "min_value", "max_value", "required")
        },
    )

    class Meta:
        model = Clinic
        fields = [
            "alliance_cutoff",
            "invitation_expiry_days",
            "reminder_after_days",
            "time_zone",
            "languages",
            "instrument_code",
            "sensitivity",
            "false_flag_budget",
            "client_contact",
            "notes_readers",
        ]
        labels = {
            "alliance_cutoff": "Alliance cutoff",
            "invitation_expiry_days": "Check links expire after (days)",
            "reminder_after_days": "Send a reminder after (days)",
            "sensitivity": "Flag sensitivity",
            "client_contact": "Contact line shown to clients",
            "notes_readers": "Who may read clients' written notes",
        }
        help_texts = {
            "sensitivity": (
                "How much evidence a single drop needs before it becomes a flag, against the slower signs. "
                "Until the clinic is calibrated it also sets how many flags there are; after that the flag "
                "budget does, and this only moves which signs spend it. Applies from the next evaluation."
            ),
            "client_contact": "For example a phone number. Shown on the survey's closed and thank-you pages.",
            "notes_readers": "The survey tells clients who reads what they write.",
        }

    def __init__(self, *args, instrument_choices=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["time_zone"].choices = [(name, name) for name in sorted(zoneinfo.available_timezones())]
        self.fields["instrument_code"].choices = list(instrument_choices)
        self.fields["notes_readers"].widget = forms.RadioSelect(choices=Clinic.NotesReaders.choices)

    def clean(self):
        data = super().clean()
        expiry, reminder = data.get("invitation_expiry_days"), data.get("reminder_after_days")
        if expiry is not None and reminder is not None and reminder >= expiry:
            self.add_error("reminder_after_days", "The reminder must go out before the link expires.")
        return data


class AcceptInvitationForm(SetPasswordForm):
    """Django's set-password form (its validators see the invitee's name and address)."""
