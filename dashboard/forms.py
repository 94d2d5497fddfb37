from django import forms

from accounts.models import User
from measures.models import SignalAction
from sessions_app.models import Case, TherapySession


class SessionStatusForm(forms.Form):
    # The statuses a therapist records, with the short labels of the case page's buttons.
    status = forms.ChoiceField(
        choices=[
            (TherapySession.Status.ATTENDED.value, "Attended"),
            (TherapySession.Status.NO_SHOW.value, "No-show"),
            (TherapySession.Status.LATE_CANCELLED.value, "Late cancel"),
            (TherapySession.Status.CANCELLED.value, "Cancelled"),
        ]
    )


class ScheduleSessionForm(forms.Form):
    """A new appointment, entered in the clinic's local time (the active time zone)."""

    start = forms.DateTimeField(
        label="Next session",
        input_formats=["%Y-%m-%dT%H:%M"],
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )


class CaseloadFilterForm(forms.Form):
    flagged = forms.BooleanField(required=False, label="Flagged only")
    kind = forms.ChoiceField(required=False, choices=[("", "Any kind"), *Case.Kind.choices], label="Kind")
    q = forms.CharField(required=False, max_length=80, label="Search by name")

    def clean_q(self):
        return self.cleaned_data["q"].strip()


class ResolveSignalForm(forms.Form):
    repair = forms.ChoiceField(choices=SignalAction.Repair.choices, label="What was done")
    note = forms.CharField(
        required=False, max_length=500, widget=forms.Textarea(attrs={"rows": 2}), label="Short note (optional)"
    )

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("repair") == SignalAction.Repair.OTHER and not (cleaned.get("note") or "").strip():
            self.add_error("note", "Say briefly what was done.")
        return cleaned


class DigestPreferenceForm(forms.ModelForm):
    class Meta:
        model = User
        fields = ["digest"]
        widgets = {"digest": forms.RadioSelect(attrs={"class": "form-check-input"})}
        labels = {"digest": "Email me a summary of open flags and unanswered checks"}


class ClinicCaseloadFilterForm(CaseloadFilterForm):
    """The admin's home: the caseload filters, plus one therapist's cases or those needing one."""

    therapist = forms.TypedChoiceField(required=False, coerce=int, empty_value=None, label="Therapist")
    needs_therapist = forms.BooleanField(required=False, label="Needs a therapist")

    def __init__(self, *args, therapists=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["therapist"].choices = [("", "All therapists")] + [
            (member.pk, member.full_name + ("" if member.is_active else " (deactivated)")) for member in therapists
        ]
