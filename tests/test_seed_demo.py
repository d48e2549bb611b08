import io

import pytest
from django.apps import apps
from django.contrib.auth import authenticate, get_user_model
from django.core.management import CommandError, call_command
from django.urls import reverse
from knox.models import AuthToken
from rest_framework.test import APIClient

from clinic.management.commands.seed_demo import DEMO_LOGINS, DEMO_PASSWORD
from clinic.models import (
    Allergy,
    Capability,
    Medication,
    Patient,
    ProcedureType,
    Room,
    Site,
    StaffProfile,
)
from clinic.roles import Role, group_name
from tests.factories import StaffFactory

User = get_user_model()


@pytest.fixture
def debug_on(settings):
    settings.DEMO_LOGINS_ALLOWED = True
    return settings


def seed(*args):
    out = io.StringIO()
    call_command("seed_demo", *args, stdout=out, stderr=out)
    return out.getvalue()


def members(role):
    return User.objects.filter(groups__name=group_name(role))


def counts():
    """Row counts of every clinic model (history included), users and the M2M tables."""
    models = [
        *apps.get_app_config("clinic").get_models(),
        User,
        User.groups.through,
        User.user_permissions.through,
        StaffProfile.credentials.through,
        apps.get_model("auth", "Group"),
    ]
    return {model._meta.label: model._default_manager.count() for model in models}


@pytest.mark.django_db
def test_it_builds_the_demo_clinic(debug_on):
    seed()

    assert Site.objects.count() == 2
    procedure_rooms = Room.objects.filter(kind=Room.Kind.PROCEDURE)
    assert procedure_rooms.count() == 4
    with_fluoro = [r for r in procedure_rooms if Capability.FLUOROSCOPY in r.capabilities]
    assert len(with_fluoro) == 3
    assert Room.objects.filter(kind=Room.Kind.RECOVERY).count() == 4
    for site in Site.objects.all():
        assert site.rooms.filter(kind=Room.Kind.RECOVERY).count() == 2
        assert site.opening_hours.count() == 5

    assert members(Role.PHYSICIAN).count() == 4
    assert members(Role.NURSE).count() == 6
    assert members(Role.FRONT_DESK).count() == 2
    assert members(Role.MANAGER).count() == 1
    assert Patient.objects.count() == 200


@pytest.mark.django_db
def test_it_gives_every_demo_user_a_demo_profile_and_one_role(debug_on):
    seed()

    usernames = [username for _, username in DEMO_LOGINS]
    assert len(usernames) == len(set(usernames)) == 14
    for label, username in DEMO_LOGINS:
        user = User.objects.get(username=username)
        assert user.staff_profile.is_demo
        assert user.staff_profile.title
        assert list(user.groups.values_list("name", flat=True)) == [label]
    manager = members(Role.MANAGER).get()
    assert manager.is_staff and not manager.is_superuser
    admin = User.objects.get(username="admin")
    # An admin by role: a superuser would pass as a clinician (issue 10).
    assert admin.is_staff and not admin.is_superuser
    assert admin.groups.filter(name=group_name(Role.ADMIN)).exists()
    assert not members(Role.NURSE).filter(is_staff=True).exists()


@pytest.mark.django_db
def test_it_credentials_two_physicians_for_everything_and_two_for_injections(debug_on):
    seed()

    every_type = ProcedureType.objects.count()
    assert every_type == 17
    injections = ProcedureType.objects.exclude(category=ProcedureType.Category.IMPLANT).exclude(
        code__in=["vertebroplasty", "kyphoplasty"]
    )
    by_count = sorted(p.staff_profile.credentials.count() for p in members(Role.PHYSICIAN))
    assert by_count == [injections.count(), injections.count(), every_type, every_type]
    for physician in members(Role.PHYSICIAN):
        codes = set(physician.staff_profile.credentials.values_list("code", flat=True))
        if len(codes) < every_type:
            assert codes == set(injections.values_list("code", flat=True))
    assert not StaffProfile.objects.exclude(user__in=members(Role.PHYSICIAN)).filter(
        credentials__isnull=False
    )


