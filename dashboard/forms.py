from django import forms

from sessions_app.models import TherapySession


class SessionStatusForm(forms.Form):
    status = forms.ChoiceField(
        choices=[(s.value, s.label) for s in TherapySession.Status if s != TherapySession.Status.SCHEDULED]
    )
