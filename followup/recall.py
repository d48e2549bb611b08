"""Recall: patients due for review or a repeat, by the clinic's rules (`RecallRule`, data).

- relief fading: after a watched procedure, a follow-up survey reached the rule's relief
  threshold and the latest one is below it (relief: % against the baseline pain, else the
  patient's own % rating; IMMPACT, followup.scoring);
- positive block: a watched diagnostic block read positive from its diary
  (followup.blocks.peak_relief_by_appointment), and `weeks` later no follow-on is booked;
- trial ended: `weeks` after a watched trial (e.g. SCS), no follow-on is booked.

Only done appointments (discharged or completed) within the rule's look-back count; a row
goes away once the recall procedure is booked after the watched one. One row per patient
and rule (the latest watched appointment). The reads are a fixed number of queries, however
many patients.
"""

import datetime
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import QuerySet
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode

from followup.blocks import peak_relief_by_appointment
from followup.models import Invitation, RecallRule, Response
from scheduling.models import FREED_STATUSES, Appointment, Status

DONE = (Status.DISCHARGED, Status.COMPLETED)


@dataclass
class RecallRow:
    patient: object
    rule: RecallRule
    appointment: Appointment  # the watched one the rule fired on
    procedure_type: object  # offered in the slot finder
    due: datetime.date
    evidence: str

    @property
    def patient_id(self) -> int:
        return self.patient.pk

    @property
    def slot_url(self) -> str:
        params = {"procedure_type": self.procedure_type.pk, "patient": self.patient.pk}
        return f"{reverse('slot_finder')}?{urlencode(params)}"


def watched_appointments() -> QuerySet:
    """Done appointments the recall rules may look at; a page narrows it (site) first."""
    return Appointment.objects.filter(status__in=DONE).select_related(
        "patient", "procedure_type", "site"
    )


def recall_rows(*, appointments=None, rules=None, today=None) -> list[RecallRow]:
    """Every patient due by an active rule, soonest due first."""
    today = today or timezone.localdate()
    rules = list(
        (rules if rules is not None else RecallRule.objects.all())
        .filter(active=True)
        .select_related("recall_procedure")
        .prefetch_related("watched")
    )
    if not rules:
        return []
    oldest = today - datetime.timedelta(weeks=max(rule.lookback_weeks for rule in rules))
    watched_ids = {pt.pk for rule in rules for pt in rule.watched.all()}
    candidates = list(
        (appointments if appointments is not None else watched_appointments())
        .filter(procedure_type__in=watched_ids, starts_at__date__gte=oldest)
        .order_by("starts_at")
    )
    if not candidates:
        return []
    booked = _later_bookings({a.patient_id for a in candidates}, oldest)
    kinds = {rule.kind for rule in rules}
    reliefs = _reliefs([a.pk for a in candidates]) if RecallRule.Kind.RELIEF_FADING in kinds else {}
    blocks = (
        peak_relief_by_appointment([a.pk for a in candidates])
        if RecallRule.Kind.POSITIVE_BLOCK in kinds
        else {}
    )
    rows = []
    for rule in rules:
        ids = {pt.pk for pt in rule.watched.all()}
        since = today - datetime.timedelta(weeks=rule.lookback_weeks)
        latest = {}
        for appointment in candidates:
            if appointment.procedure_type_id in ids and appointment.local_start.date() >= since:
                latest[appointment.patient_id] = appointment  # ordered: the last one wins
        for appointment in latest.values():
            follow_on = rule.recall_procedure or appointment.procedure_type
            if any(
                when > appointment.starts_at
                for when in booked.get((appointment.patient_id, follow_on.pk), ())
            ):
                continue
            found = _evaluate(rule, appointment, reliefs, blocks, today)
            if found is not None:
                due, evidence = found
                rows.append(
                    RecallRow(appointment.patient, rule, appointment, follow_on, due, evidence)
                )
    rows.sort(key=lambda row: (row.due, row.patient.last_name, row.rule.name))
    return rows


def _evaluate(rule, appointment, reliefs, blocks, today):
    """(due day, evidence) when the rule fires for this appointment, else None."""
    done_on = appointment.local_start.date()
    what = f"{appointment.procedure_type.name} on {done_on:%Y-%m-%d}"
    if rule.kind == RecallRule.Kind.RELIEF_FADING:
        series = reliefs.get(appointment.pk, [])
        if len(series) < 2:
            return None
        peak = max(relief for _, relief in series)
        last_day, last = series[-1]
        if peak < rule.threshold_percent or last >= rule.threshold_percent:
            return None
        return last_day, (
            f"{what}: relief {peak:.0f}% at best, {last:.0f}% on {last_day:%Y-%m-%d} "
            f"(below {rule.threshold_percent}%)."
        )
    due = done_on + datetime.timedelta(weeks=rule.weeks)
    if due > today:
        return None
    follow_on = (rule.recall_procedure or appointment.procedure_type).name
    if rule.kind == RecallRule.Kind.POSITIVE_BLOCK:
        result = blocks.get(appointment.pk)
        if result is None or not result.is_positive:
            return None
        return due, f"{what}: {result.summary()}; no {follow_on} booked after {rule.weeks} weeks."
    if rule.kind == RecallRule.Kind.TRIAL_ENDED:
        return due, f"{what}: trial ended; no {follow_on} booked after {rule.weeks} weeks."
    return None


def _later_bookings(patient_ids, oldest) -> dict:
    """(patient id, procedure type id) -> start times of their not-cancelled appointments."""
    found: dict = {}
    rows = (
        Appointment.objects.filter(patient__in=patient_ids, starts_at__date__gte=oldest)
        .exclude(status__in=FREED_STATUSES)
        .values_list("patient_id", "procedure_type_id", "starts_at")
    )
    for patient_id, procedure_type_id, starts_at in rows:
        found.setdefault((patient_id, procedure_type_id), []).append(starts_at)
    return found


def _reliefs(appointment_ids) -> dict[int, list[tuple[datetime.date, Decimal]]]:
    """Follow-up survey relief per appointment, oldest first: % against the baseline pain,
    else the patient's own % rating."""
    series: dict = {}
    rows = (
        Response.objects.filter(invitation__appointment_id__in=appointment_ids)
        .exclude(invitation__kind=Invitation.Kind.BASELINE)
        .order_by("submitted_at", "pk")
        .values_list(
            "invitation__appointment_id", "submitted_at", "percent_relief", "patient_rated_relief"
        )
    )
    for appointment_id, submitted_at, computed, rated in rows:
        relief = computed if computed is not None else rated
        if relief is None:
            continue
        day = timezone.localtime(submitted_at).date()
        series.setdefault(appointment_id, []).append((day, Decimal(relief)))
    return series
