"""Forms of case administration: one per action (open, assign, close, a client's details, import)."""

from django import forms
from django.utils import timezone

from accounts.models import User

from .models import Case, Participant

# Rows of client fields on the "open a case" page; "add another row" asks for more (no JS).
OPEN_CASE_ROWS = 2
OPEN_CASE_MAX_ROWS = 12


class OpenCaseForm(forms.Form):
    reference = forms.CharField(
        max_length=40, help_text="A short label the clinic uses for the case (never a diagnosis or a full name)."
    )
    kind = forms.ChoiceField(choices=Case.Kind.choices, initial=Case.Kind.INDIVIDUAL)
    therapist = forms.ModelChoiceField(queryset=User.objects.none(), required=False, empty_label="Nobody yet")
    opened_on = forms.DateField(initial=timezone.localdate, widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args, clinic, choose_therapist, **kwargs):
        super().__init__(*args, **kwargs)
        self.clinic = clinic
        if choose_therapist:
            self.fields["therapist"].queryset = therapists_of(clinic)
        else:  # a therapist opening a case gets it themselves
            del self.fields["therapist"]

    def clean_reference(self):
        reference = self.cleaned_data["reference"].strip()
        if Case.objects.filter(clinic=self.clinic, reference__iexact=reference).exists():
            raise forms.ValidationError("The clinic already has a case with this reference.")
        return reference


def therapists_of(clinic):
    return User.objects.filter(clinic=clinic, role=User.Role.THERAPIST, is_active=True).order_by("full_name")


class ParticipantForm(forms.ModelForm):
    """A client's name, contact details and language: opening a case, adding a family member, correcting."""

    class Meta:
        model = Participant
        fields = ["display_name", "email", "phone", "language"]
        labels = {"display_name": "Name shown to staff", "phone": "Phone (optional)", "email": "Email"}

    def clean_display_name(self):
        return " ".join(self.cleaned_data["display_name"].split())

    def clean_email(self):
        return self.cleaned_data["email"].strip().lower()

    def clean_phone(self):
        return self.cleaned_data["phone"].strip()


class BaseParticipantFormSet(forms.BaseFormSet):
    def clean(self):
        if any(self.errors):
            return
        names = [form.cleaned_data["display_name"].lower() for form in self.filled_forms()]
        if len(names) != len(set(names)):
            raise forms.ValidationError("Two clients have the same name: tell them apart (e.g. an initial).")

    def filled_forms(self):
        return [form for form in self.forms if form.has_changed() and form.cleaned_data.get("display_name")]


def participant_formset(rows):
    """The client rows of "open a case": blank rows are ignored, the kind decides how many count."""
    return forms.formset_factory(
        ParticipantForm,
        formset=BaseParticipantFormSet,
        extra=rows,
        max_num=OPEN_CASE_MAX_ROWS,
        absolute_max=OPEN_CASE_MAX_ROWS,
        validate_max=True,
    )


class AssignCaseForm(forms.Form):
    therapist = forms.ModelChoiceField(queryset=User.objects.none(), label="Give the case to")

    def __init__(self, *args, case, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["therapist"].queryset = therapists_of(case.clinic).exclude(pk=case.therapist_id)


class CloseCaseForm(forms.Form):
    outcome = forms.ChoiceField(choices=Case.Outcome.choices, widget=forms.RadioSelect, label="How did it end?")
    closed_on = forms.DateField(
        initial=timezone.localdate, widget=forms.DateInput(attrs={"type": "date"}), label="Closing date"
    )

    def __init__(self, *args, case, **kwargs):
        super().__init__(*args, **kwargs)
        self.case = case

    def clean_closed_on(self):
        closed_on = self.cleaned_data["closed_on"]
        if closed_on > timezone.localdate():
            raise forms.ValidationError("The closing date cannot be in the future.")
        if closed_on < self.case.opened_on:
            raise forms.ValidationError(f"The case opened on {self.case.opened_on:%d %b %Y}: it cannot close before.")
        return closed_on


class CaseImportForm(forms.Form):
    cases_file = forms.FileField(label="Cases and clients (CSV)")
    history_file = forms.FileField(label="Past sessions and scores (CSV, replay format, optional)", required=False)
