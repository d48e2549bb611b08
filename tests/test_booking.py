"""Booking, its refusals and the no-double-booking rule (PostgreSQL constraints)."""

import datetime

import pytest
from django.db import IntegrityError, transaction

from scheduling.models import Appointment, AppointmentEvent, Status, Unavailability
from scheduling.services import BookingRefused, appointment_cancel
from scheduling.signals import appointment_changed
from tests.factories import RoomFactory, local


def refusal_codes(exc_info):
    return [r.code for r in exc_info.value.reasons]


def test_it_books_a_procedure_with_derived_times_and_a_recovery_bay(book, calendar):
    appointment = book(9, 0)
    assert appointment.status == Status.BOOKED
    assert appointment.ends_at - appointment.starts_at == datetime.timedelta(minutes=45)
    # Recovery starts when the procedure ends (setup 10 + procedure 25), for 30 minutes.
    assert appointment.recovery_starts_at == appointment.starts_at + datetime.timedelta(minutes=35)
    assert appointment.recovery_ends_at == appointment.starts_at + datetime.timedelta(minutes=65)
    assert appointment.recovery_bay == calendar["bay"]
    assert appointment.events.get().kind == AppointmentEvent.Kind.BOOKED


def test_it_emits_one_signal_per_booking(book):
    seen = []

    def listener(sender, appointment, change, **kwargs):
        seen.append((appointment.pk, change))

    appointment_changed.connect(listener)
    try:
        appointment = book(9, 0)
    finally:
        appointment_changed.disconnect(listener)
    assert seen == [(appointment.pk, "booked")]


def test_it_refuses_a_start_in_the_past(book, calendar):
    with pytest.raises(BookingRefused) as refused:
        book(day=datetime.date(2020, 1, 6))
    assert "The start time is in the past." in refused.value.messages


def test_it_refuses_outside_opening_hours(book):
    with pytest.raises(BookingRefused) as refused:
        book(15, 30)
    assert refusal_codes(refused)[0] == "outside_opening_hours"
    assert "open 08:00-16:00 on Mondays" in refused.value.messages[0]


def test_it_refuses_a_day_the_site_is_closed(book, calendar):
    saturday = calendar["monday"] + datetime.timedelta(days=5)
    with pytest.raises(BookingRefused) as refused:
        book(day=saturday)
    assert "Test Spine Centre is closed on Saturdays." in refused.value.messages


def test_it_refuses_a_public_holiday(book, calendar):
    Unavailability.objects.create(
        site=calendar["site"],
        starts_at=local(calendar["monday"], 0),
        ends_at=local(calendar["monday"] + datetime.timedelta(days=1), 0),
        reason="public_holiday",
        note="Whit Monday",
    )
    with pytest.raises(BookingRefused) as refused:
        book()
    assert "closed then (Public holiday: Whit Monday)" in refused.value.messages[0]


def test_it_refuses_a_room_without_fluoroscopy(book, calendar):
    with pytest.raises(BookingRefused) as refused:
        book(room=calendar["plain"])
    assert refused.value.messages == [
        "Plain room lacks Fluoroscopy (C-arm), which Epidural steroid injection, "
        "transforaminal needs."
    ]


def test_it_refuses_a_physician_not_credentialed(book, calendar):
    from clinic.models import ProcedureType

    with pytest.raises(BookingRefused) as refused:
        book(procedure_type=ProcedureType.objects.get(code="facet-injection"))
    assert "Peter Holm is not credentialed for Facet joint injection." in refused.value.messages


def test_it_refuses_a_physician_on_leave(book, calendar):
    Unavailability.objects.create(
        physician=calendar["physician"],
        starts_at=local(calendar["monday"], 0),
        ends_at=local(calendar["monday"], 23),
        reason="leave",
    )
    with pytest.raises(BookingRefused) as refused:
        book()
    assert refused.value.messages == ["Peter Holm is away then (Leave)."]


def test_it_refuses_outside_the_physicians_session(book, calendar):
    calendar["physician"].sessions.filter(weekday=0).update(ends=datetime.time(12))
    with pytest.raises(BookingRefused) as refused:
        book(11, 30)
    assert refusal_codes(refused) == ["physician_no_session"]


def test_it_requires_side_and_level_where_the_procedure_needs_them(book):
    with pytest.raises(BookingRefused) as refused:
        book(laterality="na", levels="")
    assert refusal_codes(refused) == ["side_missing", "level_missing"]


@pytest.mark.parametrize(("who", "code"), [("room", "room_taken"), ("patient", "patient_taken")])
def test_it_refuses_an_overlap_and_names_what_is_taken(book, other_patient, who, code):
    book(9, 0)
    with pytest.raises(BookingRefused) as refused:
        if who == "room":
            book(9, 30, who=other_patient)
        else:
            book(9, 30)
    assert code in refusal_codes(refused)
    assert "already booked from" in " ".join(refused.value.messages)


def test_it_offers_the_next_free_slots_with_a_refusal(book, other_patient):
    book(9, 0)
    with pytest.raises(BookingRefused) as refused:
        book(9, 0, who=other_patient)
    alternatives = refused.value.alternatives
    assert len(alternatives) == 5
    taken = (
        first_start := local(alternatives[0].starts_at.date(), 9),
        first_start.replace(minute=45),
    )
    for slot in alternatives:
        assert slot.ends_at <= taken[0] or slot.starts_at >= taken[1]


def test_it_lets_a_booking_start_when_the_previous_one_ends(book, other_patient):
    first = book(9, 0)
    second = book(9, 45, who=other_patient)
    assert second.starts_at == first.ends_at


def test_it_refuses_when_the_only_recovery_bay_is_full(book, calendar, other_patient):

    second_room = RoomFactory(site=calendar["site"], name="Fluoro 2", capabilities=["fluoroscopy"])
    book(9, 0)
    with pytest.raises(BookingRefused) as refused:
        book(9, 0, who=other_patient, room=second_room, physician=calendar["physician"])
    # The physician is busy too; with another physician only the bay is missing.
    assert "physician_taken" in refusal_codes(refused)


def test_it_frees_the_slot_when_an_appointment_is_cancelled(book, front_desk, other_patient):
    first = book(9, 0)
    appointment_cancel(actor=front_desk, appointment=first, reason="patient_request")
    again = book(9, 0, who=other_patient)
    assert again.starts_at == first.starts_at


def test_it_lets_postgresql_refuse_an_overlap_the_service_did_not_see(
    book, calendar, other_patient
):
    first = book(9, 0)
    clash = Appointment(
        patient=other_patient,
        procedure_type=first.procedure_type,
        physician=first.physician,
        site=first.site,
        room=first.room,
        starts_at=first.starts_at + datetime.timedelta(minutes=10),
        ends_at=first.ends_at + datetime.timedelta(minutes=10),
        status=Status.BOOKED,
    )
    with pytest.raises(IntegrityError, match="appointment_room_no_overlap"), transaction.atomic():
        clash.save()


def test_it_refuses_moving_an_appointment_within_a_site_no_longer_in_use(calendar, book):
    from scheduling.services import appointment_reschedule
    from tests.factories import local

    appointment = book()
    calendar["site"].active = False
    calendar["site"].save()

    with pytest.raises(BookingRefused) as refused:
        appointment_reschedule(
            actor=appointment.created_by,
            appointment=appointment,
            starts_at=local(calendar["monday"], 11),
        )
    assert [r.code for r in refused.value.reasons] == ["site_inactive"]
