"""The API twins of the perioperative record: same rules, clear 400 and 409 bodies."""

import datetime

from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from clinic.models import AuditEvent
from clinic.nursing.models import (
    Amendment,
    ChecklistAnswer,
    Discharge,
    Escalation,
    ObservationRound,
    TimeOutConfirmation,
)
from scheduling.models import Status
from tests.factories import CALM, TodaysAppointmentFactory, answer_items, take_round


def api(user):
    client = APIClient()
    client.force_authenticate(user)
    return client


def test_it_reads_the_checklist_with_what_blocks_the_start(appointment, nurse):
    response = api(nurse).get(reverse("api_nursing_checklist", args=[appointment.pk]))
    assert response.status_code == 200
    body = response.json()
    codes = [item["code"] for item in body["items"]]
    assert "consent" in codes and "fasting" not in codes
    assert body["answers"] == []
    assert "Pre-procedure: Consent form signed — not answered." in body["start_blockers"]
    assert AuditEvent.objects.filter(detail="checklist (API)", user=nurse).exists()


def test_it_signs_answers_sent_through_the_api(appointment, nurse):
    url = reverse("api_nursing_checklist", args=[appointment.pk])
    response = api(nurse).post(
        url,
        {
            "answers": [
                {"item": "consent", "value": "yes"},
                {"item": "baseline-pulse", "value": 72},
            ]
        },
        format="json",
    )
    assert response.status_code == 201
    answers = {a["item"]: a for a in response.json()["answers"]}
    assert answers["consent"]["signed_by"]["id"] == nurse.pk
    assert answers["baseline-pulse"]["display"] == "72 /min"
    assert ChecklistAnswer.objects.filter(signed_by=nurse).count() == 2


def test_it_explains_a_bad_answer_and_saves_nothing(appointment, nurse):
    url = reverse("api_nursing_checklist", args=[appointment.pk])
    response = api(nurse).post(
        url,
        {
            "answers": [
                {"item": "consent", "value": "yes"},
                {"item": "baseline-spo2", "value": 140},
            ]
        },
        format="json",
    )
    assert response.status_code == 400
    assert response.json() == {
        "answers": [
            "Baseline SpO2 on air: 140 % is not possible; enter a value from 50 to 100 %, or "
            "re-measure."
        ]
    }
    response = api(nurse).post(
        url, {"answers": [{"item": "fasting", "value": "yes"}]}, format="json"
    )
    assert response.status_code == 400
    assert "Not an item of this appointment's checklist: fasting." in str(response.json())
    assert not ChecklistAnswer.objects.exists()


def test_it_answers_409_to_a_second_answer_and_amends_instead(appointment, nurse):
    url = reverse("api_nursing_checklist", args=[appointment.pk])
    api(nurse).post(url, {"answers": [{"item": "consent", "value": "no"}]}, format="json")
    response = api(nurse).post(
        url, {"answers": [{"item": "consent", "value": "yes"}]}, format="json"
    )
    assert response.status_code == 409
    assert "Amend a signed answer" in response.json()["detail"]

    answer = ChecklistAnswer.objects.get()
    amend = reverse("api_nursing_answer_amend", args=[answer.pk])
    assert api(nurse).post(amend, {"value": "yes"}, format="json").status_code == 400
    response = api(nurse).post(
        amend, {"value": "yes", "reason": "Found the signed form"}, format="json"
    )
    assert response.status_code == 200
    body = response.json()
    assert body["value"] == "yes"
    assert body["amendments"][0] | {"at": None} == {
        "field": "Consent form signed",
        "old_value": "No",
        "new_value": "Yes",
        "reason": "Found the signed form",
        "by": {"id": nurse.pk, "name": "Nina"},
        "at": None,
    }


def test_it_confirms_the_time_out_through_the_api(appointment, nurse, physician):
    url = reverse("api_nursing_time_out", args=[appointment.pk])
    response = api(nurse).post(url, {"role": "nurse"}, format="json")
    assert response.status_code == 409
    assert response.json()["detail"] == "Answer and sign the time-out first."
    answer_items(appointment, nurse, ["time_out"])
    assert api(nurse).post(url, {"role": "nurse"}, format="json").status_code == 201
    assert api(nurse).post(url, {"role": "doctor"}, format="json").status_code == 400
    response = api(physician).post(url, {"role": "physician"}, format="json")
    assert set(response.json()["time_out_confirmed_by"]) == {"nurse", "physician"}
    assert TimeOutConfirmation.objects.count() == 2


def test_it_records_a_round_and_answers_with_its_news2(recovering, nurse):
    url = reverse("api_nursing_rounds", args=[recovering.pk])
    response = api(nurse).post(url, {**CALM, "pulse": 131, "on_oxygen": True}, format="json")
    assert response.status_code == 201
    body = response.json()
    assert (body["news2_total"], body["news2_risk"], body["needs_escalation"]) == (
        5,
        "medium",
        True,
    )
    assert body["news2_scores"]["pulse"] == 3 and body["news2_scores"]["air_or_oxygen"] == 2
    assert body["signed_by"]["id"] == nurse.pk
    assert api(nurse).get(url).json()[0]["id"] == body["id"]


