"""Writes to the clinic model. Each keeps the audit trail of what it changed."""

from django.db import transaction

from clinic.audit import audit_record
from clinic.models import AuditEvent, Patient


@transaction.atomic
def patient_create(*, request, form) -> Patient:
    patient = form.save()
    audit_record(request=request, action=AuditEvent.Action.CREATE, obj=patient, patient=patient)
    return patient


@transaction.atomic
def patient_update(*, request, form) -> Patient:
    patient = form.save()
    changed = ", ".join(form.changed_data)
    audit_record(
        request=request,
        action=AuditEvent.Action.CHANGE,
        obj=patient,
        patient=patient,
        detail=f"demographics: {changed}",
    )
    return patient


@transaction.atomic
def patient_clinical_update(*, request, history_form, medications, allergies) -> Patient:
    """Save the spinal history, medications and allergies together, or nothing."""
    patient = history_form.save()
    medications.save()
    allergies.save()
    audit_record(
        request=request,
        action=AuditEvent.Action.CHANGE,
        obj=patient,
        patient=patient,
        detail="clinical record: history, medications, allergies",
    )
    return patient
