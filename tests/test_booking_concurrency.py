"""Many clerks booking at once, each on its own PostgreSQL connection: exactly one wins a
contested slot, every other one gets a refusal a person understands (never a server error),
and bookings that do not contend all succeed."""

import datetime
import fcntl
import tempfile
import threading
from pathlib import Path

import pytest
from django.db import connection, connections
from django.urls import reverse
from rest_framework.test import APIClient

from clinic.models import Patient, Room
from clinic.roles import Role
from followup.models import Invitation
from scheduling import services
from scheduling.models import Appointment, AppointmentEvent, PhysicianSession, WaitlistEntry
from scheduling.services import BookingRefused, appointment_book
from scheduling.services_waitlist import waitlist_entry_book
from tests.factories import StaffFactory, local

CLERKS = 8
LIST = "/api/v1/appointments/"
BUSY = "The schedule is busy, please try again."
# Serialized rollback: the flush between transactional tests also removes the migrated
# catalogue and role groups; this restores them before the test.
pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


@pytest.fixture
def one_crowd_at_a_time():
    """Hold a machine-wide lock while a crowd of connections races.

    PostgreSQL allows 100 connections; fifty clerks in each of two pytest workers (or two
    checkouts) at once would run out, so crowds take turns.
    """
    with (Path(tempfile.gettempdir()) / "clinic-booking-crowd.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def race(count, work) -> list:
    """Run work(n) for n in range(count), each on its own thread and database connection,
    released together by a barrier; the result or the exception of each, in order."""
    barrier = threading.Barrier(count)
    outcomes: dict[int, object] = {}

    def run(n):
        try:
            barrier.wait(timeout=60)
            outcomes[n] = work(n)
        except Exception as exc:  # every outcome is inspected by the caller
            outcomes[n] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert len(outcomes) == count
    return [outcomes[n] for n in range(count)]


def make_patients(count, prefix="RACE"):
    return Patient.objects.bulk_create(
        Patient(
            mrn=f"{prefix}-{n}",
            first_name=f"Racer{n}",
            last_name="Test",
            date_of_birth=datetime.date(1950, 1, 1) + datetime.timedelta(days=n),
        )
        for n in range(count)
    )


def api_post(user, body):
    api = APIClient()
    api.force_authenticate(user)
    return api.post(LIST, body, format="json")


def api_booking(calendar, patient, *, room=None, physician=None, hour=10):
    return {
        "patient": patient.pk,
        "procedure_type": calendar["tfesi"].pk,
        "physician": (physician or calendar["physician"]).pk,
        "room": (room or calendar["fluoro"]).pk,
        "starts_at": f"{calendar['monday']}T{hour:02d}:00:00",
        "laterality": "right",
        "levels": "L5-S1",
    }


def statuses(responses) -> list:
    """Status codes; an exception a request raised stands in for its 500."""
    return [r.status_code if hasattr(r, "status_code") else r for r in responses]


def test_it_lets_exactly_one_of_many_concurrent_bookings_of_a_slot_succeed(calendar, front_desk):
    assert connection.vendor == "postgresql"
    patients = make_patients(CLERKS)
    starts_at = local(calendar["monday"], 10)

    outcomes = race(
        CLERKS,
        lambda n: appointment_book(
            actor=front_desk,
            patient=patients[n],
            procedure_type=calendar["tfesi"],
            physician=calendar["physician"],
            room=calendar["fluoro"],
            starts_at=starts_at,
            laterality="right",
            levels="L5-S1",
        ),
    )

    winners = [o for o in outcomes if isinstance(o, Appointment)]
    losers = [o for o in outcomes if not isinstance(o, Appointment)]
    assert len(winners) == 1
    assert all(isinstance(o, BookingRefused) for o in losers), losers
    for refused in losers:
        message = " ".join(refused.messages)
        # The rules saw the winner, PostgreSQL's exclusion constraint stopped it, or the
        # database stayed contended through every retry.
        assert (
            "already booked from" in message
            or "was just booked by someone else" in message
            or "recovery bay was just taken" in message
            or "No recovery bay" in message
            or message == BUSY
        ), message
    assert Appointment.objects.count() == 1
    assert Appointment.objects.get().patient == winners[0].patient
    assert AppointmentEvent.objects.count() == 1


def test_it_answers_fifty_concurrent_api_bookings_of_a_slot_with_one_201_and_49_409s(
    calendar, front_desk, one_crowd_at_a_time
):
    patients = make_patients(50)
    # Bays to spare: the clerks meet at the room, not at the only bay.
    Room.objects.bulk_create(
        Room(site=calendar["site"], name=f"Bay {n}", kind=Room.Kind.RECOVERY) for n in (2, 3, 4)
    )
    for round_ in range(10):
        responses = race(
            50, lambda n: api_post(front_desk, api_booking(calendar, patients[n], hour=10))
        )
        codes = statuses(responses)
        assert sorted(codes, key=str) == [201] + [409] * 49, f"round {round_}: {codes}"
        winner = next(r for r in responses if r.status_code == 201)
        assert Appointment.objects.get().pk == winner.data["id"]
        assert all(r.data["detail"] for r in responses if r.status_code == 409)
        Appointment.objects.all().delete()


@pytest.fixture
def busy_site(calendar):
    """Twenty fluoroscopy rooms, twenty credentialed physicians and 25 recovery bays."""
    site = calendar["site"]
    calendar["bay"].delete()
    rooms = Room.objects.bulk_create(
        Room(site=site, name=f"Fluoro {n:02d}", capabilities=["fluoroscopy"]) for n in range(20)
    )
    Room.objects.bulk_create(
        Room(site=site, name=f"Bay {n:02d}", kind=Room.Kind.RECOVERY) for n in range(25)
    )
    physicians = []
    for n in range(20):
        physician = StaffFactory(
            username=f"doctor{n}", role=Role.PHYSICIAN, first_name="Doctor", last_name=f"{n}"
        )
        physician.staff_profile.credentials.add(calendar["tfesi"])
        PhysicianSession.objects.create(
            physician=physician,
            site=site,
            weekday=0,
            starts=datetime.time(8),
            ends=datetime.time(16),
            valid_from=datetime.date(2020, 1, 1),
        )
        physicians.append(physician)
    return {"rooms": rooms, "physicians": physicians}


def test_it_gives_twenty_concurrent_bookings_in_twenty_rooms_twenty_different_bays(
    calendar, front_desk, busy_site, one_crowd_at_a_time
):
    patients = make_patients(20)
    rooms, physicians = busy_site["rooms"], busy_site["physicians"]

    responses = race(
        20,
        lambda n: api_post(
            front_desk,
            api_booking(calendar, patients[n], room=rooms[n], physician=physicians[n]),
        ),
    )

    assert statuses(responses) == [201] * 20, [getattr(r, "data", r) for r in responses]
    bays = Appointment.objects.values_list("recovery_bay", flat=True)
    assert len(set(bays)) == 20


# --- A deadlock or serialization failure, made by PostgreSQL on demand -------------------


@pytest.fixture
def fail_writes():
    """fail_writes(sqlstate, times, on): PostgreSQL raises `sqlstate` (40P01 deadlock
    detected, 40001 serialization failure) for the next `times` INSERTs or UPDATEs of an
    appointment, exactly as when it picks this transaction as a deadlock's victim. Returns
    a function telling how many writes it failed or let through so far."""

    def install(sqlstate, times, on="INSERT"):
        with connection.cursor() as cursor:
            cursor.execute("CREATE SEQUENCE test_fail_writes_seq")
            cursor.execute(
                f"""
                CREATE FUNCTION test_fail_writes() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                    -- A sequence is not rolled back: it counts every attempt.
                    IF nextval('test_fail_writes_seq') <= {int(times)} THEN
                        RAISE EXCEPTION 'injected by the test' USING ERRCODE = '{sqlstate}';
                    END IF;
                    RETURN NEW;
                END $$"""
            )
            cursor.execute(
                f"CREATE TRIGGER test_fail_writes BEFORE {on} ON scheduling_appointment"
                " FOR EACH ROW EXECUTE FUNCTION test_fail_writes()"
            )

        def attempts():
            with connection.cursor() as cursor:
                cursor.execute("SELECT last_value FROM test_fail_writes_seq")
                return cursor.fetchone()[0]

        return attempts

    yield install
    with connection.cursor() as cursor:
        cursor.execute("DROP TRIGGER IF EXISTS test_fail_writes ON scheduling_appointment")
        cursor.execute("DROP FUNCTION IF EXISTS test_fail_writes()")
        cursor.execute("DROP SEQUENCE IF EXISTS test_fail_writes_seq")


@pytest.mark.parametrize("sqlstate", ["40P01", "40001"])
def test_it_books_in_a_fresh_transaction_after_a_deadlock_or_serialization_failure(
    book, fail_writes, sqlstate
):
    attempts = fail_writes(sqlstate, times=1)

    appointment = book(10)

    assert attempts() == 2
    assert Appointment.objects.get() == appointment
    # Nothing of the lost attempt remains: one booking event, one reminder.
    assert AppointmentEvent.objects.filter(appointment=appointment).count() == 1
    kinds = list(Invitation.objects.filter(appointment=appointment).values_list("kind", flat=True))
    assert sorted(kinds) == [Invitation.Kind.APPOINTMENT_REMINDER, Invitation.Kind.BASELINE]


def test_it_refuses_as_busy_when_the_database_stays_deadlocked(book, fail_writes):
    attempts = fail_writes("40P01", times=1000)

    with pytest.raises(BookingRefused) as refused:
        book(10)

    assert attempts() == services.WRITE_ATTEMPTS
    assert [(r.code, r.message) for r in refused.value.reasons] == [("busy", BUSY)]
    assert not Appointment.objects.exists()


def test_it_answers_409_busy_on_the_api_and_shows_it_on_the_page(
    client, calendar, front_desk, patient, fail_writes
):
    fail_writes("40001", times=1000)

    response = api_post(front_desk, api_booking(calendar, patient))
    assert response.status_code == 409
    assert BUSY in response.data["detail"]

    client.force_login(front_desk)
    page = client.post(
        reverse("appointment_book"),
        {
            "patient": patient.pk,
            "procedure_type": calendar["tfesi"].pk,
            "physician": calendar["physician"].pk,
            "room": calendar["fluoro"].pk,
            "date": calendar["monday"].isoformat(),
            "time": "10:00",
            "laterality": "left",
            "levels": "L4-L5",
        },
    )
    assert page.status_code == 200
    assert BUSY in page.content.decode()
    assert not Appointment.objects.exists()


def test_it_reschedules_in_a_fresh_transaction_after_a_deadlock(book, front_desk, fail_writes):
    appointment = book(10)
    attempts = fail_writes("40P01", times=1, on="UPDATE")

    moved = services.appointment_reschedule(
        actor=front_desk, appointment=appointment, starts_at=appointment.starts_at.replace(hour=12)
    )

    assert attempts() == 2
    assert moved.starts_at == appointment.starts_at.replace(hour=12)
    assert AppointmentEvent.objects.filter(kind=AppointmentEvent.Kind.RESCHEDULED).count() == 1


def test_it_books_from_the_waitlist_in_a_fresh_transaction_after_a_deadlock(
    calendar, front_desk, patient, fail_writes
):
    entry = WaitlistEntry.objects.create(
        patient=patient,
        procedure_type=calendar["tfesi"],
        earliest=calendar["monday"],
        latest=calendar["monday"],
        created_by=front_desk,
    )
    attempts = fail_writes("40P01", times=1)

    appointment = waitlist_entry_book(
        actor=front_desk,
        entry=entry,
        procedure_type=calendar["tfesi"],
        physician=calendar["physician"],
        room=calendar["fluoro"],
        starts_at=local(calendar["monday"], 10),
        laterality="left",
        levels="L4-L5",
    )

    assert attempts() == 2
    entry.refresh_from_db()
    assert (entry.state, entry.appointment) == (WaitlistEntry.State.BOOKED, appointment)
