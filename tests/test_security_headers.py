"""Issue 12: the headers a production response carries (tests run with production settings),
and templates that need no inline script for the Content-Security-Policy to hold."""

import re
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse

from tests.factories import PASSWORD

TEMPLATES = Path(settings.BASE_DIR) / "templates"


@pytest.fixture
def page(client, nurse):
    client.force_login(nurse)
    return client.get(reverse("home"), secure=True)


def test_it_sends_a_content_security_policy_without_inline_script(page):
    policy = page["Content-Security-Policy"]
    directives = dict(
        (part.strip().split(" ", 1) + [""])[:2] for part in policy.split(";") if part.strip()
    )
    assert directives["script-src"] == "'self'"
    assert directives["default-src"] == "'self'"
    assert directives["frame-ancestors"] == "'none'"
    assert directives["object-src"] == "'none'"
    assert "unsafe-eval" not in policy


def test_it_keeps_pages_out_of_caches_and_out_of_frames(page):
    assert "no-store" in page["Cache-Control"]
    assert page["X-Frame-Options"] == "DENY"
    assert page["X-Content-Type-Options"] == "nosniff"
    assert page["Referrer-Policy"] == "same-origin"


def test_it_sends_hsts_over_https(page):
    assert page["Strict-Transport-Security"].startswith("max-age=31536000")
    assert "includeSubDomains" in page["Strict-Transport-Security"]


def test_it_sets_secure_http_only_session_cookies_at_login(client, nurse):
    response = client.post(
        reverse("login"), {"username": nurse.username, "password": PASSWORD}, secure=True
    )
    assert response.status_code == 302
    cookie = response.cookies[settings.SESSION_COOKIE_NAME]
    assert cookie["secure"] and cookie["httponly"]
    assert cookie["samesite"] == "Lax"
    assert not cookie["expires"] and not cookie["max-age"]  # ends with the browser


def test_it_serves_the_patient_survey_under_the_same_policy(client):
    response = client.get(reverse("survey"), secure=True)
    assert "script-src 'self'" in response["Content-Security-Policy"]


INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.IGNORECASE)
EVENT_HANDLER = re.compile(r"""\s(on[a-z]+|hx-on[:\w-]*)\s*=\s*["']""", re.IGNORECASE)


@pytest.mark.parametrize("template", sorted(TEMPLATES.rglob("*.html")), ids=str)
def test_it_has_no_inline_script_in_any_template(template):
    """The policy forbids inline script: one left in a template would silently not run."""
    text = template.read_text()
    assert not INLINE_SCRIPT.search(text), "move the script to a file under static/clinic/"
    assert not EVENT_HANDLER.search(text), "attach the handler from a static script instead"
