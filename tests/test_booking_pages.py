"""The booking pages: book, the appointment's page, reschedule, cancel, the patient page parts."""

import datetime
from urllib.parse import parse_qs, urlparse

import pytest
from django.urls import reverse

from clinic.models import ProcedureType
from scheduling.models import Appointment, AppointmentEvent, Status, Unavailability
from scheduling.services import BookingRefused
from scheduling.signals import appointment_changed
from scheduling.slots import find_slots
from tests.factories import AppointmentFactory, appointment_maker, local

ROLES = ["front_desk", "nurse", "physician", "manager", "admin", "outsider"]
ALL_STAFF = {"front_desk", "nurse", "physician", "manager", "admin"}
BOOKERS = {"front_desk", "manager", "admin"}


def booking_data(calendar, who, day=None, hour=9, minute=0, **overrides):
    return {
        "patient": who.pk,
        "procedure_type": calendar["tfesi"].pk,
        "physician": calendar["physician"].pk,
        "room": calendar["fluoro"].pk,
        "date": (day or calendar["monday"]).isoformat(),
        "time": f"{hour:02d}:{minute:02d}",
        "laterality": "left",
        "levels": "L4-L5",
        "notes": "Bring MRI",
    } | overrides


def post_booking(client, calendar, who, **overrides):
    return client.post(reverse("appointment_book"), booking_data(calendar, who, **overrides))


# --- permissions ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "needs_pk", "allowed"),
    [
        ("appointment_list", False, ALL_STAFF),
        ("appointment_book", False, BOOKERS),
        ("appointment_detail", True, ALL_STAFF),
        ("appointment_reschedule", True, BOOKERS),
        ("appointment_cancel", True, BOOKERS),
        ("waitlist", False, BOOKERS),
        ("waitlist_add", False, BOOKERS),
    ],
)
def test_it_allows_each_role_only_its_booking_pages(
    client, personas, book, name, needs_pk, allowed
):
    url = reverse(name, args=[book().pk] if needs_pk else [])
    assert client.get(url).status_code == 302  # anonymous: to the login page
    for role in ROLES:
        client.force_login(personas[role])
        status = client.get(url).status_code
        assert status == (200 if role in allowed else 403), f"{role} on {name}: {status}"


# --- booking ----------------------------------------------------------------------------


def test_it_prefills_the_booking_form_from_the_query_string(client, front_desk, calendar, patient):
    client.force_login(front_desk)
    starts_at = local(calendar["monday"], 10, 15).astimezone(datetime.UTC)
    response = client.get(
        reverse("appointment_book"),
        {
            "patient": patient.pk,
            "procedure_type": calendar["tfesi"].pk,
            "physician": calendar["physician"].pk,
            "room": calendar["fluoro"].pk,
            "starts_at": starts_at.isoformat(),
        },
    )
    form = response.context["form"]
    assert form["patient"].value() == str(patient.pk)
    assert form["room"].value() == str(calendar["fluoro"].pk)
    # 08:15 UTC is 10:15 at the (Copenhagen) site: the form speaks site-local time.
    assert form["date"].value() == calendar["monday"]
    assert form["time"].value() == datetime.time(10, 15)
    content = response.content.decode()
    assert f'<option value="{patient.pk}" selected>' in content
    assert content.count("<option") < 60  # only the chosen patient is listed, not all


def test_it_books_from_the_form_and_shows_the_appointment(client, front_desk, calendar, patient):
    client.force_login(front_desk)
    response = post_booking(client, calendar, patient, hour=10, minute=30)
    appointment = Appointment.objects.get()
    assert response.status_code == 302
    assert response.url == appointment.get_absolute_url()
    assert appointment.starts_at == local(calendar["monday"], 10, 30)
    assert appointment.ends_at - appointment.starts_at == datetime.timedelta(minutes=45)
    assert (appointment.laterality, appointment.levels) == ("left", "L4-L5")
    assert appointment.created_by == front_desk
    page = client.get(response.url).content.decode()
    assert "Booked Epidural steroid injection, transforaminal for Karen Jensen" in page
    assert "Bring MRI" in page
    assert "Freja" in page  # booked by


