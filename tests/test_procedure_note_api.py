"""Issue 14: the procedure note's API twin, with the page's rules: a physician writes and
signs, a nurse reads, a signed note answers 409 and is amended with a reason."""

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from clinic.models import Allergy, AuditEvent, StaffProfile
from clinic.nursing import services
from clinic.nursing.models import ProcedureNote
from scheduling.models import Status
from tests.factories import SiteFactory, TodaysAppointmentFactory
from tests.test_procedure_note import RFA_VALUES


def api(user):
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def rfa(calendar, patient):
    return TodaysAppointmentFactory(
        calendar=calendar, patient=patient, code="rfa", status=Status.IN_RECOVERY
    )


def url(name, appointment):
    return reverse(name, args=[appointment.pk])


def test_it_writes_signs_and_reads_a_note(physician, nurse, rfa):
    Allergy.objects.create(patient=rfa.patient, kind=Allergy.Kind.IODINE)
    response = api(physician).post(url("api_nursing_note", rfa), RFA_VALUES, format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["note"]["signed_at"] is None
    assert response.json()["contrast_allergy"] is True
    response = api(physician).post(url("api_nursing_note_sign", rfa))
    assert response.status_code == 200
    body = api(nurse).get(url("api_nursing_note", rfa)).json()
    assert body["note"]["signed_by"]["id"] == physician.pk
    assert body["note"]["levels"] == "L4-L5, L5-S1" and body["note"]["rf_lesions"] == 4
    assert AuditEvent.objects.filter(detail="procedure note (API)", user=nurse).exists()


def test_it_answers_409_to_a_signed_note_and_amends_it(physician, rfa):
    services.note_save(actor=physician, appointment=rfa, values=RFA_VALUES, sign=True)
    response = api(physician).post(url("api_nursing_note", rfa), {"plan": "X"}, format="json")
    assert response.status_code == 409
    assert response.json()["reasons"][0]["code"] == "note_already_signed"
    response = api(physician).post(
        url("api_nursing_note_amend", rfa), {"plan": "Repeat at 6 months"}, format="json"
    )
    assert response.status_code == 400 and "reason" in response.json()
    response = api(physician).post(
        url("api_nursing_note_amend", rfa),
        {"plan": "Repeat at 6 months", "reason": "Plan changed after review"},
        format="json",
    )
    assert response.status_code == 200
    (amendment,) = response.json()["note"]["amendments"]
    assert amendment["old_value"] == RFA_VALUES["plan"]
    assert amendment["new_value"] == "Repeat at 6 months"
    assert ProcedureNote.objects.get().revision == 1


def test_it_says_what_is_missing_when_signing(physician, rfa):
    api(physician).post(url("api_nursing_note", rfa), {}, format="json")
    response = api(physician).post(url("api_nursing_note_sign", rfa))
    assert response.status_code == 409
    messages = [r["message"] for r in response.json()["reasons"]]
    assert "Enter the fluoroscopy time and dose (DAP)." in messages


@pytest.mark.parametrize(
    "body, field",
    [
        ({"levels": "L4-L9"}, "levels"),
        ({"injectates": [{"drug": "A\x00"}]}, "injectates"),
        ({"injectates": "lots"}, "injectates"),
        ({"rf_temperature_c": 200}, "rf_temperature_c"),
        ({"findings": "A\x00B"}, "findings"),
    ],
)
def test_it_answers_400_naming_the_field(physician, rfa, body, field):
    response = api(physician).post(url("api_nursing_note", rfa), body, format="json")
    assert response.status_code == 400 and field in response.json(), response.json()


@pytest.mark.parametrize("persona", ["nurse", "manager", "admin", "front_desk", "outsider"])
def test_it_lets_only_a_physician_write(persona, personas, rfa):
    response = api(personas[persona]).post(url("api_nursing_note", rfa), RFA_VALUES, format="json")
    assert response.status_code == 403
    assert not ProcedureNote.objects.exists()


@pytest.mark.parametrize(
    "persona, status",
    [("nurse", 200), ("physician", 200), ("manager", 200), ("front_desk", 403), ("outsider", 403)],
)
def test_it_lets_the_readers_read(persona, status, personas, rfa):
    assert api(personas[persona]).get(url("api_nursing_note", rfa)).status_code == status


def test_it_refuses_another_sites_physician(physician, rfa):
    StaffProfile.objects.get_or_create(user=physician)[0].sites.set([SiteFactory()])
    assert api(physician).get(url("api_nursing_note", rfa)).status_code == 403
    response = api(physician).post(url("api_nursing_note", rfa), RFA_VALUES, format="json")
    assert response.status_code == 403


def test_it_documents_the_note_endpoints(client, manager):
    client.force_login(manager)
    schema = client.get(reverse("api_schema")).content.decode()
    assert "/api/v1/nursing/appointments/{id}/note/" in schema
    assert "/api/v1/nursing/appointments/{id}/note/amend/" in schema
