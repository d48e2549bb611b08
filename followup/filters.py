"""Filters of the follow-up worklists (pages and API)."""

import datetime

import django_filters
from django import forms
from django.db.models import Q
from django.utils import timezone

from clinic.filters import PROCEDURE_OPTIONS, SITE_OPTIONS
from clinic.selectors import local_midnight
from clinic.ui import DateInput, FilterForm
from followup.models import Alert, Invitation, RecallRule, RescheduleRequest, Response
from followup.selectors_worklists import worklist_open_q


def patient_words(queryset, prefix, value):
    """Every word must match the patient's MRN or a name (same rule as the patient search)."""
    for word in value.split():
        queryset = queryset.filter(
            Q(**{f"{prefix}mrn__iexact": word})
            | Q(**{f"{prefix}first_name__icontains": word})
            | Q(**{f"{prefix}last_name__icontains": word})
        )
    return queryset


class PatientQueryFilterSet(django_filters.FilterSet):
    """Base: a free-text patient filter over `patient_prefix`."""

    patient_prefix = "patient__"
    q = django_filters.CharFilter(label="Patient name or MRN", method="filter_patient")

    class Meta:
        form = FilterForm

    def filter_patient(self, queryset, name, value):
        return patient_words(queryset, self.patient_prefix, value)


def date_filter(label, field_name, lookup_expr):
    return django_filters.DateFilter(
        label=label,
        field_name=field_name,
        lookup_expr=lookup_expr,
        widget=DateInput(),
    )


class SurveyWorklistFilter(PatientQueryFilterSet):
    state = django_filters.ChoiceFilter(
        label="Show",
        choices=[
            ("not_sent", "Due, not sent yet"),
            ("awaiting", "Sent, awaiting answer"),
            ("overdue", "Overdue"),
        ],
        method="filter_state",
        empty_label="All due and overdue",
    )
    kind = django_filters.ChoiceFilter(
        label="Survey",
        choices=[
            (Invitation.Kind.BASELINE, Invitation.Kind.BASELINE.label),
            (Invitation.Kind.SURVEY, Invitation.Kind.SURVEY.label),
        ],
    )
    procedure_type = django_filters.ModelChoiceFilter(
        label="Procedure",
        field_name="appointment__procedure_type",
        queryset=PROCEDURE_OPTIONS,
    )

    class Meta(PatientQueryFilterSet.Meta):
        model = Invitation
        fields = ["q", "state", "kind", "procedure_type"]

    def filter_state(self, queryset, name, value):
        if value == "overdue":
            return queryset.filter(overdue=True)
        if value == "awaiting":
            return queryset.filter(status=Invitation.Status.SENT, overdue=False)
        return queryset.exclude(status=Invitation.Status.SENT)


class NonresponderFilter(PatientQueryFilterSet):
    state = django_filters.ChoiceFilter(
        label="Show",
        choices=[
            ("open", "To work now"),
            ("snoozed", "Snoozed or called"),
            ("closed", "Closed"),
        ],
        method="filter_state",
        empty_label="All",
    )
    sent_after = date_filter("Sent from", "sent_at__date", "gte")
    procedure_type = django_filters.ModelChoiceFilter(
        label="Procedure",
        field_name="appointment__procedure_type",
        queryset=PROCEDURE_OPTIONS,
    )

    class Meta(PatientQueryFilterSet.Meta):
        model = Invitation
        fields = ["q", "state", "sent_after", "procedure_type"]

    def filter_state(self, queryset, name, value):
        open_now = worklist_open_q(timezone.localdate())
        if value == "open":
            return queryset.filter(open_now)
        if value == "closed":
            return queryset.filter(worklist_closed_at__isnull=False)
        return queryset.filter(worklist_closed_at__isnull=True).exclude(open_now)


class FailedSendFilter(PatientQueryFilterSet):
    kind = django_filters.ChoiceFilter(label="What", choices=Invitation.Kind.choices)

    class Meta(PatientQueryFilterSet.Meta):
        model = Invitation
        fields = ["q", "kind"]


class RescheduleRequestFilter(PatientQueryFilterSet):
    patient_prefix = "appointment__patient__"
    state = django_filters.ChoiceFilter(
        label="Show",
        choices=[("open", "Open"), ("handled", "Handled")],
        method="filter_state",
        empty_label="All",
    )

    class Meta(PatientQueryFilterSet.Meta):
        model = RescheduleRequest
        fields = ["q", "state"]

    def filter_state(self, queryset, name, value):
        return queryset.filter(handled_at__isnull=value == "open")


class AlertFilter(PatientQueryFilterSet):
    state = django_filters.ChoiceFilter(
        label="Show",
        choices=[("open", "Not acknowledged"), ("acknowledged", "Acknowledged")],
        method="filter_state",
        empty_label="All",
    )
    kind = django_filters.ChoiceFilter(label="Alert", choices=Alert.Kind.choices)
    raised_from = date_filter("Raised from", "created_at__date", "gte")

    class Meta(PatientQueryFilterSet.Meta):
        model = Alert
        fields = ["q", "state", "kind", "raised_from"]

    def filter_state(self, queryset, name, value):
        return queryset.filter(acknowledged_at__isnull=value == "open")


class ResponseFilter(PatientQueryFilterSet):
    procedure_type = django_filters.ModelChoiceFilter(
        label="Procedure",
        field_name="invitation__appointment__procedure_type",
        queryset=PROCEDURE_OPTIONS,
    )
    # Local days as a range on `submitted_at`, which its index serves (a date per row not).
    answered_from = django_filters.DateFilter(
        label="Answered from", method="filter_answered_from", widget=DateInput()
    )
    answered_to = django_filters.DateFilter(
        label="Answered to", method="filter_answered_to", widget=DateInput()
    )
    with_alerts = django_filters.BooleanFilter(
        label="With open alerts only",
        method="filter_with_alerts",
        widget=forms.CheckboxInput,
    )

    class Meta(PatientQueryFilterSet.Meta):
        model = Response
        fields = ["q", "procedure_type", "answered_from", "answered_to", "with_alerts"]

    def filter_answered_from(self, queryset, name, value):
        return queryset.filter(submitted_at__gte=local_midnight(value))

    def filter_answered_to(self, queryset, name, value):
        return queryset.filter(submitted_at__lt=local_midnight(value + datetime.timedelta(days=1)))

    def filter_with_alerts(self, queryset, name, value):
        return queryset.filter(open_alert_count__gt=0) if value else queryset


class RecallFilter(django_filters.FilterSet):
    """The recall worklist: the site of the watched appointment, and one rule."""

    site = django_filters.ModelChoiceFilter(queryset=SITE_OPTIONS, empty_label="All sites")
    rule = django_filters.ModelChoiceFilter(
        queryset=RecallRule.objects.filter(active=True), empty_label="All rules"
    )

    class Meta:
        form = FilterForm
