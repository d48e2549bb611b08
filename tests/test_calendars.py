"""iCalendar output across daylight-saving switches, the physician's feed and its token."""

import datetime
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings
from django.urls import reverse
from icalendar import Calendar

from clinic.models import AuditEvent, ProcedureType, Room
from scheduling.calendars import appointment_ics, physician_feed_ics
from scheduling.models import CalendarFeed
from scheduling.services import appointment_book, appointment_cancel, appointment_reschedule
from tests.factories import RoomFactory, SiteFactory, open_weekdays

UTC = datetime.UTC
# The 2027 switches in the EU are the last Sundays of March and October.
SPRING = (datetime.date(2027, 3, 26), datetime.date(2027, 3, 29))  # Friday, Monday
AUTUMN = (datetime.date(2027, 10, 29), datetime.date(2027, 11, 1))
# The US switches on the second Sunday of March (14 March 2027).
US_SPRING = (datetime.date(2027, 3, 12), datetime.date(2027, 3, 15))
BOOKED_IN_ADVANCE = datetime.datetime(2027, 1, 4, tzinfo=UTC)


def make_site(name, zone, physician):
    """A site in `zone`, open weekdays 08:00-16:00, with a fluoroscopy room and a bay."""
    site = SiteFactory(
        name=name, time_zone=zone, address="Nørre Allé 14\n2200 København N", phone="+45 11"
    )
    open_weekdays(site, physician, valid_from=datetime.date(2026, 1, 1))
    room = RoomFactory(site=site, name="Fluoro", capabilities=["fluoroscopy"])
    RoomFactory(site=site, name="Bay A", kind=Room.Kind.RECOVERY)
    return site, room


@pytest.fixture
def tfesi(physician):
    procedure = ProcedureType.objects.get(code="esi-transforaminal")
    physician.staff_profile.credentials.add(procedure)
    return procedure


@pytest.fixture
def book_at(physician, front_desk, patient, tfesi):
    """Book at 09:00 local on `day` at a site in `zone`, as if booked in January 2027."""
    sites = {}

    def book_at(day, zone="Europe/Copenhagen", hour=9):
        if zone not in sites:
            sites[zone] = make_site(f"Clinic {zone}", zone, physician)
        site, room = sites[zone]
        return appointment_book(
            actor=front_desk,
            patient=patient,
            procedure_type=tfesi,
            physician=physician,
            room=room,
            starts_at=datetime.datetime.combine(day, datetime.time(hour), ZoneInfo(zone)),
            laterality="left",
            levels="L4-L5",
            now=BOOKED_IN_ADVANCE,
        )

    return book_at


def parsed_event(ics: bytes):
    return Calendar.from_ical(ics).walk("VEVENT")[0]


def timezone_offsets(ics: bytes) -> set[str]:
    lines = ics.decode().splitlines()
    return {line.split(":")[1] for line in lines if line.startswith("TZOFFSETTO")}


@pytest.mark.parametrize(
    ("days", "utc_hours"), [(SPRING, (8, 7)), (AUTUMN, (7, 8))], ids=["spring", "autumn"]
)
def test_it_keeps_nine_oclock_local_on_both_sides_of_a_switch(book_at, days, utc_hours):
    for day, utc_hour in zip(days, utc_hours, strict=True):
        appointment = book_at(day)
        ics = appointment_ics(appointment)
        assert f"DTSTART;TZID=Europe/Copenhagen:{day:%Y%m%d}T090000" in ics.decode()
        assert f"DTEND;TZID=Europe/Copenhagen:{day:%Y%m%d}T094500" in ics.decode()
        # One VTIMEZONE, naming both the winter and the summer offset.
        assert ics.decode().count("BEGIN:VTIMEZONE") == 1
        assert {"+0100", "+0200"} <= timezone_offsets(ics)
        event = parsed_event(ics)
        assert event.start.astimezone(UTC) == datetime.datetime.combine(
            day, datetime.time(utc_hour), UTC
        )


