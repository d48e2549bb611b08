"""Recall: patients due for review or a repeat, by the clinic's rules (`RecallRule`, data).

- relief fading: after a watched procedure, a follow-up survey reached the rule's relief
  threshold and the latest one is below it (relief: % against the baseline pain, else the
  patient's own % rating; IMMPACT, followup.scoring);
- positive block: a watched diagnostic block read positive from its diary
  (followup.blocks.peak_relief_by_appointment), and `weeks` later no follow-on is booked;
- trial ended: `weeks` after a watched trial (e.g. SCS), no follow-on is booked.

Only done appointments (discharged or completed) within the rule's look-back count; a row
goes away once the recall procedure is booked after the watched one. One row per patient
and rule (the latest watched appointment). The database does the narrowing: one query per
rule (three for a block rule), and only rows that are or will be due come back, however many
patients. The worklist reads these rows as kept by followup.services_recall (`RecallEntry`).
"""

import datetime
from dataclasses import dataclass

from django.db.models import Exists, F, OuterRef, QuerySet, Subquery, Window
from django.db.models.functions import Cast, Coalesce, RowNumber
from django.utils import timezone

from clinic.selectors import local_midnight
from followup.blocks import peak_relief_by_appointment
from followup.models import Invitation, RecallEntry, RecallRule, Response
from scheduling.models import FREED_STATUSES, Appointment, Status

DONE = (Status.DISCHARGED, Status.COMPLETED)
ONE_DAY = datetime.timedelta(days=1)
# Two zones' clocks are at most 26 hours apart (UTC-12 to UTC+14): a site's day and the
# server's overlap within two days either way.
ZONES_APART = datetime.timedelta(days=2)
RELIEF = Response._meta.get_field("percent_relief").clone()
# What a row shows and is sorted by: a busy clinic's worklist runs to thousands of rows, and
# whole rows of four tables took longer to load than the query took to run.
ROW_FIELDS = (
    "starts_at",
    "patient__first_name",
    "patient__last_name",
    "patient__mrn",
    "procedure_type__name",
    "site__time_zone",
)
# What the worklist shows of a kept row.
WORKLIST_FIELDS = (
    "due",
    "evidence",
    "site_id",
    "patient__first_name",
    "patient__last_name",
    "patient__mrn",
    "rule__name",
    "procedure_type__name",
)


@dataclass
class RecallRow:
    patient: object
    rule: RecallRule
    appointment: Appointment  # the watched one the rule fired on
    procedure_type: object  # offered in the slot finder
    due: datetime.date
    evidence: str
    # The last day the watched appointment is within the rule's look-back.
    counts_until: datetime.date


def recall_worklist(*, today=None) -> QuerySet:
    """The kept rows (`RecallEntry`) due by today and still within their rule's look-back,
    soonest due first: what the worklist shows."""
    today = today or timezone.localdate()
    return (
        RecallEntry.objects.filter(due__lte=today, counts_until__gte=today, rule__active=True)
        .select_related("patient", "rule", "procedure_type")
        .only(*WORKLIST_FIELDS)
        .order_by("due", "patient__last_name", "rule__name", "pk")
    )


def recall_rows(*, patient_ids=None, today=None, pending=False) -> list[RecallRow]:
    """Every patient due by an active rule (of `patient_ids` when given), soonest due first;
    with `pending`, also those coming due later: what `RecallEntry` keeps. Without it, the
    rules read live, as the tests state them."""
    today = today or timezone.localdate()
    rules = (
        RecallRule.objects.filter(active=True)
        .select_related("recall_procedure")
        .prefetch_related("watched")
    )
    scope = Appointment.objects.filter(status__in=DONE)
    if patient_ids is not None:
        scope = scope.filter(patient_id__in=patient_ids)
    rows = [row for rule in rules for row in _rule_rows(rule, scope, today, pending)]
    rows.sort(key=lambda row: (row.due, row.patient.last_name, row.rule.name))
    return rows


