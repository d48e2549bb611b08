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
            "national_id",
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

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if not self.instance.pk:
            self.fields["mrn"].required = False
            self.fields["mrn"].help_text = "Leave empty to have one assigned."

    def clean_mrn(self):
        mrn = self.cleaned_data["mrn"].strip().upper()
        if not mrn and not self.instance.pk:
            return mrn  # clinic.services.patient_create assigns one
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


def split_name(name: str) -> tuple[str, str]:
    """(first, last) of a name typed as "Anders Andersen" or "Andersen, Anders"; the
    last word is the last name, the words before it the first names."""
    if "," in name:
        last, _, first = name.partition(",")
        return " ".join(first.split()), " ".join(last.split())
    words = name.split()
    return " ".join(words[:-1]), (words[-1] if words else "")


class NewPatientForm(StyledFormMixin, forms.Form):
    """The fewest details that register a patient while booking: the name, the birth date,
    and a phone number or email address to reach them. The MRN is assigned
    (clinic.services.patient_create); the rest is added on the patient's page."""

    prefix = "new"
    # Required only when no registered patient is chosen: the page says so, not the browser.
    use_required_attribute = False

    name = forms.CharField(
        max_length=161,
        help_text="First and last name, e.g. Anders Andersen or Andersen, Anders.",
        validators=[validate_no_control_characters],
    )
    date_of_birth = forms.DateField(
        label="Born", widget=DateInput(), error_messages={"invalid": DATE_ERROR}
    )
    contact = forms.CharField(
        label="Phone or email",
        max_length=254,
        validators=[validate_no_control_characters],
        help_text="For reminders and the follow-up surveys.",
    )

    clean_date_of_birth = PatientForm.clean_date_of_birth

    def is_filled(self) -> bool:
        """Whether anything was typed: an empty section means "not a new patient"."""
        return any(self.data.get(self.add_prefix(name), "").strip() for name in self.fields)

    def clean_name(self):
        first, last = split_name(self.cleaned_data["name"])
        if not first or not last:
            raise forms.ValidationError("Enter the first and the last name.")
        if len(first) > 80 or len(last) > 80:
            raise forms.ValidationError("A first or last name has at most 80 characters.")
        return self.cleaned_data["name"]

    def clean_contact(self):
        contact = self.cleaned_data["contact"].strip()
        if "@" in contact:
            forms.EmailField().clean(contact)
        elif sum(char.isdigit() for char in contact) < 6:
            raise forms.ValidationError("Enter a phone number or an email address.")
        elif len(contact) > 40:
            raise forms.ValidationError("A phone number has at most 40 characters.")
        return contact

    def patient(self) -> Patient:
        """The unsaved patient these details describe."""
        data = self.cleaned_data
        first, last = split_name(data["name"])
        contact = data["contact"]
        email, phone = (contact, "") if "@" in contact else ("", contact)
        return Patient(
            first_name=first,
            last_name=last,
            date_of_birth=data["date_of_birth"],
            email=email,
            phone=phone,
        )


class PatientMergeForm(StyledFormMixin, forms.Form):
    """Which record is the duplicate of the kept one, and why they are the same person."""

    remove = forms.CharField(
        label="MRN of the duplicate record",
        max_length=32,
        help_text="Its appointments, waitlist and follow-up move to this record.",
    )
    reason = forms.CharField(
        max_length=200,
        validators=[validate_no_control_characters],
        help_text="E.g. the same person registered twice; checked by phone with the patient.",
        error_messages={"required": "Say why these records are the same patient."},
    )

    def __init__(self, *args, keep, **kwargs):
        super().__init__(*args, **kwargs)
        self.keep = keep
        remove = self.initial.get("remove")
        if remove and str(remove).isdigit():  # a link names the record by its id
            found = Patient.objects.filter(pk=remove).first()
            self.initial["remove"] = found.mrn if found else ""

    def remove_record(self) -> Patient | None:
        mrn = str(self["remove"].value() or "").strip().upper()
        return Patient.objects.filter(mrn=mrn).first() if mrn else None

    def clean_remove(self):
        mrn = self.cleaned_data["remove"].strip().upper()
        remove = Patient.objects.filter(mrn=mrn).first()
        if remove is None:
            raise forms.ValidationError("No patient has this MRN.")
        if remove.pk == self.keep.pk:
            raise forms.ValidationError("This is the record you keep: enter the duplicate's MRN.")
        return remove


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
            "name_da",
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
