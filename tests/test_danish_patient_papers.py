"""A Danish patient reads Danish everywhere: the discharge leaflet (procedure and side
included), the reminder email and its .ics; lists have typographic bullets, not hyphens."""

from django.urls import reverse

from followup.emails import invitation_message
from followup.models import Invitation
from followup.services import reminder_schedule
from tests.factories import TodaysAppointmentFactory, ready_to_discharge


def leaflet(client, nurse, appointment):
    client.force_login(nurse)
    return client.get(reverse("nursing_instructions", args=[appointment.pk])).content.decode()


def test_it_prints_the_danish_leaflet_in_danish_with_bullets(
    client, calendar, patient, nurse, physician
):
    appointment = ready_to_discharge(
        TodaysAppointmentFactory(calendar=calendar, patient=patient), nurse, physician
    )
    assert patient.preferred_language == "da"
    page = leaflet(client, nurse, appointment)
    assert appointment.procedure_type.name_da
    assert appointment.procedure_type.name_da in page
    assert appointment.procedure_type.name not in page
    assert "(venstre L4-L5)" in page
    assert "<ul><li>" in page and "\n- " not in page and "<p>- " not in page


def test_it_prints_the_english_leaflet_in_english(
    client, calendar, other_patient, nurse, physician
):
    appointment = ready_to_discharge(
        TodaysAppointmentFactory(calendar=calendar, patient=other_patient), nurse, physician
    )
    assert other_patient.preferred_language == "en"
    page = leaflet(client, nurse, appointment)
    assert appointment.procedure_type.name in page
    assert "(Left L4-L5)" in page
    assert "After your procedure" in page


def test_it_writes_the_danish_reminder_and_its_ics_in_danish(book, patient):
    appointment = book(9, 0)
    reminder = reminder_schedule(appointment=appointment)
    reminder = Invitation.objects.select_related(
        "patient", "appointment__site", "appointment__procedure_type"
    ).get(pk=reminder.pk)
    message = invitation_message(reminder)
    ((_name, content, _mimetype),) = message.attachments
    ics = content.decode() if isinstance(content, bytes) else content
    assert "SUMMARY:Aftale hos" in ics
    assert "Ring på" in ics.replace("\r\n ", "")
    assert "Appointment at" not in ics
    for line in message.body.splitlines():
        assert not line.startswith("- "), line
