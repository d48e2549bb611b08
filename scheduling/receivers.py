"""The calendar feed follows the life of its physician's credentials (clinic.accounts);
a patient merge (clinic.signals) moves the removed record's appointments and waitlist."""

from clinic.accounts.signals import credentials_revoked
from clinic.signals import patient_merged
from scheduling.calendars import calendar_feed_delete
from scheduling.models import Appointment, WaitlistEntry


def on_credentials_revoked(sender, user, reason, **kwargs):
    calendar_feed_delete(physician=user)


def on_patient_merged(sender, keep, remove, by, **kwargs):
    Appointment.objects.filter(patient=remove).update(patient=keep)
    # One waiting entry per patient and procedure: a duplicate's entry for a procedure the
    # kept record already waits for is taken off the list rather than moved as waiting.
    waiting = WaitlistEntry.objects.filter(patient=keep, state=WaitlistEntry.State.WAITING)
    WaitlistEntry.objects.filter(
        patient=remove,
        state=WaitlistEntry.State.WAITING,
        procedure_type__in=waiting.values("procedure_type"),
    ).update(state=WaitlistEntry.State.REMOVED)
    WaitlistEntry.objects.filter(patient=remove).update(patient=keep)


def connect():
    credentials_revoked.connect(on_credentials_revoked, dispatch_uid="scheduling-calendar-feed")
    patient_merged.connect(on_patient_merged, dispatch_uid="scheduling-patient-merge")
