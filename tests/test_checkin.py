"""Check-in on the appointment's day only (site-local), its undo within the day, the late
mark, and Confirm and Check in that cannot be mistaken for each other."""

import datetime
import re
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from clinic.models import AuditEvent, Room
from clinic.nursing.models import Phase
from scheduling import rules, selectors, services
from scheduling.models import Appointment, AppointmentEvent, Status
from scheduling.services import TransitionRefused
from tests.factories import (
    AppointmentFactory,
    PhysicianFactory,
    RoomFactory,
    SiteFactory,
    TodaysAppointmentFactory,
    answer_items,
)

CHECK_IN = "Check in — patient has arrived"
CONFIRM = "Confirm attendance (phone)"
UTC = datetime.UTC


@pytest.fixture
def eight_days_ahead(calendar, patient):
    return AppointmentFactory(
        calendar=calendar,
        patient=patient,
        starts_at=timezone.now() + datetime.timedelta(days=8),
        status=Status.CONFIRMED,
    )


@pytest.fixture
def waiting(calendar, patient):
    """Karen's appointment today, confirmed by phone, not yet checked in."""
    return TodaysAppointmentFactory(calendar=calendar, patient=patient, status=Status.CONFIRMED)


def move(client, appointment, to, **extra):
    return client.post(
        reverse("appointment_transition", args=[appointment.pk]), {"to": to, **extra}
    )


def undo(client, appointment, **extra):
    return client.post(reverse("appointment_check_in_undo", args=[appointment.pk]), extra)


def api_as(user) -> APIClient:
    api = APIClient()
    api.force_authenticate(user)
    return api


def api_url(appointment, verb) -> str:
    return f"/api/v1/appointments/{appointment.pk}/{verb}/"


def buttons(html: str) -> dict[str, str]:
    """Each button's text with its class attribute."""
    return {
        text.strip(): css
        for css, text in re.findall(r'<button class="([^"]*)"[^>]*>([^<]*)</button>', html)
    }


# --- Before (and after) the day ------------------------------------------------------------


def test_it_refuses_a_check_in_eight_days_ahead_on_the_page(client, front_desk, eight_days_ahead):
    client.force_login(front_desk)
    page = client.get(eight_days_ahead.get_absolute_url()).content.decode()
    assert 'name="to" value="checked_in"' not in page
    assert "Check-in opens on the day of the appointment" in page
    assert reverse("appointment_reschedule", args=[eight_days_ahead.pk]) in page
    events = eight_days_ahead.events.count()

    response = move(client, eight_days_ahead, Status.CHECKED_IN)
    page = client.get(response.url).content.decode()
    assert "Check-in opens on the day of the appointment" in page
    eight_days_ahead.refresh_from_db()
    assert eight_days_ahead.status == Status.CONFIRMED
    assert eight_days_ahead.checked_in_at is None
    assert eight_days_ahead.events.count() == events
    # Still movable: the reschedule is offered as before.
    assert reverse("appointment_reschedule", args=[eight_days_ahead.pk]) in page


def test_it_refuses_a_check_in_eight_days_ahead_in_the_api(front_desk, eight_days_ahead):
    response = api_as(front_desk).post(
        api_url(eight_days_ahead, "transition"), {"to": "checked_in"}
    )
    assert response.status_code == 409
    assert [r["code"] for r in response.data["reasons"]] == ["check_in_before_the_day"]
    assert "Check-in opens on the day of the appointment" in response.data["detail"]
    assert response.data["alternatives"] == []
    eight_days_ahead.refresh_from_db()
    assert eight_days_ahead.status == Status.CONFIRMED
    assert not eight_days_ahead.events.exists()


