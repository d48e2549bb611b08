"""Registering, finding and editing patients; the clinical record and its audit trail."""

import datetime

import pytest
from django.apps import apps
from django.contrib import admin
from django.urls import reverse
from knox.models import AuthToken
from rest_framework.test import APIClient
from simple_history.admin import SimpleHistoryAdmin

from clinic.models import (
    Allergy,
    AuditEvent,
    BreakGlass,
    CrossSiteAccess,
    Medication,
    Patient,
    StaffProfile,
)

BORN = datetime.date(1980, 1, 1)

VALID = {
    "mrn": "mrn-0042 ",
    "first_name": "Oliver",
    "last_name": "Smith",
    "date_of_birth": "1975-09-30",
    "sex": "male",
    "email": "oliver@example.com",
    "phone": "+44 20 7946 0000",
    "preferred_language": "en",
    "email_consent": "on",
}


def post_patient(client, user, **changes):
    client.force_login(user)
    return client.post(reverse("patient_create"), {**VALID, **changes})


def test_it_registers_a_patient_and_normalises_the_mrn(client, front_desk):
    response = post_patient(client, front_desk)
    patient = Patient.objects.get()
    assert response.status_code == 302
    assert response.url == patient.get_absolute_url()
    assert patient.mrn == "MRN-0042"
    assert patient.email_consent is True
    event = AuditEvent.objects.get(action="create")
    assert (event.user, event.patient) == (front_desk, patient)


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"date_of_birth": "1975-02-30"}, "date_of_birth", "Enter a real date as YYYY-MM-DD"),
        ({"date_of_birth": "30/09/1975"}, "date_of_birth", "Enter a real date as YYYY-MM-DD"),
        ({"date_of_birth": "2999-01-01"}, "date_of_birth", "cannot be in the future"),
        ({"date_of_birth": "1850-01-01"}, "date_of_birth", "must be after 1900"),
        ({"email": "oliver@"}, "email", "Enter an email address such as name@example.com"),
        ({"email": ""}, "email", "Add an email address, or untick email consent"),
        ({"first_name": ""}, "first_name", "This field is required"),
    ],
)
def test_it_explains_every_invalid_field_and_keeps_the_input(
    client, front_desk, changes, field, message
):
    response = post_patient(client, front_desk, **changes)
    assert response.status_code == 200
    assert message in str(response.context["form"].errors[field])
    assert "Nothing was saved" in response.content.decode()
    # What the user typed is still in the form, so nothing is lost.
    assert response.context["form"]["last_name"].value() == "Smith"
    assert not Patient.objects.exists()


def test_it_refuses_a_duplicate_mrn_whatever_its_case(client, front_desk, patient):
    response = post_patient(client, front_desk, mrn="mrn-0001")
    assert "Another patient already has this MRN." in response.context["form"].errors["mrn"]
    assert Patient.objects.count() == 1


def test_it_lets_a_patient_keep_their_own_mrn_when_edited(client, front_desk, patient):
    client.force_login(front_desk)
    data = {**VALID, "mrn": patient.mrn, "first_name": "Karin"}
    response = client.post(reverse("patient_edit", args=[patient.pk]), data)
    assert response.status_code == 302
    patient.refresh_from_db()
    assert patient.first_name == "Karin"
    assert patient.history.first().history_user == front_desk


@pytest.mark.parametrize(
    ("query", "found"),
    [("karen", True), ("JENSEN karen", True), ("mrn-0001", True), ("Hansen", False)],
)
def test_it_finds_patients_by_name_and_mrn(client, front_desk, patient, query, found):
    client.force_login(front_desk)
    response = client.get(reverse("patient_list"), {"q": query})
    assert (patient.mrn in response.content.decode()) is found


def test_it_finds_patients_by_date_of_birth(client, front_desk, patient):
    client.force_login(front_desk)
    assert (
        patient.mrn
        in client.get(reverse("patient_list"), {"date_of_birth": "1961-04-23"}).content.decode()
    )
    assert (
        patient.mrn
        not in client.get(reverse("patient_list"), {"date_of_birth": "1961-04-24"}).content.decode()
    )


def test_it_exports_the_patient_list_as_csv_and_audits_it(client, manager, patient):
    client.force_login(manager)
    response = client.get(reverse("patient_list"), {"_export": "csv"})
    assert response["Content-Type"].startswith("text/csv")
    assert "MRN-0001" in response.content.decode()
    assert AuditEvent.objects.filter(action="export", user=manager).exists()


