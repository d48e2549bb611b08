"""FHIR search: parameters, paging by Bundle.link next, _include, and flat query counts."""

import datetime
import json
from urllib.parse import urlsplit

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from fhir.resources.R4B.bundle import Bundle
from rest_framework.test import APIClient

from clinic.models import Patient
from scheduling.models import Status
from tests import fhir_data
from tests.factories import local

BASE = "/fhir/R4/"


@pytest.fixture
def api(nurse):
    client = APIClient()
    client.force_authenticate(nurse)
    return client


def bundle(response) -> dict:
    assert response.status_code == 200, response.content
    body = json.loads(response.content)
    Bundle.model_validate(body)
    assert body["type"] == "searchset"
    return body


def ids(body, mode="match") -> list[str]:
    return [e["resource"]["id"] for e in body.get("entry", []) if e["search"]["mode"] == mode]


def next_link(body) -> str | None:
    url = next((link["url"] for link in body["link"] if link["relation"] == "next"), None)
    if url is None:
        return None
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


def every_page(api, path, **params) -> tuple[list[str], int]:
    """Ids over all pages, following next links; and how many pages that took."""
    body = bundle(api.get(BASE + path, params))
    found, pages = ids(body), 1
    while link := next_link(body):
        body = bundle(api.get(link))
        found += ids(body)
        pages += 1
    return found, pages


def test_it_finds_patients_by_identifier_name_and_birth_date(api, patient, other_patient):
    def found(**params):
        return ids(bundle(api.get(BASE + "Patient", params)))

    karen, oliver = str(patient.pk), str(other_patient.pk)
    assert found(identifier="MRN-0001") == [karen]
    assert found(identifier="mrn-0002") == [oliver]
    assert found(identifier="http://elsewhere.example|MRN-0001") == []
    assert found(name="jens") == [karen]
    assert found(name="Karen Jensen") == [karen]
    assert found(name="oli") == [oliver]
    assert found(name="sen") == []
    assert found(**{"name:contains": "sen"}) == [karen]
    assert found(birthdate="1961-04-23") == [karen]
    assert found(birthdate="1961") == [karen]
    assert sorted(found(birthdate="ge1961-04-23")) == sorted([karen, oliver])
    assert found(birthdate="lt1970") == [karen]
    assert found(birthdate="gt1961-04-23") == [oliver]
    assert found(birthdate="ne1961-04-23") == [oliver]


def test_it_finds_patients_by_the_mrn_system_the_resource_names(api, patient):
    resource = json.loads(api.get(f"{BASE}Patient/{patient.pk}").content)
    system = resource["identifier"][0]["system"]
    assert ids(bundle(api.get(BASE + "Patient", {"identifier": f"{system}|MRN-0001"}))) == [
        str(patient.pk)
    ]


@pytest.fixture
def week(calendar, patient, other_patient):
    """Five appointments on five days of one week, two patients, two statuses."""
    monday = calendar["monday"]
    made = []
    for day in range(5):
        made.append(
            fhir_data.make_appointment(
                calendar,
                patient if day % 2 == 0 else other_patient,
                status=Status.BOOKED if day < 3 else Status.CANCELLED,
                starts_at=local(monday + datetime.timedelta(days=day), 9),
            )
        )
    return made


def test_it_finds_appointments_in_a_date_range(api, week, calendar):
    monday = calendar["monday"]
    tuesday, thursday = monday + datetime.timedelta(days=1), monday + datetime.timedelta(days=3)
    found = ids(bundle(api.get(BASE + "Appointment", {"date": [f"ge{tuesday}", f"lt{thursday}"]})))
    assert found == [str(week[1].pk), str(week[2].pk)]
    assert ids(bundle(api.get(BASE + "Appointment", {"date": str(monday)}))) == [str(week[0].pk)]
    # A time in another zone: Monday 09:00 Copenhagen is 07:00 or 08:00 UTC.
    utc = local(monday, 9).astimezone(datetime.UTC)
    at = utc.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert ids(bundle(api.get(BASE + "Appointment", {"date": at}))) == [str(week[0].pk)]


def test_it_finds_appointments_by_patient_practitioner_and_status(
    api, week, patient, physician, other_patient
):
    def found(**params):
        return ids(bundle(api.get(BASE + "Appointment", params)))

    assert found(patient=f"Patient/{patient.pk}") == [str(week[n].pk) for n in (0, 2, 4)]
    assert found(patient=str(other_patient.pk)) == [str(week[n].pk) for n in (1, 3)]
    assert len(found(practitioner=f"Practitioner/{physician.pk}")) == 5
    assert found(practitioner="Practitioner/999999") == []
    assert found(status="booked") == [str(week[n].pk) for n in (0, 1, 2)]
    assert found(status="cancelled", patient=str(patient.pk)) == [str(week[4].pk)]
    assert found(status="booked,cancelled") == [str(a.pk) for a in week]
    assert found(status="waitlist") == []


def test_it_includes_the_patients_of_appointments_when_asked(api, week, patient, other_patient):
    body = bundle(api.get(BASE + "Appointment", {"_include": "Appointment:patient"}))
    assert len(ids(body)) == 5
    assert sorted(ids(body, "include")) == sorted([str(patient.pk), str(other_patient.pk)])
    included = [e for e in body["entry"] if e["search"]["mode"] == "include"]
    assert all(e["resource"]["resourceType"] == "Patient" for e in included)


def test_it_pages_with_count_and_next_links_without_gaps_or_repeats(api, week):
    found, pages = every_page(api, "Appointment", _count=2)
    assert found == [str(a.pk) for a in week]
    assert pages == 3
    body = bundle(api.get(BASE + "Appointment", {"_count": 2, "status": "booked"}))
    # The next link keeps the search parameters.
    assert "status=booked" in next_link(body)
    nothing = bundle(api.get(BASE + "Appointment", {"_count": 0}))
    assert ids(nothing) == []
    assert next_link(nothing) is None


