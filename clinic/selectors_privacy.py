"""Reads of a patient's GDPR rights: everything the clinic holds on one patient."""

import datetime

from django.conf import settings
from django.utils import timezone

from clinic.areas import area_modules
from clinic.audit import object_type_display
from clinic.models import Allergy, AuditEvent, Medication
from clinic.privacy import Section, plain, rows

DEMOGRAPHICS = [
    "mrn",
    "first_name",
    "last_name",
    "date_of_birth",
    "sex",
    "email",
    "phone",
    "preferred_language",
    "email_consent",
    "spinal_history",
    "created_at",
    "anonymised_at",
]


def retention_until(patient) -> datetime.date:
    """The day the clinical record may be deleted: PATIENT_RECORD_RETENTION_YEARS after the
    last change to the patient's record (their own row or their last appointment)."""
    last = patient.updated_at
    for module in area_modules("privacy"):
        last = max([last, *getattr(module, "last_activity", lambda p: [])(patient)])
    day = timezone.localdate(last)
    years = settings.PATIENT_RECORD_RETENTION_YEARS
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


def record_reads(patient) -> list[dict]:
    """Who read or changed the patient's record, and when: their rows of the audit trail."""
    events = AuditEvent.objects.filter(patient=patient).select_related("user").order_by("at")
    return [
        {
            "at": plain(event.at),
            "user": event.user.get_username() if event.user else "",
            "action": event.get_action_display(),
            "record": object_type_display(event.object_type),
            "detail": event.detail,
        }
        for event in events
    ]


def patient_export(patient) -> dict:
    """The data-subject export (GDPR Art. 15 and 20): the patient's demographics, then each
    area's sections, then the audit of who read their record."""
    sections = [
        Section(
            "medications",
            "Medications",
            rows(Medication.objects.filter(patient=patient), ["agent", "name", "dose"]),
        ),
        Section(
            "allergies",
            "Allergies",
            rows(
                Allergy.objects.filter(patient=patient),
                ["kind", "substance", "reaction", "severity"],
            ),
        ),
    ]
    for module in area_modules("privacy"):
        sections += module.export_sections(patient)
    sections.append(Section("record_reads", "Who read this record", record_reads(patient)))
    return {
        "patient": rows([patient], DEMOGRAPHICS)[0],
        "retention_until": plain(retention_until(patient)),
        "sections": sections,
    }


def export_as_json(export: dict) -> dict:
    return {**export, "sections": {s.key: s.rows for s in export["sections"]}}