REFUSALS = {
    "outside opening hours": (
        {"hour": 15, "minute": 30},
        "Outside opening hours: Test Spine Centre is open 08:00-16:00 on Mondays",
    ),
    "room lacks fluoroscopy": (
        {"room": "plain"},
        "Plain room lacks Fluoroscopy (C-arm), which Epidural steroid injection, "
        "transforaminal needs.",
    ),
    "physician not credentialed": (
        {"procedure_type": "facet-injection"},
        "Peter Holm is not credentialed for Facet joint injection.",
    ),
    "in the past": ({"day": datetime.date(2020, 1, 6)}, "The start time is in the past."),
    "closed day": ({"day": "saturday"}, "Test Spine Centre is closed on Saturdays."),
    "physician away": ({"away": True}, "Peter Holm is away then (Leave)."),
}


@pytest.mark.parametrize("case", REFUSALS)
def test_it_shows_each_refusal_on_the_booking_page_and_keeps_the_input(
    client, front_desk, calendar, patient, case
):
    change, message = REFUSALS[case]
    overrides = dict(change)
    if overrides.pop("away", False):
        Unavailability.objects.create(
            physician=calendar["physician"],
            starts_at=local(calendar["monday"], 0),
            ends_at=local(calendar["monday"], 23),
            reason="leave",
        )
    if overrides.get("room") == "plain":
        overrides["room"] = calendar["plain"].pk
    if "procedure_type" in overrides:
        overrides["procedure_type"] = ProcedureType.objects.get(code=overrides["procedure_type"]).pk
    if overrides.get("day") == "saturday":
        overrides["day"] = calendar["monday"] + datetime.timedelta(days=5)
    client.force_login(front_desk)
    response = post_booking(client, calendar, patient, **overrides)
    assert response.status_code == 200
    assert message in response.content.decode()
    assert response.context["form"]["notes"].value() == "Bring MRI"  # nothing lost
    assert not Appointment.objects.exists()


def test_it_names_what_is_taken_and_offers_alternatives_that_refill_the_form(
    client, front_desk, calendar, book, patient, other_patient
):
    book(9, 0)
    client.force_login(front_desk)
    response = post_booking(client, calendar, other_patient, hour=9, minute=15)
    content = response.content.decode()
    monday = calendar["monday"]
    assert "Fluoro room is already booked from" in content
    assert "Peter Holm is already booked from" in content
    alternatives = response.context["alternatives"]
    assert len(alternatives) == 5
    first = alternatives[0]
    assert first["url"] in content.replace("&amp;", "&")
    query = parse_qs(urlparse(first["url"]).query)
    assert query["patient"] == [str(other_patient.pk)]
    assert query["notes"] == ["Bring MRI"]
    assert query["levels"] == ["L4-L5"]
    # One click re-fills the form with the alternative; confirming books it.
    refilled = client.get(first["url"]).context["form"]
    assert refilled["time"].value() == first["slot"].starts_at.astimezone(
        calendar["site"].zone
    ).time().replace(second=0)
    data = {name: refilled[name].value() for name in refilled.fields}
    data["date"] = data["date"].isoformat()
    data["time"] = data["time"].strftime("%H:%M")
    data = {key: value for key, value in data.items() if value is not None}
    assert client.post(reverse("appointment_book"), data).status_code == 302
    booked = Appointment.objects.get(patient=other_patient)
    assert booked.starts_at == first["slot"].starts_at
    assert booked.notes == "Bring MRI"
    assert booked.starts_at >= local(monday, 9, 45) or booked.ends_at <= local(monday, 9)


def test_it_shows_missing_side_and_level_at_their_fields(client, front_desk, calendar, patient):
    client.force_login(front_desk)
    response = post_booking(client, calendar, patient, laterality="na", levels="")
    form = response.context["form"]
    assert "Choose the side (left, right or bilateral)" in form.errors["laterality"][0]
    assert "Enter the spinal level(s), e.g. L4-L5" in form.errors["levels"][0]