def test_it_pages_observations_that_several_come_from_one_row(api, calendar, patient, nurse):
    record = fhir_data.make_record(calendar, patient, nurse)
    everything = ids(bundle(api.get(BASE + "Observation", {"patient": patient.pk})))
    assert len(everything) == 7 + 5  # a round's seven, the survey's five scores
    for count in (1, 3, 5, 7, 50):
        found, _pages = every_page(api, "Observation", patient=patient.pk, _count=count)
        assert found == everything, count
    assert f"round-{record['round'].pk}-news2" in everything


def test_it_finds_observations_by_code_and_date(api, calendar, patient, nurse, other_patient):
    record = fhir_data.make_record(calendar, patient, nurse)
    later = fhir_data.make_appointment(
        calendar, other_patient, starts_at=timezone.now() - datetime.timedelta(days=1)
    )
    fhir_data.make_round(later, nurse, systolic_bp=141)

    def found(**params):
        body = bundle(api.get(BASE + "Observation", params))
        return [e["resource"] for e in body.get("entry", [])]

    systolic = found(patient=patient.pk, code="8480-6")
    assert [o["valueQuantity"]["value"] for o in systolic] == [128]
    both = found(code="http://loinc.org|8480-6")
    assert [o["valueQuantity"]["value"] for o in both] == [128, 141]
    assert found(code="http://snomed.info/sct|8480-6") == []
    odi = found(code="odi")
    assert [o["valueQuantity"]["value"] for o in odi] == [20.0]
    assert [o["id"] for o in found(category="survey", code="72514-3")] == [
        f"pro-{record['response'].pk}-nrs-current"
    ]
    day = timezone.localdate(record["round"].taken_at)
    assert len(found(patient=patient.pk, date=str(day), category="vital-signs")) == 6
    assert found(patient=patient.pk, date="lt2000-01-01") == []


def test_it_finds_questionnaire_responses_by_patient_and_date(
    api, calendar, patient, nurse, other_patient
):
    record = fhir_data.make_record(calendar, patient, nurse)
    elsewhere = fhir_data.make_appointment(
        calendar, other_patient, starts_at=timezone.now() - datetime.timedelta(days=40)
    )
    fhir_data.make_response(elsewhere, answers={"nrs_current": 2})
    pk = record["response"].pk
    mine = ids(bundle(api.get(BASE + "QuestionnaireResponse", {"patient": patient.pk})))
    assert mine == [f"{pk}-{qid}" for qid in ("nrs", "pgic", "relief", "odi", "red-flags")]
    submitted = timezone.localdate(record["response"].submitted_at)
    recent = ids(bundle(api.get(BASE + "QuestionnaireResponse", {"authored": f"ge{submitted}"})))
    assert recent == mine
    only_odi = ids(
        bundle(
            api.get(BASE + "QuestionnaireResponse", {"patient": patient.pk, "questionnaire": "odi"})
        )
    )
    assert only_odi == [f"{pk}-odi"]


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("Patient", {"colour": "blue"}),
        ("Patient", {"birthdate": "yesterday"}),
        ("Patient", {"birthdate": "1961-02-30"}),
        ("Patient", {"birthdate": "ap1961"}),
        ("Patient", {"name:phonetic": "jensen"}),
        ("Patient", {"name": "jen\x00sen"}),
        ("Patient", {"_count": "many"}),
        ("Appointment", {"date": "ge9999-12-31T23:59:59+14:00"}),
        ("Appointment", {"patient": "Practitioner/1"}),
        ("Appointment", {"patient": "Patient/abc"}),
        ("Appointment", {"status": "confirmed"}),
        ("Appointment", {"_include": "Appointment:practitioner"}),
        ("Appointment", {"_cursor": "not-a-cursor"}),
        ("Observation", {"_include": "Observation:patient"}),
        ("Flag", {"status": "red"}),
    ],
)
def test_it_answers_a_bad_search_parameter_with_400(api, db, path, params):
    response = api.get(BASE + path, params)
    assert response.status_code == 400, (path, params, response.content)
    body = json.loads(response.content)
    assert body["resourceType"] == "OperationOutcome"
    assert body["issue"][0]["code"] == "invalid"


def queries(api, path, params) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = api.get(BASE + path, params)
    assert response.status_code == 200, response.content
    return len(captured)


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("Patient", {"_count": 50}),
        ("Appointment", {"_count": 50, "_include": "Appointment:patient"}),
        ("Appointment", {"_count": 50, "status": "fulfilled", "date": "ge2000"}),
        ("Procedure", {"_count": 50}),
        ("Observation", {"_count": 50}),
        ("Observation", {"_count": 50, "code": "72514-3"}),
        ("QuestionnaireResponse", {"_count": 50}),
    ],
)
def test_it_takes_as_many_queries_for_a_page_of_1000_rows_as_of_10(
    api, calendar, nurse, path, params
):
    fhir_data.add_history(calendar, nurse, 10)
    api.get(BASE + "metadata")
    queries(api, path, params)  # the user's permissions are read once, on the first call
    few = queries(api, path, params)
    fhir_data.add_history(calendar, nurse, 990)
    assert Patient.objects.count() >= 1000
    many = queries(api, path, params)
    assert many == few, f"{path}: {few} queries with 10 rows, {many} with 1,000"
    # A later page costs no more than the first.
    body = json.loads(api.get(BASE + path, params).content)
    assert next_link(body)
    with CaptureQueriesContext(connection) as captured:
        assert api.get(next_link(body)).status_code == 200
    assert len(captured) == few
