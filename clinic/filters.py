import datetime

import django_filters
from django.contrib.auth import get_user_model
from django.db.models import Q
from django.utils import timezone

from clinic.compiled import compiled_queryset
from clinic.models import AuditEvent, Diagnosis, ProcedureType, Site
from clinic.selectors import patient_search
from clinic.ui import DateInput, FilterForm

# The options of the list pages' filters, read on every request, by SQL compiled once; what
# their labels show.
PROCEDURE_OPTIONS = compiled_queryset(ProcedureType.objects.only("name").order_by("name"))
SITE_OPTIONS = compiled_queryset(Site.objects.all())
DIAGNOSIS_OPTIONS = compiled_queryset(Diagnosis.objects.only("code", "text").order_by("code"))


class PatientFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(
        label="Name or MRN, initials or birth date", method="filter_query"
    )
    date_of_birth = django_filters.DateFilter(label="Date of birth", widget=DateInput())

    class Meta:
        form = FilterForm

    def filter_query(self, queryset, name, value):
        return queryset & patient_search(query=value)


class ProcedureTypeFilter(django_filters.FilterSet):
    name = django_filters.CharFilter(lookup_expr="icontains")

    class Meta:
        model = ProcedureType
        form = FilterForm
        fields = ["name", "category", "bleeding_risk", "active"]


class AuditFilterForm(FilterForm):
    def clean(self):
        cleaned = super().clean()
        since, until = cleaned.get("since"), cleaned.get("until")
        if since and until and until < since:
            self.add_error("until", "This date is before the 'From' date.")
        return cleaned


class AuditEventFilter(django_filters.FilterSet):
    """Who did what to whose record, and when (the audit page of Admin)."""

    user = django_filters.ModelChoiceFilter(
        queryset=get_user_model().objects.order_by("username"), empty_label="Anyone"
    )
    patient = django_filters.CharFilter(label="Patient (MRN or name)", method="filter_patient")
    action = django_filters.ChoiceFilter(choices=AuditEvent.Action.choices, empty_label="Any")
    since = django_filters.DateFilter(label="From", method="filter_since", widget=DateInput())
    until = django_filters.DateFilter(label="Until", method="filter_until", widget=DateInput())

    class Meta:
        form = AuditFilterForm

    def filter_patient(self, queryset, name, value):
        value = value.strip()
        return queryset.filter(
            Q(patient__mrn__iexact=value)
            | Q(patient__last_name__icontains=value)
            | Q(patient__first_name__icontains=value)
        )

    def filter_since(self, queryset, name, value):
        return queryset.filter(at__gte=_start_of(value))

    def filter_until(self, queryset, name, value):
        return queryset.filter(at__lt=_start_of(value + datetime.timedelta(days=1)))


def _start_of(day: datetime.date) -> datetime.datetime:
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time()))
