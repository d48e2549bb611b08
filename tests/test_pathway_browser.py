"""Issue 14 in Chromium: the front desk finds a slot marked by a pathway rule, books it anyway
with a reason and sees it on the appointment (desk screen); the nurse records a referral on the
tablet. axe-core finds no serious or critical violation on these pages."""

import datetime

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from clinic.models import Indication
from scheduling.models import PathwayOverride, PathwayRule
from tests.browser import DESKTOP, TABLET, login
from tests.factories import AppointmentFactory
from tests.test_nurse_tablet import serious_violations

pytestmark = [
    pytest.mark.browser,
    pytest.mark.pathway_rules,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def test_it_books_a_marked_slot_anyway_with_a_reason(open_page, front_desk, calendar, patient):
    PathwayRule.objects.exclude(code="esi-repeat-relief").update(active=False)
    AppointmentFactory(
        calendar=calendar,
        patient=patient,
        starts_at=datetime.datetime.combine(
            calendar["monday"] - datetime.timedelta(days=21),
            datetime.time(9),
            calendar["site"].zone,
        ),
    )
    page = open_page(DESKTOP)
    login(page, front_desk)
    monday = calendar["monday"].isoformat()
    page.goto(
        reverse("slot_finder") + f"?procedure_type={calendar['tfesi'].pk}&patient={patient.pk}"
        f"&date_from={monday}&date_to={monday}&levels=L4-L5&laterality=left"
    )
    expect(page.locator(".slot-button").first).to_contain_text("Pathway warning")
    checked = {"slot finder": serious_violations(page)}
    page.locator(".slot-button").first.click()
    page.get_by_role("button", name="Confirm booking").click()
    expect(page.locator("#pathway-warnings")).to_contain_text("no relief reported")
    checked["booking with warnings"] = serious_violations(page)
    page.get_by_label("Reason to book despite the pathway warnings").fill(
        "Relief reported by phone"
    )
    page.get_by_role("button", name="Confirm booking").click()
    expect(page.locator("#pathway-overrides")).to_contain_text("Relief reported by phone")
    checked["appointment"] = serious_violations(page)
    assert PathwayOverride.objects.get().reason == "Relief reported by phone"
    assert checked == {name: [] for name in checked}


def test_it_records_a_referral_on_the_tablet(open_page, nurse, patient):
    page = open_page(TABLET)
    login(page, nurse)
    page.goto(reverse("indication_create", args=[patient.pk]))
    page.get_by_label("Find the diagnosis").fill("sciatica")
    expect(page.locator("#id_diagnosis option")).to_have_count(3)
    page.get_by_label("Diagnosis (ICD-10)").select_option(label="M54.3 Sciatica")
    page.get_by_label("Referrer").fill("Dr Lund")
    page.get_by_label("Symptom start date").fill("2026-01-05")
    checked = {"referral form": serious_violations(page)}
    page.get_by_role("button", name="Save referral").click()
    expect(page.locator("#referrals")).to_contain_text("M54.3 Sciatica")
    checked["patient page"] = serious_violations(page)
    assert Indication.objects.get().referrer == "Dr Lund"
    assert checked == {name: [] for name in checked}