def test_it_follows_the_sites_own_zone(book_at):
    friday, monday = (book_at(day, zone="America/New_York") for day in US_SPRING)
    for appointment, utc_hour in ((friday, 14), (monday, 13)):
        ics = appointment_ics(appointment)
        day = appointment.local_start.date()
        assert f"DTSTART;TZID=America/New_York:{day:%Y%m%d}T090000" in ics.decode()
        assert {"-0500", "-0400"} <= timezone_offsets(ics)
        assert parsed_event(ics).start.astimezone(UTC).hour == utc_hour


def test_it_puts_both_sides_of_the_switch_into_the_physicians_feed(book_at, physician):
    appointments = [book_at(day) for day in (*SPRING, *AUTUMN)]
    ics = physician_feed_ics(physician, now=BOOKED_IN_ADVANCE, days_back=0, days_ahead=365)
    events = Calendar.from_ical(ics).walk("VEVENT")
    starts = sorted(event.start.astimezone(UTC) for event in events)
    assert starts == [
        datetime.datetime(2027, 3, 26, 8, tzinfo=UTC),
        datetime.datetime(2027, 3, 29, 7, tzinfo=UTC),
        datetime.datetime(2027, 10, 29, 7, tzinfo=UTC),
        datetime.datetime(2027, 11, 1, 8, tzinfo=UTC),
    ]
    assert ics.decode().count("BEGIN:VTIMEZONE") == 1
    uids = {str(event["UID"]) for event in events}
    assert uids == {f"appointment-{a.pk}@127.0.0.1" for a in appointments}


def test_it_leaves_the_feed_window_out(book_at, physician):
    book_at(SPRING[0])
    ics = physician_feed_ics(
        physician, now=datetime.datetime(2027, 6, 1, tzinfo=UTC), days_back=30, days_ahead=180
    )
    assert Calendar.from_ical(ics).walk("VEVENT") == []


def test_it_marks_cancelled_appointments_in_the_feed(book_at, physician, front_desk):
    kept, cancelled = book_at(SPRING[0]), book_at(SPRING[1])
    appointment_cancel(actor=front_desk, appointment=cancelled, reason="patient_request")
    ics = physician_feed_ics(physician, now=BOOKED_IN_ADVANCE, days_back=0, days_ahead=365)
    status = {str(e["UID"]): str(e["STATUS"]) for e in Calendar.from_ical(ics).walk("VEVENT")}
    assert status == {
        f"appointment-{kept.pk}@127.0.0.1": "CONFIRMED",
        f"appointment-{cancelled.pk}@127.0.0.1": "CANCELLED",
    }


def test_it_keeps_the_uid_and_raises_the_sequence_when_moved(book_at, front_desk):
    appointment = book_at(SPRING[0])
    before = parsed_event(appointment_ics(appointment))
    moved = appointment_reschedule(
        actor=front_desk,
        appointment=appointment,
        starts_at=datetime.datetime(2027, 3, 26, 11, tzinfo=ZoneInfo("Europe/Copenhagen")),
        now=BOOKED_IN_ADVANCE,
    )
    after = parsed_event(appointment_ics(moved))
    assert after["UID"] == before["UID"]
    assert int(after["SEQUENCE"]) > int(before["SEQUENCE"])
    assert after.start.astimezone(UTC) == datetime.datetime(2027, 3, 26, 10, tzinfo=UTC)


def test_it_shows_staff_the_procedure_and_only_the_patients_initials(book_at):
    ics = appointment_ics(book_at(SPRING[0])).decode()
    event = parsed_event(ics.encode())
    assert str(event["SUMMARY"]) == (
        "Epidural steroid injection, transforaminal (Left L4-L5) · K.J."
    )
    assert "Karen" not in ics and "Jensen" not in ics
    assert str(event["LOCATION"]) == "Clinic Europe/Copenhagen, Fluoro"


