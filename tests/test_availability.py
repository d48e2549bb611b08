"""Availability pages (sessions, leave and closures, opening hours) and the slot finder page."""

import datetime
from urllib.parse import parse_qs, urlsplit

import pytest
from django.urls import reverse

from clinic.models import OpeningHours, Room
from scheduling.models import PhysicianSession, Unavailability
from tests.factories import PASSWORD, RoomFactory, StaffFactory, local

ONE_DAY = datetime.timedelta(days=1)
EVERYONE = {"front_desk", "nurse", "physician", "manager", "admin"}
BOOKERS = {"front_desk", "manager", "admin"}
MANAGERS = {"manager", "admin"}


def login(client, user):
    assert client.login(username=user.username, password=PASSWORD)
    return client


@pytest.fixture
def leave(calendar):
    return Unavailability.objects.create(
        physician=calendar["physician"],
        starts_at=local(calendar["monday"], 0),
        ends_at=local(calendar["monday"] + ONE_DAY, 0),
        reason=Unavailability.Reason.LEAVE,
    )


PAGES = [
    ("availability_home", None, EVERYONE),
    ("session_list", None, EVERYONE),
    ("session_create", None, MANAGERS),
    ("session_edit", "session", MANAGERS),
    ("unavailability_list", None, BOOKERS),
    ("unavailability_create", None, MANAGERS),
    ("unavailability_edit", "leave", MANAGERS),
    ("opening_hours_edit", "site", MANAGERS),
    ("slot_finder", None, BOOKERS),
]


def page_url(name, arg, calendar, leave):
    objects = {
        "session": lambda: calendar["physician"].sessions.first(),
        "leave": lambda: leave,
        "site": lambda: calendar["site"],
    }
    return reverse(name, args=[objects[arg]().pk] if arg else [])


@pytest.mark.parametrize(("name", "arg", "allowed"), PAGES)
def test_it_allows_each_role_only_its_availability_pages(
    client, personas, calendar, leave, name, arg, allowed
):
    url = page_url(name, arg, calendar, leave)
    for role, user in personas.items():
        login(client, user)
        expected = 200 if role in allowed else 403
        assert client.get(url).status_code == expected, (role, url)
        client.logout()


@pytest.mark.parametrize(("name", "arg", "allowed"), PAGES)
def test_it_sends_anonymous_visitors_to_log_in(client, calendar, leave, name, arg, allowed):
    url = page_url(name, arg, calendar, leave)
    response = client.get(url)
    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))


def test_it_refuses_edits_to_the_front_desk(client, front_desk, calendar, leave):
    login(client, front_desk)
    session = calendar["physician"].sessions.first()
    for url in (
        reverse("session_create"),
        reverse("session_delete", args=[session.pk]),
        reverse("unavailability_delete", args=[leave.pk]),
        reverse("opening_hours_edit", args=[calendar["site"].pk]),
    ):
        assert client.post(url, {}).status_code == 403
    assert PhysicianSession.objects.filter(pk=session.pk).exists()
    assert Unavailability.objects.filter(pk=leave.pk).exists()


def test_it_shows_the_cards_on_the_start_page_by_role(client, manager, nurse, front_desk):
    page = login(client, manager).get(reverse("home")).content.decode()
    assert reverse("availability_home") in page and reverse("slot_finder") in page
    client.logout()
    page = login(client, front_desk).get(reverse("home")).content.decode()
    assert reverse("slot_finder") in page and reverse("availability_home") not in page
    client.logout()
    page = login(client, nurse).get(reverse("home")).content.decode()
    assert reverse("slot_finder") not in page


# --- Physician sessions --------------------------------------------------------------------


def session_data(calendar, **overrides):
    data = {
        "physician": calendar["physician"].pk,
        "site": calendar["site"].pk,
        "weekdays_chosen": [0, 2],
        "starts": "08:00",
        "ends": "12:00",
        "valid_from": "2030-01-01",
        "valid_until": "",
    }
    return {**data, **overrides}


@pytest.fixture
def free_physician(calendar, physician):
    """The calendar's physician, with no sessions yet."""
    physician.sessions.all().delete()
    return physician


