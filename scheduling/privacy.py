"""Scheduling's part of a patient's GDPR rights (see clinic.privacy): their appointments,
what happened to them, their waiting-list entries and the calls about their medication."""

from django.utils import timezone

from clinic.privacy import Section, rows
from scheduling.models import (
    FREED_STATUSES,
    Appointment,
    AppointmentEvent,
    MedicationCall,
    Status,
    WaitlistEntry,
)


def export_sections(patient) -> list[Section]:
    appointments = Appointment.objects.filter(patient=patient).select_related(
        "procedure_type", "physician", "site", "room"
    )
    events = AppointmentEvent.objects.filter(appointment__patient=patient).select_related("user")
    waitlist = WaitlistEntry.objects.filter(patient=patient).select_related(
        "procedure_type", "physician", "site"
    )
    calls = MedicationCall.objects.filter(appointment__patient=patient).select_related("called_by")
    return [
        Section(
            "appointments",
            "Appointments",
            rows(
                appointments,
                [
                    "id",
                    "starts_at",
                    "procedure_type",
                    "laterality",
                    "levels",
                    "physician",
                    "site",
                    "room",
                    "status",
                    "notes",
                    "cancel_reason",
                    "cancel_note",
                ],
            ),
        ),
        Section(
            "appointment_events",
            "Appointment history",
            rows(
                events,
                ["appointment_id", "at", "kind", "from_status", "to_status", "detail", "user"],
            ),
        ),
        Section(
            "waitlist",
            "Waiting list",
            rows(
                waitlist,
                [
                    "procedure_type",
                    "earliest",
                    "latest",
                    "part_of_day",
                    "notes",
                    "state",
                    "created_at",
                ],
            ),
        ),
        Section(
            "medication_calls",
            "Calls about medication before a procedure",
            rows(calls, ["appointment_id", "called_at", "called_by", "note"]),
        ),
    ]


def patient_rows(patient) -> list:
    return [
        Appointment.objects.filter(patient=patient),
        Appointment.history.filter(patient_id=patient.pk),
        AppointmentEvent.objects.filter(appointment__patient=patient),
        WaitlistEntry.objects.filter(patient=patient),
        WaitlistEntry.history.filter(patient_id=patient.pk),
        MedicationCall.objects.filter(appointment__patient=patient),
        MedicationCall.history.filter(appointment__patient=patient),
    ]


def anonymise(patient) -> None:
    """Nothing to blank outright: booking notes are part of the clinical record and keep
    their text, less the patient's identifying values."""


def last_activity(patient) -> list:
    last = Appointment.objects.filter(patient=patient).order_by("-starts_at").first()
    return [last.starts_at] if last else []


def anonymise_refusals(patient) -> list[str]:
    """An appointment still to come needs the patient's name and phone: cancel it first."""
    upcoming = (
        Appointment.objects.filter(patient=patient, starts_at__gt=timezone.now())
        .exclude(status__in=[*FREED_STATUSES, Status.DISCHARGED])
        .order_by("starts_at")
        .first()
    )
    if upcoming is None:
        return []
    return [
        f"The patient has an appointment on {upcoming.local_start:%Y-%m-%d %H:%M}: "
        "cancel their upcoming appointments first."
    ]
