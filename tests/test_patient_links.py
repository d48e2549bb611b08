"""Confirm, reschedule and unsubscribe links from the emails: a GET only shows a page."""

import pytest
from django.db import IntegrityError, transaction
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from followup.models import Invitation, RescheduleRequest
from followup.tokens import make_token
from scheduling.models import Appointment, AppointmentEvent, Status
from scheduling.services import appointment_cancel
from tests.factories import link


@pytest.fixture
def appointment(book):
    """Karen's transforaminal ESI, booked for next Monday at 09:00."""
    return book(9, 0)


def reminder_of(appointment) -> Invitation:
    """The reminder row the follow-up engine made when the appointment was booked."""
    reminder, _created = Invitation.objects.get_or_create(
        appointment=appointment,
        kind=Invitation.Kind.APPOINTMENT_REMINDER,
        defaults={"patient": appointment.patient, "due_at": appointment.starts_at},
    )
    return reminder


@pytest.fixture
def reminder(appointment):
    return reminder_of(appointment)


@pytest.fixture
def csrf_client():
    return Client(enforce_csrf_checks=True)


def csrf_post(client, url, data=None, **extra):
    """POST the page's own form: GET it first for the CSRF cookie, then send the token."""
    client.get(url)
    token = client.cookies["csrftoken"].value
    return client.post(url, {**(data or {}), "csrfmiddlewaretoken": token}, **extra)


# --- Confirm --------------------------------------------------------------------------


def test_it_shows_the_appointment_on_get_without_confirming_it(client, reminder, appointment):
    response = client.get(link(reminder, "confirm"))
    assert response.status_code == 200
    body = response.content.decode()
    assert "Bekræft din aftale" in body
    assert "Ja, jeg kommer" in body
    assert "Test Spine Centre" in body
    assert appointment.local_start.strftime("%H:%M") in body
    appointment.refresh_from_db()
    assert appointment.status == Status.BOOKED


def test_it_confirms_on_post_with_no_staff_user(csrf_client, reminder, appointment):
    response = csrf_post(csrf_client, link(reminder, "confirm"))
    assert response.status_code == 200
    assert "Tak, din aftale er bekræftet" in response.content.decode()
    appointment.refresh_from_db()
    assert appointment.status == Status.CONFIRMED
    event = AppointmentEvent.objects.get(appointment=appointment, to_status=Status.CONFIRMED)
    assert event.user is None


def test_it_needs_the_pages_csrf_token_to_confirm(csrf_client, reminder, appointment):
    response = csrf_client.post(link(reminder, "confirm"))
    assert response.status_code == 403
    appointment.refresh_from_db()
    assert appointment.status == Status.BOOKED


def test_it_says_already_confirmed_on_a_second_click(client, reminder, appointment):
    client.post(link(reminder, "confirm"))
    again = client.post(link(reminder, "confirm"))
    assert again.status_code == 200
    assert "Din aftale er allerede bekræftet" in again.content.decode()
    page = client.get(link(reminder, "confirm"))
    assert "Din aftale er allerede bekræftet" in page.content.decode()
    assert AppointmentEvent.objects.filter(to_status=Status.CONFIRMED).count() == 1


def test_it_asks_to_call_when_the_appointment_was_cancelled(
    client, reminder, appointment, front_desk
):
    appointment_cancel(actor=front_desk, appointment=appointment, reason="patient_request")
    for response in (client.get(link(reminder, "confirm")), client.post(link(reminder, "confirm"))):
        assert response.status_code == 200
        assert "Ring venligst til klinikken" in response.content.decode()
    appointment.refresh_from_db()
    assert appointment.status == Status.CANCELLED


def test_it_refuses_a_confirm_link_used_as_another_kind(client, reminder, appointment):
    token = make_token(purpose="survey", invitation_id=reminder.pk)
    response = client.post(reverse("appointment_confirm", args=[token]))
    assert response.status_code == 400
    assert "+45 70 00 00 00" in response.content.decode()
    appointment.refresh_from_db()
    assert appointment.status == Status.BOOKED


