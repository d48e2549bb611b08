"""The nurse's pages on the tablet (820x1180, Chromium): the recovery board and the record fit
the screen with NEWS2 and the next observations in view, the round form scores NEWS2 live
as the vitals are typed, and axe-core finds no serious or critical violation on the board,
record, checklist, round form, amend form and discharge page."""

import re

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.urls import reverse
from playwright.sync_api import expect

from clinic.nursing.models import ObservationRound
from tests.browser import TABLET, login
from tests.factories import take_round

pytestmark = [
    pytest.mark.browser,
    # The live server needs committed data; restore the migrated catalogue afterwards.
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

FITS = "document.documentElement.scrollWidth <= window.innerWidth"


def serious_violations(page) -> list[str]:
    results = Axe().run(page)
    return [
        f"{violation['id']} ({violation['impact']}): {violation['help']} "
        f"{[node['target'] for node in violation['nodes']][:3]}"
        for violation in results.response["violations"]
        if violation["impact"] in ("serious", "critical")
    ]


def number(page, label):
    return page.get_by_role("spinbutton", name=re.compile(f"^{re.escape(label)}"))


def test_it_fits_the_nurses_pages_on_a_tablet_and_scores_news2_live(
    open_page, recovering, nurse, calendar
):
    round_ = take_round(recovering, nurse, pulse=131, consciousness="C")  # NEWS2 6, medium
    page = open_page(TABLET, reduced_motion="reduce")
    login(page, nurse)
    checked = {}

    # The recovery board: a card per patient, coloured and labelled by band, nothing off-screen.
    page.goto(f"{reverse('nursing_board')}?site={calendar['site'].pk}")
    card = page.get_by_test_id(f"board-card-{recovering.pk}")
    expect(card).to_be_visible()
    expect(page.get_by_test_id(f"board-row-{recovering.pk}")).to_be_hidden()
    expect(card).to_contain_text("NEWS2 6 · medium risk")
    expect(card).to_contain_text(re.compile(r"Next obs due \d\d:\d\d|OVERDUE since"))
    expect(card.get_by_role("link", name="Open")).to_be_in_viewport()
    assert "band-medium" in card.get_attribute("class")
    assert page.evaluate(FITS), "the board scrolls sideways"
    checked["board"] = serious_violations(page)

    # The record: NEWS2 stays in view in the observations, the next round's time too.
    card.get_by_role("link", name="Open").click()
    expect(page.get_by_test_id("next-due")).to_be_visible()
    news2 = page.get_by_test_id("round-news2").first
    expect(news2).to_have_text("6 · medium")
    news2.scroll_into_view_if_needed()
    box = news2.bounding_box()
    assert box["x"] + box["width"] <= TABLET["viewport"]["width"]
    assert page.evaluate(FITS), "the record scrolls sideways"
    checked["record"] = serious_violations(page)

    page.goto(reverse("nursing_checklist", args=[recovering.pk, "sign_out"]))
    assert page.evaluate(FITS), "the checklist scrolls sideways"
    checked["checklist"] = serious_violations(page)

    # The round form: the score and band appear while typing, before anything is saved.
    page.goto(reverse("nursing_round_new", args=[recovering.pk]))
    preview = page.locator("#news2-preview")
    expect(preview).to_contain_text("NEWS2 shows here")
    for label, value in (
        ("Respiration rate", "26"),
        ("SpO₂", "97"),
        ("Systolic BP", "128"),
        ("Diastolic BP", "76"),
        ("Pulse", "84"),
        ("Temperature", "36.9"),
    ):
        number(page, label).fill(value)
    expect(page.get_by_test_id("news2-preview")).to_have_text("NEWS2 3 · low-medium risk")
    page.locator("input[name=consciousness][value=V] + label").click()
    expect(page.get_by_test_id("news2-preview")).to_have_text("NEWS2 6 · medium risk")
    page.locator("input[name=consciousness][value=A] + label").click()
    expect(page.get_by_test_id("news2-preview")).to_have_text("NEWS2 3 · low-medium risk")
    assert ObservationRound.objects.count() == 1  # nothing saved by the preview
    assert page.evaluate(FITS), "the round form scrolls sideways"
    checked["round form"] = serious_violations(page)

    # The amend form: the round form again, filled in, in the site's time.
    page.goto(reverse("nursing_round_amend", args=[round_.pk]))
    expect(page.get_by_label("Time taken")).to_have_value(
        re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d$")
    )
    expect(number(page, "Pulse")).to_have_value("131")
    expect(page.get_by_test_id("news2-preview")).to_have_text("NEWS2 6 · medium risk")
    number(page, "Pulse").fill("84")
    expect(page.get_by_test_id("news2-preview")).to_have_text("NEWS2 3 · low-medium risk")
    assert page.evaluate(FITS), "the amend form scrolls sideways"
    checked["amend form"] = serious_violations(page)
    page.get_by_label("Reason for the amendment").fill("Pulse read from the wrong monitor")
    page.get_by_role("button", name="Save amendment").click()
    expect(page.get_by_test_id("round-news2").first).to_have_text("3 · low-medium")

    page.goto(reverse("nursing_discharge", args=[recovering.pk]))
    assert page.evaluate(FITS), "the discharge page scrolls sideways"
    checked["discharge"] = serious_violations(page)

    failing = [f"{name}: {found}" for name, found in checked.items() for found in found]
    assert not failing, "\n".join(failing)
