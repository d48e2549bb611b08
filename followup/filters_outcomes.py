"""The filters of the outcomes page, its episode list and their API twins (django-filter)."""

import datetime

import django_filters
from django.utils import timezone

from clinic.filters import DIAGNOSIS_OPTIONS, PROCEDURE_OPTIONS, SITE_OPTIONS
from clinic.models import SpinalRegion
from clinic.ui import DateInput, FilterForm
from followup.blocks import positive_blocks_before
from followup.models import OutcomeEpisode
from followup.selectors_outcomes import GROUPINGS
from scheduling.filters import PHYSICIAN_OPTIONS, PhysicianFilter
from scheduling.models import Laterality

# Without a period the page shows the last year of procedures.
DEFAULT_DAYS = 365


def _unchanged(queryset, name, value):
    return queryset  # read by the view: how to group, not which rows


class OutcomeFilter(django_filters.FilterSet):
    """Which treated episodes: procedure, diagnosis (the booking's indication, where
    recorded), region and level, side, physician, site, period, and whether two positive
    diagnostic blocks came before."""

    procedure_type = django_filters.ModelChoiceFilter(
        queryset=PROCEDURE_OPTIONS, label="Procedure", empty_label="All procedures"
    )
    diagnosis = django_filters.ModelChoiceFilter(
        queryset=DIAGNOSIS_OPTIONS, label="Diagnosis", empty_label="Any diagnosis"
    )
    region = django_filters.ChoiceFilter(
        choices=SpinalRegion.choices, label="Region", empty_label="All regions"
    )
    level = django_filters.CharFilter(
        field_name="levels", lookup_expr="icontains", label="Level (e.g. L4-L5)"
    )
    laterality = django_filters.ChoiceFilter(
        choices=Laterality.choices, label="Side", empty_label="Any side"
    )
    physician = PhysicianFilter(queryset=PHYSICIAN_OPTIONS, empty_label="All physicians")
    site = django_filters.ModelChoiceFilter(queryset=SITE_OPTIONS, empty_label="All sites")
    treated_from = django_filters.DateFilter(
        field_name="treated_on", lookup_expr="gte", label="Treated from", widget=DateInput()
    )
    treated_to = django_filters.DateFilter(
        field_name="treated_on", lookup_expr="lte", label="Treated to", widget=DateInput()
    )
    blocks_before = django_filters.ChoiceFilter(
        choices=[
            ("two", "Two or more positive blocks"),
            ("fewer", "Fewer than two positive blocks"),
        ],
        label="Diagnostic blocks before (same region and side, 12 months)",
        empty_label="Any",
        method="filter_blocks_before",
    )
    group_by = django_filters.ChoiceFilter(
        choices=[(name, label) for name, (_column, label) in GROUPINGS.items()],
        label="Group by",
        empty_label=None,
        method=_unchanged,
    )

    class Meta:
        model = OutcomeEpisode
        fields = []
        form = FilterForm

    def __init__(self, data=None, *args, **kwargs):
        # The last year unless a period is asked for; by procedure type unless told.
        if data is not None:
            data = data.copy()
            if not data.get("treated_from") and not data.get("treated_to"):
                since = timezone.localdate() - datetime.timedelta(days=DEFAULT_DAYS)
                data["treated_from"] = since.isoformat()
            if not data.get("group_by"):
                data["group_by"] = "procedure_type"
        super().__init__(data, *args, **kwargs)

    def filter_blocks_before(self, queryset, name, value):
        """RFA after two positive blocks, or without them (followup.blocks)."""
        counted = queryset.alias(positive_blocks_before=positive_blocks_before())
        if value == "two":
            return counted.filter(positive_blocks_before__gte=2)
        return counted.filter(positive_blocks_before__lt=2)

    @property
    def grouping(self) -> str:
        if self.is_bound and self.is_valid():
            return self.form.cleaned_data.get("group_by") or "procedure_type"
        return "procedure_type"
