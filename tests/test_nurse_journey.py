"""The nurse's procedure day on a tablet, in Chromium: check in, checklist (refused start
without consent), time-out, start, two rounds (one escalates), discharge."""

import os
import re

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from scheduling.models import Status
from tests.browser import TABLET, login
from tests.factories import PASSWORD, TodaysAppointmentFactory

SCREENSHOTS = os.environ.get("NURSING_SCREENSHOTS")  # a folder, to look at the pages


def shot(page, name):
    if SCREENSHOTS:
        page.screenshot(path=os.path.join(SCREENSHOTS, f"{name}.png"), full_page=True)


def answer(page, code, label):
    page.locator(f"#item-{code}").get_by_text(label, exact=True).click()


def fill(page, code, value):
    page.locator(f"#item-{code} input").fill(value)


@pytest.mark.browser
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_it_walks_the_nurse_through_a_procedure_day_on_a_tablet(
    open_page, calendar, patient, nurse, physician
):
    nurse.first_name, nurse.last_name = "Nina", "Berg"
    nurse.save()
    appointment = TodaysAppointmentFactory(
        calendar=calendar, patient=patient, status=Status.CONFIRMED
    )

    page = open_page(TABLET)
    login(page, nurse)

    # The board: the patient waits for check-in.
    page.goto(reverse("nursing_board"))
    waiting = page.locator("#board-waiting")
    expect(waiting).to_contain_text("Karen Jensen")
    shot(page, "01-board")
    waiting.get_by_role("button", name="Check in").click()
    expect(page.get_by_test_id("status")).to_have_text("Checked in")

    # Pre-procedure checks, all but the consent.
    page.get_by_role("link", name="Open the checklist").click()
    for code in ("identity", "allergies", "escort", "infection"):
        answer(page, code, "Yes")
    page.locator("#item-antithrombotics").get_by_label(
        "Asked: takes no anticoagulant or antiplatelet medicine"
    ).check()
    fill(page, "baseline-systolic", "400")  # a slip: refused, the rest kept
    for code, value in (
        ("baseline-diastolic", "80"),
        ("baseline-pulse", "72"),
        ("baseline-spo2", "98"),
        ("baseline-pain", "6"),
    ):
        fill(page, code, value)
    page.get_by_role("button", name="Sign pre-procedure").click()
    expect(page.locator("#item-baseline-systolic")).to_contain_text("400 mmHg is not possible")
    expect(page.locator("#item-baseline-diastolic input")).to_have_value("80")
    fill(page, "baseline-systolic", "135")
    shot(page, "02-pre-procedure")
    page.get_by_role("button", name="Sign pre-procedure").click()
    shot(page, "02b-after-sign")
    expect(page.get_by_role("link", name=re.compile("Sign-in"))).to_have_attribute(
        "aria-current", "page"
    )

    # Try to start: refused, and the nurse is told why.
    page.get_by_role("link", name="← Record").click()
    page.get_by_role("button", name="Start procedure").click()
    refusal = page.get_by_test_id("refusal")
    expect(refusal).to_contain_text("The procedure cannot start yet.")
    expect(refusal).to_contain_text("Consent form signed — not answered.")
    shot(page, "03-refused")

    # Complete the checklist: consent, sign-in, time-out.
    page.get_by_role("link", name="Open the checklist").click()
    answer(page, "consent", "Yes")
    page.get_by_role("button", name="Sign pre-procedure").click()
    for code in ("imaging", "site-marked"):
        answer(page, code, "Yes")
    page.get_by_role("button", name="Sign sign-in").click()
    for code in (
        "timeout-patient",
        "timeout-procedure",
        "timeout-side",
        "timeout-levels",
        "timeout-position",
        "timeout-images",
    ):
        answer(page, code, "Yes")
    page.get_by_role("button", name="Sign time-out").click()
    page.get_by_role("button", name=re.compile("Confirm as nurse")).click()
    expect(page.get_by_test_id("nurse-confirmation")).to_contain_text("Nina Berg")
    page.get_by_label("Physician's username").fill(physician.username)
    page.get_by_label("Physician's password").fill(PASSWORD)
    page.get_by_role("button", name="Confirm as physician").click()
    expect(page.get_by_test_id("physician-confirmation")).to_contain_text("Peter Holm")
    shot(page, "04-time-out")

    # Start, end, recovery.
    page.get_by_role("link", name="Go to start").click()
    page.get_by_role("button", name="Start procedure").click()
    expect(page.get_by_test_id("status")).to_have_text("In procedure")
    page.get_by_role("button", name="Procedure ended: to recovery").click()
    expect(page.get_by_test_id("status")).to_have_text("In recovery")

    # Round 1: low blood pressure scores 3 -> low-medium: call the physician.
    page.get_by_role("link", name="Record observations").click()
    shot(page, "05a-round-form")
    for label, value in (
        ("Respiration rate", "16"),
        ("SpO₂", "97"),
        ("Systolic BP", "88"),
        ("Diastolic BP", "50"),
        ("Pulse", "84"),
        ("Temperature", "36.6"),
        ("Pain", "3"),
    ):
        page.get_by_role("spinbutton", name=re.compile(f"^{re.escape(label)}")).fill(value)
    shot(page, "05-round")
    page.get_by_role("button", name="Save and sign").click()
    banner = page.get_by_test_id("escalation-banner")
    expect(banner).to_contain_text("NEWS2 3 — low-medium risk.")
    expect(banner).to_contain_text("Call the physician now")
    banner.get_by_label("Physician called").select_option(label="Peter Holm")
    banner.get_by_label("What was agreed").fill("Fluids; repeat in 15 min")
    banner.get_by_role("button", name="Record call").click()
    expect(page.get_by_test_id("escalation-banner")).to_contain_text("Called Peter Holm")
    shot(page, "06-escalated")

    # Round 2: back to normal.
    page.get_by_role("link", name="Record observations").click()
    for label, value in (
        ("Respiration rate", "15"),
        ("SpO₂", "98"),
        ("Systolic BP", "128"),
        ("Diastolic BP", "76"),
        ("Pulse", "74"),
        ("Temperature", "36.7"),
        ("Pain", "2"),
    ):
        page.get_by_role("spinbutton", name=re.compile(f"^{re.escape(label)}")).fill(value)
    page.get_by_role("button", name="Save and sign").click()
    expect(page.get_by_test_id("escalation-banner")).to_have_count(0)

    # Sign-out.
    page.get_by_role("link", name="Sign-out").first.click()
    fill(page, "signout-performed", "Left L4-L5 transforaminal ESI")
    answer(page, "signout-complications", "None")
    fill(page, "signout-plan", "Home with escort")
    page.get_by_role("button", name="Sign sign-out").click()

    # Discharge: score below the threshold first, then ready.
    page.get_by_role("link", name="Discharge", exact=True).click()
    for item in (
        "Activity",
        "Respiration",
        "Circulation",
        "Consciousness",
        "Oxygen saturation",
    ):
        page.locator(".nursing-item", has_text=item).locator("label").first.click()
    page.locator(".nursing-item", has_text="Activity").get_by_text("1 · Moves two limbs").click()
    page.locator(".nursing-item", has_text="Respiration").get_by_text(
        "1 · Dyspnoea or limited breathing"
    ).click()
    page.get_by_role("button", name="Score and sign").click()
    expect(page.get_by_role("alert").first).to_contain_text("8 of 10 is below the threshold of 9")
    page.locator(".nursing-item", has_text="Activity").get_by_text(
        "2 · Moves all four limbs on command"
    ).click()
    page.locator(".nursing-item", has_text="Respiration").get_by_text(
        "2 · Breathes deeply and coughs freely"
    ).click()
    page.get_by_role("button", name="Score and sign").click()
    expect(page.get_by_text("Discharge criteria met.")).to_be_visible()
    page.get_by_label("Discharge instructions given and explained to the patient").check()
    shot(page, "07-discharge")
    page.get_by_role("button", name="Discharge Karen").click()
    expect(page.get_by_test_id("status")).to_have_text("Discharged")
    expect(page.get_by_test_id("discharged")).to_contain_text("Nina Berg")
    shot(page, "08-discharged")

    appointment.refresh_from_db()
    assert appointment.status == Status.DISCHARGED
    assert appointment.observation_rounds.count() == 2
    assert appointment.discharge.discharged_by == nurse
