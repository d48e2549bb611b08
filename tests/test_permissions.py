"""The role/permission matrix of every page and API endpoint of the foundation."""

import pytest
from django.urls import URLPattern, get_resolver, reverse
from rest_framework.test import APIClient

from clinic.models import Patient, ProcedureType

ROLES = ["front_desk", "nurse", "physician", "manager", "admin", "outsider"]
ALL_STAFF = {"front_desk", "nurse", "physician", "manager", "admin"}
DEMOGRAPHICS_WRITERS = {"front_desk", "manager", "admin"}
CLINICAL_WRITERS = {"nurse", "physician", "admin"}
CATALOGUE_WRITERS = {"manager", "admin"}
AUDIT_READERS = {"manager", "admin"}

# (url name, needs a patient / procedure type argument, roles allowed)
PAGES = [
    ("patient_list", None, ALL_STAFF),
    ("patient_create", None, DEMOGRAPHICS_WRITERS),
    ("patient_detail", "patient", ALL_STAFF),
    ("patient_edit", "patient", DEMOGRAPHICS_WRITERS),
    ("patient_clinical_edit", "patient", CLINICAL_WRITERS),
    ("indication_create", "patient", CLINICAL_WRITERS),
    ("diagnosis_options", None, ALL_STAFF),
    ("patient_merge", "patient", {"front_desk", "manager"}),
    ("procedure_type_list", None, ALL_STAFF),
    ("procedure_type_detail", "procedure_type", ALL_STAFF),
    ("procedure_type_create", None, CATALOGUE_WRITERS),
    ("procedure_type_edit", "procedure_type", CATALOGUE_WRITERS),
    ("audit_list", None, AUDIT_READERS),
]
OPEN_TO_ANY_LOGIN = ["home", "password_change"]


def page_url(name, arg, patient):
    if arg == "patient":
        return reverse(name, args=[patient.pk])
    if arg == "procedure_type":
        return reverse(name, args=[ProcedureType.objects.get(code="rfa").pk])
    return reverse(name)


@pytest.mark.parametrize(("name", "arg", "allowed"), PAGES)
def test_it_allows_each_role_only_its_pages(client, personas, patient, name, arg, allowed):
    url = page_url(name, arg, patient)
    for role in ROLES:
        client.force_login(personas[role])
        status = client.get(url).status_code
        assert status == (200 if role in allowed else 403), f"{role} on {name}: {status}"


@pytest.mark.parametrize(("name", "arg", "allowed"), PAGES)
def test_it_sends_anonymous_visitors_to_the_login_page(client, patient, name, arg, allowed):
    url = page_url(name, arg, patient)
    response = client.get(url)
    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))


@pytest.mark.parametrize("name", OPEN_TO_ANY_LOGIN)
def test_it_opens_the_start_and_password_pages_to_any_login(client, personas, name):
    assert client.get(reverse(name)).status_code == 302
    for role in ROLES:
        client.force_login(personas[role])
        assert client.get(reverse(name)).status_code == 200


def test_it_lets_only_managers_and_admins_into_the_django_admin(client, personas):
    for role in ROLES:
        client.force_login(personas[role])
        status = client.get(reverse("admin:index")).status_code
        assert status == (200 if role in {"manager", "admin"} else 302), role


def test_it_keeps_the_health_endpoint_and_login_page_public(client, db):
    assert client.get(reverse("login")).status_code == 200
    assert client.get(reverse("healthz")).status_code == 200


# API: (method, path builder, body, roles allowed, success status)
def api_cases(patient, procedure_type):
    new_patient = {
        "mrn": "API-1",
        "first_name": "Ole",
        "last_name": "Berg",
        "date_of_birth": "1970-01-02",
        "sex": "male",
        "preferred_language": "da",
    }
    return [
        ("get", "/api/v1/patients/", None, ALL_STAFF, 200),
        ("get", f"/api/v1/patients/{patient.pk}/", None, ALL_STAFF, 200),
        ("post", "/api/v1/patients/", new_patient, DEMOGRAPHICS_WRITERS, 201),
        ("patch", f"/api/v1/patients/{patient.pk}/", {"phone": "+45 1"}, DEMOGRAPHICS_WRITERS, 200),
        ("get", "/api/v1/procedure-types/", None, ALL_STAFF, 200),
        ("get", f"/api/v1/procedure-types/{procedure_type.pk}/", None, ALL_STAFF, 200),
        (
            "patch",
            f"/api/v1/procedure-types/{procedure_type.pk}/",
            {"recovery_minutes": 40},
            CATALOGUE_WRITERS,
            200,
        ),
    ]


def test_it_applies_the_same_role_rules_to_the_api(personas, patient):
    procedure_type = ProcedureType.objects.get(code="rfa")
    for method, path, body, allowed, success in api_cases(patient, procedure_type):
        for role in ROLES:
            api = APIClient()
            api.force_authenticate(personas[role])
            if method == "post":
                body = {**body, "mrn": f"API-{role}"}
            response = getattr(api, method)(path, body, format="json")
            expected = success if role in allowed else 403
            assert response.status_code == expected, f"{role} {method} {path}: {response.data}"


def test_it_answers_401_to_anonymous_api_calls(db, patient):
    procedure_type = ProcedureType.objects.get(code="rfa")
    for method, path, body, _allowed, _success in api_cases(patient, procedure_type):
        response = getattr(APIClient(), method)(path, body, format="json")
        assert response.status_code == 401, f"{method} {path}"


def test_it_offers_no_api_for_deleting_patients(personas, patient):
    api = APIClient()
    api.force_authenticate(personas["admin"])
    assert api.delete(f"/api/v1/patients/{patient.pk}/").status_code in {403, 405}
    assert Patient.objects.filter(pk=patient.pk).exists()


def test_it_serves_the_schema_and_docs_to_staff_only(client, personas, settings):
    settings.API_DOCS_UI = True
    assert client.get("/api/schema/").status_code in {401, 403}
    assert client.get("/api/docs/")["Location"].startswith(reverse("login"))
    client.force_login(personas["front_desk"])
    for path in ["/api/schema/", "/api/docs/"]:
        assert client.get(path).status_code == 200


# --- The role matrix covers every page of the foundation --------------------------------

# Foundation URLs tested elsewhere: public ones, the admin and the API (by path).
# cross_site_open is POST-only and tested in tests/test_site_scoping.py.
# Tested in their own files; the outbox pages exist only in debug mode (test_first_ten_minutes).
FOUNDATION_ELSEWHERE = {
    "healthz",
    "api_token",
    "api_schema",
    "api_docs",
    "cross_site_open",
    "indication_edit",  # one referral's page: tests/test_referrals.py
    "outbox_list",
    "outbox_detail",
}


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
