"""Writes to the clinic model. Each keeps the audit trail of what it changed.

They take model instances, never forms: the page validates, the service saves and audits.
"""

import secrets

from django.db import transaction
from django.utils import timezone

from clinic.audit import audit_record
from clinic.models import Allergy, AuditEvent, Indication, Medication, Patient
from clinic.refusals import Refused
from clinic.signals import patient_merged

# Rows that keep naming the removed record after a merge: the audit trail (append-only),
# cross-site openings (who read what), the history tables, and the merge link itself.
MERGE_STAYS = {"clinic.AuditEvent", "clinic.CrossSiteAccess", "clinic.Patient"}
# Contact details the kept record takes from the removed one when it has none of its own.
MERGE_FILLS = ("email", "phone", "national_id")


class MergeRefused(Refused):
    code = "merge_refused"


def new_mrn() -> str:
    """An MRN for a patient registered without one: "N" and eight random letters or digits
    (no 0/O or 1/I to misread over the phone)."""
    alphabet = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"
    return "N" + "".join(secrets.choice(alphabet) for _ in range(8))


@transaction.atomic
def patient_create(*, request, patient: Patient) -> Patient:
    """Register a validated, unsaved patient; one without an MRN is given one."""
    if not patient.mrn:
        patient.mrn = new_mrn()
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


def _left_behind(patient: Patient) -> list[str]:
    """The models that still hold rows of `patient` which a merge should have moved."""
    left = []
    relations = Patient._meta.get_fields(include_hidden=True)
    for relation in (field for field in relations if field.auto_created and not field.concrete):
        model = relation.related_model
        label = model._meta.label
        if label in MERGE_STAYS or model.__name__.startswith("Historical"):
            continue
        if not relation.one_to_many and not relation.one_to_one:
            continue
        if model._base_manager.filter(**{relation.field.name: patient}).exists():
            left.append(label)
    return left


@transaction.atomic
def patient_merge(*, keep: Patient, remove: Patient, by, reason: str) -> Patient:
    """Merge the duplicate record `remove` into `keep`: its appointments, waitlist,
    follow-up, referrals, medications and allergies move to `keep` (each app moves its own
    rows, see clinic.signals); contact details `keep` lacks are taken over; `remove`
    stays, marked merged into `keep`, so old links and the audit trail still find it. Both
    records get an audit row naming the other and the reason.
    """
    if not by.has_perm("clinic.merge_patient"):
        raise MergeRefused("Only the front desk or a manager can merge patient records.")
    reason = reason.strip()
    if not reason:
        raise MergeRefused("Say why these records are the same patient.", code="reason_missing")
    if keep.pk == remove.pk:
        raise MergeRefused("Choose two different records.", code="same_record")
    both = Patient.objects.select_for_update().filter(pk__in=[keep.pk, remove.pk])
    locked = {patient.pk: patient for patient in both}
    keep, remove = locked[keep.pk], locked[remove.pk]
    for patient in (keep, remove):
        if patient.is_merged:
            raise MergeRefused(
                f"{patient.mrn} was already merged into another record.", code="already_merged"
            )
        if patient.is_anonymised:
            raise MergeRefused(
                f"{patient.mrn} was anonymised and cannot be merged.", code="anonymised"
            )
    for model in (Medication, Allergy, Indication):
        model.objects.filter(patient=remove).update(patient=keep)
    patient_merged.send(sender=Patient, keep=keep, remove=remove, by=by)
    if left := _left_behind(remove):
        raise MergeRefused(f"Rows of {', '.join(left)} were not moved; nothing was merged.")
    filled = [name for name in MERGE_FILLS if not getattr(keep, name) and getattr(remove, name)]
    taken = {name: getattr(remove, name) for name in filled}
    if "national_id" in taken:
        keep.national_id_country = remove.national_id_country
    marked = Patient.objects.filter(pk=remove.pk, merged_into__isnull=True).update(
        merged_into=keep, merged_at=timezone.now(), national_id=""
    )
    if marked != 1:  # the lock above makes this a belt to its braces
        raise MergeRefused(f"{remove.mrn} was already merged.", code="already_merged")
    if taken:
        for name, value in taken.items():
            setattr(keep, name, value)
        keep.save()
    remove.refresh_from_db()
    audit_record(
        user=by,
        action=AuditEvent.Action.CHANGE,
        obj=keep,
        patient=keep,
        detail=f"merged {remove.mrn} into this record: {reason}",
    )
    audit_record(
        user=by,
        action=AuditEvent.Action.CHANGE,
        obj=remove,
        patient=remove,
        detail=f"merged into {keep.mrn}: {reason}",
    )
    return keep