def test_it_books_a_procedure_that_needs_no_side_or_level_without_them(
    client, front_desk, calendar, patient
):
    caudal = ProcedureType.objects.get(code="esi-caudal")
    calendar["physician"].staff_profile.credentials.add(caudal)
    client.force_login(front_desk)
    response = post_booking(
        client, calendar, patient, procedure_type=caudal.pk, laterality="", levels=""
    )
    assert response.status_code == 302
    assert Appointment.objects.get().laterality == "na"


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("date", "31/02/2030", "Enter a date as YYYY-MM-DD."),
        ("time", "nine", "Enter a time as HH:MM, for example 09:30."),
        ("levels", "L9", "L9 is not a spinal level"),
        ("patient", "", "Choose the patient: search by MRN, name or birth date, or register"),
        ("patient", "abc", "Select a valid choice"),
    ],
)
def test_it_explains_bad_input_without_losing_the_rest(
    client, front_desk, calendar, patient, field, value, message
):
    client.force_login(front_desk)
    response = post_booking(client, calendar, patient, **{field: value})
    assert response.status_code == 200
    assert message in response.content.decode()
    assert response.context["form"]["notes"].value() == "Bring MRI"


def test_it_ignores_a_garbled_prefill(client, front_desk, calendar):
    client.force_login(front_desk)
    response = client.get(
        reverse("appointment_book"), {"patient": "x", "room": "y", "starts_at": "soon"}
    )
    assert response.status_code == 200


def test_it_lets_only_duration_overriders_change_the_room_time(
    client, front_desk, manager, calendar, patient, other_patient
):
    client.force_login(front_desk)
    assert "room_minutes" not in client.get(reverse("appointment_book")).context["form"].fields
    post_booking(client, calendar, patient, room_minutes=90)
    assert Appointment.objects.get().ends_at - Appointment.objects.get().starts_at == (
        datetime.timedelta(minutes=45)
    )
    client.force_login(manager)
    assert "room_minutes" in client.get(reverse("appointment_book")).context["form"].fields
    post_booking(client, calendar, other_patient, hour=11, room_minutes=60)
    overridden = Appointment.objects.get(patient=other_patient)
    assert overridden.ends_at - overridden.starts_at == datetime.timedelta(minutes=60)
    page = client.get(overridden.get_absolute_url()).content.decode()
    assert "Room time set to 60 min instead of the standard 45 min." in page


def test_it_lets_a_physician_override_the_room_time_on_the_appointments_page(
    client, physician, front_desk, nurse, book
):
    appointment = book(9, 0)
    url = reverse("appointment_duration", args=[appointment.pk])
    client.force_login(physician)
    assert f'action="{url}"' in client.get(appointment.get_absolute_url()).content.decode()
    response = client.post(url, {"room_minutes": 75}, follow=True)
    assert "Room time set to 75 min." in response.content.decode()
    appointment.refresh_from_db()
    assert appointment.ends_at - appointment.starts_at == datetime.timedelta(minutes=75)
    assert appointment.local_start.time() == datetime.time(9, 0)
    event = appointment.events.get(kind=AppointmentEvent.Kind.OVERRIDE)
    assert (event.user, event.detail) == (
        physician,
        "Room time set to 75 min instead of the standard 45 min.",
    )
    for who in (front_desk, nurse):
        client.force_login(who)
        assert f'action="{url}"' not in client.get(appointment.get_absolute_url()).content.decode()
        assert client.post(url, {"room_minutes": 60}).status_code == 403


@pytest.mark.parametrize(
    ("minutes", "message"),
    [
        ("", "Enter the room time in minutes."),
        ("2", "Ensure this value is greater than or equal to 5."),
        ("480", "The room time was not changed: Outside opening hours"),
    ],
)
def test_it_explains_a_refused_room_time_override(client, physician, book, minutes, message):
    appointment = book(9, 0)
    client.force_login(physician)
    response = client.post(
        reverse("appointment_duration", args=[appointment.pk]),
        {"room_minutes": minutes},
        follow=True,
    )
    assert message in response.content.decode()
    appointment.refresh_from_db()
    assert appointment.ends_at - appointment.starts_at == datetime.timedelta(minutes=45)


