"""A real FHIR client (SMART's fhirclient, R4 4.0.1 models) reads from a live server.

fhirclient parses every answer into its own R4 classes, which refuse unknown elements:
this also checks that what fhir.resources validated as R4B is plain R4.
"""

import pytest
from fhirclient import client
from fhirclient.models.appointment import Appointment
from fhirclient.models.bundle import Bundle
from fhirclient.models.capabilitystatement import CapabilityStatement
from fhirclient.models.observation import Observation
from fhirclient.models.patient import Patient
from fhirclient.models.questionnaireresponse import QuestionnaireResponse
from knox.models import AuthToken

from clinic.models import AuditEvent
from tests import fhir_data


# The live server needs committed rows; the seeded roles and catalogue come back afterwards.
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_it_is_read_by_a_fhir_client_library(live_server, calendar, patient, nurse):
    record = fhir_data.make_record(calendar, patient, nurse)
    _, token = AuthToken.objects.create(user=nurse)
    smart = client.FHIRClient(
        settings={"app_id": "clinic-tests", "api_base": f"{live_server.url}/fhir/R4/"}
    )
    server = smart.server
    server.session.headers["Authorization"] = f"Token {token}"

    capability = CapabilityStatement.read_from("metadata", server)
    assert capability.fhirVersion == "4.0.1"

    read = Patient.read(str(patient.pk), server)
    assert read.name[0].family == "Jensen"
    assert read.birthDate.isostring == "1961-04-23"

    # _count=1 makes the client follow Bundle.link next, page by page.
    search = Appointment.where(struct={"patient": f"Patient/{patient.pk}", "_count": "1"})
    appointments = list(search.perform_resources_iter(server))
    assert sorted(a.id for a in appointments) == sorted(
        [str(record["appointment"].pk), str(record["ahead"].pk)]
    )
    assert {a.status for a in appointments} == {"fulfilled", "booked"}

    answers = list(
        QuestionnaireResponse.where(
            struct={"patient": str(patient.pk), "_count": "2"}
        ).perform_resources_iter(server)
    )
    assert [qr.questionnaire.split("/")[-1] for qr in answers] == [
        "nrs",
        "pgic",
        "relief",
        "odi",
        "red-flags",
    ]
    assert all(qr.status == "completed" for qr in answers)

    vitals = list(
        Observation.where(
            struct={"patient": str(patient.pk), "category": "vital-signs"}
        ).perform_resources_iter(server)
    )
    assert {o.code.coding[0].code for o in vitals} == {
        "9279-1",
        "59408-5",
        "8480-6",
        "8462-4",
        "8867-4",
        "8310-5",
    }

    # Every resource type the endpoint makes, parsed strictly by the R4 models.
    everything = Bundle(server.request_json(f"Patient/{patient.pk}/$everything"))
    assert {entry.resource.resource_type for entry in everything.entry} == {
        "Patient",
        "Appointment",
        "Procedure",
        "Observation",
        "QuestionnaireResponse",
        "Flag",
        "Practitioner",
        "Location",
        "ActivityDefinition",
        "Questionnaire",
    }
    assert AuditEvent.objects.filter(user=nurse, patient=patient).count() >= 5
