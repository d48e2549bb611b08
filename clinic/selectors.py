"""Reads of the clinic model."""

import datetime

from django.db.models import Q, QuerySet

from clinic.models import AuditEvent, Diagnosis, Patient


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
        "indications": list(
            patient.indications.select_related("diagnosis").prefetch_related(
                "conservative_care", "imaging"
            )
        ),
    }


def diagnosis_search(*, query: str) -> QuerySet:
    """Active diagnoses whose ICD-10 code starts with, or whose text holds, every word."""
    diagnoses = Diagnosis.objects.filter(active=True)
    for word in query.split():
        diagnoses = diagnoses.filter(Q(code__istartswith=word) | Q(text__icontains=word))
    return diagnoses.order_by("code")


def audit_events() -> QuerySet:
    """The audit trail, newest first, with the user and patient each row names."""
    return AuditEvent.objects.select_related("user", "patient").order_by("-at", "-pk")