def test_it_finds_patients_by_mrn_or_name_for_the_booking_form(
    client, front_desk, patient, other_patient
):
    client.force_login(front_desk)
    url = reverse("booking_patient_options")
    by_mrn = client.get(url, {"q": "mrn-0002"}).content.decode()
    assert f'<option value="{other_patient.pk}" selected>' in by_mrn
    assert "Karen" not in by_mrn
    by_name = client.get(url, {"q": "jens"}).content.decode()
    assert "Jensen, Karen · MRN-0001" in by_name
    assert "No patient matches" in client.get(url, {"q": "nobody"}).content.decode()


# --- the appointment's page ---------------------------------------------------------------


def test_it_shows_the_appointment_with_its_history(client, front_desk, manager, book):
    appointment = book(9, 0, notes="Allergic to latex")
    client.force_login(manager)
    client.post(reverse("appointment_transition", args=[appointment.pk]), {"to": Status.CONFIRMED})
    client.force_login(front_desk)
    response = client.get(appointment.get_absolute_url())
    content = response.content.decode()
    for text in [
        "Karen Jensen",
        "MRN-0001",
        "Epidural steroid injection, transforaminal",
        "Left L4-L5",
        "Peter Holm",
        "Fluoro room",
        "Bay 1, 09:35–10:05",
        "Allergic to latex",
        "Confirmed",
    ]:
        assert text in content, text
    events = response.context["events"]
    assert [(e.kind, e.user) for e in events] == [
        (AppointmentEvent.Kind.BOOKED, front_desk),
        (AppointmentEvent.Kind.STATUS, manager),
    ]
    assert "Booked → Confirmed" in content
    history = response.context["field_history"]
    assert history[0].user == manager
    assert ("status", "Booked", "Confirmed") in [
        (c.field, c.old, c.new) for c in history[0].changes
    ]


def test_it_offers_actions_by_role_and_status(client, personas, book):
    appointment = book(9, 0)
    # Next Monday: no check-in before the day (tests/test_checkin.py has the day itself).
    expectations = {
        "front_desk": {"confirmed", "reschedule", "cancel"},
        "manager": {"confirmed", "reschedule", "cancel"},
        "nurse": set(),
        "physician": set(),
    }
    for role, wanted in expectations.items():
        client.force_login(personas[role])
        content = client.get(appointment.get_absolute_url()).content.decode()
        offered = {s for s in Status.values if f'name="to" value="{s}"' in content}
        if reverse("appointment_reschedule", args=[appointment.pk]) in content:
            offered.add("reschedule")
        if reverse("appointment_cancel", args=[appointment.pk]) in content:
            offered.add("cancel")
        assert offered == wanted, role


def test_it_answers_404_for_an_unknown_appointment(client, front_desk, db):
    client.force_login(front_desk)
    assert client.get(reverse("appointment_detail", args=[999999])).status_code == 404


# --- reschedule ---------------------------------------------------------------------------


def test_it_reschedules_keeping_history_and_moving_what_hangs_off(
    client, front_desk, calendar, book
):
    appointment = book(9, 0)
    seen = []

    def listener(sender, appointment, change, **kwargs):
        seen.append(change)

    client.force_login(front_desk)
    url = reverse("appointment_reschedule", args=[appointment.pk])
    form = client.get(url).context["form"]
    assert form["time"].value() == datetime.time(9, 0)
    tuesday = calendar["monday"] + datetime.timedelta(days=1)
    appointment_changed.connect(listener)
    try:
        response = client.post(
            url,
            {
                "room": calendar["fluoro"].pk,
                "physician": calendar["physician"].pk,
                "date": tuesday.isoformat(),
                "time": "11:00",
            },
        )
    finally:
        appointment_changed.disconnect(listener)
    assert response.status_code == 302
    appointment.refresh_from_db()
    assert appointment.starts_at == local(tuesday, 11)
    assert seen == ["rescheduled"]
    page = client.get(appointment.get_absolute_url()).content.decode()
    assert "Moved from Mon" in page
    assert [e.kind for e in appointment.events.all()] == ["booked", "rescheduled"]
    assert appointment.pk == Appointment.objects.get().pk  # the same appointment, moved


