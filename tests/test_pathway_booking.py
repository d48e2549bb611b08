"""Booking with pathway warnings (issue 14): the front desk books Karen Jensen's repeat ESI;
the rules warn, and a booking anyway needs a reason, which is stored and shown."""

import datetime

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from clinic.models import AuditEvent, Indication
from scheduling.models import Appointment, AppointmentEvent, PathwayOverride, PathwayRule
from scheduling.services import PathwayWarned
from tests.factories import AppointmentFactory
from tests.test_booking_pages import booking_data
from tests.test_scheduling_api import LIST, SLOTS
from tests.test_scheduling_api import booking as api_booking

CHECK = "/api/v1/pathway-check/"

pytestmark = [pytest.mark.django_db, pytest.mark.pathway_rules]


@pytest.fixture
def api():
    return APIClient()


@pytest.fixture
def only_repeat_rule(db):
    """Just the ESI repeat rule on, so each test reads one warning."""
    PathwayRule.objects.exclude(code="esi-repeat-relief").update(active=False)


@pytest.fixture
def earlier_esi(calendar, patient, only_repeat_rule):
    monday = calendar["monday"]
    return AppointmentFactory(
        calendar=calendar,
        patient=patient,
        starts_at=datetime.datetime.combine(
            monday - datetime.timedelta(days=21), datetime.time(9), calendar["site"].zone
        ),
    )


def test_it_refuses_a_warned_booking_without_a_reason(book, earlier_esi):
    with pytest.raises(PathwayWarned) as refused:
        book()
    reason = refused.value.reasons[0]
    assert reason.code == "pathway_esi_repeat_relief"
    assert reason.stop == "esi-repeat-relief" and reason.overridable
    assert "no relief reported" in reason.message


def test_it_books_anyway_with_a_reason_and_stores_it(book, earlier_esi, front_desk):
    appointment = book(pathway_reason="Physician asked: relief reported by phone")
    override = PathwayOverride.objects.get(appointment=appointment)
    assert override.rule_code == "esi-repeat-relief"
    assert override.reason == "Physician asked: relief reported by phone"
    assert override.by == front_desk
    assert override.evidence[0]["appointment"] == earlier_esi.pk
    event = appointment.events.get(kind=AppointmentEvent.Kind.OVERRIDE)
    assert "esi-repeat-relief" in event.detail and "relief reported by phone" in event.detail


def test_it_books_without_a_word_when_no_rule_warns(book, only_repeat_rule):
    appointment = book()
    assert not appointment.pathway_overrides.exists()


# --- The booking page ----------------------------------------------------------------------


def test_it_shows_the_warnings_on_the_booking_page_and_books_with_a_reason(
    client, front_desk, calendar, patient, earlier_esi
):
    client.force_login(front_desk)
    page = client.post(reverse("appointment_book"), booking_data(calendar, patient))
    assert page.status_code == 200
    html = page.content.decode()
    assert 'id="pathway-warnings"' in html and "no relief reported" in html
    assert earlier_esi.local_start.date().isoformat() in html  # the evidence
    assert "verify locally" in html and "not coverage advice" in html
    assert 'name="pathway_reason"' in html and "<textarea" in html
    assert not Appointment.objects.exclude(pk=earlier_esi.pk).exists()
    done = client.post(
        reverse("appointment_book"),
        booking_data(calendar, patient, pathway_reason="Relief 70% reported by phone"),
    )
    assert done.status_code == 302
    appointment = Appointment.objects.exclude(pk=earlier_esi.pk).get()
    detail = client.get(appointment.get_absolute_url()).content.decode()
    assert 'id="pathway-overrides"' in detail and "Relief 70% reported by phone" in detail


def test_it_hides_the_reason_box_until_a_rule_warns(client, front_desk):
    client.force_login(front_desk)
    html = client.get(reverse("appointment_book")).content.decode()
    assert '<input type="hidden" name="pathway_reason"' in html


def test_it_books_for_the_chosen_indication(
    client, front_desk, calendar, patient, only_repeat_rule
):
    indication = Indication.objects.create(patient=patient, referrer="Dr Lund")
    client.force_login(front_desk)
    response = client.post(
        reverse("appointment_book"), booking_data(calendar, patient, indication=indication.pk)
    )
    assert response.status_code == 302
    assert Appointment.objects.get().indication == indication


# --- The API --------------------------------------------------------------------------------


def test_it_answers_409_with_the_rules_codes_and_books_with_a_reason(
    api, front_desk, calendar, patient, earlier_esi
):
    api.force_authenticate(front_desk)
    refused = api.post(LIST, api_booking(calendar, patient), format="json")
    assert refused.status_code == 409
    assert refused.data["reasons"][0]["code"] == "pathway_esi_repeat_relief"
    assert refused.data["reasons"][0]["stop"] == "esi-repeat-relief"
    booked = api.post(
        LIST, api_booking(calendar, patient, pathway_reason="Physician's decision"), format="json"
    )
    assert booked.status_code == 201, booked.data
    override = booked.data["pathway_overrides"][0]
    assert (override["rule_code"], override["reason"]) == (
        "esi-repeat-relief",
        "Physician's decision",
    )
    shown = api.get(f"{LIST}{booked.data['id']}/")
    assert shown.data["pathway_overrides"][0]["reason"] == "Physician's decision"


