"""The day board, week board, physician's day and printable list; htmx status changes."""

import datetime
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from clinic.models import AuditEvent, Room
from scheduling.models import Appointment, Status
from scheduling.selectors_board import card_appointments as board_card_appointments
from scheduling.selectors_board import day_board
from scheduling.services import appointment_cancel
from scheduling.views_board import board_cards
from tests.browser import DESKTOP, login
from tests.factories import SiteFactory, TodaysAppointmentFactory, filler_name, local

ROLES = ["front_desk", "nurse", "physician", "manager", "admin", "outsider"]
BOARD_PAGES = ["day_board", "week_board", "physician_day", "day_list_print"]


def board_params(calendar, day=None):
    return {"site": calendar["site"].pk, "day": (day or calendar["monday"]).isoformat()}


def card_count(response) -> int:
    return len(re.findall(r'<article id="card-\d+"', response.content.decode()))


def test_it_shows_rooms_as_columns_with_a_card_per_appointment(client, front_desk, book, calendar):
    appointment = book(9, 0)
    client.force_login(front_desk)
    response = client.get(reverse("day_board"), board_params(calendar))
    assert response.status_code == 200
    html = response.content.decode()
    for text in (
        "Fluoro room",
        "Plain room",
        "09:00–09:45",
        "Karen Jensen",
        "Epidural steroid injection",
        "Left L4-L5",
        "Peter Holm",
        "Bay 1",
    ):
        assert text in html, text
    # The status is written out next to its colour, never colour alone.
    assert 'class="board-card status-booked' in html
    assert '<span class="badge status-badge">Booked</span>' in html
    board = response.context["board"]
    fluoro = board.rooms[0]
    assert [c.appointment for c in fluoro.cards] == [appointment]
    # Five-minute rows from 08:00: 09:00 is row 13, and 45 minutes take nine rows.
    assert (fluoro.cards[0].row, fluoro.cards[0].span) == (13, 9)
    # The recovery bay is held from 09:35 to 10:05.
    stay = board.bays[0].stays[0]
    assert (stay.row, stay.span) == (20, 6)


def test_it_places_times_in_the_sites_zone_on_a_daylight_saving_day(calendar, book):
    # The Monday after the spring switch: 09:00 local is 07:00 UTC, still row 13.
    monday = datetime.date(2027, 3, 29)
    appointment = book(9, 0, day=monday, now=local(monday, 0) - datetime.timedelta(days=30))
    assert appointment.starts_at.astimezone(datetime.UTC).hour == 7
    board = day_board(site=calendar["site"], day=monday)
    assert board.rows[0].time == datetime.time(8)
    assert board.rooms[0].cards[0].row == 13


def test_it_defaults_to_the_first_site_and_today(client, front_desk, calendar):
    client.force_login(front_desk)
    response = client.get(reverse("day_board"))
    assert response.status_code == 200
    board = response.context["board"]
    assert board.site == calendar["site"]
    assert board.day == datetime.datetime.now(calendar["site"].zone).date()


def test_it_links_to_the_previous_and_next_day(client, front_desk, calendar):
    client.force_login(front_desk)
    response = client.get(reverse("day_board"), board_params(calendar))
    monday = calendar["monday"]
    html = response.content.decode()
    site = calendar["site"].pk
    assert f"?site={site}&amp;day={monday - datetime.timedelta(days=1)}" in html
    assert f"?site={site}&amp;day={monday + datetime.timedelta(days=1)}" in html


def test_it_explains_a_bad_day_or_site_and_shows_the_default(client, front_desk, calendar):
    client.force_login(front_desk)
    response = client.get(reverse("day_board"), {"site": calendar["site"].pk, "day": "2027-13-45"})
    assert response.status_code == 200
    assert "Enter a real date as YYYY-MM-DD; showing today instead." in response.content.decode()
    assert response.context["board"].site == calendar["site"]
    # What was typed stays in the field to be corrected.
    assert 'value="2027-13-45"' in response.content.decode()
    response = client.get(reverse("day_board"), {"site": 999999, "day": "2027-01-04"})
    assert "That site does not exist or is closed" in response.content.decode()
    assert response.context["board"].day == datetime.date(2027, 1, 4)


