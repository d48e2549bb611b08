"""Bad input on the scheduling pages: a clear message, nothing lost, never a 500.

Far-off dates (year 9999 or 1) used to overflow datetime arithmetic; spinal levels that grew
past the column when normalised; a tampered hidden waitlist field failed without a word.
"""

import datetime
import html

import pytest
from django.urls import reverse

from scheduling.dates import OUT_OF_RANGE
from scheduling.models import Appointment, PhysicianSession, Unavailability, WaitlistEntry
from scheduling.services import BookingRefused, appointment_book, appointment_reschedule
from tests.factories import local

ROLES = ["front_desk", "nurse", "physician", "manager"]
FAR_OFF = ["9999-12-31", "0001-01-01", "2100-01-01", "1999-12-31"]
RANGE_TEXT = "between 2000-01-01 and 2099-12-31"
TEN_LEVELS = "L1-L2,L2-L3,L3-L4,L4-L5,L5-S1,S1-S2,S2-S3,S3-S4,S4-S5,T1-T2"  # 59 typed, 68 stored


def booking_data(ctx, **overrides):
    calendar = ctx["calendar"]
    return {
        "patient": ctx["patient"].pk,
        "procedure_type": calendar["tfesi"].pk,
        "physician": calendar["physician"].pk,
        "room": calendar["fluoro"].pk,
        "date": calendar["monday"].isoformat(),
        "time": "11:00",
        "laterality": "left",
        "levels": "L4-L5",
        "notes": "Bring MRI",
    } | overrides


def session_data(ctx, **overrides):
    return {
        "physician": ctx["calendar"]["physician"].pk,
        "site": ctx["calendar"]["site"].pk,
        "starts": "08:00",
        "ends": "16:00",
        "valid_from": "2020-01-01",
    } | overrides


def leave_data(ctx, **overrides):
    return {"reason": "leave", "physician": ctx["calendar"]["physician"].pk} | overrides


# (id, method, url name, takes the pk of, data(ctx, day), a message is expected)
PAGES = [
    ("day board", "get", "day_board", None, lambda c, d: {"site": c["site"], "day": d}, True),
    ("week board", "get", "week_board", None, lambda c, d: {"site": c["site"], "day": d}, True),
    ("print list", "get", "day_list_print", None, lambda c, d: {"site": c["site"], "day": d}, True),
    (
        "physician day",
        "get",
        "physician_day",
        None,
        lambda c, d: {"physician": c["calendar"]["physician"].pk, "day": d},
        True,
    ),
    (
        "slot finder from",
        "get",
        "slot_finder",
        None,
        lambda c, d: {"procedure_type": c["calendar"]["tfesi"].pk, "date_from": d},
        True,
    ),
    (
        "slot finder until",
        "get",
        "slot_finder",
        None,
        lambda c, d: {"procedure_type": c["calendar"]["tfesi"].pk, "date_to": d},
        True,
    ),
    ("list from", "get", "appointment_list", None, lambda c, d: {"date_from": d}, True),
    ("list to", "get", "appointment_list", None, lambda c, d: {"date_to": d}, True),
    (
        "list csv",
        "get",
        "appointment_list",
        None,
        lambda c, d: {"date_to": d, "_export": "csv"},
        False,
    ),
    ("leave list from", "get", "unavailability_list", None, lambda c, d: {"date_from": d}, True),
    ("leave list to", "get", "unavailability_list", None, lambda c, d: {"date_to": d}, True),
    (
        "book prefill",
        "get",
        "appointment_book",
        None,
        lambda c, d: {"starts_at": f"{d}T09:00:00-12:00", "room": c["calendar"]["fluoro"].pk},
        False,
    ),
    (
        "reschedule prefill",
        "get",
        "appointment_reschedule",
        "appointment",
        lambda c, d: {"starts_at": f"{d}T23:00:00+14:00"},
        False,
    ),
    ("book", "post", "appointment_book", None, lambda c, d: booking_data(c, date=d), True),
    (
        "reschedule",
        "post",
        "appointment_reschedule",
        "appointment",
        lambda c, d: {
            "physician": c["calendar"]["physician"].pk,
            "room": c["calendar"]["fluoro"].pk,
            "date": d,
            "time": "09:00",
        },
        True,
    ),
    (
        "waitlist earliest",
        "post",
        "waitlist_add",
        None,
        lambda c, d: {
            "patient": c["patient"].pk,
            "procedure_type": c["calendar"]["tfesi"].pk,
            "earliest": d,
            "latest": "2099-01-01",
            "part_of_day": "any",
        },
        True,
    ),
    (
        "waitlist latest",
        "post",
        "waitlist_add",
        None,
        lambda c, d: {
            "patient": c["patient"].pk,
            "procedure_type": c["calendar"]["tfesi"].pk,
            "earliest": "2027-01-01",
            "latest": d,
            "part_of_day": "any",
        },
        True,
    ),
    (
        "new session",
        "post",
        "session_create",
        None,
        lambda c, d: session_data(c, weekdays_chosen=[5], valid_from=d),
        True,
    ),
    (
        "edit session",
        "post",
        "session_edit",
        "session",
        lambda c, d: session_data(c, weekday=0, valid_until=d),
        True,
    ),
    (
        "new leave first day",
        "post",
        "unavailability_create",
        None,
        lambda c, d: leave_data(c, first_day=d),
        True,
    ),
    (
        "new leave last day",
        "post",
        "unavailability_create",
        None,
        lambda c, d: leave_data(c, first_day="2027-01-01", last_day=d),
        True,
    ),
    (
        "edit leave",
        "post",
        "unavailability_edit",
        "unavailability",
        lambda c, d: leave_data(c, first_day=d, until_time="10:00"),
        True,
    ),
]