def test_it_refuses_impossible_observations_through_the_api(
    recovering, nurse, calendar, other_patient
):
    url = reverse("api_nursing_rounds", args=[recovering.pk])
    response = api(nurse).post(url, {**CALM, "spo2": 140, "pulse": 0}, format="json")
    assert response.status_code == 400
    assert response.json() == {
        "spo2": ["SpO₂ 140% is not possible: enter 50 to 100%, or re-measure."],
        "pulse": ["Pulse 0/min is not possible in an alert patient: re-measure."],
    }
    response = api(nurse).post(url, {**CALM, "temperature": "55"}, format="json")
    assert "Temperature 55.0 °C is not possible" in response.json()["temperature"][0]
    later = TodaysAppointmentFactory(
        calendar=calendar,
        patient=other_patient,
        starts_at=recovering.ends_at,
        recovery_bay=None,
    )
    checked_in = reverse("api_nursing_rounds", args=[later.pk])
    response = api(nurse).post(checked_in, CALM, format="json")
    assert response.status_code == 409
    assert not ObservationRound.objects.exists()


def test_it_refuses_a_round_taken_in_the_future_through_the_api(recovering, nurse):
    url = reverse("api_nursing_rounds", args=[recovering.pk])
    later = timezone.now() + datetime.timedelta(hours=1)
    response = api(nurse).post(url, {**CALM, "taken_at": later.isoformat()}, format="json")
    assert response.status_code == 400
    assert response.json() == {
        "taken_at": ["Observations cannot be taken in the future: check the time."]
    }
    assert not ObservationRound.objects.exists()
    soon = timezone.now() + datetime.timedelta(minutes=2)  # a tablet clock a little ahead
    response = api(nurse).post(url, {**CALM, "taken_at": soon.isoformat()}, format="json")
    assert response.status_code == 201


def test_it_amends_a_round_and_records_an_escalation_through_the_api(recovering, nurse, physician):
    round_ = take_round(recovering, nurse)
    response = api(nurse).post(
        reverse("api_nursing_round_amend", args=[round_.pk]),
        {"field": "systolic_bp", "value": 89, "reason": "re-measured"},
        format="json",
    )
    assert response.status_code == 200
    assert (response.json()["news2_total"], response.json()["news2_risk"]) == (3, "low-medium")
    assert Amendment.objects.filter(round=round_).count() == 2
    url = reverse("api_nursing_escalations", args=[round_.pk])
    assert api(nurse).post(url, {}, format="json").status_code == 409
    response = api(nurse).post(url, {"physician": physician.pk, "note": "coming"}, format="json")
    assert response.status_code == 201
    assert Escalation.objects.get().recorded_by == nurse


def test_it_discharges_through_the_api_under_the_same_criteria(recovering, nurse, physician):
    url = reverse("api_nursing_discharge", args=[recovering.pk])
    response = api(nurse).post(url, {}, format="json")
    assert response.status_code == 409
    assert response.json()["detail"] == "The patient cannot be discharged yet."
    reasons = response.json()["reasons"]
    assert {"code": "discharge_blocked", "message": "No discharge score recorded yet."} in reasons
    assert api(nurse).get(url).json()["blockers"] == [r["message"] for r in reasons]

    answer_items(recovering, nurse, ["sign_out"])
    take_round(recovering, nurse)
    scores = reverse("api_nursing_assessments", args=[recovering.pk])
    response = api(nurse).post(scores, {"scores": {"activity": 2}}, format="json")
    assert response.status_code == 400
    assert "missing item" in str(response.json())
    response = api(nurse).post(
        scores,
        {
            "scores": {
                "activity": 2,
                "respiration": 2,
                "circulation": 2,
                "consciousness": 2,
                "spo2": 1,
            }
        },
        format="json",
    )
    assert response.status_code == 201
    assert (response.json()["total"], response.json()["is_ready"]) == (9, True)

    response = api(nurse).post(url, {}, format="json")
    assert response.status_code == 201
    assert response.json()["instructions_language"] == "da"
    recovering.refresh_from_db()
    assert recovering.status == Status.DISCHARGED
    assert Discharge.objects.get().discharged_by == nurse


def test_it_lets_a_physician_override_the_discharge_through_the_api(recovering, nurse, physician):
    url = reverse("api_nursing_discharge", args=[recovering.pk])
    response = api(nurse).post(url, {"override_reason": "fine"}, format="json")
    assert response.status_code == 409
    assert "Only a physician can override" in response.json()["detail"]
    response = api(physician).post(url, {"override_reason": "Admitted to the ward"}, format="json")
    assert response.status_code == 201


def test_it_asks_anonymous_callers_to_authenticate(appointment):
    response = APIClient().get(reverse("api_nursing_checklist", args=[appointment.pk]))
    assert response.status_code == 401


def test_it_answers_405_to_a_method_an_endpoint_does_not_have(appointment, nurse):
    response = api(nurse).delete(reverse("api_nursing_checklist", args=[appointment.pk]))
    assert response.status_code == 405


def test_it_documents_the_nursing_endpoints(nurse):
    response = api(nurse).get(reverse("api_schema"), {"format": "json"})
    assert response.status_code == 200
    paths = response.json()["paths"]
    for path in (
        "/api/v1/nursing/appointments/{id}/checklist/",
        "/api/v1/nursing/appointments/{id}/rounds/",
        "/api/v1/nursing/appointments/{id}/discharge/",
    ):
        assert path in paths, path