def test_it_lists_cancelled_appointments_apart_from_the_grid(
    client, front_desk, book, calendar, other_patient
):
    kept = book(9, 0)
    cancelled = book(10, 0, who=other_patient)
    appointment_cancel(actor=front_desk, appointment=cancelled, reason="patient_ill")
    client.force_login(front_desk)
    response = client.get(reverse("day_board"), board_params(calendar))
    board = response.context["board"]
    assert [c.appointment for c in board.rooms[0].cards] == [kept]
    assert board.freed == [Appointment.objects.get(pk=cancelled.pk)]
    html = response.content.decode()
    assert "Cancelled and no-show" in html
    assert "Patient unwell" in html


def test_it_stays_readable_with_forty_appointments(client, front_desk, calendar, fill_day):
    fill_day(40)
    client.force_login(front_desk)
    response = client.get(reverse("day_board"), board_params(calendar))
    html = response.content.decode()
    assert card_count(response) == 40
    for number in range(1, 41):
        assert filler_name(number) in html
    assert "40 appointments" in html
    assert [len(column.cards) for column in response.context["board"].rooms] == [10] * 4


@pytest.mark.parametrize("name", BOARD_PAGES)
def test_it_reads_a_day_in_a_constant_number_of_queries(
    client, front_desk, calendar, fill_day, name, assert_query_count_flat
):
    client.force_login(front_desk)
    params = board_params(calendar)
    if name == "physician_day":
        params = {"physician": calendar["physician"].pk, "day": params["day"]}
    assert_query_count_flat(client, reverse(name), fill_day, **params)


@pytest.mark.parametrize("name", BOARD_PAGES)
def test_it_reads_a_nurses_day_with_its_hard_stop_flags_in_a_constant_number_of_queries(
    client, nurse, calendar, fill_day, name, assert_query_count_flat
):
    """A nurse's cards carry the nursing record's hard-stop flag, read once per board."""
    client.force_login(nurse)
    params = board_params(calendar)
    if name == "physician_day":
        params = {"physician": calendar["physician"].pk, "day": params["day"]}
    assert_query_count_flat(client, reverse(name), fill_day, **params)