def test_it_keeps_the_patient_list_query_count_flat(client, front_desk, assert_query_count_flat):
    client.force_login(front_desk)
    made = iter(range(10_000))

    def add_patients(count):
        Patient.objects.bulk_create(
            Patient(mrn=f"Q{next(made)}", first_name="A", last_name="B", date_of_birth=BORN)
            for _ in range(count)
        )

    assert_query_count_flat(client, reverse("patient_list"), add_patients)


def test_it_hides_the_clinical_record_from_the_front_desk(client, front_desk, patient):
    Allergy.objects.create(patient=patient, kind="contrast", severity="severe")
    client.force_login(front_desk)
    page = client.get(patient.get_absolute_url()).content.decode()
    assert "Karen" in page
    assert "radiculopathy" not in page
    assert "Contrast medium" not in page
    assert not AuditEvent.objects.filter(action="view").exists()


def test_it_shows_the_clinical_record_to_a_nurse_and_audits_the_read(client, nurse, patient):
    Allergy.objects.create(patient=patient, kind="contrast", severity="severe")
    Medication.objects.create(patient=patient, agent="apixaban", name="Eliquis", dose="5 mg x2")
    client.force_login(nurse)
    page = client.get(patient.get_absolute_url()).content.decode()
    assert "radiculopathy" in page
    assert "Contrast medium" in page
    assert "antithrombotic" in page
    event = AuditEvent.objects.get(action="view")
    assert (event.user, event.patient, event.ip_address) == (nurse, patient, "127.0.0.1")


def clinical_post(**extra):
    data = {
        "spinal_history": "Spinal stenosis L3-L5",
        "medications-TOTAL_FORMS": "1",
        "medications-INITIAL_FORMS": "0",
        "medications-0-agent": "warfarin",
        "medications-0-name": "Marevan",
        "medications-0-dose": "2.5 mg",
        "allergies-TOTAL_FORMS": "1",
        "allergies-INITIAL_FORMS": "0",
        "allergies-0-kind": "latex",
        "allergies-0-severity": "moderate",
    }
    return {**data, **extra}


def test_it_saves_medications_and_allergies_together(client, physician, patient):
    client.force_login(physician)
    response = client.post(reverse("patient_clinical_edit", args=[patient.pk]), clinical_post())
    assert response.status_code == 302
    assert patient.medications.get().is_antithrombotic
    assert patient.allergies.get().kind == "latex"
    assert AuditEvent.objects.filter(action="change", user=physician, patient=patient).exists()


def test_it_changes_and_removes_medications_and_allergies(client, nurse, patient):
    kept = patient.medications.create(agent="warfarin", name="Marevan", dose="2.5 mg")
    dropped = patient.allergies.create(kind="latex", severity="moderate")
    client.force_login(nurse)
    data = clinical_post(
        **{
            "medications-INITIAL_FORMS": "1",
            "medications-0-id": str(kept.pk),
            "medications-0-dose": "5 mg",
            "allergies-INITIAL_FORMS": "1",
            "allergies-0-id": str(dropped.pk),
            "allergies-0-DELETE": "on",
        }
    )
    response = client.post(reverse("patient_clinical_edit", args=[patient.pk]), data)
    assert response.status_code == 302
    assert list(patient.medications.values_list("pk", "dose")) == [(kept.pk, "5 mg")]
    assert not patient.allergies.exists()
    patient.refresh_from_db()
    assert patient.spinal_history == "Spinal stenosis L3-L5"
    assert AuditEvent.objects.filter(action="change", user=nurse, patient=patient).exists()


def test_it_saves_nothing_when_one_allergy_is_incomplete(client, nurse, patient):
    client.force_login(nurse)
    data = clinical_post(**{"allergies-0-kind": "other", "allergies-0-substance": ""})
    response = client.post(reverse("patient_clinical_edit", args=[patient.pk]), data)
    assert response.status_code == 200
    assert "Name the substance" in response.content.decode()
    assert not patient.medications.exists()
    patient.refresh_from_db()
    assert patient.spinal_history.startswith("L4-L5")