def test_it_shows_why_a_reschedule_is_refused_with_alternatives(
    client, front_desk, calendar, book, other_patient
):
    book(9, 0, who=other_patient)
    appointment = book(11, 0)
    client.force_login(front_desk)
    url = reverse("appointment_reschedule", args=[appointment.pk])
    response = client.post(
        url,
        {
            "room": calendar["fluoro"].pk,
            "physician": calendar["physician"].pk,
            "date": calendar["monday"].isoformat(),
            "time": "09:15",
        },
    )
    content = response.content.decode()
    assert "Fluoro room is already booked from" in content
    alternatives = response.context["alternatives"]
    assert alternatives and alternatives[0]["url"].startswith(url + "?")
    refilled = client.get(alternatives[0]["url"]).context["form"]
    assert refilled["physician"].value() == str(alternatives[0]["slot"].physician.pk)
    appointment.refresh_from_db()
    assert appointment.starts_at == local(calendar["monday"], 11)


def test_it_does_not_reschedule_a_checked_in_appointment(client, front_desk, book):
    appointment = book(9, 0)
    Appointment.objects.filter(pk=appointment.pk).update(status=Status.CHECKED_IN)
    client.force_login(front_desk)
    response = client.get(reverse("appointment_reschedule", args=[appointment.pk]), follow=True)
    assert "A checked in appointment cannot be rescheduled." in response.content.decode()


# --- cancel -------------------------------------------------------------------------------


def test_it_cancels_with_a_reason_and_frees_the_slot(
    client, front_desk, calendar, book, other_patient
):
    appointment = book(9, 0)
    client.force_login(front_desk)
    url = reverse("appointment_cancel", args=[appointment.pk])
    response = client.post(url, {"reason": "patient_ill", "note": "Flu"}, follow=True)
    content = response.content.decode()
    assert "is free again" in content
    assert "Patient unwell: Flu" in content
    appointment.refresh_from_db()
    assert (appointment.status, appointment.cancel_reason) == (Status.CANCELLED, "patient_ill")
    # The same slot can be booked again straight away.
    assert post_booking(client, calendar, other_patient).status_code == 302


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({}, "Choose a reason for the cancellation."),
        (
            {"reason": "other", "note": "  "},
            "Describe the reason when you choose &#x27;Other&#x27;.",
        ),
        ({"reason": "bored"}, "Select a valid choice."),
    ],
)
def test_it_refuses_a_cancel_without_a_proper_reason(client, front_desk, book, data, message):
    appointment = book(9, 0)
    client.force_login(front_desk)
    response = client.post(reverse("appointment_cancel", args=[appointment.pk]), data)
    assert response.status_code == 200
    assert message in response.content.decode()
    appointment.refresh_from_db()
    assert appointment.status == Status.BOOKED


def test_it_does_not_cancel_twice(client, front_desk, book):
    appointment = book(9, 0)
    client.force_login(front_desk)
    url = reverse("appointment_cancel", args=[appointment.pk])
    client.post(url, {"reason": "patient_request"})
    response = client.get(url, follow=True)
    assert "A cancelled appointment cannot be cancelled." in response.content.decode()


# --- the patient page -----------------------------------------------------------------------