def test_it_checks_a_patient_in_from_the_board_without_a_reload(
    client, front_desk, patient, calendar
):
    # Checked in on the appointment's day (tests/test_checkin.py refuses other days).
    appointment = TodaysAppointmentFactory(calendar=calendar, patient=patient, status=Status.BOOKED)
    client.force_login(front_desk)
    response = client.post(
        reverse("board_card_transition", args=[appointment.pk]),
        {"to": "checked_in"},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 200
    assert [t.name for t in response.templates][0] == "scheduling/board/_card.html"
    html = response.content.decode()
    assert "<html" not in html
    assert f'id="card-{appointment.pk}"' in html
    assert "Checked in" in html
    assert ">Check in</button>" not in html  # no second check-in offered
    appointment.refresh_from_db()
    assert appointment.status == Status.CHECKED_IN
    assert appointment.events.last().user == front_desk


def test_it_marks_a_no_show_once_the_start_has_passed(client, front_desk, book, calendar):
    last_monday = calendar["monday"] - datetime.timedelta(days=14)
    appointment = book(9, 0, day=last_monday, now=local(last_monday, 0))
    client.force_login(front_desk)
    board = client.get(reverse("day_board"), board_params(calendar, last_monday))
    assert ">No-show</button>" in board.content.decode()
    response = client.post(
        reverse("board_card_transition", args=[appointment.pk]),
        {"to": "no_show"},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 200
    assert "No-show" in response.content.decode()
    appointment.refresh_from_db()
    assert appointment.status == Status.NO_SHOW


def test_it_shows_a_refusal_inside_the_card(client, front_desk, book, calendar):
    appointment = book(9, 0)
    client.force_login(front_desk)
    board = client.get(reverse("day_board"), board_params(calendar))
    # Not offered before the start time...
    assert ">No-show</button>" not in board.content.decode()
    # ...and refused with the reason if posted anyway.
    response = client.post(
        reverse("board_card_transition", args=[appointment.pk]),
        {"to": "no_show"},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert 'role="alert"' in html
    assert "only be marked as a no-show once the start time has passed" in html
    appointment.refresh_from_db()
    assert appointment.status == Status.BOOKED


def test_it_redirects_back_to_the_board_without_htmx(client, front_desk, patient, book, calendar):
    appointment = TodaysAppointmentFactory(calendar=calendar, patient=patient, status=Status.BOOKED)
    client.force_login(front_desk)
    board_url = reverse("day_board") + f"?site={calendar['site'].pk}&day={calendar['monday']}"
    response = client.post(
        reverse("board_card_transition", args=[appointment.pk]),
        {"to": "checked_in", "next": board_url},
        follow=True,
    )
    assert response.redirect_chain[-1][0] == board_url
    assert "Karen Jensen: Checked in." in response.content.decode()
    # An outside `next` is not followed.
    other = book(11, 0)
    response = client.post(
        reverse("board_card_transition", args=[other.pk]),
        {"to": "checked_in", "next": "https://evil.example/"},
    )
    assert response.url.startswith(reverse("day_board"))


@pytest.mark.parametrize("name", BOARD_PAGES)
def test_it_opens_the_board_pages_to_staff_only(client, personas, calendar, name):
    url = reverse(name)
    assert client.get(url).status_code == 302  # anonymous: to the login page
    for role in ROLES:
        client.force_login(personas[role])
        status = client.get(url, board_params(calendar)).status_code
        assert status == (403 if role == "outsider" else 200), f"{role} on {name}: {status}"


@pytest.mark.parametrize(
    ("role", "to", "allowed"),
    [
        ("front_desk", "checked_in", True),
        ("nurse", "checked_in", True),
        ("physician", "checked_in", True),
        ("nurse", "no_show", False),
        ("outsider", "checked_in", False),
    ],
)
def test_it_lets_each_role_make_only_its_status_changes(
    client, personas, book, calendar, role, to, allowed
):
    appointment = book(9, 0)
    client.force_login(personas[role])
    response = client.post(
        reverse("board_card_transition", args=[appointment.pk]), {"to": to}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == (200 if allowed else 403)


def test_it_offers_no_buttons_to_a_role_that_may_not_use_them(client, nurse, calendar):
    # Today, its start passed: a check-in is possible, and a no-show for the front desk.
    waiting = TodaysAppointmentFactory(calendar=calendar, status=Status.BOOKED)
    client.force_login(nurse)
    today = waiting.local_start.date()
    html = client.get(reverse("day_board"), board_params(calendar, today)).content.decode()
    assert ">Check in</button>" in html
    assert ">No-show</button>" not in html


def test_it_works_out_each_card_once_for_the_user(front_desk, nurse, book, calendar):
    """A card's times, labels, links and buttons come from Python, not template filters."""
    appointment = book(9, 0)
    late = local(calendar["monday"], 10, 30)
    Appointment.objects.filter(pk=appointment.pk).update(checked_in_at=late)
    appointment = board_card_appointments().get(pk=appointment.pk)
    # Monday 09:30 at the site: the start has passed, it is not the appointment's day now.
    now = local(calendar["monday"] + datetime.timedelta(days=1), 9, 30)
    card = board_cards([appointment], front_desk, now)[appointment.pk]
    assert (card.starts, card.ends, card.checked_in) == ("09:00", "09:45", "10:30")
    assert card.dom_id == f"card-{appointment.pk}"
    assert card.css_class == "board-card status-booked"
    assert (card.status, card.patient_last_name) == ("Booked", "Jensen")
    assert (card.side_and_level, card.physician) == ("Left L4-L5", "Peter Holm")
    assert card.detail_url == reverse("appointment_detail", args=[appointment.pk])
    assert card.transition_url == reverse("board_card_transition", args=[appointment.pk])
    assert (card.may_change, card.check_in, card.undo_check_in, card.no_show) == (
        True,
        False,
        False,
        True,
    )
    # On the day, before the start: a check-in; a nurse never marks a no-show.
    on_the_day = local(calendar["monday"], 8, 0)
    card = board_cards([appointment], nurse, on_the_day)[appointment.pk]
    assert (card.check_in, card.no_show) == (True, False)


def test_it_reads_no_audit_column_nor_password_for_a_board(book, calendar):
    book(9, 0)
    appointment = day_board(site=calendar["site"], day=calendar["monday"]).appointments[0]
    assert {"created_at", "updated_at", "created_by_id"} <= appointment.get_deferred_fields()
    assert {"spinal_history", "email", "phone"} <= appointment.patient.get_deferred_fields()
    assert "password" in appointment.physician.get_deferred_fields()


def test_it_places_cards_and_free_quarter_hours_by_grid_lines(client, front_desk, book, calendar):
    book(9, 0)
    board = day_board(site=calendar["site"], day=calendar["monday"])
    fluoro = board.rooms[0]
    placed = fluoro.cards[0]
    assert (fluoro.grid_line, placed.grid_span, placed.starts, placed.ends) == (
        "2",
        "14 / span 9",
        "09:00",
        "09:45",
    )
    stay = board.bays[0].stays[0]
    assert (stay.grid_span, stay.starts, stay.ends) == ("21 / span 6", "09:35", "10:05")
    assert [(row.label, row.grid_span) for row in board.label_rows[:2]] == [
        ("08:00", "2 / span 3"),
        ("08:15", "5 / span 3"),
    ]
    assert [row.label for row in board.hour_rows[:2]] == ["08:00", "09:00"]
    first_free = fluoro.free[0]
    assert (first_free.label, first_free.grid_span) == ("08:00", "2 / span 3")


def test_it_shows_a_physician_their_own_day(client, physician, manager, book, calendar):
    book(9, 0)
    client.force_login(physician)
    response = client.get(reverse("physician_day"), {"day": calendar["monday"].isoformat()})
    assert response.context["schedule"].physician == physician
    assert "Karen Jensen" in response.content.decode()
    assert "Test Spine Centre, Fluoro room" in response.content.decode()
    # Anyone else chooses a physician first.
    client.force_login(manager)
    response = client.get(reverse("physician_day"), {"day": calendar["monday"].isoformat()})
    assert response.context["schedule"] is None
    assert "Choose a physician" in response.content.decode()
    response = client.get(
        reverse("physician_day"),
        {"physician": physician.pk, "day": calendar["monday"].isoformat()},
    )
    assert len(response.context["schedule"].active) == 1


def test_it_shows_the_week_with_a_link_to_each_day(client, front_desk, book, calendar):
    book(9, 0)
    book(10, 0, day=calendar["monday"] + datetime.timedelta(days=2))
    client.force_login(front_desk)
    wednesday = calendar["monday"] + datetime.timedelta(days=2)
    response = client.get(reverse("week_board"), board_params(calendar, wednesday))
    week = response.context["week"]
    assert week.week_start == calendar["monday"]
    assert [len(d.active) for d in week.days] == [1, 0, 1, 0, 0, 0, 0]
    # Weekends without opening hours or bookings are left out.
    assert len(week.shown_days) == 5
    html = response.content.decode()
    assert f"day={wednesday:%Y-%m-%d}" in html
    assert html.count("Karen Jensen") == 2


def test_it_prints_the_day_list_and_records_who_printed_it(client, front_desk, book, calendar):
    book(9, 0)
    client.force_login(front_desk)
    response = client.get(reverse("day_list_print"), board_params(calendar))
    html = response.content.decode()
    for text in ("Jensen, Karen", "MRN-0001", "1961-04-23", "Left L4-L5", "Bay 1 09:35–10:05"):
        assert text in html, text
    assert "@media print" in html
    event = AuditEvent.objects.get(user=front_desk, action=AuditEvent.Action.EXPORT)
    assert "printable day list Test Spine Centre" in event.detail


@pytest.mark.browser
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_it_checks_in_in_the_browser_without_reloading_the_page(
    open_page, front_desk, calendar, fill_day
):
    # Today: a patient is checked in on the appointment's day only.
    today = timezone.localdate(timezone=calendar["site"].zone)
    fill_day(40, day=today)
    params = f"site={calendar['site'].pk}&day={today}"
    url = f"{reverse('day_board')}?{params}"
    page = open_page(DESKTOP)
    login(page, front_desk)
    page.goto(url)
    assert page.locator("article.board-card").count() == 40
    # Readable: no card hides part of its text or lies over another card.
    overflowing = page.evaluate(
        """() => [...document.querySelectorAll('article.board-card')]
             .filter(c => c.scrollHeight > c.clientHeight + 1).length"""
    )
    assert overflowing == 0
    overlapping = page.evaluate(
        """() => {
            const boxes = [...document.querySelectorAll('article.board-card')]
                .map(c => c.getBoundingClientRect());
            let count = 0;
            boxes.forEach((a, i) => boxes.slice(i + 1).forEach(b => {
                if (a.left < b.right - 1 && b.left < a.right - 1 &&
                    a.top < b.bottom - 1 && b.top < a.bottom - 1) count++;
            }));
            return count;
        }"""
    )
    assert overlapping == 0
    page.evaluate("() => { window.notReloaded = true; }")
    first = Appointment.objects.order_by("starts_at", "pk").first()
    card = page.locator(f"#card-{first.pk}")
    card.get_by_role("button", name="Check in").click()
    page.locator(f"#card-{first.pk} .status-badge", has_text="Checked in").wait_for()
    assert page.evaluate("() => window.notReloaded") is True
    first.refresh_from_db()
    assert first.status == Status.CHECKED_IN


def test_it_escapes_what_staff_typed_in_the_cards_and_bays_it_writes(
    client, front_desk, book, calendar, patient
):
    book(9, 0)
    patient.last_name = "<b>O'Neil & Co</b>"
    patient.save()
    client.force_login(front_desk)
    html = client.get(reverse("day_board"), board_params(calendar)).content.decode()
    escaped = "&lt;b&gt;O&#x27;Neil &amp; Co&lt;/b&gt;"
    assert "<b>O'Neil" not in html
    # The card's label, its link and the recovery bay's title and text.
    assert html.count(f"Karen {escaped}") == 3
    assert f"<br>{escaped}<span" in html


def test_it_renders_each_areas_card_part_on_every_card_of_a_page():
    """`{% area_includes %}` finds the areas' templates once per page and renders them on
    every card, each with its own appointment."""
    from types import SimpleNamespace

    from django.template import engines

    page = engines["django"].from_string(
        '{% load areas %}{% for appointment in cards %}[{% area_includes "board_card.html" %}]'
        "{% endfor %}"
    )
    cards = [
        SimpleNamespace(
            nursing_hard_stop_flags=SimpleNamespace(hard_stops=[f"Stop {n}"], overrides=[])
        )
        for n in (1, 2, 3)
    ]
    html = page.render({"cards": cards})
    assert html.count('data-testid="hard-stop-flag"') == 3
    assert html.index("Stop 1") < html.index("Stop 2") < html.index("Stop 3")


def test_it_places_the_cards_as_the_template_loop_did(rf, front_desk, book, calendar):
    """{% board_slots %} writes each card in its column and rows, byte for byte what the
    template loop it replaced wrote (cards in two rooms, one with buttons)."""
    from django.template import RequestContext, engines

    book(9, 0)
    book(11, 0)
    board = day_board(site=calendar["site"], day=calendar["monday"])
    cards = board_cards(board.appointments, front_desk, timezone.now())
    for placed in board.placed:
        placed.card = cards[placed.appointment.pk]
    assert len(board.placed) >= 2
    request = rf.get("/board/")
    request.user = front_desk
    loop = engines["django"].from_string(
        "{% load board_tags %}{% for column in board.rooms %}{% for placed in column.cards %}\n"
        '    <div class="board-slot" style="grid-column: {{ column.grid_line }}; '
        'grid-row: {{ placed.grid_span }}">\n'
        "      {% board_card placed.card %}\n    </div>\n    {% endfor %}{% endfor %}"
    )
    tag = engines["django"].from_string("{% load board_tags %}{% board_slots board %}")
    ours = tag.template.render(RequestContext(request, {"board": board}))
    theirs = loop.template.render(RequestContext(request, {"board": board}))
    assert ours == theirs and ours.count('<div class="board-slot"') == 2


def test_it_reads_the_open_sites_once_for_the_choice_and_the_options(client, front_desk, calendar):
    second = SiteFactory(name="A Second Centre")
    closed = SiteFactory(name="Closed Centre", active=False)
    client.force_login(front_desk)
    with CaptureQueriesContext(connection) as queries:
        response = client.get(reverse("day_board"), {"site": second.pk, "day": "2027-01-04"})
    assert response.context["board"].site == second
    site_reads = [q["sql"] for q in queries if 'FROM "clinic_site"' in q["sql"]]
    assert len(site_reads) == 1, site_reads
    html = response.content.decode()
    assert f'<option value="{second.pk}" selected>A Second Centre</option>' in html
    assert f'<option value="{calendar["site"].pk}">Test Spine Centre</option>' in html
    assert "Closed Centre" not in html
    for wrong in (closed.pk, "abc", "1\x00"):
        response = client.get(reverse("day_board"), {"site": wrong, "day": "2027-01-04"})
        assert "That site does not exist or is closed" in response.content.decode(), wrong
        # The first open site by name instead.
        assert response.context["board"].site == second


def test_it_shows_a_card_whose_room_has_since_moved_to_another_site(book, calendar):
    appointment = book(9, 0)
    elsewhere = SiteFactory(name="Other Centre")
    # Straight in the database: no service moves a room with bookings.
    Room.objects.filter(pk=calendar["plain"].pk).update(site=elsewhere)
    Appointment.objects.filter(pk=appointment.pk).update(room=calendar["plain"])
    board = day_board(site=calendar["site"], day=calendar["monday"])
    assert [a.pk for a in board.appointments] == [appointment.pk]
    assert board.appointments[0].room.site_id == elsewhere.pk
    # Its column is not shown at this site; the appointment is still on the day's list.
    assert calendar["plain"].pk not in [column.room.pk for column in board.rooms]
