"""Accounts a DPO would sign: no way up from the Admin role, lockout, second factor,
password policy, staff and roles managed on one audited page, logins in the audit trail."""

import io

import pytest
from django.contrib.auth import authenticate
from django.contrib.auth.models import Group, Permission, User
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.test import RequestFactory
from django.urls import reverse
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from clinic.models import AuditEvent, StaffProfile
from clinic.roles import Role, group_name
from tests.factories import PASSWORD, StaffFactory, pass_second_factor


@pytest.fixture
def otp_verified_logins():
    """Logins here go through the real second factor unless a test passes it on purpose."""
    return False


def log_in(client, user, password=PASSWORD, **extra):
    return client.post(reverse("login"), {"username": user.username, "password": password}, **extra)


def current_code(device) -> str:
    return f"{TOTP(device.bin_key, device.step, device.t0, device.digits).token():06d}"


def a_moment_later(user):
    """django-otp makes a user wait after a wrong code (1 s, then 2, 4...): let that pass."""
    TOTPDevice.objects.filter(user=user).update(throttling_failure_timestamp=None)


def enrol(client, user):
    """Log in with the password and enrol an authenticator; the recovery codes shown once."""
    log_in(client, user)
    client.get(reverse("second_factor_setup"))
    device = TOTPDevice.objects.get(user=user)
    response = client.post(reverse("second_factor_setup"), {"code": current_code(device)})
    assert response.status_code == 200
    return response.context["codes"]


# --- The Admin role cannot make itself (or anyone) superuser --------------------------------


def test_it_refuses_the_admin_roles_self_escalation_in_the_django_admin(client, admin_user):
    client.force_login(admin_user)
    pass_second_factor(client, admin_user)
    groups = list(admin_user.groups.values_list("pk", flat=True))
    url = reverse("admin:auth_user_change", args=[admin_user.pk])
    assert client.get(url).status_code == 200

    client.post(
        url,
        {
            "username": admin_user.username,
            "is_active": "on",
            "is_staff": "on",
            "is_superuser": "on",
            "groups": list(Group.objects.values_list("pk", flat=True)),
            "user_permissions": list(Permission.objects.values_list("pk", flat=True)[:20]),
            "date_joined_0": "2026-01-01",
            "date_joined_1": "08:00:00",
        },
    )

    admin_user.refresh_from_db()
    assert not admin_user.is_superuser
    assert list(admin_user.groups.values_list("pk", flat=True)) == groups
    assert not admin_user.user_permissions.exists()


def test_it_lets_no_one_but_a_superuser_edit_a_superuser(client, admin_user):
    root = User.objects.create_superuser("root", password=PASSWORD)
    client.force_login(admin_user)
    pass_second_factor(client, admin_user)
    url = reverse("admin:auth_user_change", args=[root.pk])
    client.post(url, {"username": "taken-over", "is_active": ""})
    root.refresh_from_db()
    assert (root.username, root.is_active) == ("root", True)
    password_url = reverse("admin:auth_user_password_change", args=[root.pk])
    assert (
        client.post(password_url, {"password1": "x" * 20, "password2": "x" * 20}).status_code == 403
    )
    assert client.get(reverse("staff_edit", args=[root.pk])).status_code == 403


def test_it_sends_the_admin_login_form_to_the_clinic_login(client, admin_user):
    response = client.post(
        reverse("admin:login"), {"username": admin_user.username, "password": PASSWORD}
    )
    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))
    assert "_auth_user_id" not in client.session


# --- Lockout ---------------------------------------------------------------------------------


def test_it_locks_an_account_on_the_eleventh_attempt_even_with_the_right_password(client, nurse):
    statuses = [log_in(client, nurse, "wrong-password-guess").status_code for _ in range(10)]
    assert statuses == [200] * 9 + [429]  # the tenth failure locks
    response = log_in(client, nurse)
    assert response.status_code == 429
    assert "Too many failed logins" in response.content.decode()
    assert "_auth_user_id" not in client.session
    assert AuditEvent.objects.filter(action="login_failed", user=nurse).count() >= 10
    assert AuditEvent.objects.filter(action="locked_out", user=nurse).exists()


def test_it_locks_the_api_token_endpoint_on_the_same_count(client, nurse):
    url = reverse("api_token")
    for _ in range(10):
        client.post(url, {"username": nurse.username, "password": "wrong-password-guess"})
    response = client.post(url, {"username": nurse.username, "password": PASSWORD})
    assert response.status_code == 429
    assert "Too many failed logins" in response.json()["detail"]


def test_it_locks_an_address_that_tries_many_accounts_but_not_the_others(client, nurse):
    for number in range(50):
        client.post(reverse("login"), {"username": f"guess{number}", "password": "123456789012"})
    assert log_in(client, nurse).status_code == 429
    assert log_in(client, nurse, REMOTE_ADDR="10.1.2.3").status_code == 302