def test_it_names_no_procedure_in_the_patients_file(book_at):
    appointment = book_at(SPRING[0])
    ics = appointment_ics(appointment, for_patient=True).decode()
    event = parsed_event(ics.encode())
    assert str(event["SUMMARY"]) == f"Appointment at {settings.CLINIC_NAME}"
    for hidden in ("Epidural", "injection", "L4-L5", "Left", "Karen", "Jensen"):
        assert hidden not in ics, hidden
    assert "Nørre Allé 14, 2200 København N" in str(event["LOCATION"])
    # The patient's stay runs until the end of recovery.
    assert event.end.astimezone(UTC) == appointment.recovery_ends_at


def test_it_downloads_an_appointment_file_for_staff_only(client, personas, book_at):
    appointment = book_at(SPRING[0])
    url = reverse("appointment_ics", args=[appointment.pk])
    assert client.get(url).status_code == 302
    for role, user in personas.items():
        client.force_login(user)
        response = client.get(url)
        assert response.status_code == (403 if role == "outsider" else 200), role
    client.force_login(personas["front_desk"])
    response = client.get(url, {"for": "patient"})
    assert response["Content-Type"] == "text/calendar; charset=utf-8"
    assert f'filename="appointment-{appointment.pk}.ics"' in response["Content-Disposition"]
    assert b"Epidural" not in response.content
    assert AuditEvent.objects.filter(
        user=personas["front_desk"], action="export", patient=appointment.patient
    ).exists()


def test_it_serves_the_feed_by_token_without_a_login(client, physician, book_at):
    book_at(SPRING[0])
    feed = CalendarFeed.objects.create(physician=physician)
    response = client.get(reverse("physician_feed", args=[feed.token]))
    assert response.status_code == 200
    assert response["Content-Type"] == "text/calendar; charset=utf-8"
    assert response.content.startswith(b"BEGIN:VCALENDAR")
    assert client.get(reverse("physician_feed", args=["not-a-token"])).status_code == 404


def test_it_stops_a_revoked_or_deactivated_feed(client, physician):
    client.force_login(physician)
    client.post(reverse("calendar_feed_settings"), {"action": "create"})
    old = CalendarFeed.objects.get(physician=physician).token
    response = client.post(reverse("calendar_feed_settings"), {"action": "revoke"}, follow=True)
    new = CalendarFeed.objects.get(physician=physician).token
    assert new != old
    assert new in response.content.decode()
    client.logout()
    assert client.get(reverse("physician_feed", args=[old])).status_code == 404
    assert client.get(reverse("physician_feed", args=[new])).status_code == 200
    physician.is_active = False
    physician.save()
    assert client.get(reverse("physician_feed", args=[new])).status_code == 404


def test_it_lets_a_physician_turn_the_feed_off(client, physician):
    client.force_login(physician)
    client.post(reverse("calendar_feed_settings"), {"action": "create"})
    token = CalendarFeed.objects.get(physician=physician).token
    client.post(reverse("calendar_feed_settings"), {"action": "delete"})
    assert not CalendarFeed.objects.filter(physician=physician).exists()
    assert client.get(reverse("physician_feed", args=[token])).status_code == 404


def test_it_offers_feeds_to_physicians_only(client, front_desk, outsider):
    client.force_login(front_desk)
    response = client.get(reverse("calendar_feed_settings"))
    assert response.status_code == 200
    assert "not a physician" in response.content.decode()
    assert client.post(reverse("calendar_feed_settings"), {"action": "create"}).status_code == 403
    client.force_login(outsider)
    assert client.get(reverse("calendar_feed_settings")).status_code == 403


def test_it_writes_the_file_as_icalendar_does_with_each_zone_written_once(book_at, monkeypatch):
    from scheduling import calendars

    appointment = book_at(SPRING[0])
    sites = [appointment, book_at(US_SPRING[0], zone="America/New_York")]
    for booked in sites:
        expected = calendars._new_calendar(settings.CLINIC_NAME)
        expected.add_component(calendars._event(booked, for_patient=True))
        expected.add_missing_timezones()
        assert appointment_ics(booked, for_patient=True) == expected.to_ical()
    # Written from the cache from then on.
    monkeypatch.setattr(calendars.Timezone, "from_tzid", None)
    assert b"BEGIN:VTIMEZONE" in appointment_ics(appointment, for_patient=True)
