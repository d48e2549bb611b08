"""Writes to the clinic model. Each keeps the audit trail of what it changed.

They take model instances, never forms: the page validates, the service saves and audits.
"""

from django.db import transaction

from clinic.audit import audit_record
from clinic.models import AuditEvent, Patient


@transaction.atomic
def patient_create(*, request, patient: Patient) -> Patient:
    """Register a validated, unsaved patient."""
    patient.save()
    audit_record(request=request, action=AuditEvent.Action.CREATE, obj=patient, patient=patient)
    return patient


@transaction.atomic
def patient_update(*, request, patient: Patient, changed: list[str]) -> Patient:
    """Save validated demographics; `changed` names the fields the user changed."""
    patient.save()
    audit_record(
        request=request,
        action=AuditEvent.Action.CHANGE,
        obj=patient,
        patient=patient,
        detail=f"demographics: {', '.join(changed)}",
    )
    return patient


@transaction.atomic
def indication_save(*, request, indication, saved, deleted):
    """Save a referral with its conservative care and imaging together, or nothing."""
    created = indication.pk is None
    if created:
        indication.created_by = request.user
    indication.save()
    for row in saved:
        row.indication = indication
        row.save()
    for row in deleted:
        row.delete()
    audit_record(
        request=request,
        action=AuditEvent.Action.CREATE if created else AuditEvent.Action.CHANGE,
        obj=indication,
        patient=indication.patient,
        detail="referral and indication",
    )
    return indication


@transaction.atomic
def patient_clinical_update(*, request, patient: Patient, saved, deleted) -> Patient:
    """Save the spinal history with medications and allergies together, or nothing.

    `saved` are the medication and allergy rows added or changed, `deleted` the removed ones.
    """
    patient.save()
    for row in saved:
        row.save()
    for row in deleted:
        row.delete()
    audit_record(
        request=request,
        action=AuditEvent.Action.CHANGE,
        obj=patient,
        patient=patient,
        detail="clinical record: history, medications, allergies",
    )
    return patient
