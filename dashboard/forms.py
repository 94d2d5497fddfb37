from crispy_forms.helper import FormHelper
from crispy_forms.layout import Div, Field, Layout
from django import forms
from django.utils import dateformat, timezone

from accounts.models import User
from measures import repairs
from measures.models import SignalAction
from sessions_app.actions import SessionConflict, check_session_start
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
    # The second step of a change to a session that has answers (the confirmation page sends it).
    confirm = forms.BooleanField(required=False)


class ScheduleSessionForm(forms.Form):
    """A new appointment, or a new time for one, in the clinic's local time (the active time zone).
    A time outside the case's life is refused beside the field (sessions_app's check_session_start)."""

    start = forms.DateTimeField(
        label="Date and time",
        input_formats=["%Y-%m-%dT%H:%M"],
        widget=forms.DateTimeInput(attrs={"type": "datetime-local", "class": "form-control"}, format="%Y-%m-%dT%H:%M"),
        error_messages={
            "required": "Please give the date and time of the session.",
            "invalid": "Please give the date and time of the session.",
        },
    )

    def __init__(self, *args, case, compact=False, **kwargs):
        super().__init__(*args, **kwargs)
        self.case = case
        start = self.fields["start"]
        zone = timezone.get_current_timezone_name()
        self.helper = FormHelper()
        self.helper.form_tag = False
        self.helper.disable_csrf = True  # the page's <form> has its token
        if compact:  # the case page's one-line "Add a session" form
            start.label = f"Add a session (time in {zone})"
            self.helper.layout = Layout(Field("start", css_class="form-control-sm"))
        else:
            start.label = f"{start.label} (time in {zone})"
            start.help_text = (
                f"Between the day the case opened ({dateformat.format(case.opened_on, 'j M Y')}) and a year from today."
            )

    def clean_start(self):
        start = self.cleaned_data["start"]
        try:
            check_session_start(self.case, start)
        except SessionConflict as refused:
            raise forms.ValidationError(str(refused)) from None
        return start


class CaseloadFilterForm(forms.Form):
    flagged = forms.BooleanField(required=False, label="Flagged only")
    kind = forms.ChoiceField(required=False, choices=[("", "Any kind"), *Case.Kind.choices], label="Kind")
    q = forms.CharField(required=False, max_length=80, label="Search by name", widget=forms.SearchInput)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.helper = FormHelper()
        self.helper.form_tag = False
        self.helper.disable_csrf = True  # the page's <form> has its token
        self.helper.layout = Layout(*self.filter_layout())

    def filter_layout(self):
        """The filters on one line, each in its column; the page writes the <form> and its buttons."""
        return [
            Div("flagged", css_class="col-auto ms-2"),
            Div(Field("kind", css_class="form-select-sm"), css_class="col-auto"),
            Div(Field("q", css_class="form-control-sm"), css_class="col-auto"),
        ]

    def clean_q(self):
        return self.cleaned_data["q"].strip()


class ResolveSignalForm(forms.Form):
    """What was done about a flag. No repair is pre-selected: the therapist chooses one (a default
    would record a repair nobody chose). `kind` is the flag's kind: its repair suggestions
    (measures.repairs) are the choices of the optional "suggestion" field."""

    repair = forms.ChoiceField(
        choices=[("", "Choose what was done…"), *SignalAction.Repair.choices],
        label="What was done",
        error_messages={"required": "Choose what was done."},
    )
    suggestion = forms.ChoiceField(required=False, label="Suggestion used (optional)")
    note = forms.CharField(
        required=False, max_length=500, label="Short note", widget=forms.TextInput(attrs={"size": 36})
    )

    def __init__(self, *args, kind="", flag_id=None, **kwargs):
        # Each flag card has its form: ids "repair-<flag id>" etc. keep them apart on the case page.
        if flag_id is not None:
            kwargs.setdefault("auto_id", f"%s-{flag_id}")
        super().__init__(*args, **kwargs)
        # Rendered once per card inside the card's own <form> (templates/dashboard/_resolve_form.html).
        self.helper = FormHelper()
        self.helper.form_tag = False
        self.helper.disable_csrf = True  # the page's <form> has its token
        self.helper.layout = Layout(
            Field("repair", css_class="form-select-sm"),
            Field("suggestion", css_class="form-select-sm suggestion-select"),
            Field("note", css_class="form-control-sm"),
        )
        self.fields["suggestion"].choices = [
            ("", "Not recorded"),
            *((suggestion.key, suggestion.text) for suggestion in repairs.suggestions_for(kind)),
            (repairs.OTHER, repairs.OTHER_LABEL),
        ]

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("repair") == SignalAction.Repair.OTHER and not (cleaned.get("note") or "").strip():
            self.add_error("note", "Say briefly what was done.")
        return cleaned

    def full_clean(self):
        super().full_clean()
        # A refused entry: the focus goes to the first field in error (its message is beside it).
        first = next((name for name in self.fields if name in self._errors), None) if self._errors else None
        if first:
            self.fields[first].widget.attrs["autofocus"] = True


class DigestPreferenceForm(forms.ModelForm):
    class Meta:
        model = User
        fields = ["digest"]
        widgets = {"digest": forms.RadioSelect}
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

    def filter_layout(self):
        return [
            Div(Field("therapist", css_class="form-select-sm"), css_class="col-auto"),
            Div("needs_therapist", css_class="col-auto ms-2"),
            *super().filter_layout(),
        ]
