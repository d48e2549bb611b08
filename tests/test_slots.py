"""The slot finder on hand-built calendars, and against the booking rules themselves."""

import contextlib
import datetime
import random
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from clinic.models import ProcedureType, Room
from clinic.roles import Role
from scheduling import rules
from scheduling.models import PhysicianSession, Unavailability
from scheduling.services import BookingRefused, appointment_book, appointment_cancel
from scheduling.slots import find_slots
from tests.factories import PatientFactory, RoomFactory, StaffFactory, local

UTC = datetime.UTC
COPENHAGEN = ZoneInfo("Europe/Copenhagen")
ONE_DAY = datetime.timedelta(days=1)


def starts(slots):
    """Site-local HH:MM of each slot."""
    return [timezone.localtime(slot.starts_at, COPENHAGEN).strftime("%H:%M") for slot in slots]


def day_slots(calendar, day=None, **kwargs):
    day = day or calendar["monday"]
    kwargs.setdefault("procedure_type", calendar["tfesi"])
    return find_slots(date_from=day, date_to=day, limit=200, **kwargs)


@pytest.fixture
def second_physician(calendar):
    doctor = StaffFactory(
        username="dr.second", role=Role.PHYSICIAN, first_name="Sara", last_name="Vang"
    )
    doctor.staff_profile.credentials.add(calendar["tfesi"])
    for weekday in range(5):
        PhysicianSession.objects.create(
            physician=doctor,
            site=calendar["site"],
            weekday=weekday,
            starts=datetime.time(8),
            ends=datetime.time(16),
            valid_from=datetime.date(2020, 1, 1),
        )
    return doctor


@pytest.fixture
def second_room(calendar):
    return RoomFactory(site=calendar["site"], name="Fluoro room 2", capabilities=["fluoroscopy"])


def test_it_offers_every_quarter_hour_of_an_empty_day_that_fits(calendar):
    slots = day_slots(calendar)
    # Room 45 min, recovery 30 min from minute 35: the last start leaves by 16:00.
    assert starts(slots)[:3] == ["08:00", "08:15", "08:30"]
    assert starts(slots)[-1] == "14:45"
    assert len(slots) == 28
    first = slots[0]
    assert first.starts_at == local(calendar["monday"], 8).astimezone(UTC)
    assert first.ends_at - first.starts_at == datetime.timedelta(minutes=45)
    assert (first.site, first.room, first.physician, first.recovery_bay) == (
        calendar["site"],
        calendar["fluoro"],
        calendar["physician"],
        calendar["bay"],
    )


def test_it_never_offers_a_room_without_fluoroscopy(calendar, book):
    book(9, 0)
    slots = day_slots(calendar)
    assert {slot.room for slot in slots} == {calendar["fluoro"]}
    assert not {"08:30", "08:45", "09:00", "09:15", "09:30"} & set(starts(slots))
    assert "09:45" in starts(slots)


def test_it_offers_nothing_on_a_day_the_physician_is_on_leave(calendar):
    monday = calendar["monday"]
    Unavailability.objects.create(
        physician=calendar["physician"],
        starts_at=local(monday, 0),
        ends_at=local(monday + ONE_DAY, 0),
        reason=Unavailability.Reason.LEAVE,
    )
    assert day_slots(calendar) == []
    assert starts(day_slots(calendar, monday + ONE_DAY))[0] == "08:00"


def test_it_avoids_a_physicians_conference_hours(calendar):
    monday = calendar["monday"]
    Unavailability.objects.create(
        physician=calendar["physician"],
        starts_at=local(monday, 10),
        ends_at=local(monday, 12),
        reason=Unavailability.Reason.CONFERENCE,
    )
    offered = starts(day_slots(calendar))
    assert "09:15" in offered and "12:00" in offered
    assert not [hhmm for hhmm in offered if "09:15" < hhmm < "12:00"]


def test_it_offers_nothing_on_a_public_holiday_or_while_the_room_is_closed(calendar):
    monday = calendar["monday"]
    Unavailability.objects.create(
        site=calendar["site"],
        starts_at=local(monday, 0),
        ends_at=local(monday + ONE_DAY, 0),
        reason=Unavailability.Reason.PUBLIC_HOLIDAY,
    )
    Unavailability.objects.create(
        room=calendar["fluoro"],
        starts_at=local(monday + ONE_DAY, 0),
        ends_at=local(monday + ONE_DAY, 12),
        reason=Unavailability.Reason.MAINTENANCE,
    )
    assert day_slots(calendar) == []
    assert starts(day_slots(calendar, monday + ONE_DAY))[0] == "12:00"


def test_it_offers_nothing_when_the_only_recovery_bay_is_full(
    calendar, book, second_physician, second_room, other_patient
):
    book(9, 0)  # holds the bay 09:35-10:05
    offered = starts(day_slots(calendar))
    # 08:45, 09:00 and 09:15 would have a free room and physician, but recover during 09:35-10:05.
    assert {"08:30", "09:30"} <= set(offered)
    assert not {"08:45", "09:00", "09:15"} & set(offered)

    RoomFactory(site=calendar["site"], name="Bay 2", kind=Room.Kind.RECOVERY)
    slots = {starts([slot])[0]: slot for slot in day_slots(calendar)}
    assert slots["09:00"].room == second_room
    assert slots["09:00"].physician == second_physician
    assert slots["09:00"].recovery_bay.name == "Bay 2"


