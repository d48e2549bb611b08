"""Issue 12, site scoping: staff see their own sites' records; another site's record opens
only with a reason, which is recorded and shown to Admin."""

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from clinic.models import AuditEvent, CrossSiteAccess, StaffProfile
from tests.factories import (
    PatientFactory,
    ResponseFactory,
    SentSurveyFactory,
    TodaysAppointmentFactory,
    pass_second_factor,
)


@pytest.fixture
def here(calendar, patient):
    """Today's appointment at the nurse's own site."""
    return TodaysAppointmentFactory(calendar=calendar, patient=patient)


@pytest.fixture
def elsewhere(db):
    """Today's appointment of another patient, with another physician, at another site."""
    return TodaysAppointmentFactory(patient=PatientFactory(mrn="AWAY-1"))


@pytest.fixture
def local_nurse(nurse, calendar):
    """A nurse who works at the calendar's site only."""
    StaffProfile.objects.get_or_create(user=nurse)[0].sites.set([calendar["site"]])
    return nurse


@pytest.fixture
def api(local_nurse):
    client = APIClient()
    client.force_authenticate(local_nurse)
    return client


def test_it_lists_only_the_nurses_own_sites_appointments(client, api, local_nurse, here, elsewhere):
    client.force_login(local_nurse)
    page = client.get(reverse("appointment_list"), {"date_from": "2000-01-01"}).content.decode()
    assert here.patient.mrn in page
    assert elsewhere.patient.mrn not in page
    listed = {row["id"] for row in api.get("/api/v1/appointments/").json()["results"]}
    assert here.pk in listed and elsewhere.pk not in listed


def test_it_offers_only_the_nurses_sites_on_the_boards(client, local_nurse, calendar, elsewhere):
    client.force_login(local_nurse)
    day = client.get(reverse("day_board")).content.decode()
    assert calendar["site"].name in day
    assert elsewhere.site.name not in day
    recovery = client.get(reverse("nursing_board"), {"site": elsewhere.site.pk}).content.decode()
    assert elsewhere.site.name not in recovery


def test_it_refuses_another_sites_record_and_offers_the_reason_form(client, local_nurse, elsewhere):
    client.force_login(local_nurse)
    response = client.get(reverse("nursing_record", args=[elsewhere.pk]))
    assert response.status_code == 403
    page = response.content.decode()
    assert "held at another site" in page
    assert reverse("cross_site_open", args=[elsewhere.patient.pk]) in page


def test_it_refuses_another_sites_record_on_the_api_with_a_reason_code(api, elsewhere):
    response = api.get(f"/api/v1/appointments/{elsewhere.pk}/")
    assert response.status_code == 403
    assert response.json()["reasons"][0]["code"] == "other_site"


def test_it_opens_another_sites_record_with_a_reason_and_records_it(
    client, local_nurse, elsewhere, admin_user
):
    client.force_login(local_nurse)
    url = reverse("nursing_record", args=[elsewhere.pk])
    response = client.post(
        reverse("cross_site_open", args=[elsewhere.patient.pk]),
        {"reason": "Patient transferred to us for recovery today", "next": url},
    )
    assert response.status_code == 302 and response["Location"] == url
    assert client.get(url).status_code == 200
    event = AuditEvent.objects.get(action=AuditEvent.Action.CROSS_SITE)
    assert (event.user, event.patient) == (local_nurse, elsewhere.patient)
    assert "transferred to us" in event.detail
    client.force_login(admin_user)
    pass_second_factor(client, admin_user)
    audit = client.get(reverse("audit_list"), {"action": "cross_site"}).content.decode()
    assert "transferred to us" in audit


def test_it_refuses_an_empty_or_offhand_reason(client, local_nurse, elsewhere):
    client.force_login(local_nurse)
    response = client.post(
        reverse("cross_site_open", args=[elsewhere.patient.pk]), {"reason": "need it"}
    )
    assert response.status_code == 400
    assert "at least 10 characters" in response.content.decode()
    assert not CrossSiteAccess.objects.exists()


def test_it_shows_the_shared_patient_index_but_not_the_clinical_record(
    client, local_nurse, elsewhere
):
    client.force_login(local_nurse)
    listing = client.get(reverse("patient_list"), {"q": "AWAY-1"}).content.decode()
    assert "AWAY-1" in listing
    assert client.get(reverse("patient_detail", args=[elsewhere.patient.pk])).status_code == 403


def test_it_lets_a_newly_registered_patient_be_seen_by_every_site(client, local_nurse):
    newcomer = PatientFactory()
    client.force_login(local_nurse)
    assert client.get(reverse("patient_detail", args=[newcomer.pk])).status_code == 200


def test_it_lets_staff_without_sites_see_every_site(client, nurse, here, elsewhere):
    client.force_login(nurse)
    assert client.get(reverse("nursing_record", args=[elsewhere.pk])).status_code == 200


def test_it_scopes_the_survey_responses(client, physician, calendar, here, elsewhere):
    StaffProfile.objects.get_or_create(user=physician)[0].sites.set([calendar["site"]])
    ours = ResponseFactory(invitation=SentSurveyFactory(appointment=here))
    theirs = ResponseFactory(invitation=SentSurveyFactory(appointment=elsewhere))
    api = APIClient()
    api.force_authenticate(physician)
    listed = {row["id"] for row in api.get("/api/v1/followup/responses/").json()["results"]}
    assert listed == {ours.pk}
    assert api.get(f"/api/v1/followup/responses/{theirs.pk}/").status_code == 403
    client.force_login(physician)
    pass_second_factor(client, physician)
    page = client.get(reverse("response_list"), {"since": "2000-01-01"}).content.decode()
    assert theirs.patient.mrn not in page


def test_it_scopes_fhir_reads(local_nurse, here, elsewhere):
    api = APIClient()
    api.force_authenticate(local_nurse)
    assert api.get(f"/fhir/R4/Patient/{here.patient.pk}").status_code == 200
    assert api.get(f"/fhir/R4/Patient/{elsewhere.patient.pk}").status_code in {403, 404}
    bundle = api.get("/fhir/R4/Appointment").json()
    ids = {entry["resource"]["id"] for entry in bundle.get("entry", [])}
    assert str(elsewhere.pk) not in ids


def test_it_sets_a_staff_members_sites_on_the_staff_page_and_audits_it(
    client, admin_user, nurse, calendar
):
    client.force_login(admin_user)
    pass_second_factor(client, admin_user)
    url = reverse("staff_edit", args=[nurse.pk])
    data = {
        "username": nurse.username,
        "first_name": nurse.first_name,
        "last_name": nurse.last_name,
        "email": nurse.email,
        "is_active": "on",
        "roles": ["nurse"],
        "sites": [calendar["site"].pk],
    }
    response = client.post(url, data)
    assert response.status_code == 302, response.content.decode()[:2000]
    assert list(nurse.staff_profile.sites.all()) == [calendar["site"]]
    assert AuditEvent.objects.filter(
        action=AuditEvent.Action.CHANGE, detail__contains="sites (Test Spine Centre)"
    ).exists()
