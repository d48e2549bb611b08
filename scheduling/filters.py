"""Filters of the appointments list and the waitlist (django-filter)."""

import django_filters
from django.utils import timezone

from clinic.compiled import compiled_queryset
from clinic.filters import PROCEDURE_OPTIONS, SITE_OPTIONS
from clinic.selectors import patient_search
from clinic.ui import DateInput, FilterForm
from scheduling import selectors, selectors_medication
from scheduling.forms import PhysicianChoiceField, ScheduleDateField
from scheduling.models import Status, WaitlistEntry

PHYSICIAN_OPTIONS = compiled_queryset(
    selectors.physicians().only("username", "first_name", "last_name")
)


class ScheduleDateFilter(django_filters.DateFilter):
    field_class = ScheduleDateField


class PhysicianFilter(django_filters.ModelChoiceFilter):
    field_class = PhysicianChoiceField


def days_applied_together(queryset, name, value):
    return queryset  # see AppointmentDaysMixin.filter_queryset


class AppointmentDaysMixin:
    """`date_from` / `date_to` in site-local days, and the list opens on today.

    Without either date the list starts today (the clinic's date) instead of on the oldest
    appointment of years past; an earlier `date_from` shows the past. The days are applied
    as one range on `starts_at` (`selectors.appointments_on_days`), in the zone of the site
    filtered on, else the clinic's.
    """

    def __init__(self, data=None, *args, **kwargs):
        if data is not None and not data.get("date_from") and not data.get("date_to"):
            data = data.copy()
            data["date_from"] = timezone.localdate().isoformat()
        super().__init__(data, *args, **kwargs)

    def filter_queryset(self, queryset):
        queryset = super().filter_queryset(queryset)
        cleaned = self.form.cleaned_data
        site = cleaned.get("site")
        return selectors.appointments_on_days(
            queryset,
            first=cleaned.get("date_from"),
            last=cleaned.get("date_to"),
            zone=site.zone if site is not None else None,
        )


class AppointmentFilter(AppointmentDaysMixin, django_filters.FilterSet):
    date_from = ScheduleDateFilter(label="From", method=days_applied_together, widget=DateInput())
    date_to = ScheduleDateFilter(label="To", method=days_applied_together, widget=DateInput())
    site = django_filters.ModelChoiceFilter(queryset=SITE_OPTIONS, empty_label="All sites")
    physician = PhysicianFilter(queryset=PHYSICIAN_OPTIONS, empty_label="All physicians")
    procedure_type = django_filters.ModelChoiceFilter(
        queryset=PROCEDURE_OPTIONS, label="Procedure", empty_label="All procedures"
    )
    status = django_filters.ChoiceFilter(choices=Status.choices, empty_label="Any status")
    patient = django_filters.CharFilter(label="Patient (name or MRN)", method="filter_patient")

    class Meta:
        form = FilterForm

    def filter_patient(self, queryset, name, value):
        return queryset.filter(patient__in=patient_search(query=value))


class WaitlistFilter(django_filters.FilterSet):
    state = django_filters.ChoiceFilter(
        choices=WaitlistEntry.State.choices, empty_label="Any state"
    )
    procedure_type = django_filters.ModelChoiceFilter(
        queryset=PROCEDURE_OPTIONS, label="Procedure", empty_label="All procedures"
    )
    site = django_filters.ModelChoiceFilter(queryset=SITE_OPTIONS, empty_label="Any site")
    physician = PhysicianFilter(queryset=PHYSICIAN_OPTIONS, empty_label="Any physician")
    patient = django_filters.CharFilter(label="Patient (name or MRN)", method="filter_patient")

    class Meta:
        form = FilterForm

    def filter_patient(self, queryset, name, value):
        return queryset.filter(patient__in=patient_search(query=value))


class MedicationCallFilter(AppointmentDaysMixin, django_filters.FilterSet):
    """The phone worklist: upcoming days (today to three weeks ahead unless asked), site,
    and whether the patient was phoned yet."""

    date_from = ScheduleDateFilter(label="From", method=days_applied_together, widget=DateInput())
    date_to = ScheduleDateFilter(label="To", method=days_applied_together, widget=DateInput())
    site = django_filters.ModelChoiceFilter(queryset=SITE_OPTIONS, empty_label="All sites")
    called = django_filters.ChoiceFilter(
        label="Phoned",
        choices=[("no", "Not yet phoned"), ("yes", "Phoned")],
        empty_label="Phoned or not",
        method="filter_called",
    )

    class Meta:
        form = FilterForm

    def __init__(self, data=None, *args, **kwargs):
        if data is not None and not data.get("date_to"):
            data = data.copy()
            data["date_to"] = selectors_medication.worklist_default_end().isoformat()
            data.setdefault("date_from", timezone.localdate().isoformat())
        super().__init__(data, *args, **kwargs)

    def filter_called(self, queryset, name, value):
        has_call = queryset.filter(medication_calls__isnull=False).values("pk")
        if value == "yes":
            return queryset.filter(pk__in=has_call)
        return queryset.exclude(pk__in=has_call)
