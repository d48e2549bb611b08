"""Every URL of the project, walked from the resolver: anonymous visitors get nothing.

A page or endpoint added later without a login check fails here, unless it is on the short
list of deliberately public ones (patient email links, the secret calendar feed, health).
"""

import re

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

# Public by design; each checks a signed token or shows nothing clinical.
PUBLIC = {
    "healthz",
    "login",
    "logout",
    "password_reset",
    "password_reset_done",
    "password_reset_confirm",
    "password_reset_complete",
    "api_token",
    "survey_start",
    "survey",
    "survey_draft",
    "survey_thanks",
    "appointment_confirm",
    "appointment_reschedule_request",
    "unsubscribe",
    "physician_feed",
    "fhir_metadata",
}
ROUTE_ARGUMENT = re.compile(r"<(?:(?P<converter>\w+):)?(?P<name>\w+)>")
REGEX_ARGUMENT = re.compile(r"\(\?P<\w+>[^)]*\)")


def concrete_paths(patterns=None, prefix=""):
    """(url name, a concrete path) for every pattern, arguments filled with dummies."""
    if patterns is None:
        patterns = get_resolver().url_patterns
    for pattern in patterns:
        route = str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            if route.startswith("admin/"):
                continue  # the Django admin has its own test
            yield from concrete_paths(pattern.url_patterns, prefix + route)
        elif isinstance(pattern, URLPattern):
            if "format" in route:
                continue  # DRF's .json/.api suffix twins of routes walked anyway
            path = REGEX_ARGUMENT.sub("1", prefix + route).replace("^", "").replace("$", "")
            path = ROUTE_ARGUMENT.sub(lambda m: "1" if m["converter"] == "int" else "x", path)
            yield pattern.name, "/" + path


PROTECTED = sorted(
    {(name, path) for name, path in concrete_paths() if name not in PUBLIC and path != "/"}
)


def test_it_walks_every_page_of_every_app():
    names = {name for name, _ in PROTECTED}
    for expected in ["patient_detail", "appointment_book", "nursing_record", "alert_list"]:
        assert expected in names
    assert len(PROTECTED) >= 100


@pytest.mark.parametrize("method", ["get", "post"])
@pytest.mark.parametrize(("name", "path"), PROTECTED)
def test_it_refuses_anonymous_visitors_everywhere_but_the_public_links(
    client, db, name, path, method
):
    response = getattr(client, method)(path)
    # The API docs are a page for people: an anonymous visitor is sent to log in.
    if path.startswith(("/api/", "/fhir/")) and name != "api_docs":
        assert response.status_code in (401, 403, 405), (name, response.status_code)
    elif response.status_code == 405:
        pass  # wrong method, refused before anything is read
    else:
        assert response.status_code == 302, (name, response.status_code)
        assert response["Location"].startswith("/accounts/login/"), name


@pytest.mark.parametrize(
    ("name", "path"), sorted({(n, p) for n, p in concrete_paths() if n in PUBLIC})
)
def test_it_answers_a_public_link_with_a_bad_token_politely(client, db, name, path):
    response = client.get(path)
    assert response.status_code < 500, name
