"""The front desk's medication calls and recall worklists, and the plan on the appointment
page, in a desk browser: axe-core finds no serious or critical violation (issue 14, 4-5)."""

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.urls import reverse
from playwright.sync_api import expect

from clinic.models import Medication
from followup.services_recall import recall_entries_rebuild
from tests.browser import DESKTOP, login
from tests.test_medication_plan import appointment_on, takes
from tests.test_recall import positive_mbb


def serious_violations(page) -> list[str]:
    # The page's own content; the shared navbar is checked elsewhere.
    results = Axe().run(page, context="main")
    return [
        f"{violation['id']} ({violation['impact']}): {violation['help']}"
        for violation in results.response["violations"]
        if violation["impact"] in ("serious", "critical")
    ]


@pytest.mark.browser
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_it_lets_the_desk_phone_about_medication_and_book_a_recall(
    open_page, front_desk, calendar, patient
):
    appointment = appointment_on(
        calendar, takes(patient, Medication.Agent.CLOPIDOGREL), calendar["monday"]
    )
    positive_mbb(calendar, patient, 40)
    recall_entries_rebuild()
    page = open_page(DESKTOP)
    login(page, front_desk)
    checked = {}
    page.goto(appointment.get_absolute_url())
    expect(page.locator("#medication-plan")).to_contain_text("Stop Clopidogrel from")
    checked["appointment"] = serious_violations(page)
    page.goto(reverse("medication_calls"))
    checked["calls"] = serious_violations(page)
    page.get_by_label("Note").fill("Spoke to Karen")
    page.get_by_role("button", name="Mark phoned").click()
    expect(page.get_by_text("marked as phoned about their medication")).to_be_visible()
    page.goto(reverse("recall_list"))
    checked["recall"] = serious_violations(page)
    page.locator("#recall").get_by_role("link", name="Find a slot for Karen Jensen").click()
    expect(page.get_by_label("Procedure")).to_have_value(str(positive_mbb_rfa_pk()))
    assert checked == {"appointment": [], "calls": [], "recall": []}


def positive_mbb_rfa_pk() -> int:
    from clinic.models import ProcedureType

    return ProcedureType.objects.get(code="rfa").pk
