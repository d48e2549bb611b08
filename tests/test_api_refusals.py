"""One refusal contract for the whole API: 409 with {"detail", "reasons", "alternatives"},
documented once in the schema as the Refusal component, on every write."""

from django.urls import reverse
from drf_spectacular.generators import SchemaGenerator
from rest_framework.test import APIClient

from tests.factories import AlertFactory

WRITES = ("post", "put", "patch", "delete")
REFUSAL = "#/components/schemas/Refusal"
# DRF's own token view raises no refusal.
NOT_OURS = {"/api/v1/auth/token/"}


def api(user):
    client = APIClient()
    client.force_authenticate(user)
    return client


def refusal(response) -> dict:
    """The body of a 409, checked to be exactly the one shape."""
    assert response.status_code == 409, response.content
    body = response.json()
    assert set(body) == {"detail", "reasons", "alternatives"}
    assert isinstance(body["detail"], str) and body["detail"]
    assert body["reasons"]
    for reason in body["reasons"]:
        # A safety stop also names the stop and whether a physician may override it.
        assert set(reason) in ({"code", "message"}, {"code", "message", "stop", "overridable"})
        assert reason["code"] and reason["message"]
    assert isinstance(body["alternatives"], list)
    return body


def test_it_documents_the_one_refusal_on_every_write(db):
    schema = SchemaGenerator().get_schema(request=None, public=True)
    writes = [
        (method, path, operation)
        for path, operations in schema["paths"].items()
        for method, operation in operations.items()
        if method in WRITES and path not in NOT_OURS
    ]
    assert len(writes) > 10
    for method, path, operation in writes:
        conflict = operation["responses"].get("409")
        assert conflict, f"{method} {path} documents no 409"
        assert conflict["content"]["application/json"]["schema"] == {"$ref": REFUSAL}, path
    components = schema["components"]["schemas"]
    with_reasons = [
        name
        for name, component in components.items()
        if {"reasons", "refusals"} & set(component.get("properties", {}))
    ]
    assert with_reasons == ["Refusal"]
    refusal_schema = components["Refusal"]
    assert sorted(refusal_schema["required"]) == ["alternatives", "detail", "reasons"]
    reason = refusal_schema["properties"]["reasons"]["items"]["$ref"].rsplit("/", 1)[1]
    assert sorted(components[reason]["properties"]) == ["code", "message", "overridable", "stop"]
    assert sorted(components[reason]["required"]) == ["code", "message"]


def test_it_refuses_a_double_booking_in_the_one_shape(book, calendar, front_desk, other_patient):
    book(9, 0)
    moving = book(11, 0, who=other_patient)
    response = api(front_desk).post(
        f"/api/v1/appointments/{moving.pk}/reschedule/",
        {"starts_at": f"{calendar['monday']}T09:15:00"},
        format="json",
    )
    body = refusal(response)
    assert {"room_taken", "physician_taken"} <= {r["code"] for r in body["reasons"]}
    assert body["detail"].startswith("Refused: ")
    assert body["alternatives"]
    assert {"starts_at", "room", "physician", "recovery_bay"} <= set(body["alternatives"][0])


def test_it_refuses_a_status_change_in_the_one_shape(book, nurse):
    booked = book(9, 0)
    url = f"/api/v1/appointments/{booked.pk}/transition/"
    body = refusal(api(nurse).post(url, {"to": "discharged"}, format="json"))
    assert [r["code"] for r in body["reasons"]] == ["illegal_transition"]
    assert body["alternatives"] == []


def test_it_refuses_a_nursing_write_in_the_one_shape(appointment, nurse):
    url = reverse("api_nursing_time_out", args=[appointment.pk])
    body = refusal(api(nurse).post(url, {"role": "nurse"}, format="json"))
    assert body["detail"] == "Answer and sign the time-out first."
    assert {r["code"] for r in body["reasons"]} == {"time_out_incomplete"}
    assert body["alternatives"] == []


def test_it_refuses_a_start_with_hard_stops_open_in_the_one_shape(appointment, nurse):
    url = f"/api/v1/appointments/{appointment.pk}/transition/"
    body = refusal(api(nurse).post(url, {"to": "in_procedure"}, format="json"))
    assert body["detail"] == "The procedure cannot start yet."
    assert {r["code"] for r in body["reasons"]} == {"start_blocked"}
    assert "Pre-procedure: Consent form signed — not answered." in [
        r["message"] for r in body["reasons"]
    ]


def test_it_refuses_a_second_acknowledgement_in_the_one_shape(appointment, nurse, physician):
    alert = AlertFactory(response__invitation__appointment=appointment)
    url = reverse("followup-alert-acknowledge", args=[alert.pk])
    assert api(nurse).post(url, {"note": "Phoned"}, format="json").status_code == 200
    body = refusal(api(physician).post(url, {"note": "Phoned too"}, format="json"))
    assert body["reasons"] == [
        {"code": "alert_already_acknowledged", "message": "Nina acknowledged it first: Phoned"}
    ]
    alert.refresh_from_db()
    assert alert.acknowledgement_note == "Phoned"
