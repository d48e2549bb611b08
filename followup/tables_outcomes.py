"""The per-episode outcome rows as a table (page and CSV); relief rounded to one decimal
on the page, exact in the CSV."""

import django_tables2 as tables

from followup.models import OutcomeEpisode
from followup.outcomes import POINTS
from followup.tables import PatientColumn, one_decimal


class DecimalColumn(tables.Column):
    """One decimal on the page; the stored, unrounded value in the CSV."""

    def render(self, value):
        return one_decimal(value)

    def value(self, value):
        return "" if value is None else str(value)


class DayColumn(tables.Column):
    """A date as 2026-11-30, on the page and in the CSV. DateColumn renders a template for
    every cell: a fifth of the episode list's time."""

    def render(self, value):
        return value.isoformat()


class FlagColumn(tables.Column):
    def __init__(self, *args, yes="Yes", no="No", **kwargs):
        self.yes, self.no = yes, no
        kwargs.setdefault("empty_values", (None, ""))
        kwargs.setdefault("default", "—")
        super().__init__(*args, **kwargs)

    def render(self, value):
        return self.yes if value else self.no

    def value(self, value):
        return "" if value is None else ("yes" if value else "no")


class OutcomeEpisodeTable(tables.Table):
    treated_on = DayColumn(verbose_name="Treated")
    patient = PatientColumn()
    procedure = tables.Column(
        accessor="procedure_name", verbose_name="Procedure", order_by=("procedure_type__name",)
    )
    diagnosis = tables.Column(
        accessor="diagnosis_code", verbose_name="Diagnosis", order_by=("diagnosis__code",)
    )
    # The fields themselves, not get_FOO_display(): clinic.ui shows a choice's label from a
    # lookup made once per column, where Django builds its dict anew in every cell.
    region = tables.Column(verbose_name="Region", orderable=False)
    levels = tables.Column(verbose_name="Levels")
    laterality = tables.Column(verbose_name="Side")
    physician = tables.Column(
        accessor="physician", verbose_name="Physician", order_by=("physician__last_name",)
    )
    site = tables.Column(accessor="site__name", verbose_name="Site")
    baseline_nrs = tables.Column(verbose_name="Baseline NRS")
    baseline_source = tables.Column(verbose_name="Baseline from", orderable=False)
    last_relief = DecimalColumn(verbose_name="Relief at last answer (%)")
    immpact_category = tables.Column(verbose_name="IMMPACT category")
    responder_50 = FlagColumn(verbose_name="≥50% relief")
    disability_instrument = tables.Column(verbose_name="ODI/NDI")
    disability_change = DecimalColumn(verbose_name="ODI/NDI improvement")
    disability_mcid = FlagColumn(verbose_name="MCID reached")
    pgic_improved = FlagColumn(verbose_name="PGIC much/very much improved")
    durable_days = tables.Column(verbose_name="Days ≥50% relieved")
    durable_event = FlagColumn(
        verbose_name="Relief fell below 50%", yes="Fell below", no="Censored (still ≥50%)"
    )
    block_peak_relief = DecimalColumn(verbose_name="Block peak relief (%)")

    class Meta:
        model = OutcomeEpisode
        fields = []
        sequence = [
            "treated_on",
            "patient",
            "procedure",
            "diagnosis",
            "region",
            "levels",
            "laterality",
            "physician",
            "site",
            "baseline_nrs",
            "baseline_source",
            *(f"relief_{code}" for code, _label, _days in POINTS),
            "last_relief",
            "immpact_category",
            "responder_50",
            "disability_instrument",
            "disability_change",
            "disability_mcid",
            "pgic_improved",
            "durable_days",
            "durable_event",
            "block_peak_relief",
        ]
        order_by = ["-treated_on"]

    def render_physician(self, value):
        return value.get_full_name() or value.get_username()

    def value_physician(self, value):
        return value.get_full_name() or value.get_username()


# Relief at each follow-up point: a column each, "—" where the plan had none or no answer.
for _code, _label, _days in POINTS:
    OutcomeEpisodeTable.base_columns[f"relief_{_code}"] = DecimalColumn(
        accessor=f"relief_{_code}", verbose_name=f"Relief {_label} (%)"
    )
