"""Admin of the follow-up engine: managers edit care plans, preparation advice, the
red-flag questions and the diagnostic block protocols here.

Rows the engine writes (invitations, emails, responses, alerts) are read-only: they change
through the services so that every state change stays conditional and logged.
"""

from django import forms
from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from clinic.admin import ClinicalReadOnlyAdmin, ReadOnlyAdmin
from clinic.models import ChoiceListValidator
from followup.forms_plans import InstrumentsField
from followup.models import (
    Alert,
    CarePlan,
    CarePlanStep,
    DiagnosticBlockProtocol,
    EmailLog,
    Instrument,
    InstrumentWording,
    Invitation,
    PreparationInstruction,
    RecallRule,
    RedFlagQuestion,
    Response,
)

validate_instruments = ChoiceListValidator(Instrument.values)


class CarePlanForm(forms.ModelForm):
    # Ticked, not typed as JSON (the staff pages, followup.views_plans, are the main editor).
    baseline_instruments = InstrumentsField(required=False)

    class Meta:
        model = CarePlan
        fields = ["procedure_type", "active", "baseline_with_reminder", "baseline_instruments"]

    def clean_baseline_instruments(self):
        value = self.cleaned_data["baseline_instruments"] or []
        validate_instruments(value)
        return value


class CarePlanStepForm(forms.ModelForm):
    instruments = InstrumentsField(required=False)

    class Meta:
        model = CarePlanStep
        fields = [
            "name",
            "offset_days",
            "offset_minutes",
            "local_time",
            "instruments",
            "expiry_days",
            "order",
        ]

    def clean_instruments(self):
        value = self.cleaned_data["instruments"]
        validate_instruments(value)
        if not value:
            raise forms.ValidationError("Choose at least one instrument.")
        return value


class CarePlanStepInline(admin.TabularInline):
    model = CarePlanStep
    form = CarePlanStepForm
    extra = 0


@admin.register(CarePlan)
class CarePlanAdmin(SimpleHistoryAdmin):
    form = CarePlanForm
    list_display = ["procedure_type", "active", "baseline_with_reminder"]
    list_filter = ["active"]
    inlines = [CarePlanStepInline]


@admin.register(PreparationInstruction)
class PreparationInstructionAdmin(SimpleHistoryAdmin):
    list_display = ["procedure_type", "topic", "language", "order"]
    list_filter = ["language", "topic", "procedure_type"]


@admin.register(RedFlagQuestion)
class RedFlagQuestionAdmin(SimpleHistoryAdmin):
    """The red-flag screen by region: protocol data, so managers edit it here (with history)."""

    list_display = ["region", "order", "code", "text_en", "text_da", "active"]
    list_display_links = ["code"]
    list_filter = ["region", "active"]
    list_editable = ["order", "active"]
    search_fields = ["code", "text_en", "text_da"]
    ordering = ["region", "order", "code"]


@admin.register(DiagnosticBlockProtocol)
class DiagnosticBlockProtocolAdmin(SimpleHistoryAdmin):
    """How each diagnostic block's diary is read (followup.blocks): protocol data."""

    list_display = [
        "procedure_type",
        "local_anaesthetic",
        "expected_duration_hours",
        "positive_threshold",
    ]


@admin.register(RecallRule)
class RecallRuleAdmin(SimpleHistoryAdmin):
    """When a patient is due for review or a repeat (followup.recall): protocol data."""

    list_display = ["name", "kind", "threshold_percent", "weeks", "lookback_weeks", "active"]
    filter_horizontal = ["watched"]


@admin.register(InstrumentWording)
class InstrumentWordingAdmin(SimpleHistoryAdmin):
    list_display = ["instrument", "section", "language", "title"]
    list_filter = ["instrument", "language"]


@admin.register(Invitation)
class InvitationAdmin(ReadOnlyAdmin):
    list_display = ["due_at", "kind", "patient", "status", "sends", "reminders_sent"]
    list_filter = ["status", "kind"]
    raw_id_fields = ["patient", "appointment", "sent_with"]
    date_hierarchy = "due_at"


@admin.register(EmailLog)
class EmailLogAdmin(ReadOnlyAdmin):
    list_display = ["at", "kind", "to_address", "status", "message_id"]
    list_filter = ["status", "kind"]
    search_fields = ["to_address", "message_id"]
    date_hierarchy = "at"


@admin.register(Response)
class ResponseAdmin(ClinicalReadOnlyAdmin):
    list_display = ["submitted_at", "patient", "nrs_average", "pgic", "odi_percent"]
    raw_id_fields = ["patient", "invitation"]


@admin.register(Alert)
class AlertAdmin(ClinicalReadOnlyAdmin):
    list_display = ["created_at", "kind", "patient", "acknowledged_by", "escalated_at"]
    list_filter = ["kind"]
    raw_id_fields = ["patient", "response"]
