"""Writes of the waitlist: put a patient on it, take them off, book them from it."""

from django.db import IntegrityError, transaction

from clinic.refusals import Refused
from scheduling.models import WaitlistEntry
from scheduling.services import appointment_book, write_retrying


class WaitlistRefused(Refused):
    """A waitlist change that cannot be made; the message says why."""


def waitlist_entry_add(
    *,
    actor,
    patient,
    procedure_type,
    earliest,
    latest,
    physician=None,
    site=None,
    part_of_day: str = WaitlistEntry.PartOfDay.ANY,
    notes: str = "",
) -> WaitlistEntry:
    if latest < earliest:
        raise WaitlistRefused(
            "The latest date must be on or after the earliest date.", code="dates_reversed"
        )
    try:
        with transaction.atomic():
            return WaitlistEntry.objects.create(
                patient=patient,
                procedure_type=procedure_type,
                physician=physician,
                site=site,
                earliest=earliest,
                latest=latest,
                part_of_day=part_of_day,
                notes=notes,
                created_by=actor,
            )
    except IntegrityError as exc:
        # waitlist_one_waiting_entry_per_procedure: one waiting entry per patient and procedure.
        raise WaitlistRefused(
            f"{patient.full_name} is already waiting for {procedure_type.name}; "
            "change or remove that entry instead.",
            code="already_waiting",
        ) from exc


def waitlist_entry_remove(*, actor, entry: WaitlistEntry) -> bool:
    """Take a waiting entry off the list; False when it was not waiting any more."""
    return (
        WaitlistEntry.objects.filter(pk=entry.pk, state=WaitlistEntry.State.WAITING).update(
            state=WaitlistEntry.State.REMOVED
        )
        == 1
    )


def waitlist_entry_book(*, actor, entry: WaitlistEntry, **booking):
    """Book the entry's patient (see `appointment_book`) and mark the entry booked, at once.

    The booking stands even if someone took the entry off the list meanwhile. Both are
    tried again together when the booking loses a race (see `write_retrying`).
    """

    def book():
        appointment = appointment_book(actor=actor, patient=entry.patient, **booking)
        WaitlistEntry.objects.filter(pk=entry.pk, state=WaitlistEntry.State.WAITING).update(
            state=WaitlistEntry.State.BOOKED, appointment=appointment
        )
        return appointment

    return write_retrying(book)
