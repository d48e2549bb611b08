"""The patient's journey in a real browser on a phone-sized screen, checked with axe-core.

The survey email is sent by the engine (locmem outbox), its link opened at 390x844, the
survey answered (one question by keyboard) and sent; a nurse then finds the response
and its scores on the worklist. The survey, thank-you and expired-link pages must have
no serious or critical accessibility violations.
"""

import re
import time
from unittest import mock

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.core import mail
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import expect

from followup.dispatch import invitation_send
from followup.models import Invitation, Response
from followup.scoring import NDI_SECTIONS
from followup.tokens import make_token
from tests.browser import DESKTOP, PHONE, login
from tests.factories import SentSurveyFactory, red_flag_codes

pytestmark = [
    pytest.mark.browser,
    # The live server needs committed data; restore the migrated catalogue afterwards.
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


@pytest.fixture
def served(live_server, settings):
    settings.SITE_URL = live_server.url
    return live_server


def serious_violations(page) -> list[str]:
    results = Axe().run(page)
    return [
        f"{violation['id']} ({violation['impact']}): {violation['help']}"
        for violation in results.response["violations"]
        if violation["impact"] in ("serious", "critical")
    ]


def survey_link_from_email(message, base_url) -> str:
    found = re.search(re.escape(base_url) + r"/s/[^\s\"'<>]+/", message.body)
    assert found, f"no survey link in the email:\n{message.body}"
    return found.group(0)


def test_it_walks_the_patient_journey_on_a_phone(served, open_page, book, nurse):
    # Cervical: the survey asks the neck questionnaire and the neck's warning signs.
    appointment = book(9, 0, levels="C5-C6")
    invitation = SentSurveyFactory(
        appointment=appointment,
        status=Invitation.Status.QUEUED,
        due_at=timezone.now(),
        sent_at=None,
        queued_at=timezone.now(),
    )
    mail.outbox.clear()
    assert invitation_send(invitation_id=invitation.pk) == "sent"
    email = mail.outbox[-1]
    assert email.to == [appointment.patient.email]
    survey_link = survey_link_from_email(email, served.url)
    token = survey_link.rstrip("/").rsplit("/", 1)[-1]

    page = open_page(PHONE, locale="da-DK")
    phone = page.context

    # The link opens the survey, with the token gone from the address bar.
    page.goto(survey_link)
    assert page.url == served.url + reverse("survey")
    assert token not in page.url
    expect(page.locator("h1")).to_have_text("Spørgsmål efter din behandling")
    assert serious_violations(page) == []

    # Answer the pain questions by tapping, and the relief question by keyboard.
    page.click("label[for=id_nrs_current_3]")
    page.click("label[for=id_nrs_average_4]")
    page.click("label[for=id_nrs_worst_6]")
    page.focus("#id_relief_0")
    page.keyboard.press("Space")
    for _ in range(5):
        page.keyboard.press("ArrowRight")
    assert page.is_checked("#id_relief_5")
    expect(page.locator("#answered-count")).to_have_text("4")
    # The answers so far are saved as a draft: the phone may sleep and reload the page.
    expect(page.locator("#draft-status")).to_contain_text("Dine svar blev gemt")
    page.reload()
    assert page.is_checked("#id_nrs_worst_6")
    assert page.is_checked("#id_relief_5")
    # The session is gone (cookies cleared): the page says so, and the email link brings
    # the saved answers back.
    phone.clear_cookies()
    page.click("label[for=id_pgic_1]")
    expect(page.locator("#draft-status")).to_contain_text("Dine svar kunne ikke gemmes")
    page.goto(survey_link)
    assert page.is_checked("#id_relief_5")

    page.click("label[for=id_pgic_1]")
    for section_id, _title in NDI_SECTIONS:
        page.click(f"label[for=id_ndi__{section_id}_1]")
    expect(page.locator("#part-red_flags")).to_contain_text("Stiv nakke sammen med feber")
    codes = red_flag_codes(appointment)
    for code in codes:
        answer = 0 if code == "fever" else 1  # yes to fever, no to the rest
        page.click(f"label[for=id_red_flags__{code}_{answer}]")
    expect(page.locator("#answered-count")).to_have_text(str(15 + len(codes)))
    page.click("button:has-text('Send mine svar')")

    # Thank-you page, with the advice to call because of the fever.
    expect(page.locator("h1")).to_have_text("Tak for dine svar")
    assert page.url == served.url + reverse("survey_thanks")
    expect(page.get_by_role("alert")).to_contain_text("Ring til klinikken nu")
    assert serious_violations(page) == []
    response = Response.objects.get(invitation=invitation)
    assert response.nrs_current == 3
    assert response.patient_rated_relief == 50

    # An old link gets a friendly page with the clinic's number.
    long_ago = time.time() - 200 * 24 * 3600
    with mock.patch("django.core.signing.time.time", return_value=long_ago):
        old_token = make_token(purpose="survey", invitation_id=invitation.pk)
    page.goto(served.url + reverse("survey_start", args=[old_token]))
    expect(page.locator("h1")).to_have_text("Linket er udløbet")
    expect(page.locator("main")).to_contain_text("+45 70 00 00 00")
    assert serious_violations(page) == []
    phone.close()

    # The nurse finds the response and its scores on the worklist.
    staff = open_page(DESKTOP)
    desk = staff.context
    login(staff, nurse)
    staff.goto(served.url + reverse("response_list"))
    row = staff.locator("tbody tr", has_text="Jensen")
    expect(row).to_contain_text("20.0")  # NDI: every section 1 of 5
    expect(row).to_contain_text("2 – Much improved")
    expect(row).to_contain_text("Fever of 38 °C or more, or chills")
    expect(staff.locator("nav.navbar")).to_contain_text("Follow-up")
    desk.close()
