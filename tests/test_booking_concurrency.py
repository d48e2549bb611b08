"""Many clerks booking the same slot at once, each on its own PostgreSQL connection:
exactly one wins, every other one gets a refusal a person understands."""

import datetime
import threading

import pytest
from django.db import connection, connections

from scheduling.models import Appointment, AppointmentEvent
from scheduling.services import BookingRefused, appointment_book
from tests.factories import PatientFactory, local

CLERKS = 8
# Serialized rollback: the flush between transactional tests also removes the migrated
# catalogue and role groups; this restores them before the test.
pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def test_it_lets_exactly_one_of_many_concurrent_bookings_of_a_slot_succeed(calendar, front_desk):
    assert connection.vendor == "postgresql"
    patients = [
        PatientFactory(
            mrn=f"RACE-{n}",
            first_name=f"Racer{n}",
            last_name="Test",
            date_of_birth=datetime.date(1970, 1, 1 + n),
        )
        for n in range(CLERKS)
    ]
    starts_at = local(calendar["monday"], 10)
    barrier = threading.Barrier(CLERKS)
    outcomes: dict[int, object] = {}

    def clerk(n):
        try:
            barrier.wait()
            outcomes[n] = appointment_book(
                actor=front_desk,
                patient=patients[n],
                procedure_type=calendar["tfesi"],
                physician=calendar["physician"],
                room=calendar["fluoro"],
                starts_at=starts_at,
                laterality="right",
                levels="L5-S1",
            )
        except Exception as exc:  # every outcome is inspected below
            outcomes[n] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=clerk, args=(n,)) for n in range(CLERKS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert len(outcomes) == CLERKS
    winners = [o for o in outcomes.values() if isinstance(o, Appointment)]
    losers = [o for o in outcomes.values() if not isinstance(o, Appointment)]
    assert len(winners) == 1
    assert all(isinstance(o, BookingRefused) for o in losers), losers
    for refused in losers:
        message = " ".join(refused.messages)
        # Either the rules saw the winner, or PostgreSQL's exclusion constraint stopped it.
        assert (
            "already booked from" in message
            or "was just booked by someone else" in message
            or "recovery bay was just taken" in message
            or "No recovery bay" in message
        ), message
    assert Appointment.objects.count() == 1
    assert Appointment.objects.get().patient == winners[0].patient
    assert AppointmentEvent.objects.count() == 1
