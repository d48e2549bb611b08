"""Front-desk booking audit: malformed links, waitlist export audit, sites no longer in use."""

import pytest
from django.urls import reverse

from clinic.models import AuditEvent
from scheduling.models import Appointment
from scheduling.services import BookingRefused
from scheduling.slots import find_slots

pytestmark = pytest.mark.django_db


def booking_data(calendar, who, **overrides):
    return {
        "patient": who.pk,
        "procedure_type": calendar["tfesi"].pk,
        "physician": calendar["physician"].pk,
        "room": calendar["fluoro"].pk,
        "date": calendar["monday"].isoformat(),
        "time": "09:00",
        "laterality": "left",
        "levels": "L4-L5",
    } | overrides


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


def test_it_audits_the_waitlist_export(client, front_desk, calendar, patient):
    client.force_login(front_desk)
    client.get(reverse("waitlist"))
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.EXPORT).exists()

    response = client.get(reverse("waitlist"), {"_export": "csv"})

    assert response.status_code == 200
    event = AuditEvent.objects.get(action=AuditEvent.Action.EXPORT)
    assert event.user == front_desk
    assert event.detail == "waitlist"


def test_it_refuses_booking_at_a_site_no_longer_in_use(client, front_desk, calendar, book, patient):
    site = calendar["site"]
    site.active = False
    site.save()

    with pytest.raises(BookingRefused) as refused:
        book()
    assert [r.code for r in refused.value.refusals] == ["site_inactive"]
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
    assert [r.code for r in refused.value.refusals] == ["site_inactive"]
