"""The front desk's journey in a real browser: log in, find a patient, find a slot, book, see
it on the day board, reschedule, cancel with a reason, and see the slot free again."""

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from scheduling.models import Appointment, Status
from tests.browser import DESKTOP, login
from tests.factories import local

pytestmark = [
    pytest.mark.browser,
    # The live server needs committed data; serialized rollback restores the migrated
    # catalogue and role groups that the flush between transactional tests removes.
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


@pytest.fixture
def page(open_page):
    page = open_page(DESKTOP)
    page.set_default_timeout(15_000)
    return page


def slot_buttons_on(page, day):
    """The start times the slot finder offers on `day` (it groups its buttons by day)."""
    heading = page.get_by_role("heading", name=f"{day:%A} {day.day} {day:%B %Y}")
    expect(heading).to_be_visible()
    buttons = heading.locator("xpath=following-sibling::div[1]").locator(".slot-button .fs-4")
    return buttons.all_inner_texts()


def test_it_walks_the_front_desk_from_login_to_a_freed_slot(page, front_desk, patient, calendar):
    monday, site = calendar["monday"], calendar["site"]

    # Log in.
    login(page, front_desk)
    expect(page.get_by_role("link", name="Appointments")).to_be_visible()

    # Find the patient.
    page.get_by_role("link", name="Patients", exact=True).click()
    page.get_by_label("Name or MRN").fill("Jensen")
    page.get_by_role("button", name="Filter").click()
    page.get_by_role("link", name="MRN-0001").click()
    expect(page.get_by_role("heading", name="Karen Jensen")).to_be_visible()

    # Find a slot: the first free time next Monday.
    page.get_by_role("main").get_by_role("link", name="Find a slot").click()
    page.get_by_label("Procedure").select_option(label=calendar["tfesi"].name)
    page.get_by_label("Site").select_option(label=site.name)
    page.get_by_label("From").fill(monday.isoformat())
    page.get_by_role("button", name="Find slots").click()
    assert slot_buttons_on(page, monday)[0] == "08:00"
    page.locator(".slot-button").first.click()

    # Book: the form arrives filled in; add the side and level, confirm.
    expect(page.get_by_role("heading", name="Book a procedure")).to_be_visible()
    expect(page.locator("#id_patient")).to_have_value(str(patient.pk))
    expect(page.get_by_label("Time")).to_have_value("08:00")
    page.get_by_label("Side").select_option("left")
    page.get_by_label("Spinal level(s)").fill("L4-L5")
    page.get_by_role("button", name="Confirm booking").click()
    expect(page.get_by_text("Booked Epidural steroid injection, transforaminal")).to_be_visible()
    appointment = Appointment.objects.get()
    assert appointment.starts_at == local(monday, 8)

    # See it on the day board.
    page.goto(f"{reverse('day_board')}?site={site.pk}&day={monday.isoformat()}")
    card = page.locator(f"#card-{appointment.pk}")
    expect(card).to_contain_text("Karen Jensen")
    expect(card).to_contain_text("08:00")

    # Reschedule to 10:00.
    card.get_by_role("link", name="Karen Jensen").click()
    page.get_by_role("link", name="Reschedule").click()
    page.get_by_label("Time").fill("10:00")
    page.get_by_role("button", name="Move the appointment").click()
    expect(page.get_by_text("Moved from")).to_be_visible()
    appointment.refresh_from_db()
    assert appointment.starts_at == local(monday, 10)
    expect(page.locator("#appointment-events")).to_contain_text("Rescheduled")

    # 10:00 is taken now, so the slot finder does not offer it.
    search = (
        f"{reverse('slot_finder')}?procedure_type={calendar['tfesi'].pk}"
        f"&site={site.pk}&date_from={monday.isoformat()}"
    )
    page.goto(search)
    assert "10:00" not in slot_buttons_on(page, monday)

    # Cancel with a reason.
    page.goto(appointment.get_absolute_url())
    page.get_by_role("link", name="Cancel…").click()
    page.get_by_label("Patient unwell").check()
    page.get_by_label("Details").fill("Has the flu")
    page.get_by_role("button", name="Cancel the appointment").click()
    expect(page.get_by_text("is free again")).to_be_visible()
    expect(page.locator("#appointment-events")).to_contain_text("Patient unwell: Has the flu")
    appointment.refresh_from_db()
    assert appointment.status == Status.CANCELLED

    # The slot is free again.
    page.goto(search)
    assert "10:00" in slot_buttons_on(page, monday)


def test_it_searches_for_the_patient_and_books_an_offered_alternative(
    page, front_desk, patient, calendar
):
    monday = calendar["monday"]
    login(page, front_desk)

    page.goto(reverse("appointment_book"))
    page.get_by_label("Find the patient (MRN or name)").fill("mrn-0001")
    expect(page.locator("#id_patient")).to_have_value(str(patient.pk))
    page.get_by_label("Procedure").select_option(label=calendar["tfesi"].name)
    page.get_by_label("Physician").select_option(label="Peter Holm")
    page.get_by_label("Site and room").select_option(label="Test Spine Centre · Plain room")
    page.get_by_label("Date").fill(monday.isoformat())
    page.get_by_label("Time").fill("09:00")
    page.get_by_label("Side").select_option("right")
    page.get_by_label("Spinal level(s)").fill("L5-S1")
    page.get_by_role("button", name="Confirm booking").click()

    # The refusal names the room and what it lacks; the alternatives are one click away.
    expect(page.locator("#refusals")).to_contain_text("Plain room lacks Fluoroscopy (C-arm)")
    page.locator("#alternatives a").first.click()
    expect(page.get_by_label("Spinal level(s)")).to_have_value("L5-S1")
    expect(page.get_by_label("Site and room")).to_have_value(str(calendar["fluoro"].pk))
    page.get_by_role("button", name="Confirm booking").click()
    expect(page.get_by_text("Booked Epidural steroid injection, transforaminal")).to_be_visible()
    appointment = Appointment.objects.get()
    assert (appointment.room, appointment.laterality) == (calendar["fluoro"], "right")
