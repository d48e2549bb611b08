"""Writes of the medication plan: the patient was phoned about it."""

from django.db import IntegrityError, transaction

from clinic.audit import audit_record
from clinic.models import AuditEvent
from clinic.refusals import Refused
from scheduling.models import MedicationCall


class MedicationCallRefused(Refused):
    """The call cannot be marked; the message says why."""


def medication_call_mark(*, appointment, actor, note: str = "", request=None) -> MedicationCall:
    """Mark that the patient was phoned about the plan. Once: a second mark is refused by
    the constraint medication_call_one_per_appointment (two desks may click at once)."""
    try:
        with transaction.atomic():
            call = MedicationCall.objects.create(
                appointment=appointment, note=note.strip(), called_by=actor
            )
    except IntegrityError as exc:
        raise MedicationCallRefused(
            "This patient was already marked as phoned about their medication.",
            code="already_called",
        ) from exc
    audit_record(
        request=request,
        user=actor,
        action=AuditEvent.Action.CREATE,
        obj=call,
        patient=appointment.patient,
        detail="medication call done",
    )
    return call