def test_it_keeps_to_the_session_and_the_opening_hours(calendar):
    calendar["physician"].sessions.filter(weekday=0).update(
        starts=datetime.time(9, 10), ends=datetime.time(12)
    )
    offered = starts(day_slots(calendar))
    # First quarter hour inside the session; the last start whose room time ends by 12:00.
    assert offered[0] == "09:15"
    assert offered[-1] == "11:15"

    calendar["site"].opening_hours.filter(weekday=0).update(opens=datetime.time(10))
    assert starts(day_slots(calendar))[0] == "10:00"


def test_it_respects_a_sessions_validity_dates(calendar):
    monday = calendar["monday"]
    calendar["physician"].sessions.update(valid_until=monday + ONE_DAY)
    assert day_slots(calendar, monday + ONE_DAY)
    assert day_slots(calendar, monday + 2 * ONE_DAY) == []


def test_it_skips_times_the_patient_is_busy_elsewhere(
    calendar, book, patient, other_patient, second_physician, second_room
):
    RoomFactory(site=calendar["site"], name="Bay 2", kind=Room.Kind.RECOVERY)
    book(9, 0)
    for_patient = starts(day_slots(calendar, patient=patient))
    for_other = starts(day_slots(calendar, patient=other_patient))
    assert not {"08:30", "08:45", "09:00", "09:15", "09:30"} & set(for_patient)
    assert {"08:30", "08:45", "09:00", "09:15", "09:30"} <= set(for_other)


def test_it_offers_the_time_of_a_cancelled_appointment_again(calendar, book, front_desk):
    appointment = book(9, 0)
    assert "09:00" not in starts(day_slots(calendar))
    appointment_cancel(actor=front_desk, appointment=appointment, reason="patient_request")
    assert "09:00" in starts(day_slots(calendar))


def test_it_filters_by_part_of_day(calendar):
    morning = starts(day_slots(calendar, part_of_day="morning"))
    afternoon = starts(day_slots(calendar, part_of_day="afternoon"))
    assert morning[0] == "08:00" and morning[-1] == "11:45"
    assert afternoon[0] == "12:00" and afternoon[-1] == "14:45"


def test_it_offers_nothing_before_now(calendar):
    now = local(calendar["monday"], 10, 5)
    assert starts(day_slots(calendar, now=now))[0] == "10:15"


def test_it_returns_the_earliest_slots_up_to_the_limit(calendar):
    slots = find_slots(procedure_type=calendar["tfesi"], date_from=calendar["monday"], limit=5)
    assert starts(slots) == ["08:00", "08:15", "08:30", "08:45", "09:00"]
    assert len({slot.starts_at for slot in slots}) == 5


def test_it_offers_nothing_for_an_uncredentialed_physician_or_inactive_procedure(calendar):
    facet = ProcedureType.objects.get(code="facet-injection")
    assert day_slots(calendar, procedure_type=facet) == []
    assert day_slots(calendar, physician=calendar["physician"])
    calendar["tfesi"].active = False
    assert day_slots(calendar) == []


def test_it_offers_only_the_chosen_physician_and_site(calendar, second_physician):
    chosen = day_slots(calendar, physician=second_physician, site=calendar["site"])
    assert chosen and {slot.physician for slot in chosen} == {second_physician}


@pytest.mark.parametrize(
    ("friday", "before", "after"),
    [
        # Winter time (UTC+1) before the last Sunday of March, summer time (UTC+2) after.
        (datetime.date(2030, 3, 29), datetime.time(7), datetime.time(6)),
        (datetime.date(2030, 10, 25), datetime.time(6), datetime.time(7)),
    ],
)
def test_it_gives_a_local_eight_oclock_the_right_instant_across_dst(
    calendar, friday, before, after
):
    monday = friday + 3 * ONE_DAY
    slots = find_slots(
        procedure_type=calendar["tfesi"],
        date_from=friday,
        date_to=monday,
        now=datetime.datetime(2030, 1, 1, tzinfo=UTC),
        limit=200,
    )
    firsts = {}
    for slot in slots:
        firsts.setdefault(slot.starts_at.date(), slot.starts_at)
    assert firsts[friday] == datetime.datetime.combine(friday, before, UTC)
    assert firsts[monday] == datetime.datetime.combine(monday, after, UTC)
    assert {slot.starts_at.astimezone(COPENHAGEN).weekday() for slot in slots} == {0, 4}


def test_it_loads_a_fixed_number_of_queries_however_busy_the_range(
    calendar, book, patient, other_patient
):
    def queries():
        with CaptureQueriesContext(connection) as captured:
            find_slots(procedure_type=calendar["tfesi"], patient=patient, limit=1000)
        return len(captured)

    few = queries()
    for day in range(4):
        for hour in (8, 10, 12, 14):
            book(
                hour, day=calendar["monday"] + day * ONE_DAY, who=(patient, other_patient)[day % 2]
            )
    assert queries() == few <= 13


