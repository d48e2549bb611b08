"""Filters of the protocol lists."""

import django_filters
from django.db.models import Q

from clinic.models import ProcedureType
from clinic.nursing.models import AnticoagulantHold, ChecklistItem, ProcedureNoteTemplate
from clinic.ui import FilterForm


class ChecklistItemFilter(django_filters.FilterSet):
    label = django_filters.CharFilter(lookup_expr="icontains")
    procedure_type = django_filters.ModelChoiceFilter(
        label="Asked for",
        queryset=ProcedureType.objects.all(),
        method="filter_procedure_type",
    )

    class Meta:
        model = ChecklistItem
        form = FilterForm
        fields = ["label", "phase", "procedure_type", "hard_stop", "active"]

    def filter_procedure_type(self, queryset, name, value):
        """Items asked for this procedure type: its own and those asked for every type."""
        return queryset.filter(
            Q(procedure_types__isnull=True) | Q(procedure_types=value)
        ).distinct()


class AnticoagulantHoldFilter(django_filters.FilterSet):
    class Meta:
        model = AnticoagulantHold
        form = FilterForm
        fields = ["agent", "bleeding_risk"]


class ProtocolFilter(django_filters.FilterSet):
    name = django_filters.CharFilter(lookup_expr="icontains")

    class Meta:
        model = ProcedureType
        form = FilterForm
        fields = ["name", "category", "typical_sedation"]


class NoteTemplateFilter(django_filters.FilterSet):
    procedure = django_filters.CharFilter(
        field_name="procedure_type__name", lookup_expr="icontains", label="Procedure"
    )

    class Meta:
        model = ProcedureNoteTemplate
        form = FilterForm
        fields = ["procedure", "imaging_modality", "records_rf"]
