"""The front desk books a new patient from an empty slot of the day board in a few actions,
is warned about a patient registered twice, and merges the two records; axe-core finds no
serious or critical violation on the pages on the way (desktop)."""

import datetime

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.urls import reverse
from playwright.sync_api import expect

from clinic.models import Patient
from scheduling.models import Appointment
from tests.browser import DESKTOP, login
from tests.factories import PatientFactory, local, seeded

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

MAX_ACTIONS = 6


def serious_violations(page) -> list[str]:
    results = Axe().run(page)
    return [
        f"{violation['id']} ({violation['impact']}): {violation['help']} "
        f"{[node['target'] for node in violation['nodes']][:3]}"
        for violation in results.response["violations"]
        if violation["impact"] in ("serious", "critical")
    ]


class Actions:
    """The user's clicks, fills, choices and submits, counted."""

    def __init__(self):
        self.count = 0

    def click(self, locator):
        self.count += 1
        locator.click()

    def fill(self, locator, value):
        self.count += 1
        locator.fill(value)

    def choose(self, locator, **option):
        self.count += 1
        locator.select_option(**option)


@pytest.fixture
def page(open_page):
    page = open_page(DESKTOP)
    page.set_default_timeout(15_000)
    return page


@pytest.fixture
def caudal(calendar):
    caudal = seeded("esi-caudal")
    calendar["physician"].staff_profile.credentials.add(caudal)
    return caudal


def board_of(calendar) -> str:
    return f"{reverse('day_board')}?site={calendar['site'].pk}&day={calendar['monday']}"


def test_it_books_a_new_patient_from_an_empty_slot_in_six_actions(
    page, front_desk, calendar, caudal
):
    login(page, front_desk)
    page.goto(board_of(calendar))
    violations = {"board": serious_violations(page)}
    act = Actions()

    act.click(page.get_by_role("link", name="Book Fluoro room at 09:30"))
    expect(page.get_by_role("heading", name="Book a procedure")).to_be_visible()
    expect(page.get_by_label("Time")).to_have_value("09:30")
    expect(page.get_by_label("Site and room")).to_have_value(str(calendar["fluoro"].pk))
    expect(page.get_by_label("Physician")).to_have_value(str(calendar["physician"].pk))
    violations["booking"] = serious_violations(page)
    act.fill(page.get_by_role("textbox", name="Name", exact=True), "Anders Andersen")
    act.fill(page.get_by_label("Born"), "1966-05-27")
    act.fill(page.get_by_label("Phone or email"), "+45 11 22 33 44")
    act.choose(page.get_by_label("Procedure"), label=caudal.name)
    act.click(page.get_by_role("button", name="Confirm booking"))

    expect(page.get_by_text("Booked Epidural steroid injection, caudal")).to_be_visible()
    assert act.count <= MAX_ACTIONS, act.count
    appointment = Appointment.objects.select_related("patient").get()
    assert appointment.starts_at == local(calendar["monday"], 9, 30)
    assert appointment.room == calendar["fluoro"]
    assert (appointment.patient.first_name, appointment.patient.last_name) == (
        "Anders",
        "Andersen",
    )
    assert appointment.patient.date_of_birth == datetime.date(1966, 5, 27)
    assert appointment.patient.phone == "+45 11 22 33 44"
    violations["appointment"] = serious_violations(page)
    assert violations == {"board": [], "booking": [], "appointment": []}


def test_it_warns_of_anders_andersen_registered_twice_and_merges_the_records(
    page, front_desk, calendar, caudal
):
    first = PatientFactory(
        first_name="Anders", last_name="Andersen", date_of_birth=datetime.date(1966, 5, 27)
    )
    login(page, front_desk)
    page.goto(board_of(calendar))
    page.get_by_role("link", name="Book Fluoro room at 10:00").click()
    page.get_by_role("textbox", name="Name", exact=True).fill("andersen, anders")
    page.get_by_label("Born").fill("1966-05-27")
    page.get_by_label("Phone or email").fill("anders@example.com")
    page.get_by_label("Procedure").select_option(label=caudal.name)
    page.get_by_role("button", name="Confirm booking").click()

    # The warning names the record already there, with a link to it; nothing is booked.
    warning = page.locator("#duplicates")
    expect(warning).to_contain_text("This patient may already be registered")
    expect(warning.get_by_role("link", name=f"Andersen, Anders · {first.mrn}")).to_be_visible()
    assert not Appointment.objects.exists()
    violations = {"warning": serious_violations(page)}

    # Registered anyway (say the desk was sure), the two records are then merged.
    page.get_by_label("None of these is the patient").check()
    page.get_by_role("button", name="Confirm booking").click()
    expect(page.get_by_text("Booked Epidural steroid injection, caudal")).to_be_visible()
    second = Patient.objects.exclude(pk=first.pk).get()
    page.goto(reverse("patient_detail", args=[first.pk]))
    duplicates = page.locator("#duplicates")
    expect(duplicates).to_contain_text(second.mrn)
    duplicates.get_by_role("link", name=f"Merge {second.mrn} into this record").click()
    expect(page.get_by_label("MRN of the duplicate record")).to_have_value(second.mrn)
    violations["merge"] = serious_violations(page)
    page.get_by_label("Reason").fill("Registered twice at the desk")
    page.get_by_role("button", name=f"Merge into {first.mrn}").click()

    expect(page.locator("#merged-records")).to_contain_text(second.mrn)
    assert Appointment.objects.get().patient == first
    second.refresh_from_db()
    assert second.merged_into == first
    first.refresh_from_db()
    assert first.email == "anders@example.com"  # taken over: the kept record had none
    page.get_by_role("link", name=f"MRN {second.mrn}").click()
    expect(page.locator("#merged")).to_contain_text(
        f"merged into Anders Andersen (MRN {first.mrn})"
    )
    violations["merged"] = serious_violations(page)
    assert violations == {"warning": [], "merge": [], "merged": []}
