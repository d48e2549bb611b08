"""Foundation audit: settings, the role matrix, the clinical read trail and demo logins."""

import pytest
from django.apps import apps
from django.contrib import admin
from django.core.exceptions import ImproperlyConfigured
from django.urls import URLPattern, get_resolver, reverse
from knox.models import AuthToken
from rest_framework.test import APIClient
from simple_history.admin import SimpleHistoryAdmin

from clinic import env
from clinic.models import Allergy, AuditEvent, Medication, Patient, StaffProfile
from tests.conftest import make_staff
from tests.test_permissions import OPEN_TO_ANY_LOGIN, PAGES, ROLES
from tests.test_settings import run_manage

# --- Settings refuse bad values with a clear message ------------------------------------


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"DJANGO_DEBUG": "maybe"}, "DJANGO_DEBUG must be true or false"),
        ({"DATABASE_URL": "mysql://root@localhost/clinic"}, "DATABASE_URL must start with"),
        ({"REDIS_URL": "amqp://localhost//"}, "REDIS_URL must start with"),
        ({"TIME_ZONE": "Europe/Aarhus"}, "TIME_ZONE must be an IANA time zone"),
        ({"SITE_URL": "clinic.example.org"}, "SITE_URL must start with"),
        ({"LOG_LEVEL": "verbose"}, "LOG_LEVEL must be one of"),
        ({"DEFAULT_FROM_EMAIL": "clinic@"}, "DEFAULT_FROM_EMAIL must be an email address"),
        ({"EMAIL_URL": "smtp://mail.example.org:smtp"}, "EMAIL_URL has a bad port"),
        (
            {"EMAIL_URL": "smtp://a.example", "EMAIL_HOST": "b.example"},
            "Set EMAIL_URL or EMAIL_HOST, not both",
        ),
        ({"EMAIL_HOST": "mail.example.org", "EMAIL_PORT": "x"}, "EMAIL_PORT must be a whole"),
        ({"SESSION_COOKIE_AGE": "10"}, "SESSION_COOKIE_AGE must be at least 60"),
        ({"FOLLOWUP_REMINDER_LOCAL_TIME": "25:00"}, "FOLLOWUP_REMINDER_LOCAL_TIME must be"),
        ({"FOLLOWUP_DIARY_OFFSETS_MINUTES": "30,soon"}, "FOLLOWUP_DIARY_OFFSETS_MINUTES must"),
        (
            {"FOLLOWUP_STUCK_AFTER_MINUTES": "1", "FOLLOWUP_SEND_TIME_LIMIT": "120"},
            "FOLLOWUP_STUCK_AFTER_MINUTES must be longer",
        ),
    ],
)
def test_it_stops_start_up_on_a_bad_setting_with_its_name(environ, message):
    result = run_manage("check", **environ)
    assert result.returncode != 0
    assert message in result.stderr


@pytest.mark.parametrize(
    "value", ["clinic@example.org", "Spine Clinic <clinic@example.org>", "<clinic@example.org>"]
)
def test_it_accepts_a_from_address_with_a_display_name(monkeypatch, value):
    monkeypatch.setenv("DEFAULT_FROM_EMAIL", value)
    assert env.env_email("DEFAULT_FROM_EMAIL", "") == value


@pytest.mark.parametrize("value", ["on call", "@example.org", "Clinic clinic@example.org"])
def test_it_rejects_what_is_not_an_address(monkeypatch, value):
    monkeypatch.setenv("DEFAULT_FROM_EMAIL", value)
    with pytest.raises(ImproperlyConfigured, match="must be an email address"):
        env.env_email("DEFAULT_FROM_EMAIL", "")


