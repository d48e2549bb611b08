"""Issue 10, clinical safety: a superuser is not a clinician, and the Django admin does not
rewrite the record around the rules."""

import pytest
from django.contrib.auth.models import User
from django.urls import reverse
from rest_framework.test import APIClient

from clinic.nursing import services
from clinic.nursing.models import ChecklistAnswer, Phase
from clinic.roles import Role, clinical_role_allows
from followup.models import Alert, Response
from scheduling.models import Appointment, Status
from scheduling.selectors import may_set_status
from scheduling.services import TransitionRefused
from tests import nursing_fixtures as nf
from tests import survey_fixtures as sf
from tests.factories import PASSWORD, StaffFactory


@pytest.fixture
def superuser(db):
    """A break-glass account: every has_perm is true, but it holds no clinical role."""
    return User.objects.create_superuser("root", "root@example.com", PASSWORD)


@pytest.fixture
def appointment(calendar, patient):
    return nf.make_appointment(calendar, patient)


def test_it_grants_clinical_acts_by_clinical_role_only(superuser, nurse, physician, manager):
    assert superuser.has_perm("nursing.add_checklistanswer")
    assert not clinical_role_allows(superuser, "nursing.add_checklistanswer")
    assert not clinical_role_allows(superuser, "nursing.override_hard_stop")
    assert clinical_role_allows(nurse, "nursing.add_checklistanswer")
    assert not clinical_role_allows(nurse, "nursing.override_hard_stop")
    assert clinical_role_allows(physician, "nursing.override_hard_stop")
    assert not clinical_role_allows(manager, "nursing.view_checklistanswer")


def test_it_does_not_let_a_superuser_nurse_override_a_hard_stop(calendar, patient, physician):
    """A nurse who is also a superuser gets a nurse's acts, not a physician's."""
    nurse_root = StaffFactory(username="nurseroot", role=Role.NURSE, is_superuser=True)
    appointment = nf.make_appointment(calendar, patient)
    assert clinical_role_allows(nurse_root, "nursing.add_checklistanswer")
    with pytest.raises(TransitionRefused, match="Only a physician can override"):
        services.procedure_start(actor=nurse_root, appointment=appointment, override_reason="Go")


def test_it_refuses_a_superuser_signing_the_checklist(appointment, superuser):
    with pytest.raises(services.NursingRefused, match="Only a nurse or a physician"):
        nf.answer_items(appointment, superuser, [Phase.PRE_PROCEDURE])
    with pytest.raises(services.NursingRefused, match="Only a nurse or a physician"):
        services.checklist_sign(actor=superuser, appointment=appointment, phase=Phase.SIGN_IN)
    assert not ChecklistAnswer.objects.filter(appointment=appointment).exists()


def test_it_refuses_the_checklist_page_to_a_superuser(client, appointment, superuser):
    client.force_login(superuser)
    url = reverse("nursing_checklist", args=[appointment.pk, Phase.PRE_PROCEDURE.value])
    response = client.post(url, {"action": "sign"})
    assert response.status_code == 403
    assert "Only a nurse or a physician" in response.content.decode()
    assert not ChecklistAnswer.objects.filter(appointment=appointment).exists()


def test_it_refuses_the_checklist_api_to_a_superuser(appointment, superuser):
    api = APIClient()
    api.force_authenticate(superuser)
    response = api.post(
        reverse("api_nursing_checklist", args=[appointment.pk]),
        {"answers": [{"item": "consent", "value": "yes"}]},
        format="json",
    )
    assert response.status_code == 403
    assert not ChecklistAnswer.objects.filter(appointment=appointment).exists()


def test_it_refuses_a_superuser_starting_a_procedure(appointment, nurse, physician, superuser):
    nf.ready_to_start(appointment, nurse, physician)
    for reason in ("", "Break glass"):
        with pytest.raises(TransitionRefused, match="Only a nurse or a physician"):
            services.procedure_start(
                actor=superuser, appointment=appointment, override_reason=reason
            )
    appointment.refresh_from_db()
    assert appointment.status == Status.CHECKED_IN
    assert not may_set_status(superuser, Status.IN_PROCEDURE)


