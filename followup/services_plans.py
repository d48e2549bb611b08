"""Writes behind the care-plan pages: a plan with its steps, and preparation advice.

Each save is one transaction, attributed to the manager in the rows' history
(simple_history), so the plan's history says who changed what, and when.
"""

from django.db import IntegrityError, transaction

from followup.models import CarePlan, CarePlanStep, PreparationInstruction


class PlanRefused(Exception):
    """The change breaks a rule of the plan; `detail` says which, for the user."""

    def __init__(self, detail: str):
        super().__init__(detail)
        self.detail = detail


def _save(row, user):
    row._history_user = user
    row.save()


def _delete(row, user):
    row._history_user = user
    row.delete()


def care_plan_save(
    *, plan: CarePlan, steps: list[CarePlanStep], deleted: list[CarePlanStep], user
) -> CarePlan:
    """Save the plan's settings, its changed or new steps, and remove `deleted` steps."""
    try:
        with transaction.atomic():
            _save(plan, user)
            for step in deleted:
                _delete(step, user)
            for step in steps:
                step.plan = plan
                _save(step, user)
    except IntegrityError as error:
        if "care_plan_step_name_unique" in str(error):
            raise PlanRefused("Two steps of a plan cannot have the same name.") from error
        if "care_plan_step_has_instruments" in str(error):
            raise PlanRefused("Every step must ask at least one instrument.") from error
        raise
    return plan


def preparation_save(
    *,
    rows: list[PreparationInstruction],
    deleted: list[PreparationInstruction],
    procedure_type,
    user,
) -> None:
    """Save a procedure type's changed or new preparation points and remove `deleted`."""
    try:
        with transaction.atomic():
            for row in deleted:
                _delete(row, user)
            for row in rows:
                row.procedure_type = procedure_type
                _save(row, user)
    except IntegrityError as error:
        if "preparation_instruction_unique" in str(error):
            raise PlanRefused(
                "A topic is written once per language: change the existing point instead."
            ) from error
        raise
