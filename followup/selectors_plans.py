"""Reads behind the care-plan pages: the plans, a plan's history and what a step sends."""

from dataclasses import dataclass

from django.db.models import QuerySet

from followup.models import CarePlan, CarePlanStep, PreparationInstruction

# Fields of the history rows that are bookkeeping, not a change anyone made.
NOT_CHANGES = {"id", "plan", "procedure_type", "history_id", "history_date"}


def care_plans() -> QuerySet:
    return CarePlan.objects.select_related("procedure_type").prefetch_related("steps")


def care_plan_for_edit(pk) -> CarePlan:
    return CarePlan.objects.select_related("procedure_type").get(pk=pk)


@dataclass
class HistoryEntry:
    at: object
    user: object
    what: str
    action: str
    changes: list[tuple[str, object, object]]


def _label(model, field_name) -> str:
    try:
        return str(model._meta.get_field(field_name).verbose_name)
    except Exception:
        return field_name


def _entries(records, model, what) -> list[HistoryEntry]:
    """History rows as entries: each change against the same object's previous version."""
    fields = [
        f.attname
        for f in model._meta.concrete_fields
        if f.name not in NOT_CHANGES and f.attname not in NOT_CHANGES
    ]
    previous = {}
    entries = []
    for record in sorted(records, key=lambda r: (r.history_date, r.history_id)):
        before = previous.get(record.id)
        changes = [
            (_label(model, name), getattr(before, name) if before else None, getattr(record, name))
            for name in fields
            if before is None or getattr(before, name) != getattr(record, name)
        ]
        action = {"+": "added", "~": "changed", "-": "removed"}[record.history_type]
        if before is None or record.history_type == "-":
            changes = [change for change in changes if change[2] not in (None, "", [])]
        if action == "changed" and not changes:
            previous[record.id] = record
            continue
        entries.append(
            HistoryEntry(
                at=record.history_date,
                user=record.history_user,
                what=what(record),
                action=action,
                changes=changes if action != "removed" else [],
            )
        )
        previous[record.id] = record
    return entries


def care_plan_history(plan: CarePlan, *, limit=200) -> list[HistoryEntry]:
    """Who changed the plan, its steps and its preparation advice, newest first."""
    plan_rows = CarePlan.history.filter(id=plan.pk).select_related("history_user")
    step_rows = CarePlanStep.history.filter(plan_id=plan.pk).select_related("history_user")
    prep_rows = PreparationInstruction.history.filter(
        procedure_type_id=plan.procedure_type_id
    ).select_related("history_user")
    entries = [
        *_entries(plan_rows, CarePlan, lambda r: "Plan settings"),
        *_entries(step_rows, CarePlanStep, lambda r: f"Step “{r.name}”"),
        *_entries(
            prep_rows,
            PreparationInstruction,
            lambda r: f"Preparation: {r.get_topic_display()} ({r.language})",
        ),
    ]
    entries.sort(key=lambda entry: entry.at, reverse=True)
    return entries[:limit]


def preparation_rows(procedure_type) -> QuerySet:
    return PreparationInstruction.objects.filter(procedure_type=procedure_type)