def _rule_rows(rule, scope, today, pending) -> list[RecallRow]:
    """The rule's rows, in one query (three for a block rule).

    The database keeps each patient's latest watched appointment and drops those with the
    follow-on booked after it or that cannot be due yet (unless `pending`); only those few
    come back. A site's day may begin up to 26 hours before or after the server's, so the
    database narrows by dates with two days to spare and `_evaluate` decides by each site's
    own calendar.
    """
    watched = [procedure_type.pk for procedure_type in rule.watched.all()]
    if not watched:
        return []
    since = today - datetime.timedelta(weeks=rule.lookback_weeks)
    latest = (
        scope.filter(procedure_type__in=watched, starts_at__gte=local_midnight(since - ZONES_APART))
        .annotate(
            newest_first=Window(
                RowNumber(),
                partition_by=F("patient_id"),
                order_by=(F("starts_at").desc(), F("pk").desc()),
            )
        )
        .filter(newest_first=1)
        .values("pk")
    )
    candidates = (
        Appointment.objects.filter(pk__in=latest)
        .exclude(Exists(_follow_on_booked_after(rule)))
        .select_related("patient", "procedure_type", "site")
        .only(*ROW_FIELDS)
    )
    if rule.kind == RecallRule.Kind.RELIEF_FADING:
        # Peak at or above the threshold and the latest below it: two surveys at least.
        candidates = candidates.annotate(**_relief_fields()).filter(
            peak_relief__gte=rule.threshold_percent, last_relief__lt=rule.threshold_percent
        )
    elif not pending:
        candidates = candidates.filter(
            starts_at__lt=local_midnight(
                today - datetime.timedelta(weeks=rule.weeks) + ONE_DAY + ZONES_APART
            )
        )
    if rule.kind == RecallRule.Kind.POSITIVE_BLOCK:
        # No diary answered: the block reads incomplete, never positive.
        diary = Response.objects.filter(
            invitation__appointment=OuterRef("pk"), answers__has_key="diary"
        )
        candidates = candidates.filter(procedure_type__block_protocol__isnull=False).filter(
            Exists(diary)
        )
    candidates = list(candidates)
    blocks = (
        peak_relief_by_appointment([appointment.pk for appointment in candidates])
        if rule.kind == RecallRule.Kind.POSITIVE_BLOCK
        else {}
    )
    rows = []
    for appointment in candidates:
        done_on = appointment.local_start.date()
        if done_on < since:
            continue
        found = _evaluate(rule, appointment, blocks)
        if found is not None and (pending or found[0] <= today):
            due, evidence = found
            follow_on = rule.recall_procedure or appointment.procedure_type
            counts_until = done_on + datetime.timedelta(weeks=rule.lookback_weeks)
            rows.append(
                RecallRow(
                    appointment.patient, rule, appointment, follow_on, due, evidence, counts_until
                )
            )
    return rows


def _evaluate(rule, appointment, blocks):
    """(due day, evidence) when the rule fires for this appointment, else None."""
    done_on = appointment.local_start.date()
    what = f"{appointment.procedure_type.name} on {done_on:%Y-%m-%d}"
    if rule.kind == RecallRule.Kind.RELIEF_FADING:
        peak, last = appointment.peak_relief, appointment.last_relief
        if peak is None or peak < rule.threshold_percent or last >= rule.threshold_percent:
            return None
        last_day = timezone.localtime(appointment.last_relief_at).date()
        return last_day, (
            f"{what}: relief {peak:.0f}% at best, {last:.0f}% on {last_day:%Y-%m-%d} "
            f"(below {rule.threshold_percent}%)."
        )
    due = done_on + datetime.timedelta(weeks=rule.weeks)
    follow_on = (rule.recall_procedure or appointment.procedure_type).name
    if rule.kind == RecallRule.Kind.POSITIVE_BLOCK:
        result = blocks.get(appointment.pk)
        if result is None or not result.is_positive:
            return None
        return due, f"{what}: {result.summary()}; no {follow_on} booked after {rule.weeks} weeks."
    if rule.kind == RecallRule.Kind.TRIAL_ENDED:
        return due, f"{what}: trial ended; no {follow_on} booked after {rule.weeks} weeks."
    return None


def _follow_on_booked_after(rule) -> QuerySet:
    """The patient's not-cancelled follow-on after the watched appointment (`OuterRef`)."""
    follow_on = rule.recall_procedure_id or OuterRef("procedure_type")
    return Appointment.objects.filter(
        patient=OuterRef("patient"),
        procedure_type=follow_on,
        starts_at__gt=OuterRef("starts_at"),
    ).exclude(status__in=FREED_STATUSES)


def _relief_fields() -> dict:
    """The appointment's follow-up survey relief (`OuterRef`): best, latest and when. Relief is
    % against the baseline pain, else the patient's own % rating."""
    reliefs = (
        Response.objects.filter(invitation__appointment=OuterRef("pk"))
        .exclude(invitation__kind=Invitation.Kind.BASELINE)
        .annotate(
            relief=Coalesce(
                "percent_relief",
                Cast("patient_rated_relief", RELIEF),
                output_field=RELIEF,
            )
        )
        .filter(relief__isnull=False)
    )
    latest = reliefs.order_by("-submitted_at", "-pk")
    return {
        "peak_relief": Subquery(reliefs.order_by("-relief").values("relief")[:1]),
        "last_relief": Subquery(latest.values("relief")[:1]),
        "last_relief_at": Subquery(latest.values("submitted_at")[:1]),
    }
