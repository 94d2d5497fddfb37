from django import forms
from django.utils.translation import gettext_lazy as _

from measures.models import Item

YES_NO = [("yes", _("Yes")), ("no", _("No"))]
FORGED = "forged"


class SurveyForm(forms.Form):
    """The post-session check, built from the instrument's items in the participant's language.

    A missing answer is an ordinary form error (the page is shown again with the answers kept);
    a value no button could have sent is flagged `forged` so the view can refuse it with 400.
    """

    def __init__(self, *args, items, language, **kwargs):
        super().__init__(*args, **kwargs)
        self.items = items
        for item in items:
            text = item.text(language)
            if item.kind == Item.Kind.RATING:
                field = forms.TypedChoiceField(
                    choices=[(str(v), str(v)) for v in range(item.scale_min, item.scale_max + 1)],
                    coerce=int,
                    widget=forms.RadioSelect,
                    required=item.required,
                )
                field.low_label, field.high_label = text.get("low", ""), text.get("high", "")
                field.scale_min_value, field.scale_max_value = item.scale_min, item.scale_max
            elif item.kind == Item.Kind.YES_NO:
                field = forms.TypedChoiceField(
                    choices=YES_NO, coerce=lambda v: v == "yes", widget=forms.RadioSelect, required=False
                )
            elif item.kind == Item.Kind.CHOICE:
                # one optional tap; without JS it is simply shown, its prompt says when it applies
                labels = text.get("options", {})
                field = forms.ChoiceField(
                    choices=[(code, labels.get(code, code)) for code in item.options],
                    widget=forms.RadioSelect,
                    required=False,
                )
            else:
                field = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False, max_length=2000)
            field.label = text["prompt"]
            field.item = item
            field.error_messages["required"] = _("Please choose an answer.")
            field.error_messages["invalid_choice"] = _("That answer is not one of the choices.")
            self.fields[item.code] = field

    def clean(self):
        cleaned = super().clean()
        for item in self.items:
            if item.kind not in (Item.Kind.YES_NO, Item.Kind.CHOICE) or item.code in self.errors:
                continue
            parent_said_yes = not item.depends_on or cleaned.get(item.depends_on) is True
            if not parent_said_yes or cleaned.get(item.code) == "":
                cleaned[item.code] = None
            if item.required and parent_said_yes and cleaned.get(item.code) is None:
                self.add_error(item.code, forms.ValidationError(_("Please choose an answer."), code="required"))
        return cleaned

    @property
    def is_forged(self):
        """True when a value was sent that no control on the page offers (tampering or a bug)."""
        return any(
            error.code in {"invalid_choice", "invalid", "max_length"}
            for errors in self.errors.as_data().values()
            for error in errors
        )

    def values(self):
        return {code: value for code, value in self.cleaned_data.items() if value not in ("",)}