def test_it_refuses_a_check_in_ahead_on_the_board(client, nurse, eight_days_ahead):
    client.force_login(nurse)
    day = eight_days_ahead.local_start.date()
    board = client.get(
        reverse("day_board"), {"site": eight_days_ahead.site_id, "day": day.isoformat()}
    ).content.decode()
    assert f'id="card-{eight_days_ahead.pk}"' in board
    assert ">Check in</button>" not in board
    response = client.post(
        reverse("board_card_transition", args=[eight_days_ahead.pk]),
        {"to": "checked_in"},
        HTTP_HX_REQUEST="true",
    )
    assert "Check-in opens on the day of the appointment" in response.content.decode()
    eight_days_ahead.refresh_from_db()
    assert eight_days_ahead.status == Status.CONFIRMED


def test_it_refuses_a_check_in_after_the_day(front_desk, calendar, patient):
    last_week = AppointmentFactory(
        calendar=calendar,
        patient=patient,
        starts_at=timezone.now() - datetime.timedelta(days=7),
    )
    with pytest.raises(TransitionRefused) as refused:
        services.appointment_transition(
            actor=front_desk, appointment=last_week, to=Status.CHECKED_IN
        )
    assert refused.value.reasons[0].code == "check_in_after_the_day"
    last_week.refresh_from_db()
    assert last_week.status == Status.BOOKED


# --- On the day ------------------------------------------------------------------------------


def test_it_checks_in_on_the_day_and_keeps_when_and_from_what(client, front_desk, waiting):
    client.force_login(front_desk)
    page = client.get(waiting.get_absolute_url()).content.decode()
    assert CHECK_IN in page
    before = timezone.now()
    response = move(client, waiting, Status.CHECKED_IN)
    assert response.status_code == 302
    waiting.refresh_from_db()
    assert waiting.status == Status.CHECKED_IN
    assert waiting.checked_in_from == Status.CONFIRMED
    assert before <= waiting.checked_in_at <= timezone.now()
    assert waiting.events.last().to_status == Status.CHECKED_IN
    assert AuditEvent.objects.filter(
        user=front_desk, object_id=str(waiting.pk), detail="checked in"
    ).exists()


def test_it_checks_in_on_the_day_in_the_api(nurse, waiting):
    response = api_as(nurse).post(api_url(waiting, "transition"), {"to": "checked_in"})
    assert response.status_code == 200, response.data
    assert response.data["status"] == Status.CHECKED_IN
    assert response.data["checked_in_from"] == Status.CONFIRMED
    assert response.data["checked_in_late"] is False


@pytest.mark.parametrize(
    ("now_utc", "allowed"),
    [
        # Monday 11 January 2027, 08:00 in Copenhagen (UTC+1 in winter) is the appointment.
        (datetime.datetime(2027, 1, 10, 23, 30, tzinfo=UTC), True),  # 00:30 Monday there
        (datetime.datetime(2027, 1, 10, 22, 30, tzinfo=UTC), False),  # 23:30 Sunday there
        (datetime.datetime(2027, 1, 11, 22, 59, tzinfo=UTC), True),  # 23:59 Monday there
        (datetime.datetime(2027, 1, 11, 23, 0, tzinfo=UTC), False),  # Tuesday there
    ],
)
def test_it_reads_the_appointments_day_in_the_sites_zone(calendar, front_desk, now_utc, allowed):
    appointment = AppointmentFactory(
        calendar=calendar,
        starts_at=datetime.datetime(2027, 1, 11, 8, tzinfo=ZoneInfo("Europe/Copenhagen")),
    )
    assert (rules.check_in_day_refusal(appointment, now_utc) is None) is allowed
    moves = selectors.status_moves_for(user=front_desk, appointment=appointment, now=now_utc)
    assert (Status.CHECKED_IN in moves) is allowed


def test_it_reads_the_day_in_the_sites_zone_not_the_servers(calendar):
    # 03:00 UTC is already Monday in Copenhagen (the server's zone) but still Sunday evening
    # in New York, where the appointment is at 09:00 on Monday.
    site = SiteFactory(time_zone="America/New_York")
    appointment = AppointmentFactory(
        site=site,
        starts_at=datetime.datetime(2027, 1, 11, 9, tzinfo=ZoneInfo("America/New_York")),
    )
    refusal = rules.check_in_day_refusal(appointment, datetime.datetime(2027, 1, 11, 3, tzinfo=UTC))
    assert refusal is not None and refusal.code == "check_in_before_the_day"
    assert "Mon 11 Jan 2027" in refusal.message and "today is Sun 10 Jan" in refusal.message
    # Midnight in New York: the day has come there.
    monday = datetime.datetime(2027, 1, 11, 5, tzinfo=UTC)
    assert rules.check_in_day_refusal(appointment, monday) is None