@pytest.fixture
def ctx(calendar, book, patient, front_desk, nurse, physician, manager):
    appointment = book(9, 0)
    monday = calendar["monday"]
    return {
        "calendar": calendar,
        "site": calendar["site"].pk,
        "patient": patient,
        "appointment": appointment,
        "session": PhysicianSession.objects.filter(physician=physician).first(),
        "unavailability": Unavailability.objects.create(
            physician=physician,
            reason=Unavailability.Reason.LEAVE,
            starts_at=local(monday + datetime.timedelta(days=1), 0),
            ends_at=local(monday + datetime.timedelta(days=2), 0),
        ),
        "roles": {
            "front_desk": front_desk,
            "nurse": nurse,
            "physician": physician,
            "manager": manager,
        },
    }


def snapshot():
    """Everything the pages could write, to prove a refused input saved nothing."""
    return [
        list(model.objects.order_by("pk").values())
        for model in (Appointment, PhysicianSession, Unavailability, WaitlistEntry)
    ]


@pytest.mark.parametrize("day", FAR_OFF)
@pytest.mark.parametrize(
    ("method", "name", "pk_of", "data", "message"),
    [case[1:] for case in PAGES],
    ids=[case[0] for case in PAGES],
)
def test_it_answers_far_off_dates_with_a_message_on_every_page_for_every_role(
    client, ctx, day, method, name, pk_of, data, message
):
    url = reverse(name, args=[ctx[pk_of].pk] if pk_of else [])
    before = snapshot()
    answered = []
    for role in ROLES:
        client.force_login(ctx["roles"][role])
        # The test client re-raises a view's exception, so an overflow fails right here.
        response = getattr(client, method)(url, data(ctx, day))
        assert response.status_code in (200, 403), (role, response.status_code)
        if response.status_code == 200:
            answered.append(role)
            if message:
                assert RANGE_TEXT in html.unescape(response.content.decode()), role
    assert answered, "no role may use this page: the case proves nothing"
    assert snapshot() == before


@pytest.mark.parametrize("name", ["day_board", "week_board", "day_list_print"])
def test_it_shows_todays_board_with_a_message_for_a_far_off_day(client, ctx, name):
    client.force_login(ctx["roles"]["nurse"])
    response = client.get(reverse(name), {"site": ctx["site"], "day": "9999-12-31"})
    assert response.status_code == 200
    page = html.unescape(response.content.decode())
    assert "Choose a day between 2000-01-01 and 2099-12-31; showing today instead." in page
    today = datetime.datetime.now(ctx["calendar"]["site"].zone).date()
    if name == "week_board":
        assert response.context["week"].week_start == today - datetime.timedelta(today.weekday())
    else:
        assert response.context["board"].day == today


@pytest.mark.parametrize(
    ("name", "day"), [("week_board", "2099-12-31"), ("day_board", "2000-01-01")]
)
def test_it_still_shows_the_first_and_last_day_of_the_range(client, ctx, name, day):
    client.force_login(ctx["roles"]["front_desk"])
    response = client.get(reverse(name), {"site": ctx["site"], "day": day})
    assert response.status_code == 200
    assert RANGE_TEXT not in html.unescape(response.content.decode())


