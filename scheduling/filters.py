"""Filters of the appointments list and the waitlist (django-filter)."""

import django_filters

from clinic.models import ProcedureType, Site
from clinic.selectors import patient_search
from clinic.ui import DateInput, FilterForm
from scheduling import selectors
from scheduling.forms import PhysicianChoiceField, ScheduleDateField
from scheduling.models import Status, WaitlistEntry


class ScheduleDateFilter(django_filters.DateFilter):
    field_class = ScheduleDateField


class PhysicianFilter(django_filters.ModelChoiceFilter):
    field_class = PhysicianChoiceField


class AppointmentFilter(django_filters.FilterSet):
    date_from = ScheduleDateFilter(
        field_name="starts_at", lookup_expr="date__gte", label="From", widget=DateInput()
    )
    date_to = ScheduleDateFilter(
        field_name="starts_at", lookup_expr="date__lte", label="To", widget=DateInput()
    )
    site = django_filters.ModelChoiceFilter(queryset=Site.objects.all(), empty_label="All sites")
    physician = PhysicianFilter(queryset=selectors.physicians(), empty_label="All physicians")
    procedure_type = django_filters.ModelChoiceFilter(
        queryset=ProcedureType.objects.all(), label="Procedure", empty_label="All procedures"
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
        queryset=ProcedureType.objects.all(), label="Procedure", empty_label="All procedures"
    )
    site = django_filters.ModelChoiceFilter(queryset=Site.objects.all(), empty_label="Any site")
    physician = PhysicianFilter(queryset=selectors.physicians(), empty_label="Any physician")
    patient = django_filters.CharFilter(label="Patient (name or MRN)", method="filter_patient")

    class Meta:
        form = FilterForm

    def filter_patient(self, queryset, name, value):
        return queryset.filter(patient__in=patient_search(query=value))