def test_it_checks_a_booking_through_the_api(api, front_desk, calendar, patient, earlier_esi):
    api.force_authenticate(front_desk)
    body = {
        "patient": patient.pk,
        "procedure_type": calendar["tfesi"].pk,
        "starts_at": f"{calendar['monday']}T09:00:00",
        "site": calendar["site"].pk,
        "levels": "L4-L5",
    }
    response = api.post(CHECK, body, format="json")
    assert response.status_code == 200, response.data
    [warning] = response.data
    assert warning["code"] == "esi-repeat-relief"
    assert warning["evidence"][0]["appointment"] == earlier_esi.pk
    assert "CMS LCD L39240" in warning["source"]
    assert AuditEvent.objects.filter(patient=patient, detail="pathway rules").exists()
    later = {**body, "starts_at": f"{calendar['monday'] + datetime.timedelta(days=366)}T09:00"}
    assert api.post(CHECK, later, format="json").data == []


def test_it_lets_only_the_booking_roles_check(api, nurse, patient, calendar):
    api.force_authenticate(nurse)
    body = {
        "patient": patient.pk,
        "procedure_type": calendar["tfesi"].pk,
        "starts_at": "2030-01-07T09:00",
    }
    assert api.post(CHECK, body, format="json").status_code == 403


def test_it_marks_the_slots_where_a_rule_would_warn(
    api, front_desk, calendar, patient, earlier_esi
):
    api.force_authenticate(front_desk)
    monday = calendar["monday"]
    query = {
        "procedure_type": calendar["tfesi"].pk,
        "patient": patient.pk,
        "levels": "L4-L5",
        "date_from": monday.isoformat(),
        "date_to": monday.isoformat(),
        "limit": 2,
    }
    slots = api.get(SLOTS, query).data
    assert slots and all(s["pathway_warnings"] == ["esi-repeat-relief"] for s in slots)
    unmarked = api.get(SLOTS, {k: v for k, v in query.items() if k != "patient"}).data
    assert all(s["pathway_warnings"] == [] for s in unmarked)


def test_it_marks_the_slot_finders_buttons(client, front_desk, calendar, patient, earlier_esi):
    client.force_login(front_desk)
    query = {
        "procedure_type": calendar["tfesi"].pk,
        "date_from": calendar["monday"].isoformat(),
        "date_to": calendar["monday"].isoformat(),
        "patient": patient.pk,
        "levels": "L4-L5",
    }
    response = client.get(reverse("slot_finder"), query)
    offers = [offer for _day, group in response.context["days"] for offer in group]
    assert offers and all([w.code for w in o["warnings"]] == ["esi-repeat-relief"] for o in offers)
    page = response.content.decode()
    assert "Pathway warning: esi-repeat-relief" in page and 'id="pathway-legend"' in page
    assert "levels=L4-L5" in offers[0]["url"]


def test_it_applies_a_rule_a_manager_edited_in_the_admin(client, manager, book, earlier_esi):
    """The manager narrows the ESI repeat rule's window in the admin: the same booking then
    goes ahead without a reason."""
    rule = PathwayRule.objects.get(code="esi-repeat-relief")
    client.force_login(manager)
    url = reverse("admin:scheduling_pathwayrule_change", args=[rule.pk])
    assert client.get(url).status_code == 200
    form = {
        "name": rule.name,
        "procedure_codes": '["esi-interlaminar", "esi-transforaminal", "esi-caudal"]',
        "related_codes": "[]",
        "limit": "",
        "window_days": "10",
        "percent": "50",
        "duration_days": "",
        "source": rule.source,
        "verify_note": rule.verify_note,
        "active": "on",
    }
    assert client.post(url, form).status_code == 302
    rule.refresh_from_db()
    assert rule.window_days == 10 and rule.history.first().history_user == manager
    # The earlier ESI is 21 days back: outside a 10-day window, so this is no repeat.
    assert not book().pathway_overrides.exists()


def test_it_lets_no_one_but_managers_and_admins_edit_the_rules(client, front_desk):
    rule = PathwayRule.objects.get(code="esi-repeat-relief")
    client.force_login(front_desk)
    url = reverse("admin:scheduling_pathwayrule_change", args=[rule.pk])
    assert client.get(url).status_code == 302  # no admin for the front desk


def test_it_refuses_by_the_booking_rules_before_it_asks_for_a_reason(book, earlier_esi):
    from scheduling.services import BookingRefused

    with pytest.raises(BookingRefused) as refused:
        book(6, 0)  # before opening hours, and warned about: the refusal comes first
    assert refused.value.reasons[0].code == "outside_opening_hours"
