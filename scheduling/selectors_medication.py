"""Reads of the medication plan: one appointment's plan, and the phone worklist."""

import datetime

from django.db.models import Exists, OuterRef, Prefetch, QuerySet
from django.utils import timezone

from clinic.models import Medication
from scheduling.advice import medication_plans
from scheduling.models import MOVABLE_STATUSES, Appointment, MedicationCall

# How far ahead the worklist looks unless the user asks for more: the longest hold is 10 days.
WORKLIST_DAYS = 21


def plan_of(appointment):
    """The appointment's medication plan, or None (no antithrombotic, or no provider)."""
    return medication_plans([appointment]).get(appointment.pk)


def medication_call_candidates() -> QuerySet:
    """Upcoming appointments whose patient takes an antithrombotic, with what a plan and a
    worklist row need loaded in a fixed number of queries."""
    takes = Medication.objects.filter(
        patient=OuterRef("patient"), agent__in=Medication.ANTITHROMBOTIC_AGENTS
    )
    return (
        Appointment.objects.filter(
            Exists(takes), status__in=MOVABLE_STATUSES, starts_at__gte=timezone.now()
        )
        .select_related("patient", "procedure_type", "site")
        .prefetch_related(
            "patient__medications",
            Prefetch(
                "medication_calls",
                queryset=MedicationCall.objects.select_related("called_by"),
                to_attr="calls",
            ),
        )
        .order_by("starts_at")
    )


def medication_call_rows(appointments) -> list[Appointment]:
    """The appointments that need a phone call, each with `plan` and `call` (or None) set."""
    appointments = list(appointments)
    plans = medication_plans(appointments)
    rows = []
    for appointment in appointments:
        plan = plans.get(appointment.pk)
        if plan is None or not plan.needs_call:
            continue
        appointment.plan = plan
        appointment.call = appointment.calls[0] if appointment.calls else None
        rows.append(appointment)
    return rows


def worklist_default_end() -> datetime.date:
    return timezone.localdate() + datetime.timedelta(days=WORKLIST_DAYS)