def test_it_lists_the_patients_appointments_upcoming_and_past(
    client, front_desk, calendar, patient
):
    past = AppointmentFactory(
        calendar=calendar, patient=patient, starts_at=local(datetime.date(2024, 3, 4), 9)
    )
    upcoming = AppointmentFactory(
        calendar=calendar, patient=patient, starts_at=local(calendar["monday"], 10)
    )
    client.force_login(front_desk)
    response = client.get(patient.get_absolute_url())
    content = response.content.decode()
    section = content[content.index('id="patient-appointments"') :]
    assert section.index(upcoming.get_absolute_url()) < section.index("Past")
    assert section.index("Past") < section.index(past.get_absolute_url())
    assert "badge" in section
    assert f"{reverse('appointment_book')}?patient={patient.pk}" in content
    assert f"{reverse('waitlist_add')}?patient={patient.pk}" in content


def test_it_shows_the_patient_page_in_the_same_number_of_queries_for_many_appointments(
    client, front_desk, calendar, patient, assert_query_count_flat
):
    client.force_login(front_desk)
    assert_query_count_flat(
        client, patient.get_absolute_url(), appointment_maker(calendar, patient)
    )


def test_it_hides_booking_buttons_from_nurses(client, nurse, patient):
    client.force_login(nurse)
    content = client.get(patient.get_absolute_url()).content.decode()
    assert "Book a procedure" not in content
    assert "Add to waitlist" not in content


def test_it_puts_the_booking_pages_in_the_menu(client, front_desk, nurse, db):
    client.force_login(front_desk)
    content = client.get(reverse("home")).content.decode()
    for name in ("appointment_list", "waitlist", "day_board"):
        assert f'href="{reverse(name)}"' in content, name
    client.force_login(nurse)
    content = client.get(reverse("home")).content.decode()
    assert f'href="{reverse("waitlist")}"' not in content
    assert f'href="{reverse("appointment_list")}"' in content


def test_it_links_the_appointment_to_its_nursing_record_for_clinical_staff_only(
    client, front_desk, nurse, physician, book
):
    appointment = book(9, 0)
    record_url = reverse("nursing_record", args=[appointment.pk])
    ics_url = reverse("appointment_ics", args=[appointment.pk])
    for who, sees_record in [(nurse, True), (physician, True), (front_desk, False)]:
        client.force_login(who)
        content = client.get(appointment.get_absolute_url()).content.decode()
        assert (record_url in content) is sees_record, who
        assert ics_url in content


def test_it_shows_physicians_the_way_to_their_calendar_feed(client, front_desk, physician, db):
    feed_url = reverse("calendar_feed_settings")
    client.force_login(physician)
    assert feed_url in client.get(reverse("home")).content.decode()
    client.force_login(front_desk)
    assert feed_url not in client.get(reverse("home")).content.decode()


def test_it_ignores_a_starts_at_link_that_is_not_a_real_moment(client, front_desk, book):
    appointment = book()
    client.force_login(front_desk)
    bad = {"starts_at": "2026-02-30T09:00:00", "room": appointment.room_id}

    response = client.get(reverse("appointment_book"), bad)
    assert response.status_code == 200
    assert "date" not in response.context["form"].initial
    assert response.context["form"].initial["room"] == str(appointment.room_id)

    response = client.get(reverse("appointment_reschedule", args=[appointment.pk]), bad)
    assert response.status_code == 200
    # The appointment's own time stays in the form.
    assert response.context["form"].initial["date"] == appointment.local_start.date()


def test_it_refuses_booking_at_a_site_no_longer_in_use(client, front_desk, calendar, book, patient):
    site = calendar["site"]
    site.active = False
    site.save()

    with pytest.raises(BookingRefused) as refused:
        book()
    assert [r.code for r in refused.value.reasons] == ["site_inactive"]
    assert "no longer in use" in refused.value.messages[0]
    assert refused.value.alternatives == []  # never a slot the rules would refuse
    assert find_slots(procedure_type=calendar["tfesi"], site=site) == []

    client.force_login(front_desk)
    page = client.get(reverse("appointment_book"))
    assert calendar["fluoro"] not in page.context["form"].fields["room"].queryset
    response = client.post(reverse("appointment_book"), booking_data(calendar, patient))
    assert response.status_code == 200
    assert "room" in response.context["form"].errors
    assert not Appointment.objects.exists()
