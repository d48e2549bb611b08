"""The FHIR R4 endpoint: reads, the CapabilityStatement, roles, audit and errors."""

import datetime
import json

import pytest
from django.utils import timezone
from fhir.resources.R4B import get_fhir_model_class
from knox.models import AuthToken
from rest_framework.test import APIClient

from clinic.models import AuditEvent
from tests import fhir_data

BASE = "/fhir/R4/"
FHIR_JSON = "application/fhir+json"
CLINICAL_ROLES = ["nurse", "physician", "manager", "admin"]


def parsed(response):
    """The body, validated by the fhir.resources model of its resourceType."""
    assert response["Content-Type"].startswith(FHIR_JSON), response["Content-Type"]
    body = json.loads(response.content)
    get_fhir_model_class(body["resourceType"]).model_validate(body)
    return body


def outcome(response, status, code):
    assert response.status_code == status, response.content
    body = parsed(response)
    assert body["resourceType"] == "OperationOutcome"
    assert body["issue"][0]["code"] == code
    return body


@pytest.fixture
def api():
    return APIClient()


def as_user(api, user):
    api.force_authenticate(user)
    return api


@pytest.fixture
def record(calendar, patient, nurse):
    return fhir_data.make_record(calendar, patient, nurse)


def every_read_path(record, patient, calendar):
    round, response = record["round"], record["response"]
    return [
        f"Patient/{patient.pk}",
        f"Practitioner/{calendar['physician'].pk}",
        f"Location/site-{calendar['site'].pk}",
        f"Location/room-{calendar['fluoro'].pk}",
        f"ActivityDefinition/{calendar['tfesi'].pk}",
        f"Appointment/{record['appointment'].pk}",
        f"Appointment/{record['ahead'].pk}",
        f"Procedure/{record['appointment'].pk}",
        *(
            f"Observation/round-{round.pk}-{slug}"
            for slug in (
                "resp-rate",
                "spo2",
                "bp-systolic",
                "bp-diastolic",
                "heart-rate",
                "temperature",
                "news2",
            )
        ),
        *(
            f"Observation/pro-{response.pk}-{slug}"
            for slug in ("nrs-current", "nrs-average", "nrs-worst", "odi", "pgic")
        ),
        *(
            f"QuestionnaireResponse/{response.pk}-{qid}"
            for qid in ("nrs", "pgic", "relief", "odi", "red-flags")
        ),
        *(
            f"Questionnaire/{qid}"
            for qid in ("nrs", "pgic", "relief", "odi", "ndi", "red-flags", "diary")
        ),
        f"Flag/{record['alert'].pk}",
    ]


def test_it_reads_every_resource_type_as_valid_fhir(api, physician, record, patient, calendar):
    as_user(api, physician)
    for path in every_read_path(record, patient, calendar):
        response = api.get(BASE + path)
        assert response.status_code == 200, (path, response.content)
        body = parsed(response)
        assert f"{body['resourceType']}/{body['id']}" == path


def test_it_maps_the_patient_with_mrn_name_and_birth_date(api, nurse, patient):
    body = parsed(as_user(api, nurse).get(f"{BASE}Patient/{patient.pk}"))
    assert body["identifier"][0]["value"] == "MRN-0001"
    assert body["identifier"][0]["system"].endswith("/fhir/sid/mrn")
    assert body["name"][0] == {"use": "official", "family": "Jensen", "given": ["Karen"]}
    assert body["birthDate"] == "1961-04-23"
    assert body["gender"] == "female"
    # The clinical free text stays out of the demographic resource.
    assert "radiculopathy" not in json.dumps(body)


def test_it_codes_vital_signs_in_loinc_with_ucum_units(api, nurse, record):
    round = record["round"]
    expected = {
        "resp-rate": ("9279-1", 16, "/min"),
        "spo2": ("59408-5", 97, "%"),
        "bp-systolic": ("8480-6", 128, "mm[Hg]"),
        "heart-rate": ("8867-4", 74, "/min"),
        "temperature": ("8310-5", 36.9, "Cel"),
    }
    as_user(api, nurse)
    for slug, (loinc, value, unit) in expected.items():
        body = parsed(api.get(f"{BASE}Observation/round-{round.pk}-{slug}"))
        assert body["code"]["coding"][0] == {
            "system": "http://loinc.org",
            "code": loinc,
            "display": body["code"]["coding"][0]["display"],
        }
        assert body["valueQuantity"]["value"] == value
        assert body["valueQuantity"]["code"] == unit
        assert body["category"][0]["coding"][0]["code"] == "vital-signs"
        assert body["subject"]["reference"] == f"Patient/{record['appointment'].patient_id}"
    news2 = parsed(api.get(f"{BASE}Observation/round-{round.pk}-news2"))
    assert news2["valueInteger"] == round.news2_total
    assert news2["code"]["text"] == "NEWS2 total score (RCP 2017)"
    assert "loinc" not in json.dumps(news2["code"])


