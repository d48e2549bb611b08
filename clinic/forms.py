from django import forms
from django.utils import timezone

from clinic.models import (
    Allergy,
    Capability,
    ConservativeCare,
    Diagnosis,
    Imaging,
    Indication,
    Medication,
    Patient,
    ProcedureType,
    Room,
    SpinalRegion,
    validate_no_control_characters,
)
from clinic.ui import DateInput, StyledFormMixin

DATE_ERROR = "Enter a real date as YYYY-MM-DD, for example 1961-04-23."


def choice_list_field(choices, label, required=False):
    """A checkbox list stored in a JSONField as a list of codes."""
    return forms.MultipleChoiceField(
        choices=choices.choices,
        widget=forms.CheckboxSelectMultiple,
        required=required,
        label=label,
    )


class PatientForm(StyledFormMixin, forms.ModelForm):
    """Demographics and contact details: what the front desk registers and edits."""

    class Meta:
        model = Patient
        fields = [
            "mrn",
            "first_name",
            "last_name",
            "date_of_birth",
            "sex",
            "email",
            "phone",
            "preferred_language",
            "email_consent",
        ]
        widgets = {"date_of_birth": DateInput()}
        error_messages = {
            "date_of_birth": {"invalid": DATE_ERROR},
            "email": {"invalid": "Enter an email address such as name@example.com."},
        }

    def clean_mrn(self):
        mrn = self.cleaned_data["mrn"].strip().upper()
        if Patient.objects.filter(mrn=mrn).exclude(pk=self.instance.pk).exists():
            raise forms.ValidationError("Another patient already has this MRN.")
        return mrn

    def clean_date_of_birth(self):
        born = self.cleaned_data["date_of_birth"]
        if born > timezone.localdate():
            raise forms.ValidationError("Date of birth cannot be in the future.")
        if born.year < 1900:
            raise forms.ValidationError("Date of birth must be after 1900.")
        return born


class ClinicalHistoryForm(StyledFormMixin, forms.ModelForm):
    class Meta:
        model = Patient
        fields = ["spinal_history"]
        widgets = {"spinal_history": forms.Textarea(attrs={"rows": 4})}


class MedicationForm(StyledFormMixin, forms.ModelForm):
    class Meta:
        model = Medication
        fields = ["agent", "name", "dose"]


class AllergyForm(StyledFormMixin, forms.ModelForm):
    class Meta:
        model = Allergy
        fields = ["kind", "substance", "reaction", "severity"]


class IndicationForm(StyledFormMixin, forms.ModelForm):
    """The referral: who sent the patient, for what, since when."""

    class Meta:
        model = Indication
        fields = ["referrer", "referred_on", "diagnosis", "diagnosis_note", "symptoms_since"]
        widgets = {"referred_on": DateInput(), "symptoms_since": DateInput()}
        labels = {"diagnosis": "Diagnosis (ICD-10)", "diagnosis_note": "Diagnosis, in words"}
        help_texts = {"symptoms_since": "The duration is worked out from this date."}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["diagnosis"].queryset = Diagnosis.objects.filter(active=True)


class ConservativeCareForm(StyledFormMixin, forms.ModelForm):
    class Meta:
        model = ConservativeCare
        fields = ["kind", "detail", "started", "ended"]
        widgets = {"started": DateInput(), "ended": DateInput()}

    def clean(self):
        data = super().clean()
        started, ended = data.get("started"), data.get("ended")
        if started and ended and ended < started:
            self.add_error("ended", "The care cannot end before it started.")
        return data


class ImagingForm(StyledFormMixin, forms.ModelForm):
    class Meta:
        model = Imaging
        fields = ["modality", "taken_on", "finding"]
        widgets = {"taken_on": DateInput(), "finding": forms.TextInput()}


ConservativeCareFormSet = forms.inlineformset_factory(
    Indication, ConservativeCare, form=ConservativeCareForm, extra=1, can_delete=True
)
ImagingFormSet = forms.inlineformset_factory(
    Indication, Imaging, form=ImagingForm, extra=1, can_delete=True
)

MedicationFormSet = forms.inlineformset_factory(
    Patient, Medication, form=MedicationForm, extra=1, can_delete=True
)
AllergyFormSet = forms.inlineformset_factory(
    Patient, Allergy, form=AllergyForm, extra=1, can_delete=True
)


class RoomForm(StyledFormMixin, forms.ModelForm):
    capabilities = choice_list_field(Capability, "Capabilities")

    class Meta:
        model = Room
        fields = ["site", "name", "kind", "capabilities", "active"]


class ProcedureTypeForm(StyledFormMixin, forms.ModelForm):
    regions = choice_list_field(SpinalRegion, "Spinal regions")
    required_capabilities = choice_list_field(Capability, "Required room capabilities")

    class Meta:
        model = ProcedureType
        fields = [
            "code",
            "name",
            "category",
            "regions",
            "needs_laterality",
            "needs_level",
            "procedure_minutes",
            "setup_minutes",
            "turnover_minutes",
            "recovery_minutes",
            "required_capabilities",
            "bleeding_risk",
            "typical_sedation",
            "active",
        ]


class CrossSiteForm(forms.Form):
    """Why a user opens another site's patient record (clinic.sites)."""

    reason = forms.CharField(
        min_length=10,
        max_length=255,
        validators=[validate_no_control_characters],
        error_messages={
            "required": "Say in a sentence why you need this record.",
            "min_length": "Say in a sentence why you need this record (at least 10 characters).",
        },
    )
