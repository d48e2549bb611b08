"""Bad input on the nursing record and the staff lists: a clear message, nothing lost, no 500.

Found by typing hostile-but-possible values into every form: a last dose in year 1 (or in
the future) passed the anticoagulant hard stop silently; a round time amendment always
crashed (a naive time compared with an aware one); a number answer of 1e999999999 to an item
without a range hung the worker; ?_export=xlsx crashed every list.
"""

import datetime
import html

import pytest
from django.urls import reverse
from django.utils import timezone

from clinic.nursing import rules
from clinic.nursing.models import Amendment, ChecklistAnswer, ChecklistItem, Phase
from scheduling.models import Status
from tests.factories import TodaysAppointmentFactory, answer_items, round_amend_form, take_round

pytestmark = pytest.mark.django_db


def page_text(response) -> str:
    return html.unescape(response.content.decode())


def checklist_url(appointment, phase="pre_procedure"):
    return reverse("nursing_checklist", args=[appointment.pk, phase])


def days_before(appointment, days) -> str:
    return (appointment.local_start.date() - datetime.timedelta(days=days)).isoformat()


# --- Anticoagulant last dose ---------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("0001-01-01", "more than a year before the procedure"),
        ("1899-12-31", "more than a year before the procedure"),
        ("0026-03-14", "check the year"),
        ("9999-12-31", "cannot be after the procedure day"),
        ("1900-02-29", "Enter a date such as 2026-03-14."),
    ],
)
def test_it_refuses_a_last_dose_date_no_clinician_meant(
    client, calendar, patient, on_apixaban, nurse, typed, message
):
    appointment = TodaysAppointmentFactory(calendar=calendar, patient=patient)
    client.force_login(nurse)
    response = client.post(checklist_url(appointment), {"item-antithrombotics-apixaban": typed})
    assert response.status_code == 200
    assert message in page_text(response)
    assert not ChecklistAnswer.objects.filter(item__code="antithrombotics").exists()


def test_it_refuses_a_last_dose_in_the_future_before_a_later_procedure(
    client, calendar, patient, on_apixaban, nurse
):
    later = timezone.now() + datetime.timedelta(days=10)
    appointment = TodaysAppointmentFactory(
        calendar=calendar, patient=patient, status=Status.BOOKED, starts_at=later
    )
    tomorrow = timezone.localdate(timezone=calendar["site"].zone) + datetime.timedelta(days=1)
    client.force_login(nurse)
    response = client.post(
        checklist_url(appointment), {"item-antithrombotics-apixaban": tomorrow.isoformat()}
    )
    assert response.status_code == 200
    assert "cannot be in the future" in page_text(response)
    assert not ChecklistAnswer.objects.filter(item__code="antithrombotics").exists()


def test_it_still_takes_a_last_dose_up_to_a_year_back(appointment, on_apixaban):
    item = ChecklistItem.objects.get(code="antithrombotics")
    value = {"doses": {"apixaban": days_before(appointment, 365)}}
    assert rules.validate_answer(item, value, appointment)["doses"] == value["doses"]


def test_it_refuses_an_amended_last_dose_in_year_one(client, calendar, patient, on_apixaban, nurse):
    appointment = TodaysAppointmentFactory(calendar=calendar, patient=patient)
    answer_items(appointment, nurse, [Phase.PRE_PROCEDURE])
    answer = ChecklistAnswer.objects.get(item__code="antithrombotics")
    before = answer.value
    client.force_login(nurse)
    response = client.post(
        reverse("nursing_answer_amend", args=[answer.pk]),
        {"item-antithrombotics-apixaban": "0001-01-01", "reason": "typo"},
    )
    assert response.status_code == 200
    assert "more than a year before the procedure" in page_text(response)
    answer.refresh_from_db()
    assert answer.value == before and not Amendment.objects.exists()


# --- Number answers ------------------------------------------------------------------


@pytest.fixture
def open_number(db):
    """A number item a manager set up without a range."""
    return ChecklistItem.objects.create(
        code="weight", label="Weight", phase=Phase.PRE_PROCEDURE, kind="number", unit="kg"
    )


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("1e999999999", "far too large"),  # used to hang: int() of a billion-digit number
        ("1E+5000", "far too large"),  # used to crash: past Python's int-to-str limit
        (str(10**20), "far too large"),
        ("-100000", "far too large"),
        ("1e-5000", "at most 2 decimals"),  # used to be stored as 0
        ("72.125", "at most 2 decimals"),
        ("NaN", "enter a number"),
        ("-Infinity", "enter a number"),
    ],
)
def test_it_refuses_a_number_an_item_cannot_hold(appointment, open_number, typed, message):
    with pytest.raises(rules.ValidationError) as refused:
        rules.validate_answer(open_number, typed, appointment)
    assert message in " ".join(refused.value.messages)


