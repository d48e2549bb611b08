"""Issue 10: the Django admin cannot rewrite the record around the rules. Appointments, the
nursing record, follow-up responses and alerts (and the audit trail) are shown there with
their history, and never added, changed or deleted, not by a superuser nor by a manager
given the model's permissions: every change goes through the services."""

import pytest
from django.contrib import admin
from django.contrib.auth.models import Permission, User
from django.test import RequestFactory
from django.urls import reverse
from django.utils import timezone

from clinic.models import AuditEvent, BreakGlass
from clinic.nursing import services
from clinic.nursing.models import (
    Amendment,
    ChecklistAnswer,
    Discharge,
    DischargeAssessment,
    Escalation,
    HardStopOverride,
    ObservationRound,
    ProcedureNote,
    ProcedureNoteAmendment,
    TimeOutConfirmation,
)
from followup.models import Alert, EmailLog, Invitation, Response
from scheduling.models import Appointment, Status
from tests.factories import (
    PASSWORD,
    AlertFactory,
    ResponseFactory,
    TodaysAppointmentFactory,
    ready_to_discharge,
)

# Model -> a change someone might try in its admin form.
RECORD_CHANGES = {
    Appointment: {"status": Status.CONFIRMED, "room_minutes": "5"},
    ChecklistAnswer: {"value": '"no"'},
    TimeOutConfirmation: {"role": "nurse"},
    ObservationRound: {"spo2": "80", "news2_total": "0"},
    Escalation: {"called_whom": "Nobody"},
    DischargeAssessment: {"total": "10"},
    Discharge: {"instructions": "Go home"},
    HardStopOverride: {"reason": "Because"},
    Amendment: {"reason": "Rewritten", "new_value": "x"},
    ProcedureNote: {"plan": "Rewritten", "levels": "L1-L2"},
    ProcedureNoteAmendment: {"reason": "Rewritten", "new_value": "x"},
    Response: {"pgic": "7", "nrs_average": "0"},
    Alert: {"detail": "Nothing"},
    Invitation: {"status": "expired"},
    EmailLog: {"status": "sent"},
    AuditEvent: {"detail": "Nothing happened"},
    BreakGlass: {"reason": "Another reason"},
}

# Registered in the admin and editable there on purpose: protocols, plans, availability and the
# catalogue are data a manager edits. Every other model of these apps must be read-only.
EDITABLE_IN_ADMIN = {
    "nursing.checklistitem",
    "nursing.anticoagulanthold",
    "nursing.procedureprotocol",
    "nursing.procedurenotetemplate",
    "nursing.complication",
    "scheduling.physiciansession",
    "scheduling.unavailability",
    "scheduling.pathwayrule",
    "followup.careplan",
    "followup.preparationinstruction",
    "followup.instrumentwording",
    "followup.redflagquestion",
    "followup.diagnosticblockprotocol",
    "followup.recallrule",
}
GUARDED_APPS = {"scheduling", "nursing", "followup"}


@pytest.fixture
def superuser(db):
    return User.objects.create_superuser("root", "root@example.com", PASSWORD)


@pytest.fixture
def records(calendar, patient, nurse, physician, superuser):
    """One row of each record model, made as the clinic makes them (services) where it can."""
    appointment = ready_to_discharge(
        TodaysAppointmentFactory(calendar=calendar, patient=patient), nurse, physician
    )
    round_ = ObservationRound.objects.filter(appointment=appointment).first()
    answer = ChecklistAnswer.objects.filter(appointment=appointment).first()
    Escalation.objects.create(round=round_, called_whom="Dr On Call", recorded_by=nurse)
    HardStopOverride.objects.create(
        appointment=appointment,
        to_status=Status.IN_PROCEDURE,
        failures="Fasting",
        reason="Clear fluids only",
        by=physician,
    )
    Amendment.objects.create(
        answer=answer, field="value", old_value="yes", new_value="no", reason="Typo", by=nurse
    )
    services.patient_discharge(actor=nurse, appointment=appointment)
    note = services.note_save(
        actor=physician,
        appointment=appointment,
        values={"fluoroscopy_seconds": 30, "dap_mgy_cm2": "100", "contrast_ml": "1.5"},
        sign=True,
    )
    services.note_amend(actor=physician, note=note, values={"plan": "Review"}, reason="Typo")
    response = ResponseFactory(invitation__appointment=appointment)
    AlertFactory(response=response)
    EmailLog.objects.create(
        invitation=response.invitation, patient=patient, kind="survey", status="failed"
    )
    now = timezone.now()
    BreakGlass.objects.create(user=superuser, reason="Test", started_at=now, ends_at=now)
    missing = [m.__name__ for m in RECORD_CHANGES if not m.objects.exists()]
    assert not missing, missing
    return appointment