def test_it_adds_the_same_session_on_several_weekdays(client, manager, calendar, free_physician):
    response = login(client, manager).post(reverse("session_create"), session_data(calendar))
    assert response.status_code == 302
    sessions = free_physician.sessions.order_by("weekday")
    assert [(s.weekday, s.starts, s.ends) for s in sessions] == [
        (0, datetime.time(8), datetime.time(12)),
        (2, datetime.time(8), datetime.time(12)),
    ]
    assert sessions[0].history.first().history_user == manager


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"ends": "07:00"}, "The session must end after it starts."),
        ({"weekdays_chosen": []}, "Choose at least one weekday."),
        ({"starts": "7.30"}, "Enter a time as HH:MM, for example 08:30."),
        ({"valid_until": "2029-12-31"}, "The last day must be on or after the first day."),
        (
            {"ends": "17:00"},
            "Test Spine Centre is open 08:00-16:00 on Mondays: the session must fall within "
            "those hours.",
        ),
        (
            {"weekdays_chosen": [5]},
            "Test Spine Centre is closed on Saturdays: set its opening hours first.",
        ),
    ],
)
def test_it_explains_a_session_it_cannot_save(
    client, manager, calendar, free_physician, overrides, message
):
    response = login(client, manager).post(
        reverse("session_create"), session_data(calendar, **overrides)
    )
    assert response.status_code == 200
    assert message in response.content.decode()
    assert "Nothing was saved" in response.content.decode()
    assert not free_physician.sessions.exists()


def test_it_refuses_a_session_overlapping_another_of_the_physician(client, manager, calendar):
    response = login(client, manager).post(
        reverse("session_create"), session_data(calendar, starts="11:00", ends="13:00")
    )
    assert "Peter Holm already has a Monday session 08:00-16:00 at Test Spine Centre then." in (
        response.content.decode()
    )


def test_it_edits_and_deletes_a_session(client, manager, calendar):
    session = calendar["physician"].sessions.get(weekday=0)
    login(client, manager)
    data = {
        "physician": session.physician_id,
        "site": session.site_id,
        "weekday": 0,
        "starts": "09:00",
        "ends": "15:00",
        "valid_from": "2020-01-01",
        "valid_until": "",
    }
    page = client.get(reverse("session_edit", args=[session.pk])).content.decode()
    assert 'value="08:00"' in page
    assert client.post(reverse("session_edit", args=[session.pk]), data).status_code == 302
    session.refresh_from_db()
    assert (session.starts, session.ends) == (datetime.time(9), datetime.time(15))
    assert client.post(reverse("session_delete", args=[session.pk])).status_code == 302
    assert not PhysicianSession.objects.filter(pk=session.pk).exists()


def test_it_lists_sessions_with_filters_and_csv(client, manager, calendar):
    login(client, manager)
    url = reverse("session_list")
    table = client.get(url, {"weekday": 1}).context["table"]
    assert [(row.get_cell("physician"), row.get_cell("weekday")) for row in table.rows] == [
        ("Peter Holm", "Tuesday")
    ]
    csv = client.get(url, {"_export": "csv"})
    assert csv["Content-Type"].startswith("text/csv")
    assert csv.content.decode().count("Peter Holm") == 5


def test_it_lists_sessions_in_a_flat_number_of_queries(
    client, manager, calendar, assert_query_count_flat
):
    def add_rows(count):
        for n in range(count):
            doctor = StaffFactory(username=f"doc{PhysicianSession.objects.count()}-{n}")
            PhysicianSession.objects.create(
                physician=doctor,
                site=calendar["site"],
                weekday=n % 5,
                starts=datetime.time(8),
                ends=datetime.time(12),
            )

    assert_query_count_flat(login(client, manager), reverse("session_list"), add_rows)


# --- Leave, holidays and closures -----------------------------------------------------------


def test_it_records_a_physicians_leave_as_whole_local_days(client, manager, calendar):
    monday = calendar["monday"]
    response = login(client, manager).post(
        reverse("unavailability_create"),
        {
            "reason": "leave",
            "physician": calendar["physician"].pk,
            "first_day": monday.isoformat(),
            "last_day": (monday + ONE_DAY).isoformat(),
            "note": "Summer leave",
        },
    )
    assert response.status_code == 302
    leave = Unavailability.objects.get()
    assert leave.starts_at == local(monday, 0)
    assert leave.ends_at == local(monday + 2 * ONE_DAY, 0)
    assert leave.note == "Summer leave"