def test_it_shows_the_confirm_page_in_english_to_an_english_patient(client, book, other_patient):
    reminder = reminder_of(book(11, 0, who=other_patient))
    body = client.get(link(reminder, "confirm")).content.decode()
    assert "Confirm your appointment" in body
    assert "Yes, I will come" in body


# --- Reschedule request ---------------------------------------------------------------


def test_it_shows_the_reschedule_form_on_get_without_recording(client, reminder):
    response = client.get(link(reminder, "reschedule"))
    assert response.status_code == 200
    assert "Bed om en anden tid" in response.content.decode()
    assert not RescheduleRequest.objects.exists()


def test_it_records_a_reschedule_request_on_post(csrf_client, reminder, appointment):
    response = csrf_post(
        csrf_client, link(reminder, "reschedule"), {"message": "Tuesdays after 12 suit me"}
    )
    assert response.status_code == 200
    assert "Tak, vi har modtaget din anmodning" in response.content.decode()
    request = RescheduleRequest.objects.get()
    assert request.appointment == appointment
    assert request.message == "Tuesdays after 12 suit me"
    appointment.refresh_from_db()
    assert appointment.status == Status.BOOKED


def test_it_keeps_one_open_request_per_appointment(client, reminder):
    client.post(link(reminder, "reschedule"), {"message": "Mornings"})
    client.post(link(reminder, "reschedule"), {"message": "Or Friday"})
    client.post(link(reminder, "reschedule"), {"message": ""})
    request = RescheduleRequest.objects.get()
    assert request.message == "Mornings\nOr Friday"


def test_it_refuses_a_too_long_message_and_keeps_it(client, reminder):
    text = "x" * 501
    response = client.post(link(reminder, "reschedule"), {"message": text})
    assert response.status_code == 200
    body = response.content.decode()
    assert "Fejl:" in body
    assert text in body
    assert not RescheduleRequest.objects.exists()


def test_it_asks_to_call_when_the_appointment_cannot_move(client, reminder, appointment):
    # Checked in (on its day; set directly, the check-in rules have their own tests).
    Appointment.objects.filter(pk=appointment.pk).update(status=Status.CHECKED_IN)
    response = client.post(link(reminder, "reschedule"), {"message": "later"})
    assert "Ring venligst til klinikken" in response.content.decode()
    assert not RescheduleRequest.objects.exists()


# --- Unsubscribe ----------------------------------------------------------------------


def test_it_asks_for_a_click_before_unsubscribing(client, reminder, patient):
    response = client.get(link(reminder, "unsubscribe"))
    assert response.status_code == 200
    assert "Stop e-mailene" in response.content.decode()
    patient.refresh_from_db()
    assert patient.email_consent is True


def test_it_unsubscribes_with_the_pages_button(csrf_client, reminder, patient):
    response = csrf_post(csrf_client, link(reminder, "unsubscribe"))
    assert response.status_code == 200
    assert "Du får ikke flere e-mails fra os" in response.content.decode()
    patient.refresh_from_db()
    assert patient.email_consent is False


def test_it_unsubscribes_with_an_rfc_8058_one_click_post_without_csrf(
    csrf_client, reminder, patient
):
    response = csrf_client.post(
        link(reminder, "unsubscribe"),
        "List-Unsubscribe=One-Click",
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 200
    patient.refresh_from_db()
    assert patient.email_consent is False


def test_it_refuses_a_tampered_unsubscribe_link(csrf_client, reminder, patient):
    token = make_token(purpose="unsubscribe", invitation_id=reminder.pk)
    response = csrf_client.post(reverse("unsubscribe", args=[token + "x"]))
    assert response.status_code == 400
    patient.refresh_from_db()
    assert patient.email_consent is True


def test_it_keeps_one_open_reschedule_request_per_appointment_in_the_database(appointment):
    first = RescheduleRequest.objects.create(appointment=appointment)
    with pytest.raises(IntegrityError, match="reschedule_request_one_open"), transaction.atomic():
        RescheduleRequest.objects.create(appointment=appointment)
    RescheduleRequest.objects.filter(pk=first.pk).update(handled_at=timezone.now())
    RescheduleRequest.objects.create(appointment=appointment, message="Moved again")