def test_it_gives_the_api_the_same_validation(front_desk, patient):
    api = APIClient()
    api.force_authenticate(front_desk)
    body = {"mrn": "mrn-0001", "first_name": "A", "last_name": "B", "date_of_birth": "2999-01-01"}
    response = api.post("/api/v1/patients/", body, format="json")
    assert response.status_code == 400
    assert "mrn" in response.data
    body["mrn"] = "NEW-1"
    response = api.post("/api/v1/patients/", body, format="json")
    assert response.data["date_of_birth"] == ["Date of birth cannot be in the future."]


def test_it_shows_clinical_fields_in_the_api_only_to_clinical_roles(front_desk, nurse, patient):
    api = APIClient()
    api.force_authenticate(front_desk)
    assert "spinal_history" not in api.get(f"/api/v1/patients/{patient.pk}/").data
    api.force_authenticate(nurse)
    data = api.get(f"/api/v1/patients/{patient.pk}/").data
    assert data["spinal_history"].startswith("L4-L5")
    assert AuditEvent.objects.filter(action="view", user=nurse).exists()


def test_it_searches_patients_through_the_api(front_desk, patient):
    api = APIClient()
    api.force_authenticate(front_desk)
    assert api.get("/api/v1/patients/", {"q": "jensen"}).data["count"] == 1
    assert api.get("/api/v1/patients/", {"q": "nobody"}).data["count"] == 0


def test_it_issues_api_tokens_for_a_valid_login(client, nurse):
    response = client.post(
        "/api/v1/auth/token/", {"username": "nurse", "password": "correct-horse-battery"}
    )
    token = response.json()["token"]
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert api.get("/api/v1/patients/").status_code == 200


# --- Front desk: demographics yes, clinical notes no -----------------------------------


def test_it_keeps_the_clinical_note_out_of_the_front_desk_edit_form(client, front_desk, patient):
    client.force_login(front_desk)
    url = reverse("patient_edit", args=[patient.pk])
    page = client.get(url).content.decode()
    assert "radiculopathy" not in page
    assert "spinal_history" not in page
    data = {
        "mrn": patient.mrn,
        "first_name": "Karin",
        "last_name": patient.last_name,
        "date_of_birth": "1961-04-23",
        "sex": "female",
        "email": patient.email,
        "phone": "+45 11 22 33 44",
        "preferred_language": "da",
        "email_consent": "on",
        "spinal_history": "overwritten by the front desk",
    }
    assert client.post(url, data).status_code == 302
    patient.refresh_from_db()
    assert (patient.first_name, patient.phone) == ("Karin", "+45 11 22 33 44")
    assert patient.spinal_history.startswith("L4-L5")


def test_it_ignores_clinical_fields_the_front_desk_sends_to_the_api(front_desk, patient):
    api = APIClient()
    api.force_authenticate(front_desk)
    response = api.patch(
        f"/api/v1/patients/{patient.pk}/", {"spinal_history": "changed"}, format="json"
    )
    assert response.status_code == 200
    assert "spinal_history" not in response.data
    patient.refresh_from_db()
    assert patient.spinal_history.startswith("L4-L5")


@pytest.mark.parametrize(
    ("field", "value"),
    [("date_of_birth", "1975-02-30"), ("email", "karen@"), ("mrn", "mrn-0001")],
)
def test_it_refuses_impossible_values_through_the_api(front_desk, patient, field, value):
    api = APIClient()
    api.force_authenticate(front_desk)
    body = {"mrn": "NEW-2", "first_name": "A", "last_name": "B", "date_of_birth": "1975-09-30"}
    response = api.post("/api/v1/patients/", {**body, field: value}, format="json")
    assert response.status_code == 400
    assert field in response.data


# --- Every read of a clinical record is attributable -----------------------------------


def test_it_audits_opening_the_clinical_edit_form(client, physician, patient):
    client.force_login(physician)
    assert client.get(reverse("patient_clinical_edit", args=[patient.pk])).status_code == 200
    event = AuditEvent.objects.get(action="view")
    assert (event.user, event.patient) == (physician, patient)


def test_it_audits_each_clinical_record_an_api_list_shows(nurse, patient, other_patient):
    api = APIClient()
    api.force_authenticate(nurse)
    assert api.get("/api/v1/patients/").data["count"] == 2
    events = AuditEvent.objects.filter(action="view", user=nurse)
    assert {e.patient for e in events} == {patient, other_patient}
    assert all(e.ip_address == "127.0.0.1" for e in events)


def test_it_does_not_audit_a_list_without_clinical_fields(front_desk, patient):
    api = APIClient()
    api.force_authenticate(front_desk)
    assert api.get("/api/v1/patients/").status_code == 200
    assert not AuditEvent.objects.exists()