def test_it_counts_a_wrong_password_anywhere_a_request_gives_one(physician):
    """The physician's co-signature on the nursing checklist authenticates like this."""
    request = RequestFactory().post("/")
    assert authenticate(request, username=physician.username, password="nope-nope-nope") is None
    assert AuditEvent.objects.filter(action="login_failed", user=physician).exists()


# --- Second factor ---------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["physician", "manager", "admin"])
def test_it_requires_a_second_factor_of_physicians_managers_and_admins(client, personas, role):
    user = personas[role]
    response = log_in(client, user)
    assert response.status_code == 302
    response = client.get(reverse("patient_list"))
    assert response.status_code == 302
    assert response.url.startswith(reverse("second_factor_setup"))
    api = client.get("/api/v1/patients/")
    assert api.status_code == 403


@pytest.mark.parametrize("role", ["front_desk", "nurse"])
def test_it_leaves_the_second_factor_optional_for_other_roles(client, personas, role):
    log_in(client, personas[role])
    assert client.get(reverse("patient_list")).status_code == 200


def test_it_requires_the_second_factor_on_the_admin_site(client, manager):
    log_in(client, manager)
    response = client.get(reverse("admin:index"))
    assert response.status_code == 302
    assert response.url.startswith(reverse("second_factor_setup"))


def test_it_enrols_an_authenticator_and_shows_the_recovery_codes_once(client, physician):
    log_in(client, physician)
    page = client.get(reverse("second_factor_setup")).content.decode()
    assert "<svg" in page and "cdn" not in page.lower()
    device = TOTPDevice.objects.get(user=physician, confirmed=False)
    assert client.post(reverse("second_factor_setup"), {"code": "000000"}).status_code == 200
    assert client.get(reverse("patient_list")).status_code == 302
    a_moment_later(physician)

    response = client.post(reverse("second_factor_setup"), {"code": current_code(device)})

    codes = response.context["codes"]
    assert len(codes) == 10 and all(code in response.content.decode() for code in codes)
    assert client.get(reverse("patient_list")).status_code == 200
    security = client.get(reverse("account_security")).content.decode()
    assert "10 recovery codes left" in security
    assert not any(code in security for code in codes)
    assert AuditEvent.objects.filter(action="change", detail__contains="enrolled").exists()


def test_it_asks_for_the_code_at_the_next_login(client, physician):
    enrol(client, physician)
    client.post(reverse("logout"))
    log_in(client, physician)
    response = client.get(reverse("patient_list"))
    assert response.url.startswith(reverse("second_factor_verify"))
    # An enrolled user cannot swap the authenticator without the code.
    assert client.get(reverse("second_factor_setup")).url.startswith(
        reverse("second_factor_verify")
    )


def test_it_takes_a_recovery_code_once(client, physician):
    codes = enrol(client, physician)
    client.post(reverse("logout"))
    log_in(client, physician)
    response = client.post(
        reverse("second_factor_verify"), {"code": codes[0], "next": reverse("patient_list")}
    )
    assert response.status_code == 302 and response.url == reverse("patient_list")
    assert client.get(reverse("patient_list")).status_code == 200

    client.post(reverse("logout"))
    log_in(client, physician)
    again = client.post(reverse("second_factor_verify"), {"code": codes[0]})

    assert again.status_code == 200
    assert "did not work" in again.content.decode()
    assert client.get(reverse("patient_list")).status_code == 302
    assert AuditEvent.objects.filter(
        action="login_failed", user=physician, detail="second factor (recovery code)"
    ).exists()


def test_it_wants_the_second_factor_for_an_api_token_of_a_physician(client, physician):
    url = reverse("api_token")
    credentials = {"username": physician.username, "password": PASSWORD}
    assert "otp_token" in client.post(url, credentials).json()
    enrol(client, physician)
    device = TOTPDevice.objects.get(user=physician)
    # The enrolment used the current code; the next step's code is accepted, once.
    code = f"{TOTP(device.bin_key, device.step, device.t0, device.digits, 1).token():06d}"
    assert client.post(url, {**credentials, "otp_token": "123456"}).status_code == 400
    a_moment_later(physician)
    response = client.post(url, {**credentials, "otp_token": code})
    assert response.status_code == 200, response.content
    assert "token" in response.json()


def test_it_lets_demo_accounts_skip_the_second_factor_while_debugging(client, settings, db):
    settings.DEMO_LOGINS_ALLOWED = True
    demo = StaffFactory(username="dr.demo", role=Role.PHYSICIAN)
    StaffProfile.objects.filter(user=demo).update(is_demo=True)
    log_in(client, demo)
    assert client.get(reverse("patient_list")).status_code == 200