def test_it_codes_side_and_level_in_snomed(api, physician, record):
    body = parsed(as_user(api, physician).get(f"{BASE}Procedure/{record['appointment'].pk}"))
    [site] = body["bodySite"]
    assert site["coding"][0]["system"] == "http://snomed.info/sct"
    assert site["coding"][0]["code"] == "243923001"  # level of L4/L5 intervertebral disc
    assert site["text"] == "Left L4-L5"
    laterality = site["extension"][0]["valueCodeableConcept"]["coding"][0]
    assert laterality["code"] == "7771000"
    assert body["status"] == "completed"
    assert (
        body["performer"][0]["actor"]["reference"]
        == f"Practitioner/{record['appointment'].physician_id}"
    )


def test_it_maps_the_appointment_statuses(api, physician, record):
    as_user(api, physician)
    done = parsed(api.get(f"{BASE}Appointment/{record['appointment'].pk}"))
    ahead = parsed(api.get(f"{BASE}Appointment/{record['ahead'].pk}"))
    assert done["status"] == "fulfilled"
    assert ahead["status"] == "booked"
    actors = [p["actor"]["reference"] for p in ahead["participant"]]
    assert actors[:2] == [
        f"Patient/{record['ahead'].patient_id}",
        f"Practitioner/{record['ahead'].physician_id}",
    ]
    # A booking ahead is no procedure yet.
    outcome(api.get(f"{BASE}Procedure/{record['ahead'].pk}"), 404, "not-found")


def test_it_exports_odi_by_section_title_never_the_licensed_wording(api, nurse, record):
    from followup.models import InstrumentWording

    InstrumentWording.objects.create(
        instrument="odi",
        section="pain_intensity",
        language="en",
        title="Licensed title",
        options=[f"LICENSED OPTION {n}" for n in range(6)],
    )
    as_user(api, nurse)
    questionnaire = parsed(api.get(f"{BASE}Questionnaire/odi"))
    answers = parsed(api.get(f"{BASE}QuestionnaireResponse/{record['response'].pk}-odi"))
    for body in (questionnaire, answers):
        assert "LICENSED" not in json.dumps(body)
        assert "Licensed title" not in json.dumps(body)
    assert [item["linkId"] for item in questionnaire["item"]][:2] == [
        "pain_intensity",
        "personal_care",
    ]
    assert questionnaire["item"][0]["text"] == "Pain intensity"
    assert answers["item"][0]["answer"] == [{"valueInteger": 1}]
    assert answers["questionnaire"].endswith("/Questionnaire/odi")


def test_it_shows_a_red_flag_alert_as_an_active_flag(api, nurse, record):
    body = parsed(as_user(api, nurse).get(f"{BASE}Flag/{record['alert'].pk}"))
    assert body["status"] == "active"
    assert body["code"]["coding"][0]["code"] == "red_flag"
    flags = parsed(api.get(f"{BASE}QuestionnaireResponse/{record['response'].pk}-red-flags"))
    fever = next(item for item in flags["item"] if item["linkId"] == "fever")
    assert fever["answer"] == [{"valueBoolean": True}]


# --- Who may read, and the audit trail -------------------------------------------------


def test_it_answers_the_capability_statement_without_login(api, record):
    response = api.get(BASE + "metadata")
    assert response.status_code == 200
    body = parsed(response)
    assert body["resourceType"] == "CapabilityStatement"
    assert body["fhirVersion"] == "4.0.1"
    types = {entry["type"] for entry in body["rest"][0]["resource"]}
    assert {"Patient", "Appointment", "Observation", "QuestionnaireResponse"} <= types
    assert "Jensen" not in response.content.decode()
    assert not AuditEvent.objects.exists()


def test_it_asks_an_anonymous_caller_to_log_in(api, record, patient):
    response = api.get(f"{BASE}Patient/{patient.pk}")
    outcome(response, 401, "login")
    assert response["WWW-Authenticate"] == "Token"


@pytest.mark.parametrize("role", ["outsider", "front_desk"])
def test_it_refuses_roles_that_may_not_read_the_clinical_record(api, personas, record, role):
    as_user(api, personas[role])
    paths = [
        f"Patient/{record['appointment'].patient_id}",
        "Appointment",
        f"Observation?patient={record['appointment'].patient_id}",
        f"Patient/{record['appointment'].patient_id}/$everything",
        "$export",
    ]
    for path in paths:
        outcome(api.get(BASE + path), 403, "forbidden")
    assert not AuditEvent.objects.exists()


