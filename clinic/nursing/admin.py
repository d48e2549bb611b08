"""Admin of the perioperative record: protocols are edited here or on the nursing pages;
the record itself is read-only here (signed rows change only by amendment)."""

from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from clinic.admin import ClinicalReadOnlyAdmin
from clinic.nursing.forms import (
    AnticoagulantHoldForm,
    ChecklistItemForm,
    ProcedureNoteTemplateForm,
    ProcedureProtocolForm,
)
from clinic.nursing.models import (
    Amendment,
    AnticoagulantHold,
    ChecklistAnswer,
    ChecklistItem,
    Complication,
    Discharge,
    DischargeAssessment,
    Escalation,
    HardStopOverride,
    ObservationRound,
    ProcedureNote,
    ProcedureNoteAmendment,
    ProcedureNoteTemplate,
    ProcedureProtocol,
    TimeOutConfirmation,
)


@admin.register(ChecklistItem)
class ChecklistItemAdmin(SimpleHistoryAdmin):
    form = ChecklistItemForm
    list_display = ["label", "phase", "kind", "applies_when", "required", "hard_stop", "active"]
    list_filter = ["phase", "kind", "hard_stop", "active"]
    filter_horizontal = ["procedure_types"]
    search_fields = ["label", "code"]


@admin.register(AnticoagulantHold)
class AnticoagulantHoldAdmin(SimpleHistoryAdmin):
    form = AnticoagulantHoldForm
    list_display = ["agent", "bleeding_risk", "hold_days", "note"]
    list_filter = ["agent", "bleeding_risk"]


@admin.register(ProcedureProtocol)
class ProcedureProtocolAdmin(SimpleHistoryAdmin):
    form = ProcedureProtocolForm
    list_display = [
        "procedure_type",
        "observation_interval_minutes",
        "observation_count",
        "discharge_scale",
        "discharge_threshold",
    ]


@admin.register(ProcedureNoteTemplate)
class ProcedureNoteTemplateAdmin(SimpleHistoryAdmin):
    form = ProcedureNoteTemplateForm
    list_display = ["procedure_type", "approach", "imaging_modality", "needle", "records_rf"]
    list_filter = ["imaging_modality", "records_rf"]


@admin.register(Complication)
class ComplicationAdmin(SimpleHistoryAdmin):
    list_display = ["label", "code", "order", "active"]
    list_filter = ["active"]


class AmendmentInline(admin.TabularInline):
    """A signed record's history: every amendment, who, when and why (read-only)."""

    model = Amendment
    fields = ["at", "by", "field", "old_value", "new_value", "reason"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class NoteAmendmentInline(AmendmentInline):
    model = ProcedureNoteAmendment
    fields = ["at", "by", "revision", "field", "old_value", "new_value", "reason"]
    readonly_fields = fields


HISTORY_INLINES = {
    ProcedureNote: [NoteAmendmentInline],
    ChecklistAnswer: [type("AnswerAmendments", (AmendmentInline,), {"fk_name": "answer"})],
    ObservationRound: [type("RoundAmendments", (AmendmentInline,), {"fk_name": "round"})],
    DischargeAssessment: [
        type("AssessmentAmendments", (AmendmentInline,), {"fk_name": "assessment"})
    ],
}

for model, columns in [
    (ChecklistAnswer, ["appointment", "item", "value", "signed_by", "signed_at"]),
    (TimeOutConfirmation, ["appointment", "role", "signed_by", "signed_at"]),
    (ObservationRound, ["appointment", "taken_at", "news2_total", "news2_risk", "signed_by"]),
    (Escalation, ["round", "callee", "called_at", "recorded_by"]),
    (DischargeAssessment, ["appointment", "scale", "total", "threshold", "signed_by"]),
    (Discharge, ["appointment", "discharged_at", "discharged_by"]),
    (HardStopOverride, ["appointment", "to_status", "reason", "by", "at"]),
    (Amendment, ["field", "old_value", "new_value", "reason", "by", "at"]),
    (ProcedureNote, ["appointment", "levels", "laterality", "signed_by", "signed_at", "revision"]),
    (ProcedureNoteAmendment, ["note", "field", "old_value", "new_value", "reason", "by", "at"]),
]:
    admin.site.register(
        model,
        type(
            f"{model.__name__}Admin",
            (ClinicalReadOnlyAdmin,),
            {
                "list_display": columns,
                "list_select_related": True,
                "inlines": HISTORY_INLINES.get(model, []),
            },
        ),
    )