def test_it_audits_clinical_reads_in_the_django_admin(client, manager, patient):
    medication = Medication.objects.create(patient=patient, agent="warfarin", name="Marevan")
    client.force_login(manager)
    assert client.get(reverse("admin:clinic_patient_change", args=[patient.pk])).status_code == 200
    assert client.get(reverse("admin:clinic_patient_history", args=[patient.pk])).status_code == 200
    details = set(AuditEvent.objects.filter(user=manager, patient=patient).values_list("detail"))
    assert details == {("clinical record (admin)",), ("clinical record history (admin)",)}
    # The manager holds no medication permissions: no admin page, so nothing to audit.
    url = reverse("admin:clinic_medication_change", args=[medication.pk])
    assert client.get(url).status_code in {302, 403}


def test_it_lets_a_manager_read_but_not_rewrite_the_clinical_note_in_the_admin(
    client, manager, patient
):
    client.force_login(manager)
    url = reverse("admin:clinic_patient_change", args=[patient.pk])
    assert "radiculopathy" in client.get(url).content.decode()
    data = {
        "mrn": patient.mrn,
        "first_name": "Karin",
        "last_name": patient.last_name,
        "date_of_birth": "1961-04-23",
        "sex": "female",
        "email": patient.email,
        "phone": patient.phone,
        "preferred_language": "da",
        "email_consent": "on",
        "spinal_history": "rewritten by the manager",
        "_save": "Save",
    }
    assert client.post(url, data).status_code == 302
    patient.refresh_from_db()
    assert patient.first_name == "Karin"
    assert patient.spinal_history.startswith("L4-L5")
    assert patient.history.first().history_user == manager


def test_it_lets_a_clinical_admin_edit_the_note_in_the_admin(client, admin_user, patient):
    client.force_login(admin_user)
    url = reverse("admin:clinic_patient_change", args=[patient.pk])
    data = {
        "mrn": patient.mrn,
        "first_name": patient.first_name,
        "last_name": patient.last_name,
        "date_of_birth": "1961-04-23",
        "sex": "female",
        "email": patient.email,
        "phone": patient.phone,
        "preferred_language": "da",
        "email_consent": "on",
        "spinal_history": "Spinal stenosis L3-L5",
        "_save": "Save",
    }
    for prefix in ["medications", "allergies"]:
        data.update({f"{prefix}-TOTAL_FORMS": "0", f"{prefix}-INITIAL_FORMS": "0"})
    response = client.post(url, data)
    assert response.status_code == 302, response.context and response.context["errors"]
    patient.refresh_from_db()
    assert patient.spinal_history == "Spinal stenosis L3-L5"
    assert patient.history.first().history_user == admin_user


FOUNDATION_MODELS = [
    model
    for model in apps.get_app_config("clinic").get_models()
    if model.__module__ == "clinic.models" and not model.__name__.startswith("Historical")
]


@pytest.mark.parametrize("model", FOUNDATION_MODELS, ids=lambda m: m.__name__)
def test_it_puts_every_clinic_model_in_the_admin_with_its_history(model):
    model_admin = admin.site._registry.get(model)
    assert model_admin is not None, f"{model.__name__} is not in the admin"
    if model in (AuditEvent, BreakGlass, CrossSiteAccess):
        # Append-only records: nobody may change them, so they need no history.
        assert not model_admin.has_change_permission(None)
        return
    assert isinstance(model_admin, SimpleHistoryAdmin)
    assert hasattr(model, "history")


def test_it_covers_patient_medication_and_allergy_models():
    assert {Patient, Medication, Allergy, StaffProfile} <= set(FOUNDATION_MODELS)


def test_it_records_the_api_user_in_the_history_of_token_changes(manager, patient):
    from clinic.models import ProcedureType

    _, token = AuthToken.objects.create(user=manager)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    rfa = ProcedureType.objects.get(code="rfa")
    assert (
        api.patch(f"/api/v1/procedure-types/{rfa.pk}/", {"recovery_minutes": 50}).status_code == 200
    )
    assert api.patch(f"/api/v1/patients/{patient.pk}/", {"phone": "+45 9"}).status_code == 200
    assert rfa.history.first().history_user == manager
    assert patient.history.first().history_user == manager
    event = AuditEvent.objects.get(action="change")
    assert (event.user, event.patient) == (manager, patient)
