"""Nothing lost if the tablet sleeps: the observation round form keeps what was typed in
the browser until the round is saved, in Chromium on a tablet-sized viewport."""

import re

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from clinic.nursing.models import ObservationRound
from tests.browser import TABLET, login


def number(page, label):
    return page.get_by_role("spinbutton", name=re.compile(f"^{re.escape(label)}"))


@pytest.mark.browser
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_it_keeps_a_half_typed_round_until_it_is_saved(open_page, recovering, nurse):
    form_url = reverse("nursing_round_new", args=[recovering.pk])

    page = open_page(TABLET)
    login(page, nurse)

    page.goto(form_url)
    expect(page.locator("#round-draft")).to_be_hidden()
    number(page, "Respiration rate").fill("18")
    number(page, "SpO₂").fill("95")
    page.locator("input[name=on_oxygen][value=True] + label").click()
    page.locator("input[name=consciousness][value=C] + label").click()

    # The tablet sleeps and the page is loaded afresh: the entries come back.
    page.goto(reverse("nursing_board"))
    page.goto(form_url)
    expect(page.locator("#round-draft")).to_be_visible()
    expect(page.locator("#round-draft")).to_contain_text("not saved yet")
    expect(number(page, "Respiration rate")).to_have_value("18")
    expect(number(page, "SpO₂")).to_have_value("95")
    expect(page.locator("input[name=on_oxygen][value=True]")).to_be_checked()
    expect(page.locator("input[name=consciousness][value=C]")).to_be_checked()

    # A refused value keeps the draft, with the correction typed after it.
    for label, value in (
        ("Systolic BP", "128"),
        ("Diastolic BP", "76"),
        ("Pulse", "0"),
        ("Temperature", "36.9"),
        ("Pain", "2"),
    ):
        number(page, label).fill(value)
    page.get_by_role("button", name="Save and sign").click()
    expect(page.get_by_text("Nothing was saved")).to_be_visible()
    number(page, "Pulse").fill("74")
    page.goto(form_url)
    expect(number(page, "Pulse")).to_have_value("74")
    expect(number(page, "Respiration rate")).to_have_value("18")

    # Saved: the next round starts empty.
    page.get_by_role("button", name="Save and sign").click()
    expect(page.get_by_test_id("escalation-banner")).to_be_visible()
    page.goto(form_url)
    expect(page.locator("#round-draft")).to_be_hidden()
    expect(number(page, "Respiration rate")).to_have_value("")

    # "Clear them" drops a draft and empties the form.
    number(page, "Pulse").fill("90")
    page.reload()
    expect(number(page, "Pulse")).to_have_value("90")
    page.get_by_role("button", name="Clear them").click()
    expect(number(page, "Pulse")).to_have_value("")
    page.reload()
    expect(page.locator("#round-draft")).to_be_hidden()

    # Logging out hands the tablet over: an unsaved draft does not stay behind.
    number(page, "Pulse").fill("88")
    drafts = "() => Object.keys(localStorage).filter(k => k.startsWith('nursing-round-draft:'))"
    assert len(page.evaluate(drafts)) == 1
    page.get_by_role("button", name="Menu").click()  # the navigation folds on a tablet
    page.locator("#nav.show").wait_for()  # opened, not still sliding open
    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_label("Username")).to_be_visible()
    assert page.evaluate(drafts) == []

    saved = ObservationRound.objects.get()
    assert (saved.respiration_rate, saved.spo2, saved.on_oxygen, saved.pulse) == (18, 95, True, 74)
    assert (saved.consciousness, saved.news2_risk) == ("C", "medium")
