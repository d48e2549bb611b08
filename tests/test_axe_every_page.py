"""axe-core on every page each role reaches, on the demo clinic, in a real browser.

The demo clinic is seeded once (`seed_demo`, fewer patients); each role logs in once and
walks its pages from the home page: the navigation bar and its menus, then the links of the
pages it finds (lists to details, details to their sub-pages), each page kind (URL name)
once per role. Front desk, nurse, physician and manager at a desk's screen, the nurse again
on the tablet; the patient's emails and the pages their links open on a phone. A serious or
critical violation fails the test with the page's address, the rule and where it is.

Not walked: the Django admin (Django's own pages), the API, downloads (CSV, .ics) and
pages that need a form posted first.
"""

import datetime
import functools
import io
import re
from pathlib import Path
from urllib.parse import urlsplit

import axe_playwright_python
import pytest
from django.core.management import call_command
from django.db.models import Q
from django.urls import Resolver404, resolve
from django.utils import timezone

from clinic.management.commands.seed_demo import DEMO_PASSWORD
from followup.emails import invitation_message
from followup.models import Invitation
from tests.browser import DESKTOP, PHONE, TABLET

pytestmark = [
    pytest.mark.browser,
    # The live server needs committed data; restore the migrated catalogue afterwards.
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

AXE_SOURCE = Path(axe_playwright_python.__file__).with_name("axe.min.js")
# Only what fails the suite comes back from the browser: rule, help, first few places.
AXE_RUN = """() => axe.run(document, {resultTypes: ["violations"]}).then(results =>
  results.violations
    .filter(v => v.impact === "serious" || v.impact === "critical")
    .map(v => `${v.id} (${v.impact}): ${v.help} `
      + JSON.stringify(v.nodes.slice(0, 3).map(n => n.target))))"""
# Where the walk does not go: Django's admin, the API, static files, an export.
SKIPPED_PREFIXES = ("/admin/", "/api/", "/static/", "/media/", "/s/", "/r/", "/u/")
DEPTH = 3  # home -> list -> detail -> a detail's sub-page

ROLES = [
    ("desk.madsen", DESKTOP),
    ("nurse.jensen", DESKTOP),
    ("nurse.jensen", TABLET),
    ("dr.holm", DESKTOP),
    ("manager", DESKTOP),
]


@pytest.fixture
def demo_clinic(settings, live_server):
    settings.DEMO_LOGINS_ALLOWED = True
    settings.SITE_URL = live_server.url
    call_command("seed_demo", "--patients", "40", stdout=io.StringIO())
    return live_server


@pytest.fixture
def open_context(chromium, live_server, settings):
    """`open_context(device)`: a browser context of its own, with axe-core loaded in each page."""
    from playwright.sync_api import sync_playwright

    settings.SESSION_COOKIE_SECURE = False
    settings.CSRF_COOKIE_SECURE = False
    with sync_playwright() as playwright:
        browser = playwright.chromium.connect_over_cdp(chromium)
        contexts = []

        def open_context(device):
            context = browser.new_context(base_url=live_server.url, **device)
            context.add_init_script(path=str(AXE_SOURCE))
            contexts.append(context)
            return context

        yield open_context
        for context in contexts:
            context.close()
        browser.close()


def violations(page, where: str) -> list[str]:
    return [f"{where}: {found}" for found in page.evaluate(AXE_RUN)]


@functools.cache
def page_kind(path: str) -> str | None:
    """The URL name of a path (one visit per kind of page), or None for no page of ours."""
    try:
        return resolve(path).view_name
    except Resolver404:
        return None


def links(page) -> list[str]:
    hrefs = page.eval_on_selector_all(
        "a[href]:not([download])", "anchors => anchors.map(a => a.getAttribute('href'))"
    )
    found = []
    for href in hrefs:
        parts = urlsplit(href)
        if parts.netloc or not parts.path.startswith("/") or "_export" in parts.query:
            continue
        if parts.path.startswith(SKIPPED_PREFIXES):
            continue
        found.append(parts.path + (f"?{parts.query}" if parts.query else ""))
    return found


def walk(page, label: str) -> tuple[list[str], set[str]]:
    """Every kind of page reachable from home, each checked once: (violations, kinds seen)."""
    found, seen = [], set()
    queue = [("/", 0)]
    while queue:
        url, depth = queue.pop(0)
        kind = page_kind(urlsplit(url).path)
        if kind is None or kind in seen:
            continue
        seen.add(kind)
        try:
            response = page.goto(url)
        except Exception as error:  # a download (calendar file, print-out as a file)
            if "Download is starting" in str(error):
                continue
            raise
        if response.status >= 500:
            found.append(f"{label} {url}: HTTP {response.status}")
            continue
        if response.status != 200 or "html" not in response.headers.get("content-type", ""):
            continue
        found += violations(page, f"{label} {url}")
        if kind == "home":
            found += menus(page, label) + navbar_overflow(page, label)
        if depth < DEPTH:
            queue += [(link, depth + 1) for link in links(page)]
    return found, seen


def menus(page, label: str) -> list[str]:
    """The navigation's dropdown menus, each opened (a tablet first opens the folded bar)."""
    found = []
    toggler = page.locator("button.navbar-toggler")
    for menu in page.locator("nav [data-bs-toggle='dropdown']").all():
        if toggler.is_visible() and page.locator("#nav.show").count() == 0:
            toggler.click()
            page.locator("#nav.show").wait_for()
        menu.click()
        page.locator(".dropdown-menu.show").wait_for()
        found += violations(page, f"{label} / menu {menu.inner_text()!r} open")
        page.keyboard.press("Escape")
    return found


# On a desk's screen the bar is one line, every item inside the window.
NAVBAR_FITS = """() => {
  if (getComputedStyle(document.querySelector("button.navbar-toggler")).display !== "none") {
    return true;  // folded behind "Menu" on a narrower screen
  }
  const items = [...document.querySelectorAll("#nav .nav-link")]
    .map(link => link.getBoundingClientRect());
  return items.every(r => r.top === items[0].top && r.right <= window.innerWidth);
}"""


def navbar_overflow(page, label: str) -> list[str]:
    return (
        [] if page.evaluate(NAVBAR_FITS) else [f"{label}: the navigation bar does not fit one line"]
    )


def log_in(page, username: str) -> None:
    page.goto("/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(re.compile(r"^(?!.*/accounts/login/)"))


def test_it_finds_no_serious_violation_on_any_page_of_any_role(demo_clinic, open_context):
    """Staff at their devices, then the patient on a phone (one seeding for both)."""
    found, walked = [], {}
    for username, device in ROLES:
        label = f"{username} at {device['viewport']['width']} px"
        page = open_context(device).new_page()
        log_in(page, username)
        role_found, walked[label] = walk(page, label)
        found += role_found
    # The walk reached the pages each role works in, not only the home page.
    assert {"appointment_list", "patient_detail", "appointment_detail"} <= walked[
        "desk.madsen at 1280 px"
    ]
    assert {"nursing_board", "nursing_record"} <= walked["nurse.jensen at 820 px"]
    assert "procedure_type_list" in walked["manager at 1280 px"]
    found += patient_violations(open_context(PHONE).new_page(), demo_clinic.url)
    assert found == [], "\n".join(found)


def patient_violations(page, site_url: str) -> list[str]:
    """A reminder and a survey email from the demo clinic, as the patient's phone shows
    them, and every page their links open there."""
    found, opened = [], set()
    now = timezone.now()
    # A reminder of an appointment still to come; a survey of one done in the last weeks.
    for kind, since in (
        (Invitation.Kind.APPOINTMENT_REMINDER, now),
        (Invitation.Kind.SURVEY, now - datetime.timedelta(days=60)),
    ):
        invitation = (
            Invitation.objects.select_related(
                "patient", "appointment__site", "appointment__procedure_type"
            )
            .filter(kind=kind, status=Invitation.Status.SENT, appointment__starts_at__gt=since)
            .filter(Q(expires_at__isnull=True) | Q(expires_at__gt=timezone.now()))
            .exclude(patient__email="")
            .order_by("pk")
            .first()
        )
        assert invitation is not None, f"the demo has no open {kind} invitation"
        message = invitation_message(invitation)
        html = next(body for body, mimetype in message.alternatives if mimetype == "text/html")
        page.set_content(html)
        page.evaluate(AXE_SOURCE.read_text())  # set_content runs no init script
        found += violations(page, f"{kind} email")
        for url in re.findall(re.escape(site_url) + r"/[^\s\"'<>]+", html):
            page.goto(url)
            found += violations(page, f"{kind} email link {page.url}")
            opened.add(page_kind(urlsplit(page.url).path))
    assert {"survey", "unsubscribe"} <= opened, opened
    # A reminder links to confirming (still "booked") or to asking for another time.
    assert opened & {"appointment_confirm", "appointment_reschedule_request"}, opened
    return found
