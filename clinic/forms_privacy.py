from django import forms


class AnonymiseForm(forms.Form):
    """Anonymisation cannot be undone: the MRN typed again confirms which patient."""

    confirm_mrn = forms.CharField(label="Type the patient's MRN to confirm", max_length=32)
    reason = forms.CharField(
        label="Why",
        max_length=200,
        help_text="E.g. the patient's written request of 2026-11-30. Names are removed.",
    )

    def __init__(self, *args, patient, **kwargs):
        super().__init__(*args, **kwargs)
        self.patient = patient

    def clean_confirm_mrn(self):
        typed = self.cleaned_data["confirm_mrn"].strip().upper()
        if typed != self.patient.mrn.upper():
            raise forms.ValidationError("That is not this patient's MRN: nothing was changed.")
        return typed
