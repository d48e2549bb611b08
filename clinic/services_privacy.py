"""Writes of a patient's GDPR rights: the audited export, and anonymisation (Art. 17)."""

import datetime
import secrets

from django.contrib.admin.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from clinic.areas import area_modules
from clinic.audit import audit_record
from clinic.models import Allergy, AuditEvent, CrossSiteAccess, Medication, Patient
from clinic.privacy import Identifiers
from clinic.refusals import Refused

ANONYMOUS_FIRST_NAME = "Anonymised"
ANONYMOUS_LAST_NAME = "Patient"


class PrivacyRefused(Refused):
    code = "privacy_refused"


def patient_export_audit(*, request, patient, export: dict, format: str) -> AuditEvent:
    """One EXPORT row: which patient, in which format, which sections with how many rows
    (names of sections only: the audit trail is kept forever and holds no names)."""
    counts = ", ".join(f"{s.key} {len(s.rows)}" for s in export["sections"] if s.rows)
    return audit_record(
        request=request,
        action=AuditEvent.Action.EXPORT,
        obj=patient,
        patient=patient,
        detail=f"data-subject export ({format}): {counts or 'no records'}",
    )


def anonymous_birth_date(born: datetime.date) -> datetime.date:
    # The year stays for outcomes by age; mid-year keeps ages within half a year.
    return min(datetime.date(born.year, 7, 1), timezone.localdate())


def patient_anonymise(*, actor, patient: Patient, reason: str) -> Patient:
    """Remove everything that identifies the patient, everywhere, and keep the clinical
    record (appointments, checklists, rounds, scores and answers) for the retention period.

    Name, MRN (a random token instead), email, phone, national ID and the day and month of
    birth go; identifying values inside free text and history rows become "[removed]";
    addresses in the email log and the patient's own messages are blanked. Audit rows are
    append-only and hold no names, so they stay as they are. Refused without the
    permission, without a reason, for a patient already anonymised and while an area still
    needs the identity (`<area>.privacy.anonymise_refusals`: an upcoming appointment).
    """
    if not actor.has_perm("clinic.anonymise_patient"):
        raise PrivacyRefused(
            "Only an administrator or a manager can anonymise a patient.", code="not_allowed"
        )
    if not reason.strip():
        raise PrivacyRefused("Say why (e.g. the patient's written request).", code="no_reason")
    with transaction.atomic():
        current = Patient.objects.select_for_update().get(pk=patient.pk)
        if current.anonymised_at is not None:
            raise PrivacyRefused(
                f"This patient was already anonymised on {current.anonymised_at:%Y-%m-%d}.",
                code="already_anonymised",
            )
        refusals = [
            message
            for module in area_modules("privacy")
            for message in getattr(module, "anonymise_refusals", lambda p: [])(current)
        ]
        if refusals:
            raise PrivacyRefused(refusals, code="still_in_care")
        identifiers = Identifiers.of(current)
        for queryset in _patient_rows(current):
            identifiers.scrub(queryset)
        for module in area_modules("privacy"):
            module.anonymise(current)
        _scrub_admin_log(current, identifiers)
        token = f"ANON-{secrets.token_hex(6).upper()}"
        identity = {
            "first_name": ANONYMOUS_FIRST_NAME,
            "last_name": ANONYMOUS_LAST_NAME,
            "mrn": token,
            "date_of_birth": anonymous_birth_date(current.date_of_birth),
            "email": "",
            "phone": "",
            "national_id": "",
        }
        Patient.history.filter(id=current.pk).update(**identity, email_consent=False)
        changed = Patient.objects.filter(pk=current.pk, anonymised_at__isnull=True).update(
            **identity, email_consent=False, anonymised_at=timezone.now()
        )
        if changed != 1:  # the lock above makes this a belt to its braces
            raise PrivacyRefused("This patient was already anonymised.", code="already_anonymised")
        audit_record(
            user=actor,
            action=AuditEvent.Action.CHANGE,
            obj=current,
            patient=current,
            detail=f"anonymised (GDPR Art. 17): {identifiers.redact(reason.strip())}",
        )
    patient.refresh_from_db()
    return patient


def _patient_rows(patient) -> list:
    """Every row holding the patient's data, history rows included, in the core and in
    each area (`<area>.privacy.patient_rows`)."""
    found = [
        Patient.objects.filter(pk=patient.pk),
        Patient.history.filter(id=patient.pk),
        Medication.objects.filter(patient=patient),
        Medication.history.filter(patient_id=patient.pk),
        Allergy.objects.filter(patient=patient),
        Allergy.history.filter(patient_id=patient.pk),
        # A break-glass reason may name the patient ("covering for Karen's GP").
        CrossSiteAccess.objects.filter(patient=patient),
    ]
    for module in area_modules("privacy"):
        found += module.patient_rows(patient)
    return found


def _scrub_admin_log(patient, identifiers: Identifiers) -> None:
    """The admin's log names a row by its text ("Jensen, Karen (MRN-0001)", and invitations,
    responses and alerts name their patient the same way)."""
    patient_type = ContentType.objects.get_for_model(Patient)
    identifiers.scrub(
        LogEntry.objects.filter(
            Q(content_type=patient_type, object_id=str(patient.pk))
            | Q(object_repr__icontains=f"({patient.mrn})")
        )
    )