def test_it_refuses_a_far_off_start_in_the_booking_services(ctx, front_desk):
    calendar = ctx["calendar"]
    far = datetime.datetime(9999, 12, 31, 23, 0, tzinfo=datetime.UTC)
    with pytest.raises(BookingRefused) as refused:
        appointment_book(
            actor=front_desk,
            patient=ctx["patient"],
            procedure_type=calendar["tfesi"],
            physician=calendar["physician"],
            room=calendar["fluoro"],
            starts_at=far,
            laterality="left",
            levels="L4-L5",
        )
    assert [r.code for r in refused.value.reasons] == ["date_out_of_range"]
    assert refused.value.messages == [OUT_OF_RANGE]
    with pytest.raises(BookingRefused) as refused:
        appointment_reschedule(actor=front_desk, appointment=ctx["appointment"], starts_at=far)
    assert [r.code for r in refused.value.reasons] == ["date_out_of_range"]


# --- spinal levels ------------------------------------------------------------------------


def test_it_refuses_too_many_levels_on_the_booking_form_and_keeps_the_input(client, ctx):
    client.force_login(ctx["roles"]["front_desk"])
    before = Appointment.objects.count()
    response = client.post(reverse("appointment_book"), booking_data(ctx, levels=TEN_LEVELS))
    assert response.status_code == 200
    assert response.context["form"].errors["levels"] == [
        'Too many spinal levels: written as "L4-L5, L5-S1" they take 68 characters, '
        "at most 60 fit. Enter the main levels and add the rest to the notes."
    ]
    page = html.unescape(response.content.decode())
    assert "Too many spinal levels" in page
    assert TEN_LEVELS in page and "Bring MRI" in page
    assert Appointment.objects.count() == before


def test_it_refuses_too_many_levels_in_the_booking_service(ctx, front_desk):
    calendar = ctx["calendar"]
    with pytest.raises(BookingRefused) as refused:
        appointment_book(
            actor=front_desk,
            patient=ctx["patient"],
            procedure_type=calendar["tfesi"],
            physician=calendar["physician"],
            room=calendar["fluoro"],
            starts_at=local(calendar["monday"], 11),
            laterality="left",
            levels=TEN_LEVELS,
            offer_alternatives=False,
        )
    assert [r.code for r in refused.value.reasons] == ["levels_too_long"]


def test_it_books_as_many_levels_as_fit_once_normalised(client, ctx):
    eight = "l1-l2,L2-L3,L3-L4,L4-L5,L5-S1,S1-S2,S2-S3,S3-S4"  # 54 characters as stored
    client.force_login(ctx["roles"]["front_desk"])
    response = client.post(reverse("appointment_book"), booking_data(ctx, levels=eight))
    assert response.status_code == 302
    appointment = Appointment.objects.latest("pk")
    assert appointment.levels == "L1-L2, L2-L3, L3-L4, L4-L5, L5-S1, S1-S2, S2-S3, S3-S4"


# --- the hidden waitlist field ------------------------------------------------------------


def test_it_shows_why_a_tampered_waitlist_field_stops_the_booking(client, ctx):
    client.force_login(ctx["roles"]["front_desk"])
    before = Appointment.objects.count()
    response = client.post(reverse("appointment_book"), booking_data(ctx, waitlist="abc"))
    assert response.status_code == 200
    page = html.unescape(response.content.decode())
    assert "The link to the waitlist entry was not valid" in page
    assert "Bring MRI" in page
    assert Appointment.objects.count() == before
    # The bad value is gone from the re-shown form: confirming again books, without the link.
    assert 'name="waitlist" value="abc"' not in page
    again = client.post(reverse("appointment_book"), response.context["form"].data)
    assert again.status_code == 302
    assert Appointment.objects.count() == before + 1


def test_it_warns_about_a_tampered_waitlist_link_on_the_booking_page(client, ctx):
    client.force_login(ctx["roles"]["front_desk"])
    response = client.get(reverse("appointment_book"), {"waitlist": "abc"})
    assert response.status_code == 200
    page = html.unescape(response.content.decode())
    assert "The link to the waitlist entry was not valid" in page
    assert "Booking from the waitlist" not in page
    assert 'value="abc"' not in page