def test_it_records_a_room_closure_for_part_of_a_day_and_warns_of_bookings(
    client, manager, calendar, book
):
    book(9, 0)
    monday = calendar["monday"]
    response = login(client, manager).post(
        reverse("unavailability_create"),
        {
            "reason": "maintenance",
            "room": calendar["fluoro"].pk,
            "first_day": monday.isoformat(),
            "from_time": "08:30",
            "until_time": "10:00",
        },
        follow=True,
    )
    closure = Unavailability.objects.get()
    assert (closure.starts_at, closure.ends_at) == (local(monday, 8, 30), local(monday, 10))
    assert "1 booked appointment(s) fall in this period" in response.content.decode()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"reason": "leave"}, "Choose exactly one of physician, room or site"),
        ({"reason": "leave", "site": "SITE", "room": "ROOM"}, "Choose exactly one of"),
        (
            {"reason": "public_holiday", "room": "ROOM"},
            "A public holiday closes a whole site: choose the site.",
        ),
        (
            {"reason": "leave", "site": "SITE", "last_day": "2020-01-01"},
            "The last day must be on or after the first day.",
        ),
        (
            {"reason": "leave", "site": "SITE", "from_time": "10:00", "until_time": "09:00"},
            "The end must be after the start.",
        ),
        ({"reason": "leave", "site": "SITE", "first_day": "next week"}, "Enter a date as"),
    ],
)
def test_it_explains_an_exception_it_cannot_save(client, manager, calendar, data, message):
    values = {"SITE": calendar["site"].pk, "ROOM": calendar["fluoro"].pk}
    posted = {"first_day": calendar["monday"].isoformat(), "note": "kept"}
    posted.update({key: values.get(value, value) for key, value in data.items()})
    response = login(client, manager).post(reverse("unavailability_create"), posted)
    page = response.content.decode()
    assert response.status_code == 200
    assert page.count(message) == 1
    assert 'value="kept"' in page  # nothing typed is lost
    assert not Unavailability.objects.exists()


def test_it_shows_an_exception_for_editing_as_it_was_entered(client, manager, calendar, leave):
    page = login(client, manager).get(reverse("unavailability_edit", args=[leave.pk]))
    form = page.context["form"]
    assert form.initial["first_day"] == form.initial["last_day"] == calendar["monday"]
    assert form.initial["from_time"] is None and form.initial["until_time"] is None


def test_it_lists_exceptions_with_filters_and_csv(client, manager, calendar, leave):
    Unavailability.objects.create(
        room=calendar["fluoro"],
        starts_at=local(calendar["monday"], 8),
        ends_at=local(calendar["monday"], 10),
        reason=Unavailability.Reason.MAINTENANCE,
    )
    login(client, manager)
    url = reverse("unavailability_list")
    page = client.get(url, {"reason": "maintenance"}).content.decode()
    assert "Fluoro room" in page and "Peter Holm" not in page
    page = client.get(url, {"site": calendar["site"].pk}).content.decode()
    assert "Fluoro room" in page
    page = client.get(url, {"reason": "leave"}).content.decode()
    monday = calendar["monday"]
    # A whole day reads as that day, not as midnight of the next.
    assert f"{monday:%a %d %b %Y}</td>" in page and f"end of {monday:%a %d %b %Y}" in page
    csv = client.get(url, {"_export": "csv"}).content.decode()
    assert "Peter Holm" in csv and "Fluoro room (Test Spine Centre)" in csv


def test_it_lists_exceptions_in_a_flat_number_of_queries(
    client, manager, calendar, assert_query_count_flat
):
    def add_rows(count):
        for n in range(count):
            room = RoomFactory(site=calendar["site"], name=f"Room {Room.objects.count()}")
            Unavailability.objects.create(
                room=room,
                starts_at=local(calendar["monday"], 8),
                ends_at=local(calendar["monday"], 9 + n % 5),
                reason=Unavailability.Reason.MAINTENANCE,
            )

    assert_query_count_flat(login(client, manager), reverse("unavailability_list"), add_rows)


def test_it_deletes_an_exception(client, manager, leave):
    response = login(client, manager).post(reverse("unavailability_delete", args=[leave.pk]))
    assert response.status_code == 302
    assert not Unavailability.objects.exists()