def test_it_configures_smtp_from_host_and_port_instead_of_a_url():
    code = (
        "from django.conf import settings as s;"
        "print(s.EMAIL_BACKEND, s.EMAIL_HOST, s.EMAIL_PORT, s.EMAIL_HOST_USER,"
        " s.EMAIL_HOST_PASSWORD, s.EMAIL_USE_TLS, s.EMAIL_USE_SSL)"
    )
    result = run_manage(
        "shell",
        "-c",
        code,
        EMAIL_HOST="mail.example.org",
        EMAIL_PORT="587",
        EMAIL_HOST_USER="mailer",
        EMAIL_HOST_PASSWORD="p@ss",
        EMAIL_USE_TLS="true",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[-7:] == [
        "django.core.mail.backends.smtp.EmailBackend",
        "mail.example.org",
        "587",
        "mailer",
        "p@ss",
        "True",
        "False",
    ]


# --- The role matrix covers every page of the foundation --------------------------------

# Foundation URLs tested elsewhere: public ones, the admin and the API (by path).
FOUNDATION_ELSEWHERE = {"healthz", "api_token", "api_schema", "api_docs"}


def foundation_url_names():
    for pattern in get_resolver("clinic.urls").url_patterns:
        if isinstance(pattern, URLPattern) and pattern.name:
            yield pattern.name


def test_it_lists_every_foundation_page_in_the_role_matrix():
    in_matrix = {name for name, _arg, _allowed in PAGES} | set(OPEN_TO_ANY_LOGIN)
    unlisted = set(foundation_url_names()) - in_matrix - FOUNDATION_ELSEWHERE
    assert not unlisted, f"pages missing from tests/test_permissions.py PAGES: {unlisted}"


def test_it_opens_the_password_change_confirmation_to_any_login_only(client, personas):
    url = reverse("password_change_done")
    assert client.get(url).url.startswith(reverse("login"))
    for role in ROLES:
        client.force_login(personas[role])
        assert client.get(url).status_code == 200


def test_it_logs_out_by_post_and_then_asks_for_a_login(client, nurse):
    client.force_login(nurse)
    response = client.post(reverse("logout"))
    assert response.status_code == 302
    assert client.get(reverse("patient_list")).url.startswith(reverse("login"))


def test_it_answers_403_to_a_logged_in_api_user_without_a_role(personas, patient):
    api = APIClient()
    api.force_authenticate(personas["outsider"])
    paths = ["/api/v1/patients/", f"/api/v1/patients/{patient.pk}/", "/api/v1/procedure-types/"]
    for path in paths:
        assert api.get(path).status_code == 403, path


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
    if model is AuditEvent:
        # The audit trail is append-only: nobody may change it, so it needs no history.
        assert not model_admin.has_change_permission(None)
        return
    assert isinstance(model_admin, SimpleHistoryAdmin)
    assert hasattr(model, "history")


def test_it_covers_patient_medication_and_allergy_models():
    assert {Patient, Medication, Allergy, StaffProfile} <= set(FOUNDATION_MODELS)


# --- Demo logins never work in production mode -----------------------------------------


@pytest.fixture
def demo_nurse(db):
    user = make_staff("nurse.demo", role=None)
    from django.contrib.auth.models import Group

    from clinic.roles import Role, group_name

    user.groups.add(Group.objects.get(name=group_name(Role.NURSE)))
    StaffProfile.objects.filter(user=user).update(is_demo=True)
    return user


def test_it_refuses_a_demo_users_api_token_in_production(settings, demo_nurse):
    settings.DEMO_LOGINS_ALLOWED = True
    _, token = AuthToken.objects.create(user=demo_nurse)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert api.get("/api/v1/patients/").status_code == 200

    settings.DEMO_LOGINS_ALLOWED = False

    assert api.get("/api/v1/patients/").status_code == 401


def test_it_ends_a_demo_users_session_in_production(client, settings, demo_nurse):
    settings.DEMO_LOGINS_ALLOWED = True
    client.force_login(demo_nurse)
    assert client.get(reverse("patient_list")).status_code == 200

    settings.DEMO_LOGINS_ALLOWED = False

    assert client.get(reverse("patient_list")).url.startswith(reverse("login"))


def test_it_refuses_a_demo_password_on_the_login_page_and_token_endpoint(
    client, settings, demo_nurse
):
    settings.DEMO_LOGINS_ALLOWED = False
    credentials = {"username": "nurse.demo", "password": "correct-horse-battery"}
    response = client.post(reverse("login"), credentials)
    assert response.status_code == 200
    assert not response.wsgi_request.user.is_authenticated
    assert client.post("/api/v1/auth/token/", credentials).status_code == 400


# --- /healthz answers a load balancer's probe -------------------------------------------


def test_it_answers_health_probes_by_ip_over_plain_http(client, db, settings):
    settings.ALLOWED_HOSTS = ["clinic.example.org"]
    settings.SECURE_SSL_REDIRECT = True
    response = client.get("/healthz", HTTP_HOST="10.0.0.7:8000")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"
    # Everything else still checks the host and redirects to HTTPS.
    assert client.get("/accounts/login/", HTTP_HOST="10.0.0.7:8000").status_code == 400
    login = client.get("/accounts/login/", HTTP_HOST="clinic.example.org")
    assert login.status_code == 301
    assert login.url.startswith("https://")


# --- seed_demo: a second run changes nothing in any app ---------------------------------


def every_row_count():
    from django.contrib.auth import get_user_model

    User = get_user_model()
    models = [
        model
        for label in ["clinic", "scheduling", "followup", "auth"]
        for model in apps.get_app_config(label).get_models()
    ]
    models += [User.groups.through, StaffProfile.credentials.through]
    return {model._meta.label: model._default_manager.count() for model in models}


@pytest.mark.django_db
def test_it_adds_nothing_in_any_app_when_seed_demo_runs_again(settings):
    import io

    from django.core.management import call_command

    settings.DEMO_LOGINS_ALLOWED = True
    call_command("seed_demo", "--patients", "40", stdout=io.StringIO())
    before = every_row_count()
    assert before["scheduling.Appointment"] > 0

    call_command("seed_demo", "--patients", "40", stdout=io.StringIO())

    assert every_row_count() == before


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
