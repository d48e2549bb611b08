"""Issue 12, patient rights: a data-subject export (GDPR Art. 15/20) and anonymisation
(Art. 17) that leaves no identifying value in any table, history included, while the
clinical record stays."""

import datetime
import json

import pytest
from django.apps import apps
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.urls import reverse
from django.utils import timezone

from clinic.audit import audit_record
from clinic.models import AuditEvent, CrossSiteAccess, Medication, Patient, StaffProfile
from clinic.nursing import services as nursing
from clinic.nursing.models import ChecklistAnswer, DischargeAssessment, ObservationRound
from clinic.refusals import Refused
from clinic.services_privacy import patient_anonymise
from followup.models import EmailLog, Invitation, RescheduleRequest, Response
from scheduling.models import Appointment, MedicationCall, WaitlistEntry
from tests.factories import (
    AlertFactory,
    AppointmentFactory,
    PatientFactory,
    ResponseFactory,
    SentSurveyFactory,
    ready_to_discharge,
)

FREE_TEXT = "Karen Jensen asks to be called on +45 20 30 40 50 or karen.jensen@example.com"


@pytest.fixture
def full_record(client, appointment, nurse, physician, patient):
    """Karen with something in every section: a discharged procedure with its checklists,
    rounds and score, a survey answered, an alert, an email, a reschedule request and a
    read of her record in the audit trail."""
    Appointment.objects.filter(pk=appointment.pk).update(
        notes="Karen prefers mornings; born 23.04.1961"
    )
    ready_to_discharge(appointment, nurse, physician)
    ObservationRound.objects.filter(appointment=appointment).update(note="Karen Jensen comfortable")
    nursing.patient_discharge(actor=nurse, appointment=appointment)
    invitation = SentSurveyFactory(appointment=appointment)
    response = ResponseFactory(invitation=invitation)
    AlertFactory(response=response, detail="Fever or chills")
    Invitation.objects.filter(pk=invitation.pk).update(
        last_error="550 mailbox karen.jensen@example.com full"
    )
    EmailLog.objects.create(
        invitation=invitation,
        patient=patient,
        kind="survey",
        to_address=patient.email,
        status=EmailLog.Status.SENT,
    )
    RescheduleRequest.objects.create(appointment=appointment, message=FREE_TEXT)
    # A log row whose patient link is gone still names her by address.
    EmailLog.objects.create(kind="reminder", to_address=patient.email, status="sent")
    Medication.objects.create(patient=patient, name="Eliquis", dose="Karen: 5 mg x 2")
    WaitlistEntry.objects.create(
        patient=patient,
        procedure_type=appointment.procedure_type,
        earliest=datetime.date(2026, 1, 1),
        latest=datetime.date(2026, 2, 1),
        notes="Call Karen on +45 20 30 40 50",
    )
    MedicationCall.objects.create(
        appointment=appointment, called_by=nurse, note="Spoke to Karen Jensen on 20 30 40 50"
    )
    CrossSiteAccess.objects.create(
        user=nurse,
        patient=patient,
        reason="Karen Jensen transferred from the north site",
        until=timezone.now() + datetime.timedelta(minutes=60),
    )
    LogEntry.objects.create(
        user=nurse,
        content_type=ContentType.objects.get_for_model(Patient),
        object_id=str(patient.pk),
        object_repr=str(patient),
        action_flag=CHANGE,
        change_message="Changed email for Karen Jensen",
    )
    client.force_login(nurse)
    assert client.get(reverse("patient_detail", args=[patient.pk])).status_code == 200
    client.logout()
    patient.refresh_from_db()
    return patient


