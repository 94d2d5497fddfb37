from django import forms
from django.contrib.auth import get_user_model


class AccessLogFilterForm(forms.Form):
    """The admin's filter of the access log: a person, a case (its reference), a date range."""

    person = forms.ModelChoiceField(queryset=get_user_model().objects.none(), required=False, empty_label="Anyone")
    case = forms.CharField(required=False, max_length=60, label="Case reference")
    date_from = forms.DateField(required=False, label="From", widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(required=False, label="To (inclusive)", widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args, clinic_id, **kwargs):
        super().__init__(*args, **kwargs)
        # Only the clinic's own people can be picked: another clinic's user id is "not a choice".
        self.fields["person"].queryset = (
            get_user_model().objects.filter(clinic_id=clinic_id).order_by("full_name").only("full_name", "email")
        )

    def clean_case(self):
        return self.cleaned_data["case"].strip()

    def clean(self):
        cleaned = super().clean()
        start, end = cleaned.get("date_from"), cleaned.get("date_to")
        if start and end and start > end:
            raise forms.ValidationError("The start date is after the end date.")
        return cleaned