# --- Undo ------------------------------------------------------------------------------------


@pytest.mark.parametrize("was", [Status.BOOKED, Status.CONFIRMED])
def test_it_undoes_a_check_in_within_the_day(client, front_desk, calendar, patient, was):
    appointment = TodaysAppointmentFactory(calendar=calendar, patient=patient, status=was)
    services.appointment_transition(actor=front_desk, appointment=appointment, to=Status.CHECKED_IN)
    client.force_login(front_desk)
    page = client.get(appointment.get_absolute_url()).content.decode()
    assert ">Undo check-in</button>" in page
    assert reverse("appointment_reschedule", args=[appointment.pk]) not in page

    response = undo(client, appointment)
    page = client.get(response.url).content.decode()
    appointment.refresh_from_db()
    assert appointment.status == was
    assert (appointment.checked_in_at, appointment.checked_in_from) == (None, "")
    event = appointment.events.last()
    assert event.kind == AppointmentEvent.Kind.CHECK_IN_UNDONE
    assert (event.user, event.from_status, event.to_status) == (
        front_desk,
        Status.CHECKED_IN,
        was,
    )
    assert f"the appointment is {Status(was).label.lower()} again" in event.detail
    assert AuditEvent.objects.filter(
        user=front_desk,
        action=AuditEvent.Action.CHANGE,
        object_id=str(appointment.pk),
        patient=patient,
        detail=f"check-in undone, back to {Status(was).label.lower()}",
    ).exists()
    # Back to where it was: reschedulable, and checked in again with one click.
    assert reverse("appointment_reschedule", args=[appointment.pk]) in page
    assert CHECK_IN in page
    assert "Check-in undone" in page


def test_it_undoes_a_check_in_in_the_api_and_from_the_board(client, nurse, waiting):
    services.appointment_transition(actor=nurse, appointment=waiting, to=Status.CHECKED_IN)
    response = api_as(nurse).post(api_url(waiting, "undo-check-in"))
    assert response.status_code == 200, response.data
    assert response.data["status"] == Status.CONFIRMED
    assert response.data["checked_in_at"] is None

    waiting.refresh_from_db()
    services.appointment_transition(actor=nurse, appointment=waiting, to=Status.CHECKED_IN)
    client.force_login(nurse)
    response = client.post(
        reverse("board_card_transition", args=[waiting.pk]),
        {"to": "undo_check_in"},
        HTTP_HX_REQUEST="true",
    )
    html = response.content.decode()
    assert ">Check in</button>" in html
    waiting.refresh_from_db()
    assert waiting.status == Status.CONFIRMED
    assert waiting.events.filter(kind=AppointmentEvent.Kind.CHECK_IN_UNDONE).count() == 2


def test_it_refuses_an_undo_the_next_day(front_desk, calendar, patient, waiting):
    services.appointment_transition(actor=front_desk, appointment=waiting, to=Status.CHECKED_IN)
    tomorrow = timezone.now() + datetime.timedelta(days=1, hours=1)
    with pytest.raises(TransitionRefused) as refused:
        services.appointment_check_in_undo(actor=front_desk, appointment=waiting, now=tomorrow)
    assert refused.value.reasons[0].code == "check_in_undo_day_over"
    assert not selectors.may_undo_check_in(user=front_desk, appointment=waiting, now=tomorrow)
    # Checked in days ago (before this rule): the API refuses with the reason.
    old = AppointmentFactory(
        calendar=calendar,
        starts_at=timezone.now() - datetime.timedelta(days=2),
        status=Status.CHECKED_IN,
    )
    response = api_as(front_desk).post(api_url(old, "undo-check-in"))
    assert response.status_code == 409
    assert [r["code"] for r in response.data["reasons"]] == ["check_in_undo_day_over"]
    for appointment in (waiting, old):
        appointment.refresh_from_db()
        assert appointment.status == Status.CHECKED_IN
        assert not appointment.events.filter(kind=AppointmentEvent.Kind.CHECK_IN_UNDONE).exists()