@pytest.fixture
def manager_with_model_perms(manager):
    """A manager given every permission on the record models: the admin still refuses."""
    codenames = [
        f"{verb}_{model._meta.model_name}"
        for model in RECORD_CHANGES
        for verb in ("view", "add", "change", "delete")
    ]
    manager.user_permissions.add(*Permission.objects.filter(codename__in=codenames))
    return User.objects.get(pk=manager.pk)


def _url(model, view, *args):
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


@pytest.mark.parametrize("model", list(RECORD_CHANGES), ids=lambda m: m.__name__)
def test_it_shows_the_record_read_only_and_refuses_changes(
    client, records, model, superuser, manager_with_model_perms
):
    obj = model.objects.order_by("pk").first()
    before = model.objects.filter(pk=obj.pk).values().get()
    for user in (superuser, manager_with_model_perms):
        client.force_login(user)  # audited: count the rows after it
        count = model.objects.count()
        page = client.get(_url(model, "change", obj.pk))
        assert page.status_code == 200, user
        assert page.context["has_change_permission"] is False, user
        assert 'name="_save"' not in page.content.decode(), user
        assert client.get(_url(model, "history", obj.pk)).status_code == 200, user

        change = client.post(_url(model, "change", obj.pk), RECORD_CHANGES[model])
        assert change.status_code == 403, user
        assert client.post(_url(model, "delete", obj.pk), {"post": "yes"}).status_code == 403
        assert client.post(_url(model, "add"), RECORD_CHANGES[model]).status_code == 403
        assert model.objects.filter(pk=obj.pk).values().get() == before, user
        assert model.objects.count() == count, user


def test_it_reverts_no_appointment_to_an_old_version(client, records, superuser):
    client.force_login(superuser)
    version = records.history.order_by("history_id").first().history_id
    url = reverse("admin:scheduling_appointment_simple_history", args=[records.pk, version])
    assert client.get(url).status_code == 200
    assert client.post(url, {"status": Status.CONFIRMED}).status_code == 403
    assert Appointment.objects.get(pk=records.pk).status == Status.DISCHARGED


def test_it_shows_a_signed_records_amendments_as_its_history(client, records, superuser):
    amendment = Amendment.objects.get()
    client.force_login(superuser)
    page = client.get(_url(ChecklistAnswer, "change", amendment.answer_id)).content.decode()
    assert amendment.reason in page and amendment.new_value in page


def test_it_keeps_every_record_model_of_the_clinical_apps_read_only_in_the_admin(superuser):
    """A new model registered in scheduling, nursing or follow-up is read-only there unless
    it is data a manager edits (then list it in EDITABLE_IN_ADMIN)."""
    request = RequestFactory().get("/admin/")
    request.user = superuser
    editable = []
    for model, model_admin in admin.site._registry.items():
        label = model._meta.label_lower
        if model._meta.app_label not in GUARDED_APPS or label in EDITABLE_IN_ADMIN:
            continue
        if (
            model_admin.has_add_permission(request)
            or model_admin.has_change_permission(request)
            or model_admin.has_delete_permission(request)
        ):
            editable.append(label)
    assert not editable, f"Editable in the admin, around the services: {editable}"