def test_it_lets_an_admin_reset_a_lost_second_factor(client, admin_user, physician):
    TOTPDevice.objects.create(user=physician, name="Lost phone")
    client.force_login(admin_user)
    pass_second_factor(client, admin_user)
    client.post(reverse("staff_edit", args=[physician.pk]), {"action": "reset_second_factor"})
    assert not TOTPDevice.objects.filter(user=physician).exists()
    assert AuditEvent.objects.filter(detail="second factor reset", user=admin_user).exists()


# --- Password policy -------------------------------------------------------------------------


@pytest.mark.parametrize("weak", ["Winter2026", "spineclinic", "password1234", "123456789012"])
def test_it_refuses_weak_passwords(weak):
    with pytest.raises(ValidationError):
        validate_password(weak)


def test_it_refuses_a_weak_password_in_createsuperuser_noinput(db, monkeypatch):
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", "123")
    with pytest.raises(CommandError, match="too short"):
        call_command("createsuperuser", "--noinput", "--username=root", "--email=r@x.org")
    assert not User.objects.filter(username="root").exists()

    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", "a long and unusual passphrase")
    call_command(
        "createsuperuser", "--noinput", "--username=root", "--email=r@x.org", stdout=io.StringIO()
    )
    assert User.objects.get(username="root").is_superuser


# --- Staff page ------------------------------------------------------------------------------


def staff_post(**values):
    return {"username": "", "first_name": "", "last_name": "", "email": "", "title": "", **values}


def test_it_creates_staff_with_roles_from_the_role_list_and_audits_it(client, admin_user):
    client.force_login(admin_user)
    pass_second_factor(client, admin_user)
    weak = staff_post(
        username="nn", roles=["nurse"], password1="Winter2026", password2="Winter2026"
    )
    assert client.post(reverse("staff_create"), weak).status_code == 200
    good = "a long and unusual passphrase"
    response = client.post(
        reverse("staff_create"),
        staff_post(username="nn", is_active="on", roles=["nurse"], password1=good, password2=good),
    )
    assert response.status_code == 302
    user = User.objects.get(username="nn")
    assert list(user.groups.values_list("name", flat=True)) == [group_name(Role.NURSE)]
    assert not user.is_staff and not user.is_superuser
    assert AuditEvent.objects.filter(
        action="create", user=admin_user, object_id=str(user.pk), detail__contains="Nurse"
    ).exists()


def test_it_audits_every_role_change(client, admin_user, nurse):
    client.force_login(admin_user)
    pass_second_factor(client, admin_user)
    response = client.post(
        reverse("staff_edit", args=[nurse.pk]),
        staff_post(
            username=nurse.username,
            first_name="Nina",
            title="Nurse",
            is_active="on",
            roles=["physician", "manager"],
        ),
    )
    assert response.status_code == 302
    nurse.refresh_from_db()
    assert nurse.is_staff  # a Manager may use the admin site
    event = AuditEvent.objects.get(action="change", object_id=str(nurse.pk))
    assert event.user == admin_user
    assert event.detail == "roles: +Manager, +Physician, -Nurse"


def test_it_does_not_let_an_admin_lock_themself_out(client, admin_user):
    client.force_login(admin_user)
    pass_second_factor(client, admin_user)
    response = client.post(
        reverse("staff_edit", args=[admin_user.pk]),
        staff_post(username=admin_user.username, roles=["nurse"]),
    )
    assert response.status_code == 200
    admin_user.refresh_from_db()
    assert admin_user.is_active


def test_it_lists_filters_and_exports_staff_for_admins_only(client, personas):
    admin = personas["admin"]
    client.force_login(admin)
    pass_second_factor(client, admin)
    page = client.get(reverse("staff_list"), {"role": "physician"}).content.decode()
    assert "physician" in page and "frontdesk" not in page
    export = client.get(reverse("staff_list"), {"_export": "csv"})
    assert export["Content-Type"].startswith("text/csv")
    assert "Front desk" in export.content.decode()
    assert AuditEvent.objects.filter(action="export", detail__startswith="staff list: ").exists()
    for role in ["front_desk", "nurse", "manager"]:
        client.force_login(personas[role])
        pass_second_factor(client, personas[role])
        assert client.get(reverse("staff_list")).status_code == 403, role


# --- Login audit -----------------------------------------------------------------------------


def test_it_audits_logins_failures_and_logouts(client, nurse):
    log_in(client, nurse, "not-the-password")
    log_in(client, nurse)
    client.post(reverse("logout"))
    client.post(reverse("login"), {"username": "nobody", "password": "x"})
    rows = AuditEvent.objects.order_by("at", "pk")
    assert [(r.action, r.user) for r in rows] == [
        ("login_failed", nurse),
        ("login", nurse),
        ("logout", nurse),
        ("login_failed", None),
    ]
    assert all(r.ip_address == "127.0.0.1" for r in rows)
    assert "nobody" in rows.last().detail
