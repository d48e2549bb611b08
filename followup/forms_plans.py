"""Forms of the care-plan pages: instruments are ticked in a list, never typed as JSON."""

from django import forms

from clinic.ui import StyledFormMixin
from followup.models import CarePlan, CarePlanStep, Instrument, PreparationInstruction


def _in_order(values) -> list[str]:
    """The ticked instruments in the catalogue's order, so equal plans store equal lists."""
    return [value for value in Instrument.values if value in values]


class InstrumentsField(forms.MultipleChoiceField):
    widget = forms.CheckboxSelectMultiple

    def __init__(self, **kwargs):
        super().__init__(choices=Instrument.choices, **kwargs)

    def clean(self, value):
        return _in_order(super().clean(value))


class CarePlanForm(StyledFormMixin, forms.ModelForm):
    baseline_instruments = InstrumentsField(
        label="Baseline survey asks",
        required=False,
        help_text="Tick none for no baseline survey.",
    )

    class Meta:
        model = CarePlan
        fields = ["active", "baseline_with_reminder", "baseline_instruments"]
        labels = {
            "active": "Follow-up is sent for this procedure",
            "baseline_with_reminder": "Send the baseline survey with the appointment reminder",
        }


class CarePlanStepForm(StyledFormMixin, forms.ModelForm):
    instruments = InstrumentsField(
        label="The survey asks",
        error_messages={"required": "Tick at least one instrument."},
    )

    class Meta:
        model = CarePlanStep
        fields = [
            "name",
            "offset_days",
            "offset_minutes",
            "local_time",
            "expiry_days",
            "instruments",
            "order",
        ]
        labels = {
            "name": "Name",
            "offset_days": "Days after discharge",
            "offset_minutes": "Or minutes after discharge (same-day diary)",
            "local_time": "Send at (site time)",
            "expiry_days": "Closes after (days)",
            "order": "Position",
        }
        widgets = {"local_time": forms.TimeInput(attrs={"type": "time"}, format="%H:%M")}


CarePlanStepFormSet = forms.inlineformset_factory(
    CarePlan,
    CarePlanStep,
    form=CarePlanStepForm,
    extra=1,
    can_delete=True,
)


class PreparationForm(StyledFormMixin, forms.ModelForm):
    class Meta:
        model = PreparationInstruction
        fields = ["topic", "language", "text", "order"]
        labels = {"order": "Position"}
        widgets = {"text": forms.Textarea(attrs={"rows": 3})}


PreparationFormSet = forms.inlineformset_factory(
    PreparationInstruction.procedure_type.field.related_model,
    PreparationInstruction,
    form=PreparationForm,
    extra=1,
    can_delete=True,
)
