"""Helpers shared by the booking page tests (appointments made straight through the ORM)."""

import datetime

from scheduling.models import Appointment, Status
from scheduling.rules import windows_for
from tests.conftest import local

SLOT_MINUTES = 45  # the transforaminal ESI's room time in the `calendar` fixture


def make_appointment(calendar, patient, starts_at, *, status=Status.BOOKED, **fields):
    """An appointment at `starts_at` without the booking rules (for lists and history)."""
    windows = windows_for(calendar["tfesi"], starts_at)
    values = dict(
        patient=patient,
        procedure_type=calendar["tfesi"],
        physician=calendar["physician"],
        site=calendar["site"],
        room=calendar["fluoro"],
        starts_at=windows.starts_at,
        ends_at=windows.ends_at,
        laterality="left",
        levels="L4-L5",
        status=status,
        cancel_reason="patient_request" if status == Status.CANCELLED else "",
    )
    return Appointment.objects.create(**(values | fields))


def appointment_maker(calendar, patient, first_day=None):
    """`add(n)`: n more non-overlapping appointments, eight a weekday from `first_day` on."""
    made = []

    def add(count):
        for _ in range(count):
            index = len(made)
            week, rest = divmod(index, 40)
            day_index, slot = divmod(rest, 8)
            day = (first_day or calendar["monday"]) + datetime.timedelta(weeks=week, days=day_index)
            start = local(day, 8) + datetime.timedelta(minutes=SLOT_MINUTES * slot)
            made.append(make_appointment(calendar, patient, start))
        return made

    return add
