"""Issue 12, audit: append-only at the database, attribution that cannot vanish, and a page
where Admin reads who did what."""

import csv
import datetime
import io

import pytest
from django.contrib.auth.models import User
from django.db import DatabaseError, connection, transaction
from django.db.models import ProtectedError
from django.urls import reverse
from django.utils import timezone

from clinic.audit import audit_record
from clinic.models import AuditEvent, Patient
from tests.factories import PatientFactory, StaffFactory


@pytest.fixture
def event(nurse, patient):
    return audit_record(user=nurse, action=AuditEvent.Action.VIEW, obj=patient, patient=patient)


def test_it_refuses_to_rewrite_an_audit_row_in_the_database(event):
    with (
        pytest.raises(DatabaseError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute("UPDATE clinic_auditevent SET detail = 'nothing happened'")
    event.refresh_from_db()
    assert event.detail == ""


def test_it_refuses_to_delete_an_audit_row_in_the_database(event):
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AuditEvent.objects.filter(pk=event.pk).delete()
    assert AuditEvent.objects.filter(pk=event.pk).exists()


def test_it_refuses_to_delete_a_user_who_acted(event, nurse):
    with pytest.raises(ProtectedError), transaction.atomic():
        nurse.delete()
    assert User.objects.filter(pk=nurse.pk).exists()


def test_it_deletes_a_user_who_never_acted(db):
    newcomer = StaffFactory(username="newcomer")
    newcomer.delete()
    assert not User.objects.filter(username="newcomer").exists()


def test_it_refuses_to_delete_a_patient_whose_record_was_read(event, patient):
    with pytest.raises(ProtectedError), transaction.atomic():
        patient.delete()
    assert Patient.objects.filter(pk=patient.pk).exists()


def test_it_shows_the_admin_site_refusing_to_delete_a_user_who_acted(client, event, nurse):
    root = User.objects.create_superuser("root", "root@example.com", "x" * 16)
    client.force_login(root)
    url = reverse("admin:auth_user_delete", args=[nurse.pk])
    response = client.post(url, {"post": "yes"})
    assert User.objects.filter(pk=nurse.pk).exists()
    assert response.status_code == 200
    assert "cannot delete user" in response.content.decode().lower()


# --- The audit page ---------------------------------------------------------------------


def test_it_shows_admin_the_audit_trail_with_filters(client, admin_user, event, nurse, patient):
    other = PatientFactory(last_name="Elsewhere")
    audit_record(user=admin_user, action=AuditEvent.Action.CHANGE, obj=other, patient=other)
    client.force_login(admin_user)
    response = client.get(reverse("audit_list"), {"user": nurse.pk})
    page = response.content.decode()
    assert response.status_code == 200
    assert patient.mrn in page
    assert other.mrn not in page
    response = client.get(reverse("audit_list"), {"patient": other.mrn, "action": "change"})
    assert other.mrn in response.content.decode()
    assert patient.mrn not in response.content.decode()


def test_it_filters_the_audit_trail_by_date(client, admin_user, event):
    client.force_login(admin_user)
    tomorrow = timezone.localdate() + datetime.timedelta(days=1)
    response = client.get(reverse("audit_list"), {"since": tomorrow.isoformat()})
    assert event.patient.mrn not in response.content.decode()


def test_it_refuses_a_backwards_date_range_with_a_message(client, admin_user, event):
    client.force_login(admin_user)
    response = client.get(reverse("audit_list"), {"since": "2026-05-02", "until": "2026-05-01"})
    assert response.status_code == 200
    assert "before" in response.content.decode().lower()


def test_it_exports_the_audit_trail_as_csv_and_audits_the_export(client, admin_user, event):
    client.force_login(admin_user)
    response = client.get(reverse("audit_list"), {"_export": "csv", "action": "view"})
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert len(rows) >= 2
    assert AuditEvent.objects.filter(
        user=admin_user, action=AuditEvent.Action.EXPORT, detail__contains="audit"
    ).exists()


def test_it_lists_the_audit_trail_in_constant_queries(
    client, admin_user, nurse, assert_query_count_flat
):
    client.force_login(admin_user)

    def add_rows(count):
        for _ in range(count):
            patient = PatientFactory()
            audit_record(user=nurse, action=AuditEvent.Action.VIEW, obj=patient, patient=patient)

    assert_query_count_flat(client, reverse("audit_list"), add_rows)