# --- Opening hours --------------------------------------------------------------------------


def hours_data(**overrides):
    data = {}
    for day in range(7):
        if day < 5:
            data.update({f"open_{day}": "on", f"opens_{day}": "08:00", f"closes_{day}": "16:00"})
    data.update(overrides)
    return {key: value for key, value in data.items() if value is not None}


def test_it_edits_a_sites_opening_hours(client, manager, calendar):
    site = calendar["site"]
    response = login(client, manager).post(
        reverse("opening_hours_edit", args=[site.pk]),
        hours_data(
            open_4=None,
            closes_0="18:00",
            open_5="on",
            opens_5="09:00",
            closes_5="13:00",
        ),
        follow=True,
    )
    hours = {row.weekday: (row.opens, row.closes) for row in site.opening_hours.all()}
    assert hours[0] == (datetime.time(8), datetime.time(18))
    assert hours[5] == (datetime.time(9), datetime.time(13))
    assert 4 not in hours
    # Friday's session is now outside the hours: the manager is told.
    assert "1 physician session(s) at Test Spine Centre now fall outside" in (
        response.content.decode()
    )


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"closes_0": "07:00"}, "Closing time must be after opening time."),
        ({"opens_1": ""}, "Enter both times for Tuesday, or untick it"),
        ({"opens_2": "8am"}, "Enter a time as HH:MM"),
    ],
)
def test_it_explains_opening_hours_it_cannot_save(client, manager, calendar, overrides, message):
    site = calendar["site"]
    response = login(client, manager).post(
        reverse("opening_hours_edit", args=[site.pk]), hours_data(**overrides)
    )
    page = response.content.decode()
    assert message in page and "Nothing was saved" in page
    assert OpeningHours.objects.filter(site=site, weekday=0, closes=datetime.time(16)).exists()


# --- The slot finder page -------------------------------------------------------------------


def test_it_shows_slots_as_buttons_that_open_the_booking_page(
    client, front_desk, calendar, patient
):
    login(client, front_desk)
    response = client.get(
        reverse("slot_finder"),
        {
            "procedure_type": calendar["tfesi"].pk,
            "date_from": calendar["monday"].isoformat(),
            "part_of_day": "afternoon",
            "patient": patient.pk,
        },
    )
    page = response.content.decode()
    assert "Find a slot for Karen Jensen" in page
    [first, *_] = [offer for _day, offers in response.context["days"] for offer in offers]
    url = urlsplit(first["url"])
    assert url.path == reverse("appointment_book")
    assert parse_qs(url.query) == {
        "procedure_type": [str(calendar["tfesi"].pk)],
        "physician": [str(calendar["physician"].pk)],
        "room": [str(calendar["fluoro"].pk)],
        "starts_at": [local(calendar["monday"], 12).astimezone(datetime.UTC).isoformat()],
        "patient": [str(patient.pk)],
    }
    assert ">12:00<" in page
    assert "Show more slots" in page


def test_it_opens_the_slot_finder_empty_for_a_patient(client, front_desk, patient):
    page = login(client, front_desk).get(reverse("slot_finder"), {"patient": patient.pk})
    assert "Find a slot for Karen Jensen" in page.content.decode()
    assert "Choose the procedure" not in page.content.decode()


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({}, "Choose the procedure to find a slot for."),
        ({"date_from": "2030-02-01", "date_to": "2030-01-01"}, "The last day must be on or after"),
        ({"date_from": "2030-01-01", "date_to": "2030-12-01"}, "Search at most 92 days"),
        ({"date_from": "tomorrow"}, "Enter a date as YYYY-MM-DD."),
    ],
)
def test_it_explains_a_search_it_cannot_run(client, front_desk, calendar, params, message):
    params = (
        {"procedure_type": calendar["tfesi"].pk, **params} if params else {"procedure_type": ""}
    )
    page = login(client, front_desk).get(reverse("slot_finder"), params).content.decode()
    assert message in page


def test_it_says_so_when_no_slot_is_free(client, front_desk, calendar, leave):
    monday = calendar["monday"].isoformat()
    page = login(client, front_desk).get(
        reverse("slot_finder"),
        {"procedure_type": calendar["tfesi"].pk, "date_from": monday, "date_to": monday},
    )
    assert "No free slot in this period" in page.content.decode()
