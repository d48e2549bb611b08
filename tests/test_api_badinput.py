"""Bad input to the JSON API answers 400 naming the field, never a 500.

Each case here was a 500 found by fuzzing the API (schemathesis) or by hand: far-off years
that overflow Python's datetime, and NUL characters that PostgreSQL refuses to store or
compare.
"""

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from clinic.nursing.models import (
    ChecklistAnswer,
    Discharge,
    Escalation,
    ObservationRound,
)
from followup.api import MOMENT_OUT_OF_RANGE
from scheduling.dates import OUT_OF_RANGE
from scheduling.models import Appointment
from tests.factories import CALM, take_round

NUL = "Null characters are not allowed."


def api(user):
    client = APIClient()
    client.force_authenticate(user)
    return client


# --- Scheduling: far-off years --------------------------------------------------------------


@pytest.mark.parametrize(
    "dates, field",
    [
        ({"date_from": "9999-12-31"}, "date_from"),  # the default end adds 28 days
        ({"date_from": "9999-12-30", "date_to": "9999-12-31"}, "date_from"),
        ({"date_to": "9999-12-31"}, "date_to"),
        ({"date_from": "0001-01-01", "date_to": "0001-01-02"}, "date_from"),
    ],
)
def test_it_refuses_a_slot_search_in_a_far_off_year(front_desk, calendar, dates, field):
    response = api(front_desk).get(
        "/api/v1/slots/", {"procedure_type": calendar["tfesi"].pk, **dates}
    )
    assert response.status_code == 400
    assert response.json()[field] == [OUT_OF_RANGE]


@pytest.mark.parametrize("starts_at", ["9999-12-31T23:59:00", "0001-01-01T00:00:00"])
def test_it_refuses_a_booking_in_a_far_off_year(front_desk, calendar, patient, starts_at):
    response = api(front_desk).post(
        "/api/v1/appointments/",
        {
            "patient": patient.pk,
            "procedure_type": calendar["tfesi"].pk,
            "physician": calendar["physician"].pk,
            "room": calendar["fluoro"].pk,
            "starts_at": starts_at,
            "laterality": "left",
            "levels": "L4-L5",
        },
        format="json",
    )
    assert response.status_code == 400
    assert response.json() == {"starts_at": [OUT_OF_RANGE]}
    assert not Appointment.objects.exists()


@pytest.mark.parametrize("starts_at", ["9999-12-31T23:59:00", "0001-01-01T00:00:00"])
def test_it_refuses_a_reschedule_to_a_far_off_year(front_desk, book, starts_at):
    appointment = book(9)
    response = api(front_desk).post(
        f"/api/v1/appointments/{appointment.pk}/reschedule/",
        {"starts_at": starts_at},
        format="json",
    )
    assert response.status_code == 400
    assert response.json() == {"starts_at": [OUT_OF_RANGE]}
    before = appointment.starts_at
    appointment.refresh_from_db()
    assert appointment.starts_at == before


# --- Follow-up: far-off moments in the list filters -----------------------------------------


@pytest.mark.parametrize(
    "url, params",
    [
        ("/api/v1/followup/invitations/", {"due_after": "0001-01-01T00:00:00"}),
        ("/api/v1/followup/invitations/", {"due_before": "9999-12-31T23:59:59-05:00"}),
        ("/api/v1/followup/responses/", {"submitted_after": "0001-01-01T00:00:00"}),
        ("/api/v1/followup/responses/", {"submitted_before": "9999-12-31T23:59:59-05:00"}),
    ],
)
def test_it_refuses_a_far_off_moment_in_a_follow_up_filter(manager, url, params):
    response = api(manager).get(url, params)
    assert response.status_code == 400
    [field] = params
    assert response.json() == {field: [MOMENT_OUT_OF_RANGE]}


def test_it_still_filters_follow_up_lists_by_an_ordinary_moment(manager):
    response = api(manager).get(
        "/api/v1/followup/invitations/", {"due_after": "2026-01-01T00:00:00+01:00"}
    )
    assert response.status_code == 200


# --- Patients: NUL in the search ------------------------------------------------------------


def test_it_refuses_a_nul_in_the_patient_search(front_desk, patient):
    response = api(front_desk).get("/api/v1/patients/", {"q": "Kar\x00en"})
    assert response.status_code == 400
    assert response.json() == {"q": [NUL]}
    found = api(front_desk).get("/api/v1/patients/", {"q": "Karen"}).json()
    assert [row["id"] for row in found["results"]] == [patient.pk]


# --- Nursing: NUL in stored values, far-off times -------------------------------------------


def test_it_refuses_a_nul_in_a_checklist_answer(appointment, nurse):
    response = api(nurse).post(
        reverse("api_nursing_checklist", args=[appointment.pk]),
        {"answers": [{"item": "signout-plan", "value": "Home with\x00 escort"}]},
        format="json",
    )
    assert response.status_code == 400
    assert response.json() == {"answers": {"0": {"value": [NUL]}}}  # by the answer's index
    assert not ChecklistAnswer.objects.exists()


def test_it_refuses_a_nul_when_amending_a_checklist_answer(appointment, nurse):
    api(nurse).post(
        reverse("api_nursing_checklist", args=[appointment.pk]),
        {"answers": [{"item": "signout-plan", "value": "Home with escort"}]},
        format="json",
    )
    answer = ChecklistAnswer.objects.get(item__code="signout-plan")
    response = api(nurse).post(
        reverse("api_nursing_answer_amend", args=[answer.pk]),
        {"value": "Home\x00", "reason": "typo"},
        format="json",
    )
    assert response.status_code == 400
    assert response.json() == {"value": [NUL]}
    answer.refresh_from_db()
    assert answer.value == "Home with escort"


def test_it_refuses_a_nul_in_a_discharge_override_reason(recovering, physician):
    response = api(physician).post(
        reverse("api_nursing_discharge", args=[recovering.pk]),
        {"override_reason": "Escort\x00 waiting"},
        format="json",
    )
    assert response.status_code == 400
    assert response.json() == {"override_reason": [NUL]}
    assert not Discharge.objects.exists()


def test_it_refuses_a_round_time_that_overflows(recovering, nurse):
    response = api(nurse).post(
        reverse("api_nursing_rounds", args=[recovering.pk]),
        {**CALM, "taken_at": "0001-01-01T00:00:00"},
        format="json",
    )
    assert response.status_code == 400
    assert response.json() == {"taken_at": ["Datetime value out of range."]}
    assert not ObservationRound.objects.exists()


def test_it_refuses_an_escalation_time_that_overflows(recovering, nurse):
    round_ = take_round(recovering, nurse, respiration_rate=26)
    response = api(nurse).post(
        reverse("api_nursing_escalations", args=[round_.pk]),
        {"called_whom": "Dr on call", "called_at": "0001-01-01T00:00:00"},
        format="json",
    )
    assert response.status_code == 400
    assert response.json() == {"called_at": ["Datetime value out of range."]}
    assert not Escalation.objects.exists()


@pytest.mark.parametrize(
    "name, body",
    [
        ("api_nursing_time_out", ["nurse"]),
        ("api_nursing_assessments", [{"scores": {}}]),
        ("api_nursing_discharge", "Escort waiting"),
        ("api_nursing_discharge", 7),
    ],
)
def test_it_refuses_a_body_that_is_not_an_object(recovering, physician, name, body):
    response = api(physician).post(reverse(name, args=[recovering.pk]), body, format="json")
    assert response.status_code == 400
    assert response.json() == {"non_field_errors": ["Send the fields as a JSON object."]}
