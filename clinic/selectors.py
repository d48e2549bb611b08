"""Reads of the clinic model."""

import datetime

from django.db.models import Q, QuerySet

from clinic.models import AuditEvent, Patient


def patient_search(*, query: str = "", date_of_birth: datetime.date | None = None) -> QuerySet:
    """Patients matching every word of `query` (name or MRN) and the date of birth."""
    patients = Patient.objects.all()
    for word in query.split():
        patients = patients.filter(
            Q(mrn__iexact=word) | Q(first_name__icontains=word) | Q(last_name__icontains=word)
        )
    if date_of_birth:
        patients = patients.filter(date_of_birth=date_of_birth)
    return patients


def patient_clinical_record(*, patient: Patient) -> dict:
    return {
        "medications": list(patient.medications.all()),
        "allergies": list(patient.allergies.all()),
    }


def audit_events() -> QuerySet:
    """The audit trail, newest first, with the user and patient each row names."""
    return AuditEvent.objects.select_related("user", "patient").order_by("-at", "-pk")
