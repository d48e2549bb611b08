"""API v1 of follow-up: invitations, responses with scores, alerts and acknowledging them."""

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from clinic.models import AuditEvent
from followup.models import Invitation
from tests.factories import AlertFactory, ResponseFactory, SentSurveyFactory

ROLES = ["front_desk", "nurse", "physician", "manager", "admin", "outsider"]
CLINICAL = {"nurse", "physician", "manager", "admin"}


@pytest.fixture
def appointment(book):
    """Karen's transforaminal ESI, booked for next Monday at 09:00."""
    return book(9, 0)


@pytest.fixture
def api():
    return APIClient()


@pytest.fixture
def answered(appointment):
    response = ResponseFactory(invitation=SentSurveyFactory(appointment=appointment))
    AlertFactory(response=response)
    return response


def urls(answered):
    alert = answered.alerts.get()
    return {
        "invitations": (
            reverse("followup-invitation-list"),
            CLINICAL | {"front_desk"},
        ),
        "invitation": (
            reverse("followup-invitation-detail", args=[answered.invitation_id]),
            CLINICAL | {"front_desk"},
        ),
        "responses": (reverse("followup-response-list"), CLINICAL),
        "response": (reverse("followup-response-detail", args=[answered.pk]), CLINICAL),
        "alerts": (reverse("followup-alert-list"), CLINICAL),
        "alert": (reverse("followup-alert-detail", args=[alert.pk]), CLINICAL),
    }


def test_it_serves_each_role_only_its_endpoints(api, personas, answered):
    for name, (url, allowed) in urls(answered).items():
        api.force_authenticate(None)
        assert api.get(url).status_code == 401, f"anonymous on {name}"
        for role in ROLES:
            api.force_authenticate(personas[role])
            status = api.get(url).status_code
            assert status == (200 if role in allowed else 403), f"{role} on {name}: {status}"


def test_it_lists_and_filters_invitations(api, front_desk, appointment, answered):
    failed = SentSurveyFactory(
        appointment=appointment, status=Invitation.Status.FAILED, last_error="550"
    )
    api.force_authenticate(front_desk)
    body = api.get(reverse("followup-invitation-list"), {"status": "failed"}).json()
    assert [row["id"] for row in body["results"]] == [failed.pk]
    assert body["results"][0]["last_error"] == "550"
    by_patient = api.get(
        reverse("followup-invitation-list"), {"patient": appointment.patient_id}
    ).json()
    assert by_patient["count"] >= 2


def test_it_gives_responses_with_exact_scores_and_audits_a_reading(api, nurse, answered):
    api.force_authenticate(nurse)
    body = api.get(reverse("followup-response-list")).json()
    row = body["results"][0]
    assert row["nrs_current"] == 3
    assert row["pgic"] == 2
    assert row["patient_rated_relief"] == 50
    assert row["odi_percent"].startswith("34.0")
    assert row["alerts"][0]["kind"] == "red_flag"
    api.get(reverse("followup-response-detail", args=[answered.pk]))
    assert AuditEvent.objects.filter(
        user=nurse, action=AuditEvent.Action.VIEW, object_id=str(answered.pk)
    ).exists()


def test_it_filters_open_alerts(api, nurse, answered):
    done = AlertFactory(
        response=ResponseFactory(
            invitation=SentSurveyFactory(appointment=answered.invitation.appointment)
        ),
        acknowledged_by=nurse,
        acknowledged_at=answered.submitted_at,
        acknowledgement_note="Phoned",
    )
    api.force_authenticate(nurse)
    url = reverse("followup-alert-list")
    open_ids = [row["id"] for row in api.get(url, {"acknowledged": "false"}).json()["results"]]
    assert open_ids == [answered.alerts.get().pk]
    done_rows = api.get(url, {"acknowledged": "true"}).json()["results"]
    assert [row["id"] for row in done_rows] == [done.pk]
    assert done_rows[0]["acknowledged_by"] == "Nina"


def test_it_acknowledges_an_alert(api, nurse, answered):
    alert = answered.alerts.get()
    api.force_authenticate(nurse)
    url = reverse("followup-alert-acknowledge", args=[alert.pk])
    response = api.post(url, {"note": "Phoned the patient"}, format="json")
    assert response.status_code == 200
    assert response.json()["acknowledgement_note"] == "Phoned the patient"
    assert response.json()["acknowledged_by"] == "Nina"
    alert.refresh_from_db()
    assert alert.acknowledged_by == nurse
    assert AuditEvent.objects.filter(
        user=nurse, action=AuditEvent.Action.CHANGE, object_id=str(alert.pk)
    ).exists()


def test_it_explains_a_missing_note_and_a_second_acknowledgement(api, nurse, physician, answered):
    alert = answered.alerts.get()
    url = reverse("followup-alert-acknowledge", args=[alert.pk])
    api.force_authenticate(nurse)
    missing = api.post(url, {"note": "  "}, format="json")
    assert missing.status_code == 400
    assert "note" in missing.json()
    api.post(url, {"note": "Phoned"}, format="json")
    api.force_authenticate(physician)
    again = api.post(url, {"note": "Me too"}, format="json")
    assert again.status_code == 409
    assert again.json() == {
        "detail": "This alert was already acknowledged.",
        "reasons": [
            {"code": "alert_already_acknowledged", "message": "Nina acknowledged it first: Phoned"}
        ],
        "alternatives": [],
    }


@pytest.mark.parametrize("role", ["front_desk", "outsider"])
def test_it_refuses_acknowledging_to_non_clinical_roles(api, personas, answered, role):
    alert = answered.alerts.get()
    api.force_authenticate(personas[role])
    url = reverse("followup-alert-acknowledge", args=[alert.pk])
    assert api.post(url, {"note": "x"}, format="json").status_code == 403
    alert.refresh_from_db()
    assert alert.acknowledged_at is None


def test_it_has_no_writes_besides_acknowledging(api, admin_user, answered):
    api.force_authenticate(admin_user)
    refused = {403, 405}  # no add/change permission, and no such method either
    assert api.post(reverse("followup-response-list"), {}).status_code in refused
    assert api.post(reverse("followup-invitation-list"), {}).status_code in refused
    alert_url = reverse("followup-alert-detail", args=[answered.alerts.get().pk])
    assert api.patch(alert_url, {"acknowledgement_note": "x"}).status_code in refused
    assert answered.alerts.get().acknowledgement_note == ""


def test_it_documents_the_endpoints_in_the_schema(client, nurse):
    client.force_login(nurse)
    schema = client.get(reverse("api_schema"), {"format": "json"}).json()
    paths = schema["paths"]
    assert "/api/v1/followup/invitations/" in paths
    assert "/api/v1/followup/responses/{id}/" in paths
    acknowledge = paths["/api/v1/followup/alerts/{id}/acknowledge/"]["post"]
    assert "409" in acknowledge["responses"]
    body = acknowledge["requestBody"]["content"]["application/json"]["schema"]
    assert body["$ref"] == "#/components/schemas/Acknowledge"
    assert schema["components"]["schemas"]["Acknowledge"]["required"] == ["note"]
