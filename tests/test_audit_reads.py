"""Issue 12, audit of reads: a list that shows clinical data leaves one audit row per patient
shown (one bulk insert per request); an export leaves one row with its filter and row count;
single records read by page, API or admin leave one row each."""

import pytest
from django.contrib.auth.models import User
from django.urls import reverse
from rest_framework.test import APIClient

from clinic.models import AuditEvent
from tests.factories import PASSWORD, AlertFactory, ResponseFactory, take_round


def reads(user, **filters):
    return AuditEvent.objects.filter(user=user, action=AuditEvent.Action.VIEW, **filters)


@pytest.fixture
def responses(db):
    return ResponseFactory.create_batch(4)


@pytest.fixture
def api_as(physician):
    api = APIClient()
    api.force_authenticate(physician)
    return api


def test_it_audits_each_patient_of_a_bulk_api_read_of_responses(api_as, physician, responses):
    result = api_as.get("/api/v1/followup/responses/")
    assert result.status_code == 200
    shown = {row["patient"] for row in result.json()["results"]}
    audited = set(reads(physician).values_list("patient_id", flat=True))
    assert shown == {response.patient_id for response in responses}
    assert audited == shown


def test_it_audits_the_patients_on_the_responses_page(client, physician, responses):
    client.force_login(physician)
    assert client.get(reverse("response_list")).status_code == 200
    audited = set(reads(physician).values_list("patient_id", flat=True))
    assert audited == {response.patient_id for response in responses}


def test_it_audits_the_patients_on_the_alerts_page_and_api(client, api_as, nurse, physician):
    alerts = AlertFactory.create_batch(2)
    client.force_login(nurse)
    assert client.get(reverse("alert_list")).status_code == 200
    assert set(reads(nurse).values_list("patient_id", flat=True)) == {
        alert.patient_id for alert in alerts
    }
    assert api_as.get("/api/v1/followup/alerts/").status_code == 200
    assert api_as.get(f"/api/v1/followup/alerts/{alerts[0].pk}/").status_code == 200
    assert reads(physician, patient=alerts[0].patient).count() == 2


def test_it_audits_an_export_with_its_filter_and_row_count(client, physician, responses):
    client.force_login(physician)
    client.get(reverse("response_list"), {"_export": "csv", "since": "2020-01-01"})
    export = AuditEvent.objects.get(user=physician, action=AuditEvent.Action.EXPORT)
    assert "4 rows" in export.detail
    assert "since=2020-01-01" in export.detail


def test_it_audits_the_discharge_page_and_instructions(client, recovering, nurse):
    client.force_login(nurse)
    assert client.get(reverse("nursing_discharge", args=[recovering.pk])).status_code == 200
    assert client.get(reverse("nursing_instructions", args=[recovering.pk])).status_code == 200
    assert reads(nurse, patient=recovering.patient).count() == 2


def test_it_audits_the_discharge_api_read(api_as, recovering, physician):
    result = api_as.get(reverse("api_nursing_discharge", args=[recovering.pk]))
    assert result.status_code == 200
    assert reads(physician, patient=recovering.patient).exists()


@pytest.mark.parametrize("admin_name", ["followup_response", "followup_alert"])
def test_it_audits_the_admin_change_view_of_follow_up_rows(db, client, admin_name):
    alert = AlertFactory()
    obj = alert if admin_name == "followup_alert" else alert.response
    root = User.objects.create_superuser("root", "root@example.com", PASSWORD)
    client.force_login(root)
    response = client.get(reverse(f"admin:{admin_name}_change", args=[obj.pk]))
    assert response.status_code == 200
    assert reads(root, patient=alert.patient).count() == 1


def test_it_audits_the_admin_change_view_of_a_nursing_row(client, recovering, nurse):
    round_ = take_round(recovering, nurse)
    root = User.objects.create_superuser("root", "root@example.com", PASSWORD)
    client.force_login(root)
    url = reverse("admin:nursing_observationround_change", args=[round_.pk])
    assert client.get(url).status_code == 200
    assert reads(root, patient=recovering.patient).count() == 1


def test_it_records_each_patient_read_with_who_when_and_from_where(rf, physician, responses):
    from clinic.audit import audit_record_reads

    request = rf.get("/", REMOTE_ADDR="192.0.2.7")
    request.user = physician
    patients = [response.patient for response in responses]
    audit_record_reads(request=request, patients=patients, detail="survey responses (list)")
    rows = list(reads(physician).order_by("pk"))
    assert [row.patient_id for row in rows] == [patient.pk for patient in patients]
    assert {
        (row.object_type, row.object_id, row.detail, row.ip_address, row.break_glass_id)
        for row in rows
    } == {
        ("clinic.Patient", str(patient.pk), "survey responses (list)", "192.0.2.7", None)
        for patient in patients
    }
    assert all(row.at is not None for row in rows)


def test_it_names_the_break_glass_access_on_each_patient_read_under_it(rf, responses):
    from clinic.accounts.services import break_glass_start
    from clinic.audit import audit_record_reads

    root = User.objects.create_superuser("root", "root@example.com", PASSWORD)
    access = break_glass_start(user=root, reason="Night shift, no physician reachable")
    request = rf.get("/")
    request.user = User.objects.get(pk=root.pk)
    audit_record_reads(request=request, patients=[responses[0].patient], detail="list")
    row = reads(root).get()
    assert row.break_glass_id == access.pk
    assert row.detail == "list [break-glass: Night shift, no physician reachable]"