@pytest.mark.django_db
def test_it_creates_plausible_patients(debug_on):
    seed()

    patients = list(Patient.objects.all())
    assert all(p.mrn.startswith("DEMO-") and len(p.mrn) == 11 for p in patients)
    assert all(p.email.endswith("@example.com") for p in patients)
    assert all(p.phone.startswith("+45 ") for p in patients)
    assert all(1940 <= p.date_of_birth.year <= 2000 for p in patients)
    assert all(p.spinal_history for p in patients)
    assert {p.preferred_language for p in patients} == {"da", "en"}
    assert 0.75 < sum(p.email_consent for p in patients) / len(patients) < 0.95

    antithrombotic = Patient.objects.filter(
        medications__agent__in=Medication.ANTITHROMBOTIC_AGENTS
    ).distinct()
    assert 0.10 < antithrombotic.count() / len(patients) < 0.30
    with_allergy = Patient.objects.filter(allergies__isnull=False).distinct()
    assert 0.07 < with_allergy.count() / len(patients) < 0.25
    assert not Allergy.objects.filter(kind=Allergy.Kind.OTHER, substance="").exists()
    # Every demo record has its creation in the history, like records made in the app.
    assert Patient.history.count() == len(patients)


@pytest.mark.django_db
def test_it_changes_nothing_when_run_twice(debug_on):
    seed()
    before = counts()
    patients_before = list(Patient.objects.order_by("mrn").values())
    users_before = list(User.objects.order_by("username").values())

    seed()

    assert counts() == before
    assert list(Patient.objects.order_by("mrn").values()) == patients_before
    assert list(User.objects.order_by("username").values()) == users_before


@pytest.mark.django_db
def test_it_generates_the_same_patients_whatever_the_count(debug_on):
    seed("--patients", "10")
    first_ten = list(Patient.objects.order_by("mrn").values("mrn", "first_name", "email"))
    meds_of_first = Medication.objects.count()
    assert len(first_ten) == 10

    seed("--patients", "30")

    assert Patient.objects.count() == 30
    assert (
        list(Patient.objects.order_by("mrn").values("mrn", "first_name", "email")[:10]) == first_ten
    )
    assert Medication.objects.filter(patient__mrn__lte="DEMO-000010").count() == meds_of_first


@pytest.mark.django_db
def test_it_refuses_to_run_in_production(settings):
    settings.DEMO_LOGINS_ALLOWED = False

    with pytest.raises(CommandError, match="demo logins must never exist in production"):
        seed()

    assert not Site.objects.exists()
    assert not StaffProfile.objects.filter(is_demo=True).exists()


@pytest.mark.django_db
def test_it_lets_demo_users_log_in_only_while_demo_logins_are_allowed(debug_on):
    seed()
    username = DEMO_LOGINS[0][1]

    assert authenticate(username=username, password=DEMO_PASSWORD) is not None
    assert authenticate(username="dr.holm", password=DEMO_PASSWORD) is not None
    assert authenticate(username="dr.holm", password="wrong") is None

    debug_on.DEMO_LOGINS_ALLOWED = False

    assert authenticate(username=username, password=DEMO_PASSWORD) is None
    assert authenticate(username="admin", password=DEMO_PASSWORD) is None


@pytest.mark.django_db
def test_it_leaves_a_real_account_of_the_same_name_alone(debug_on):
    real = User.objects.create_user("admin", password="real-admin-password")

    seed()

    real.refresh_from_db()
    assert real.check_password("real-admin-password")
    assert not real.is_superuser
    assert not real.groups.exists()
    assert not StaffProfile.objects.filter(user=real).exists()


# --- Demo logins never work in production mode -----------------------------------------


@pytest.fixture
def demo_nurse(db):
    user = StaffFactory(username="nurse.demo", role=Role.NURSE)
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