def test_it_refuses_an_undo_once_the_procedure_started(client, nurse, waiting):
    services.appointment_transition(actor=nurse, appointment=waiting, to=Status.CHECKED_IN)
    stale = Appointment.objects.get(pk=waiting.pk)
    Appointment.objects.filter(pk=waiting.pk).update(status=Status.IN_PROCEDURE)
    # Read before the procedure started: the conditional update refuses it.
    with pytest.raises(TransitionRefused) as refused:
        services.appointment_check_in_undo(actor=nurse, appointment=stale)
    assert refused.value.reasons[0].code == "changed_meanwhile"
    # Read now: refused with the reason, on the page and in the API.
    client.force_login(nurse)
    response = undo(client, waiting)
    page = client.get(response.url).content.decode()
    assert "Only a check-in can be undone; this appointment is in procedure." in page
    assert ">Undo check-in</button>" not in page
    response = api_as(nurse).post(api_url(waiting, "undo-check-in"))
    assert response.status_code == 409
    assert [r["code"] for r in response.data["reasons"]] == ["check_in_undo_not_checked_in"]
    waiting.refresh_from_db()
    assert waiting.status == Status.IN_PROCEDURE


def test_it_refuses_an_undo_once_checks_are_signed(nurse, waiting):
    services.appointment_transition(actor=nurse, appointment=waiting, to=Status.CHECKED_IN)
    answer_items(waiting, nurse, [Phase.PRE_PROCEDURE])
    with pytest.raises(TransitionRefused) as refused:
        services.appointment_check_in_undo(actor=nurse, appointment=waiting)
    assert refused.value.reasons[0].code == "check_in_undo_checks_signed"
    waiting.refresh_from_db()
    assert waiting.status == Status.CHECKED_IN


def test_it_lets_a_later_layer_refuse_the_undo(monkeypatch, nurse, waiting):
    services.appointment_transition(actor=nurse, appointment=waiting, to=Status.CHECKED_IN)

    def time_out_signed(appointment, actor, override_reason):
        raise TransitionRefused("The time-out is signed.", code="time_out_signed")

    monkeypatch.setitem(services.TRANSITION_GUARDS, services.UNDO_CHECK_IN, [time_out_signed])
    response = api_as(nurse).post(api_url(waiting, "undo-check-in"))
    assert response.status_code == 409
    assert response.data["reasons"] == [
        {"code": "time_out_signed", "message": "The time-out is signed."}
    ]
    waiting.refresh_from_db()
    assert waiting.status == Status.CHECKED_IN


@pytest.mark.parametrize(
    ("role", "allowed"),
    [("front_desk", True), ("nurse", True), ("manager", True), ("physician", False)],
)
def test_it_lets_the_desk_and_the_nurses_undo(client, personas, front_desk, waiting, role, allowed):
    services.appointment_transition(actor=front_desk, appointment=waiting, to=Status.CHECKED_IN)
    client.force_login(personas[role])
    response = undo(client, waiting)
    assert response.status_code == (302 if allowed else 403)
    waiting.refresh_from_db()
    assert waiting.status == (Status.CONFIRMED if allowed else Status.CHECKED_IN)


def test_it_refuses_the_undo_to_outsiders(client, outsider, front_desk, waiting):
    services.appointment_transition(actor=front_desk, appointment=waiting, to=Status.CHECKED_IN)
    client.force_login(outsider)
    assert undo(client, waiting).status_code == 403
    assert api_as(outsider).post(api_url(waiting, "undo-check-in")).status_code == 403
    assert APIClient().post(api_url(waiting, "undo-check-in")).status_code == 401


# --- Late --------------------------------------------------------------------------------------


