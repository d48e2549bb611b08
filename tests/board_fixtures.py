"""A crowded clinic day for the board, list and API tests: four procedure rooms with a
physician and a recovery bay each, ten 45-minute slots a room, so up to 40 appointments.

`fill_day(n)` adds n appointments straight into the database, earliest free slot first
(the booking rules have their own tests; here only reading them back matters).
"""

import datetime
from dataclasses import asdict

import pytest

from clinic.models import Patient, Room
from clinic.roles import Role
from scheduling.models import Appointment
from scheduling.rules import windows_for
from tests.conftest import local, make_staff

SLOTS_PER_ROOM = 10
FIRST_SLOT = (8, 0)
SLOT_MINUTES = 45


def filler_name(number: int) -> str:
    return f"Pat{number} Fill{number:02}"


@pytest.fixture
def fill_day(calendar):
    site = calendar["site"]
    rooms = [
        calendar["fluoro"],
        calendar["plain"],
        Room.objects.create(site=site, name="Room 3"),
        Room.objects.create(site=site, name="Room 4"),
    ]
    bays = [calendar["bay"]] + [
        Room.objects.create(site=site, name=f"Bay {n}", kind=Room.Kind.RECOVERY) for n in (2, 3, 4)
    ]
    physicians = [calendar["physician"]] + [
        make_staff(f"doc{n}", Role.PHYSICIAN, first_name="Doc", last_name=f"Number{n}")
        for n in (2, 3, 4)
    ]
    created: list[Appointment] = []

    def add(count: int, *, day: datetime.date | None = None) -> list[Appointment]:
        new = []
        for _ in range(count):
            number = len(created) + 1
            slot, lane = divmod(number - 1, len(rooms))
            assert slot < SLOTS_PER_ROOM, "the crowded day holds at most 40 appointments"
            start = local(day or calendar["monday"], *FIRST_SLOT) + datetime.timedelta(
                minutes=SLOT_MINUTES * slot
            )
            windows = windows_for(calendar["tfesi"], start)
            patient = Patient.objects.create(
                mrn=f"FILL-{number:03}",
                first_name=f"Pat{number}",
                last_name=f"Fill{number:02}",
                date_of_birth=datetime.date(1960, 1, 1) + datetime.timedelta(days=number),
            )
            appointment = Appointment.objects.create(
                patient=patient,
                procedure_type=calendar["tfesi"],
                physician=physicians[lane],
                site=site,
                room=rooms[lane],
                recovery_bay=bays[lane],
                **asdict(windows),
                laterality="left",
                levels="L4-L5",
            )
            created.append(appointment)
            new.append(appointment)
        return new

    return add