def test_it_offers_slots_the_booking_service_accepts(calendar, front_desk, patient, book):
    book(10, 0, who=patient)
    for _ in range(3):
        [slot] = find_slots(procedure_type=calendar["tfesi"], patient=patient, limit=1)
        appointment = appointment_book(
            actor=front_desk,
            patient=patient,
            procedure_type=calendar["tfesi"],
            physician=slot.physician,
            room=slot.room,
            starts_at=slot.starts_at,
            laterality="left",
            levels="L4-L5",
        )
        assert appointment.recovery_bay == slot.recovery_bay


# --- The finder against the rules themselves --------------------------------------------


def brute_force(*, procedure_type, site, physicians, rooms, days, patient, now):
    """What check_booking and free_recovery_bay allow, one start at a time (slow, obvious)."""
    found = []
    for day in days:
        start = datetime.datetime.combine(day, datetime.time(7), COPENHAGEN)
        while start.time() < datetime.time(17):
            windows = rules.windows_for(procedure_type, start.astimezone(UTC))
            slot = None
            for physician in physicians:
                for room in rooms:
                    refusals = rules.check_booking(
                        patient=patient,
                        procedure_type=procedure_type,
                        physician=physician,
                        room=room,
                        windows=windows,
                        laterality="left",
                        levels="L4-L5",
                        now=now,
                    )
                    bay = None if refusals else rules.free_recovery_bay(site, windows)
                    if bay is not None:
                        slot = (windows.starts_at, room, physician, bay)
                        break
                if slot:
                    break
            if slot:
                found.append(slot)
            start += datetime.timedelta(minutes=15)
    return found


@pytest.mark.parametrize("seed", range(4))
def test_it_agrees_with_the_booking_rules_on_a_random_calendar(
    seed, calendar, front_desk, patient, other_patient, second_physician, second_room
):
    rng = random.Random(seed)
    site, monday = calendar["site"], calendar["monday"]
    tuesday = monday + ONE_DAY
    RoomFactory(site=site, name="Bay 2", kind=Room.Kind.RECOVERY)
    second_physician.sessions.filter(weekday=0).update(
        starts=datetime.time(10), ends=datetime.time(14)
    )
    caudal = ProcedureType.objects.get(code="esi-caudal")
    for doctor in (calendar["physician"], second_physician):
        doctor.staff_profile.credentials.add(caudal)
    patients = [patient, other_patient] + [
        PatientFactory(
            mrn=f"RND-{n}",
            first_name="Random",
            last_name=str(n),
            date_of_birth=datetime.date(1970, 1, 1),
        )
        for n in range(4)
    ]
    rooms = [calendar["fluoro"], second_room, calendar["plain"]]
    doctors = [calendar["physician"], second_physician]
    booked = []
    for _ in range(40):
        with contextlib.suppress(BookingRefused):
            booked.append(
                appointment_book(
                    actor=front_desk,
                    patient=rng.choice(patients),
                    procedure_type=rng.choice([calendar["tfesi"], caudal]),
                    physician=rng.choice(doctors),
                    room=rng.choice(rooms),
                    starts_at=local(
                        rng.choice([monday, tuesday]),
                        rng.randint(8, 15),
                        rng.choice([0, 5, 15, 20, 30, 45]),
                    ),
                    laterality="left",
                    levels="L4-L5",
                    offer_alternatives=False,
                )
            )
    for appointment in rng.sample(booked, len(booked) // 4):
        appointment_cancel(actor=front_desk, appointment=appointment, reason="patient_ill")
    day = rng.choice([monday, tuesday])
    hour = rng.randint(8, 14)
    subject = rng.choice(
        [
            {"physician": rng.choice(doctors)},
            {"room": rng.choice([calendar["fluoro"], second_room, calendar["bay"]])},
            {"site": site},
        ]
    )
    Unavailability.objects.create(
        starts_at=local(day, hour), ends_at=local(day, hour + 1, 10), reason="other", **subject
    )
    assert len(booked) >= 6, "the random calendar should hold several bookings"

    now = timezone.now()
    procedure_type = rng.choice([calendar["tfesi"], caudal])
    who = rng.choice([None, *patients[:3]])
    expected = brute_force(
        procedure_type=procedure_type,
        site=site,
        physicians=sorted(doctors, key=lambda d: (d.last_name, d.first_name, d.pk)),
        rooms=sorted(rooms, key=lambda r: r.name),
        days=[monday, tuesday],
        patient=who,
        now=now,
    )
    found = find_slots(
        procedure_type=procedure_type,
        patient=who,
        # From the Sunday before, so Monday and Tuesday fall in different spans of busy time.
        date_from=monday - ONE_DAY,
        date_to=tuesday,
        limit=1000,
        now=now,
    )
    assert [(s.starts_at, s.room, s.physician, s.recovery_bay) for s in found] == expected