def test_it_refuses_the_start_page_to_a_superuser(client, appointment, nurse, physician, superuser):
    nf.ready_to_start(appointment, nurse, physician)
    client.force_login(superuser)
    response = client.post(reverse("nursing_start", args=[appointment.pk]))
    assert response.status_code == 403
    appointment.refresh_from_db()
    assert appointment.status == Status.CHECKED_IN


def test_it_still_lets_a_nurse_sign_and_start(client, appointment, nurse, physician):
    nf.ready_to_start(appointment, nurse, physician)
    client.force_login(nurse)
    response = client.post(reverse("nursing_start", args=[appointment.pk]))
    assert response.status_code == 302
    appointment.refresh_from_db()
    assert appointment.status == Status.IN_PROCEDURE
    assert ChecklistAnswer.objects.filter(appointment=appointment, signed_by=nurse).exists()


# --- The Django admin is read-only for the record ---------------------------------------


@pytest.fixture
def admin_users(manager, admin_user, superuser):
    return [manager, admin_user, superuser]


def _assert_admin_post_changes_nothing(client, users, obj, url_name, data):
    before = type(obj).objects.filter(pk=obj.pk).values().get()
    url = reverse(url_name, args=[obj.pk])
    for user in users:
        client.force_login(user)
        response = client.post(url, data)
        assert response.status_code == 403, user
        assert type(obj).objects.filter(pk=obj.pk).values().get() == before, user


def test_it_keeps_appointments_read_only_in_the_admin(
    client, calendar, patient, admin_users, superuser
):
    appointment = nf.make_appointment(calendar, patient, status=Status.CONFIRMED)
    other = type(patient).objects.create(
        mrn="X-2", first_name="Other", last_name="Patient", date_of_birth="1970-01-01"
    )
    _assert_admin_post_changes_nothing(
        client,
        admin_users,
        appointment,
        "admin:scheduling_appointment_change",
        {"status": Status.DISCHARGED, "patient": other.pk},
    )
    # The history stays visible; no old version is saved back through it.
    client.force_login(superuser)
    history = reverse("admin:scheduling_appointment_history", args=[appointment.pk])
    assert client.get(history).status_code == 200
    version = appointment.history.first().history_id
    url = reverse("admin:scheduling_appointment_simple_history", args=[appointment.pk, version])
    assert client.post(url, {"status": Status.DISCHARGED}).status_code == 403
    assert (
        client.post(
            reverse("admin:scheduling_appointment_delete", args=[appointment.pk]), {"post": "yes"}
        ).status_code
        == 403
    )
    assert Appointment.objects.get(pk=appointment.pk).status == Status.CONFIRMED


def test_it_keeps_signed_nursing_records_read_only_in_the_admin(
    client, appointment, nurse, admin_users
):
    answer = nf.answer_items(appointment, nurse, [Phase.PRE_PROCEDURE])[0]
    _assert_admin_post_changes_nothing(
        client, admin_users, answer, "admin:nursing_checklistanswer_change", {"value": '"no"'}
    )


def test_it_keeps_followup_responses_and_alerts_read_only_in_the_admin(
    client, calendar, patient, admin_users
):
    appointment = nf.make_appointment(calendar, patient, status=Status.DISCHARGED)
    response = sf.make_response(sf.make_invitation(appointment))
    alert = sf.make_alert(response)
    _assert_admin_post_changes_nothing(
        client, admin_users, response, "admin:followup_response_change", {"pgic": 7}
    )
    _assert_admin_post_changes_nothing(
        client, admin_users, alert, "admin:followup_alert_change", {"detail": "Nothing"}
    )
    assert Response.objects.count() == 1 and Alert.objects.count() == 1