def export_json(client, patient):
    response = client.get(reverse("patient_export", args=[patient.pk]), {"format": "json"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/json")
    return json.loads(response.content)


# --- Export -----------------------------------------------------------------------------


def test_it_exports_every_section_of_a_patients_data_as_json(client, manager, full_record):
    client.force_login(manager)
    data = export_json(client, full_record)
    assert data["patient"]["mrn"] == "MRN-0001"
    assert data["patient"]["last_name"] == "Jensen"
    sections = data["sections"]
    for name in (
        "appointments",
        "checklist_answers",
        "observation_rounds",
        "discharge_assessments",
        "discharges",
        "survey_responses",
        "alerts",
        "emails_sent",
        "reschedule_requests",
        "medication_calls",
        "record_reads",
    ):
        assert sections[name], f"{name} is empty"
    assert sections["emails_sent"][0]["to_address"] == "karen.jensen@example.com"
    assert sections["survey_responses"][0]["nrs_current"] == 3
    assert any(row["user"] == "nurse" for row in sections["record_reads"])


def test_it_exports_a_readable_page(client, admin_user, full_record):
    client.force_login(admin_user)
    response = client.get(reverse("patient_export", args=[full_record.pk]))
    page = response.content.decode()
    assert response.status_code == 200
    assert "Jensen" in page
    for heading in ("Appointments", "Observation rounds", "Survey responses", "Emails sent"):
        assert heading in page
    assert "Who read this record" in page


def test_it_audits_the_export_with_what_was_exported(client, manager, full_record):
    client.force_login(manager)
    export_json(client, full_record)
    row = AuditEvent.objects.get(user=manager, action=AuditEvent.Action.EXPORT)
    assert row.patient_id == full_record.pk
    assert "data-subject export (json)" in row.detail
    assert "appointments" in row.detail
    assert "Jensen" not in row.detail


@pytest.mark.parametrize("persona", ["front_desk", "nurse", "physician", "outsider"])
def test_it_refuses_the_export_without_the_role(client, personas, patient, persona):
    client.force_login(personas[persona])
    response = client.get(reverse("patient_export", args=[patient.pk]), {"format": "json"})
    assert response.status_code == 403
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.EXPORT).exists()


def test_it_shows_the_links_only_to_those_with_the_permission(client, manager, nurse, patient):
    client.force_login(manager)
    page = client.get(reverse("patient_detail", args=[patient.pk])).content.decode()
    assert reverse("patient_export", args=[patient.pk]) in page
    assert reverse("patient_anonymise", args=[patient.pk]) in page
    client.force_login(nurse)
    page = client.get(reverse("patient_detail", args=[patient.pk])).content.decode()
    assert reverse("patient_export", args=[patient.pk]) not in page
    assert reverse("patient_anonymise", args=[patient.pk]) not in page


# --- Anonymisation ----------------------------------------------------------------------

IDENTIFYING = ["Karen", "Jensen", "MRN-0001", "karen.jensen@example.com", "+45 20 30 40 50"]
BORN = datetime.date(1961, 4, 23)
TEXT_FIELDS = (models.CharField, models.TextField, models.EmailField)


def identifying_values_left() -> list[str]:
    """Every column of every table (history and audit included) that still holds one of
    Karen's identifying values."""
    found = []
    for model in apps.get_models(include_auto_created=True):
        if model._meta.proxy or not model._meta.managed:
            continue
        for field in model._meta.concrete_fields:
            if isinstance(field, (*TEXT_FIELDS, models.JSONField)):
                lookup = "icontains"
                values = IDENTIFYING
            elif type(field) is models.DateField:
                lookup = "exact"
                values = [BORN]
            else:
                continue
            for value in values:
                if isinstance(field, models.JSONField):
                    hits = model._default_manager.annotate(
                        as_text=models.functions.Cast(field.attname, models.TextField())
                    ).filter(as_text__icontains=value)
                else:
                    hits = model._default_manager.filter(**{f"{field.attname}__{lookup}": value})
                if hits.exists():
                    found.append(f"{model._meta.db_table}.{field.column} holds {value}")
    return found


def test_it_finds_the_identifying_values_before_anonymisation(full_record):
    left = identifying_values_left()
    assert any("clinic_historicalpatient" in hit for hit in left)
    assert any("followup_emaillog" in hit for hit in left)
    assert any("django_admin_log" in hit for hit in left)
    assert any("clinic_crosssiteaccess" in hit for hit in left)
    assert any("scheduling_historicalwaitlistentry" in hit for hit in left)


def test_it_leaves_no_identifying_value_in_any_table(admin_user, full_record):
    patient_anonymise(actor=admin_user, patient=full_record, reason="Patient's written request")
    assert identifying_values_left() == []


def test_it_keeps_the_clinical_record_with_its_scores(admin_user, full_record, appointment):
    answers = ChecklistAnswer.objects.filter(appointment=appointment).count()
    patient_anonymise(actor=admin_user, patient=full_record, reason="Request")
    patient = Patient.objects.get(pk=full_record.pk)
    assert patient.anonymised_at is not None
    assert patient.date_of_birth.year == 1961  # the year stays, for outcomes by age
    assert patient.spinal_history.startswith("L4-L5 disc herniation")
    assert patient.email == "" and patient.phone == "" and not patient.email_consent
    assert Appointment.objects.get(pk=appointment.pk).patient_id == patient.pk
    assert ChecklistAnswer.objects.filter(appointment=appointment).count() == answers
    assert ObservationRound.objects.get(appointment=appointment).news2_total is not None
    assert DischargeAssessment.objects.filter(appointment=appointment).exists()
    response = Response.objects.get(patient=patient)
    assert (response.nrs_current, response.pgic, response.odi_percent) == (3, 2, 34)
    assert ObservationRound.objects.get(appointment=appointment).note == "[removed] comfortable"


def test_it_audits_the_anonymisation_without_the_name(admin_user, full_record):
    patient_anonymise(actor=admin_user, patient=full_record, reason="Karen Jensen asked by letter")
    row = AuditEvent.objects.get(user=admin_user, action=AuditEvent.Action.CHANGE)
    assert row.patient_id == full_record.pk
    assert "anonymised" in row.detail
    assert "Jensen" not in row.detail and "Karen" not in row.detail


def test_it_refuses_to_anonymise_twice(admin_user, full_record):
    patient_anonymise(actor=admin_user, patient=full_record, reason="Request")
    with pytest.raises(Refused, match="already anonymised"):
        patient_anonymise(actor=admin_user, patient=full_record, reason="Again")


def test_it_never_emails_an_anonymised_patient(admin_user, full_record, appointment):
    patient_anonymise(actor=admin_user, patient=full_record, reason="Request")
    invitation = SentSurveyFactory(appointment=appointment, status=Invitation.Status.QUEUED)
    invitation = Invitation.objects.select_related("patient", "appointment").get(pk=invitation.pk)
    status, _ = invitation.send_refusal(invitation.due_at)
    assert status == Invitation.Status.SKIPPED


def test_it_refuses_anonymisation_to_other_roles(nurse, manager, patient):
    with pytest.raises(Refused):
        patient_anonymise(actor=nurse, patient=patient, reason="Request")
    assert Patient.objects.get(pk=patient.pk).anonymised_at is None


# --- The confirmation page ----------------------------------------------------------------


def test_it_changes_nothing_on_the_confirmation_page_get(client, admin_user, patient):
    client.force_login(admin_user)
    response = client.get(reverse("patient_anonymise", args=[patient.pk]))
    assert response.status_code == 200
    assert "MRN-0001" in response.content.decode()
    assert Patient.objects.get(pk=patient.pk).anonymised_at is None
    assert Patient.objects.get(pk=patient.pk).last_name == "Jensen"


def test_it_anonymises_only_when_the_mrn_is_typed(client, admin_user, patient):
    client.force_login(admin_user)
    url = reverse("patient_anonymise", args=[patient.pk])
    response = client.post(url, {"confirm_mrn": "MRN-9999", "reason": "Request"})
    assert response.status_code == 200
    assert Patient.objects.get(pk=patient.pk).anonymised_at is None
    response = client.post(url, {"confirm_mrn": "mrn-0001", "reason": "Request"})
    assert response.status_code == 302
    assert Patient.objects.get(pk=patient.pk).anonymised_at is not None
    response = client.post(url, {"confirm_mrn": "anything", "reason": "Again"}, follow=True)
    assert "already anonymised" in response.content.decode()


@pytest.mark.parametrize("persona", ["front_desk", "nurse", "physician", "outsider"])
def test_it_refuses_the_confirmation_page_without_the_role(client, personas, patient, persona):
    client.force_login(personas[persona])
    url = reverse("patient_anonymise", args=[patient.pk])
    assert client.get(url).status_code == 403
    assert client.post(url, {"confirm_mrn": "MRN-0001", "reason": "x"}).status_code == 403
    assert Patient.objects.get(pk=patient.pk).anonymised_at is None


def test_it_refuses_email_on_an_anonymised_patient(admin_user, patient):
    patient_anonymise(actor=admin_user, patient=patient, reason="Request")
    patient.refresh_from_db()
    patient.email = "new@example.com"
    with pytest.raises(Exception, match="anonymised"):
        patient.full_clean()


def test_it_keeps_names_out_of_the_audit_of_a_filtered_export(client, physician, full_record):
    client.force_login(physician)
    client.get(reverse("response_list"), {"_export": "csv", "q": "Jensen"})
    row = AuditEvent.objects.get(user=physician, action=AuditEvent.Action.EXPORT)
    assert "Jensen" not in row.detail
    assert "q=" in row.detail


def test_it_keeps_the_patients_name_out_of_any_audit_detail(nurse, patient):
    row = audit_record(
        user=nurse,
        action=AuditEvent.Action.CHANGE,
        obj=patient,
        patient=patient,
        detail="hard stop override: Karen Jensen (MRN-0001) agreed by phone",
    )
    assert row.detail == "hard stop override: [removed] ([removed]) agreed by phone"


def test_it_refuses_to_anonymise_a_patient_with_an_upcoming_appointment(admin_user, calendar):
    booked = AppointmentFactory(calendar=calendar)
    with pytest.raises(Refused, match="cancel their upcoming appointments first"):
        patient_anonymise(actor=admin_user, patient=booked.patient, reason="Request")
    assert Patient.objects.get(pk=booked.patient_id).anonymised_at is None


def test_it_asks_a_reason_before_exporting_another_sites_patient(client, manager, calendar):
    away = AppointmentFactory(patient=PatientFactory(mrn="AWAY-1"))
    StaffProfile.objects.get_or_create(user=manager)[0].sites.set([calendar["site"]])
    client.force_login(manager)
    response = client.get(reverse("patient_export", args=[away.patient_id]))
    assert response.status_code == 403
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.EXPORT).exists()