@pytest.mark.parametrize("role", CLINICAL_ROLES)
def test_it_lets_clinical_roles_read_and_audits_each_patient_shown(api, personas, record, role):
    user = personas[role]
    patient_id = record["appointment"].patient_id
    as_user(api, user)
    assert api.get(f"{BASE}Patient/{patient_id}").status_code == 200
    assert api.get(f"{BASE}Appointment?patient={patient_id}").status_code == 200
    rows = AuditEvent.objects.filter(user=user).order_by("at", "pk")
    assert [(row.action, row.patient_id) for row in rows] == [
        ("view", patient_id),
        ("view", patient_id),
    ]
    assert [row.detail for row in rows] == [
        f"FHIR read Patient/{patient_id}",
        "FHIR search Appointment",
    ]


def test_it_audits_one_row_per_patient_a_search_shows(api, nurse, calendar, patient, other_patient):
    fhir_data.make_appointment(calendar, patient)
    fhir_data.make_appointment(
        calendar, patient, starts_at=timezone.now() - datetime.timedelta(days=9)
    )
    fhir_data.make_appointment(
        calendar,
        other_patient,
        starts_at=timezone.now() - datetime.timedelta(days=20),
    )
    parsed(as_user(api, nurse).get(f"{BASE}Appointment"))
    audited = AuditEvent.objects.filter(detail="FHIR search Appointment")
    assert sorted(audited.values_list("patient_id", flat=True)) == sorted(
        [patient.pk, other_patient.pk]
    )


def test_it_does_not_audit_reads_without_patient_data(api, nurse, calendar):
    as_user(api, nurse)
    for path in ["Practitioner", "Location", "ActivityDefinition", "Questionnaire"]:
        assert parsed(api.get(BASE + path))["resourceType"] == "Bundle"
    assert not AuditEvent.objects.exists()


def test_it_accepts_an_api_token(record, nurse, patient):
    _, token = AuthToken.objects.create(user=nurse)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert parsed(client.get(f"{BASE}Patient/{patient.pk}"))["id"] == str(patient.pk)


def test_it_accepts_a_staff_login_session(client, record, nurse, patient):
    client.force_login(nurse)
    response = client.get(f"{BASE}Patient/{patient.pk}", HTTP_ACCEPT="application/fhir+json")
    assert parsed(response)["id"] == str(patient.pk)


# --- Errors as OperationOutcome ---------------------------------------------------------


def test_it_answers_unknown_ids_and_types_with_404(api, nurse, record):
    as_user(api, nurse)
    for path in [
        "Patient/999999",
        "Patient/abc",
        "Observation/round-999-spo2",
        "Observation/round-1-nonsense",
        "QuestionnaireResponse/999-odi",
        "Location/floor-1",
        "Questionnaire/sf-36",
        "Encounter/1",
        "Encounter",
        "Patient/1/_history/2",
    ]:
        outcome(api.get(BASE + path), 404, "not-found")


def test_it_is_read_only(api, nurse, patient):
    as_user(api, nurse)
    response = api.post(f"{BASE}Patient", {"resourceType": "Patient"}, format="json")
    outcome(response, 405, "not-supported")
    outcome(api.delete(f"{BASE}Patient/{patient.pk}"), 405, "not-supported")


def test_it_serves_json_for_format_json_and_refuses_xml(api, nurse, patient):
    as_user(api, nurse)
    assert parsed(api.get(f"{BASE}Patient/{patient.pk}", {"_format": "json"}))["id"]
    assert parsed(api.get(f"{BASE}Patient/{patient.pk}", {"_format": "application/fhir+json"}))
    outcome(api.get(f"{BASE}Patient/{patient.pk}", {"_format": "xml"}), 406, "not-supported")
    response = api.get(f"{BASE}Patient/{patient.pk}", HTTP_ACCEPT="application/fhir+xml")
    outcome(response, 406, "not-supported")


# --- Patient/$everything ------------------------------------------------------------------


def test_it_gives_everything_of_one_patient_in_one_bundle(
    api, physician, record, patient, calendar
):
    other = fhir_data.make_patients(1)[0]
    fhir_data.make_appointment(
        calendar, other, starts_at=timezone.now() - datetime.timedelta(days=30)
    )
    as_user(api, physician)
    body = parsed(api.get(f"{BASE}Patient/{patient.pk}/$everything"))
    found = {entry["fullUrl"].split("/R4/")[1] for entry in body["entry"]}
    assert (
        set(every_read_path(record, patient, calendar))
        - {
            "Questionnaire/ndi",
            "Questionnaire/diary",
        }
        <= found
    )
    assert f"Patient/{other.pk}" not in found
    assert body["total"] == len(body["entry"])
    assert AuditEvent.objects.get().detail == f"FHIR Patient/{patient.pk}/$everything"


def test_it_answers_everything_of_an_unknown_patient_with_404(api, physician, db):
    outcome(as_user(api, physician).get(f"{BASE}Patient/424242/$everything"), 404, "not-found")