@pytest.mark.parametrize(("minutes", "late"), [(-10, False), (60, False), (61, True)])
def test_it_marks_a_check_in_more_than_an_hour_after_the_start_late(calendar, minutes, late):
    starts_at = timezone.now()
    appointment = AppointmentFactory(
        calendar=calendar,
        starts_at=starts_at,
        status=Status.CHECKED_IN,
        checked_in_at=starts_at + datetime.timedelta(minutes=minutes),
    )
    assert appointment.checked_in_late is late


def test_it_shows_late_on_the_day_board_and_the_appointment_page(client, nurse, calendar):
    appointment = TodaysAppointmentFactory(calendar=calendar)
    on_time = TodaysAppointmentFactory(
        calendar=calendar,
        room=calendar["plain"],
        physician=PhysicianFactory(),
        recovery_bay=RoomFactory(site=calendar["site"], kind=Room.Kind.RECOVERY),
    )
    Appointment.objects.filter(pk=appointment.pk).update(
        checked_in_at=appointment.starts_at + datetime.timedelta(minutes=75),
        checked_in_from=Status.BOOKED,
    )
    Appointment.objects.filter(pk=on_time.pk).update(
        checked_in_at=on_time.starts_at, checked_in_from=Status.BOOKED
    )
    client.force_login(nurse)
    day = appointment.local_start.date()
    board = client.get(
        reverse("day_board"), {"site": calendar["site"].pk, "day": day.isoformat()}
    ).content.decode()
    cards = {
        int(pk): html
        for pk, html in re.findall(r'<article id="card-(\d+)"(.*?)</article>', board, re.S)
    }
    assert ">late</span>" in cards[appointment.pk]
    assert ">late</span>" not in cards[on_time.pk]
    local_time = timezone.localtime(
        appointment.starts_at + datetime.timedelta(minutes=75), calendar["site"].zone
    )
    assert f"Checked in {local_time:%H:%M}" in cards[appointment.pk]
    page = client.get(appointment.get_absolute_url()).content.decode()
    assert ">late</span>" in page
    assert api_as(nurse).get(f"/api/v1/appointments/{appointment.pk}/").data["checked_in_late"]


def test_it_marks_a_real_late_check_in_late(front_desk, calendar, patient):
    now = timezone.localtime(timezone.now(), calendar["site"].zone)
    if now.hour < 2:
        pytest.skip("an appointment 90 minutes ago would be yesterday's")
    appointment = AppointmentFactory(
        calendar=calendar, patient=patient, starts_at=now - datetime.timedelta(minutes=90)
    )
    services.appointment_transition(actor=front_desk, appointment=appointment, to=Status.CHECKED_IN)
    appointment.refresh_from_db()
    assert appointment.checked_in_late
    assert AuditEvent.objects.filter(detail="checked in (late)").exists()


# --- Confirm and Check in ------------------------------------------------------------------------


def test_it_makes_confirm_and_check_in_read_and_look_different(client, front_desk, calendar):
    today = TodaysAppointmentFactory(calendar=calendar, status=Status.BOOKED)
    client.force_login(front_desk)
    page = client.get(today.get_absolute_url()).content.decode()
    found = buttons(page)
    assert CHECK_IN in found and CONFIRM in found
    assert "btn-success" in found[CHECK_IN] and "btn-lg" in found[CHECK_IN]
    assert "btn-outline-secondary" in found[CONFIRM]
    assert found[CHECK_IN] != found[CONFIRM]
    # Not side by side: the check-in leads the card, confirming sits in the row below.
    primary = page.index("status-primary-moves")
    secondary = page.index("status-secondary-moves")
    assert primary < page.index(CHECK_IN) < secondary < page.index(CONFIRM)


def test_it_offers_only_confirm_before_the_day(client, front_desk, calendar, patient):
    ahead = AppointmentFactory(
        calendar=calendar, patient=patient, starts_at=timezone.now() + datetime.timedelta(days=8)
    )
    client.force_login(front_desk)
    found = buttons(client.get(ahead.get_absolute_url()).content.decode())
    assert CONFIRM in found
    assert CHECK_IN not in found
