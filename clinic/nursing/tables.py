"""Tables of the protocol lists (django-tables2, CSV export through render_table)."""

import django_tables2 as tables
from django.urls import reverse

from clinic.models import ProcedureType
from clinic.nursing.models import (
    AnticoagulantHold,
    ChecklistItem,
    ProcedureNoteTemplate,
    injectate_text,
)
from clinic.nursing.rules import protocol_for


class ChecklistItemTable(tables.Table):
    label = tables.Column(
        linkify=lambda record: reverse("nursing_checklist_item_edit", args=[record.pk])
    )
    asked_for = tables.Column(empty_values=(), orderable=False, verbose_name="Asked for")

    class Meta:
        model = ChecklistItem
        fields = [
            "order",
            "label",
            "phase",
            "kind",
            "asked_for",
            "applies_when",
            "required",
            "hard_stop",
            "overridable",
            "active",
        ]
        order_by = ["order"]

    def render_asked_for(self, record):
        types = record.procedure_types.all()
        return ", ".join(t.name for t in types) if types else "Every procedure"


class AnticoagulantHoldTable(tables.Table):
    agent = tables.Column(linkify=lambda record: reverse("nursing_hold_edit", args=[record.pk]))
    hold_days = tables.Column(verbose_name="Hold (days)")
    restart_days = tables.Column(verbose_name="Restart (days after)")

    class Meta:
        model = AnticoagulantHold
        fields = ["agent", "bleeding_risk", "hold_days", "restart_days", "note", "source"]
        order_by = ["agent"]


class ProtocolTable(tables.Table):
    name = tables.Column(
        verbose_name="Procedure",
        linkify=lambda record: reverse("nursing_protocol_edit", args=[record.pk]),
    )
    observations = tables.Column(empty_values=(), orderable=False)
    scale = tables.Column(empty_values=(), orderable=False, verbose_name="Discharge scale")
    threshold = tables.Column(empty_values=(), orderable=False, verbose_name="Threshold")

    class Meta:
        model = ProcedureType
        fields = ["name", "bleeding_risk", "typical_sedation", "observations", "scale", "threshold"]
        order_by = ["name"]

    def render_observations(self, record):
        return protocol_for(record).schedule_display

    def render_scale(self, record):
        return protocol_for(record).get_discharge_scale_display()

    def render_threshold(self, record):
        return f"{protocol_for(record).discharge_threshold} of 10"


class NoteTemplateTable(tables.Table):
    procedure_type = tables.Column(
        verbose_name="Procedure",
        order_by="procedure_type__name",
        linkify=lambda record: reverse(
            "nursing_note_template_edit", args=[record.procedure_type_id]
        ),
    )
    injectates = tables.Column(orderable=False)

    class Meta:
        model = ProcedureNoteTemplate
        fields = ["procedure_type", "approach", "imaging_modality", "needle", "injectates"]
        order_by = ["procedure_type"]

    def render_injectates(self, value):
        return "; ".join(injectate_text(row) for row in value)

    def value_injectates(self, value):
        return self.render_injectates(value)
