"""Issue 14 in a real browser on a desk's screen (1280x900, Chromium): a physician writes
and signs the procedure note of an RFA, then amends it; axe-core finds no serious or
critical violation on the note form, the note, the amendment form, the printable note and
the managers' template list."""

import re

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from clinic.nursing.models import ProcedureNote
from scheduling.models import Status
from tests.browser import DESKTOP
from tests.factories import TodaysAppointmentFactory
from tests.test_nurse_tablet import serious_violations

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

FITS = "document.documentElement.scrollWidth <= window.innerWidth"


def as_verified(page, client, settings, live_server, user):
    """A physician's or manager's login asks for a second factor: a verified session."""
    page.context.clear_cookies()
    client.force_login(user)
    cookie = client.cookies[settings.SESSION_COOKIE_NAME].value
    page.context.add_cookies(
        [{"name": settings.SESSION_COOKIE_NAME, "value": cookie, "url": live_server.url}]
    )


def test_a_physician_writes_and_signs_an_rfa_note_on_a_desktop(
    open_page, client, settings, live_server, calendar, patient, physician, manager
):
    rfa = TodaysAppointmentFactory(
        calendar=calendar, patient=patient, code="rfa", status=Status.IN_RECOVERY
    )
    page = open_page(DESKTOP, reduced_motion="reduce")
    as_verified(page, client, settings, live_server, physician)
    checked = {}

    page.goto(reverse("nursing_note", args=[rfa.pk]))
    checked["empty note"] = serious_violations(page)
    page.get_by_role("link", name="Write the note").click()
    expect(page.get_by_label("Levels treated")).to_have_value("L4-L5")
    expect(page.get_by_label("RF temperature (°C)")).to_have_value("80")
    assert page.evaluate(FITS), "the note form scrolls sideways"
    checked["note form"] = serious_violations(page)

    page.get_by_label("Levels treated").fill("L4-L5, L5-S1")
    page.get_by_label("Side").select_option("right")
    page.get_by_label("Fluoroscopy time (s)").fill("38")
    page.get_by_label("Dose (DAP, mGy·cm²)").fill("295.4")
    page.get_by_label("RF lesions").fill("4")
    page.get_by_label("Sedation 1: Drug").fill("Midazolam")
    page.get_by_label("Sedation 1: Dose").fill("2 mg")
    page.get_by_label("Findings").fill("Sensory threshold below 0.5 V at each level.")
    page.get_by_role("button", name="Sign the note").click()

    expect(page.get_by_test_id("note-signature")).to_contain_text("Signed by")
    expect(page.locator('[data-field="levels"]')).to_have_text("L4-L5, L5-S1")
    expect(page.locator('[data-field="sedation"]')).to_have_text("Midazolam 2 mg")
    note = ProcedureNote.objects.get(appointment=rfa)
    assert note.is_signed and note.signed_by_id == physician.pk and note.rf_lesions == 4
    checked["signed note"] = serious_violations(page)

    page.get_by_role("link", name="Amend").click()
    checked["amend form"] = serious_violations(page)
    page.get_by_label("RF lesions").fill("6")
    page.get_by_label("Reason for the amendment").fill("Two more lesions at L5-S1")
    page.get_by_role("button", name="Save amendment").click()
    expect(page.get_by_test_id("note-amendments")).to_contain_text("4 → 6")

    page.get_by_role("link", name="Printable note").click()
    expect(page.get_by_test_id("note-print")).to_contain_text(re.compile("RF lesions\\s*6"))
    checked["printable note"] = serious_violations(page)

    as_verified(page, client, settings, live_server, manager)
    page.goto(reverse("nursing_note_template_list"))
    checked["note templates"] = serious_violations(page)

    assert checked == {name: [] for name in checked}, checked