def test_it_takes_an_ordinary_number_for_an_item_without_a_range(appointment, open_number):
    assert rules.validate_answer(open_number, "72,5", appointment) == 72.5
    assert rules.validate_answer(open_number, "1e3", appointment) == 1000
    assert rules.validate_answer(open_number, "7.50", appointment) == 7.5


@pytest.mark.parametrize(
    ("bounds", "typed", "message"),
    [
        ({"min_value": 0}, "-1", "Weight: -1 kg is not possible; enter at least 0 kg"),
        ({"max_value": 300}, "301", "Weight: 301 kg is not possible; enter at most 300 kg"),
    ],
)
def test_it_explains_a_range_with_one_end_only(appointment, open_number, bounds, typed, message):
    ChecklistItem.objects.filter(pk=open_number.pk).update(**bounds)
    open_number.refresh_from_db()
    with pytest.raises(rules.ValidationError) as refused:
        rules.validate_answer(open_number, typed, appointment)
    assert message in " ".join(refused.value.messages)


@pytest.mark.parametrize("typed", ["1.123456789012345", "1e999999999", "1E-999999", "NaN"])
def test_it_refuses_an_extreme_number_on_the_checklist_page(client, appointment, nurse, typed):
    client.force_login(nurse)
    response = client.post(checklist_url(appointment), {"item-baseline-pain": typed})
    assert response.status_code == 200
    assert "Baseline pain" in page_text(response)
    assert not ChecklistAnswer.objects.filter(item__code="baseline-pain").exists()


@pytest.mark.parametrize("typed", ["1e999999999", str(10**20), "-5", "1e-5000"])
def test_it_refuses_an_extreme_number_in_an_amendment(client, appointment, nurse, typed):
    answer_items(appointment, nurse, [Phase.PRE_PROCEDURE])
    answer = ChecklistAnswer.objects.get(item__code="baseline-pulse")
    client.force_login(nurse)
    response = client.post(
        reverse("nursing_answer_amend", args=[answer.pk]),
        {"item-baseline-pulse": typed, "reason": "typo"},
    )
    assert response.status_code == 200
    answer.refresh_from_db()
    assert answer.value == 72 and not Amendment.objects.exists()


# --- Round time amendments -----------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("0001-01-01", "Enter a real time"),
        ("0001-01-01T00:00", "Enter a real time"),
        ("1900-02-29", "Enter the date and time"),
        ("2000-01-01 10:00", "Observations are taken after the procedure"),
        ("9999-12-31", "cannot be taken in the future"),
        ("9999-12-31 23:59", "cannot be taken in the future"),
        ("9999-12-31T23:59:00+00:00", "cannot be taken in the future"),
        ("soon", "Enter the date and time"),
    ],
)
def test_it_refuses_a_round_time_that_cannot_be(client, recovering, nurse, typed, message):
    round_ = take_round(recovering, nurse)
    taken_at = round_.taken_at
    client.force_login(nurse)
    response = client.post(
        reverse("nursing_round_amend", args=[round_.pk]),
        round_amend_form(round_, taken_at=typed, reason="typo"),
    )
    assert response.status_code == 200
    assert message in page_text(response)
    round_.refresh_from_db()
    assert round_.taken_at == taken_at and not Amendment.objects.exists()


def test_it_amends_a_round_time_read_on_the_sites_clock(client, recovering, nurse, calendar):
    round_ = take_round(recovering, nurse)
    corrected = timezone.localtime(round_.taken_at, calendar["site"].zone).replace(
        second=0, microsecond=0
    ) - datetime.timedelta(minutes=1)
    client.force_login(nurse)
    response = client.post(
        reverse("nursing_round_amend", args=[round_.pk]),
        round_amend_form(round_, taken_at=corrected.strftime("%Y-%m-%dT%H:%M"), reason="typo"),
    )
    assert response.status_code == 302
    round_.refresh_from_db()
    assert round_.taken_at == corrected
    assert Amendment.objects.get(round=round_).reason == "typo"


# --- List exports --------------------------------------------------------------------


LISTS = [
    ("front_desk", "patient_list"),
    ("manager", "procedure_type_list"),
    ("manager", "nursing_protocol_list"),
    ("manager", "nursing_checklist_item_list"),
    ("manager", "nursing_hold_list"),
]


@pytest.mark.parametrize(("role", "name"), LISTS)
@pytest.mark.parametrize("export", ["xlsx", "xls", "ods"])
def test_it_exports_a_list_as_csv_only(client, personas, role, name, export):
    client.force_login(personas[role])
    response = client.get(reverse(name), {"_export": export})
    assert response.status_code == 200
    assert "Nothing was exported: the lists export as CSV only." in page_text(response)


@pytest.mark.parametrize(("role", "name"), LISTS)
def test_it_still_exports_csv(client, personas, role, name):
    client.force_login(personas[role])
    response = client.get(reverse(name), {"_export": "csv"})
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
