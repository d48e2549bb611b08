"""Observation rounds: NEWS2 at every band edge (RCP 2017, chart 1), impossible and unusual
values, escalation, amendments, the observation schedule, the recovery board, and the round
form keeping what was typed on the tablet until the round is saved."""

import datetime
import re
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import expect

from clinic.models import AuditEvent
from clinic.nursing import selectors, services
from clinic.nursing.models import Amendment, Escalation, ObservationRound, ProcedureProtocol
from scheduling.models import Status
from tests.browser import TABLET, login
from tests.factories import (
    CALM,
    PatientFactory,
    TodaysAppointmentFactory,
    UserFactory,
    round_amend_form,
    take_round,
)


def score(**changes) -> ObservationRound:
    round_ = ObservationRound(**{**CALM, "temperature": Decimal(CALM["temperature"]), **changes})
    round_.clean()
    round_.score()
    return round_


# (parameter, changes, parameter score): every edge of each band of chart 1.
EDGES = [
    *[
        ("respiration_rate", {"respiration_rate": rr}, s)
        for rr, s in [(8, 3), (9, 1), (11, 1), (12, 0), (20, 0), (21, 2), (24, 2), (25, 3)]
    ],
    *[
        ("spo2", {"spo2": v}, s)
        for v, s in [(91, 3), (92, 2), (93, 2), (94, 1), (95, 1), (96, 0), (100, 0)]
    ],
    # Scale 2 on air: at or above target scores nothing.
    *[
        ("spo2", {"spo2": v, "spo2_scale": 2}, s)
        for v, s in [
            (83, 3),
            (84, 2),
            (85, 2),
            (86, 1),
            (87, 1),
            (88, 0),
            (92, 0),
            (93, 0),
            (97, 0),
        ]
    ],
    # Scale 2 on oxygen: above target scores again.
    *[
        ("spo2", {"spo2": v, "spo2_scale": 2, "on_oxygen": True}, s)
        for v, s in [
            (83, 3),
            (87, 1),
            (88, 0),
            (92, 0),
            (93, 1),
            (94, 1),
            (95, 2),
            (96, 2),
            (97, 3),
        ]
    ],
    ("air_or_oxygen", {"on_oxygen": False}, 0),
    ("air_or_oxygen", {"on_oxygen": True}, 2),
    *[
        ("systolic_bp", {"systolic_bp": v, "diastolic_bp": 40}, s)
        for v, s in [(90, 3), (91, 2), (100, 2), (101, 1), (110, 1), (111, 0), (219, 0), (220, 3)]
    ],
    *[
        ("pulse", {"pulse": v}, s)
        for v, s in [
            (40, 3),
            (41, 1),
            (50, 1),
            (51, 0),
            (90, 0),
            (91, 1),
            (110, 1),
            (111, 2),
            (130, 2),
            (131, 3),
        ]
    ],
    *[
        ("consciousness", {"consciousness": c}, s)
        for c, s in [("A", 0), ("C", 3), ("V", 3), ("P", 3), ("U", 3)]
    ],
    *[
        ("temperature", {"temperature": Decimal(t)}, s)
        for t, s in [
            ("35.0", 3),
            ("35.1", 1),
            ("36.0", 1),
            ("36.1", 0),
            ("38.0", 0),
            ("38.1", 1),
            ("39.0", 1),
            ("39.1", 2),
        ]
    ],
]


@pytest.mark.parametrize(("parameter", "changes", "expected"), EDGES)
def test_it_scores_every_band_edge_of_news2(parameter, changes, expected):
    round_ = score(**changes)
    assert round_.news2_scores[parameter] == expected
    others = {k: v for k, v in round_.news2_scores.items() if k != parameter}
    if parameter == "spo2" and changes.get("on_oxygen"):
        others.pop("air_or_oxygen")
    assert set(others.values()) == {0}, others
    assert round_.news2_total == sum(round_.news2_scores.values())


@pytest.mark.parametrize(
    ("changes", "total", "risk"),
    [
        ({}, 0, "low"),
        (
            {
                "pulse": 91,
                "respiration_rate": 9,
                "temperature": Decimal("38.1"),
                "systolic_bp": 101,
            },
            4,
            "low",
        ),
        ({"consciousness": "C"}, 3, "low-medium"),  # new confusion alone
        ({"systolic_bp": 90, "diastolic_bp": 50}, 3, "low-medium"),
        ({"spo2": 83, "spo2_scale": 2}, 3, "low-medium"),
        ({"pulse": 131, "respiration_rate": 9, "temperature": Decimal("38.1")}, 5, "medium"),
        ({"spo2": 92, "on_oxygen": True, "pulse": 111}, 6, "medium"),
        ({"spo2": 92, "on_oxygen": True, "pulse": 111, "respiration_rate": 9}, 7, "high"),
        ({"consciousness": "U", "pulse": 131, "respiration_rate": 8}, 9, "high"),
    ],
)
def test_it_bands_the_risk_and_asks_for_escalation_from_low_medium(changes, total, risk):
    round_ = score(**changes)
    assert (round_.news2_total, round_.news2_risk) == (total, risk)
    assert round_.needs_escalation is (risk != "low")


def test_it_stores_the_news2_with_the_signed_round(recovering, nurse):
    round_ = take_round(recovering, nurse, pulse=131, on_oxygen=True)
    round_.refresh_from_db()
    assert (round_.news2_total, round_.news2_risk) == (5, "medium")
    assert round_.news2_scores["pulse"] == 3
    assert round_.signed_by == nurse and round_.signed_at
    assert AuditEvent.objects.filter(
        object_type="nursing.ObservationRound", detail="observations: NEWS2 5 (medium)"
    ).exists()


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"spo2": 140}, "spo2", "SpO₂ 140% is not possible: enter 50 to 100%, or re-measure."),
        ({"pulse": 0}, "pulse", "Pulse 0/min is not possible in an alert patient: re-measure."),
        ({"pulse": 0, "consciousness": "U"}, "pulse", "Pulse 0/min is not possible: enter 20"),
        (
            {"respiration_rate": 0},
            "respiration_rate",
            "Respiration rate 0/min is not possible in an alert patient",
        ),
        (
            {"temperature": Decimal("55")},
            "temperature",
            "Temperature 55 °C is not possible: enter 30.0 to 44.0 °C",
        ),
        ({"temperature": Decimal("25.5")}, "temperature", "Temperature 25.5 °C is not possible"),
        ({"systolic_bp": 20}, "systolic_bp", "Systolic BP 20 mmHg is not possible"),
        (
            {"systolic_bp": 120, "diastolic_bp": 125},
            "diastolic_bp",
            "The diastolic pressure must be below the systolic.",
        ),
        ({"pain_nrs": 11}, "pain_nrs", "less than or equal to 10"),
    ],
)
def test_it_refuses_impossible_values_with_a_clear_message(
    recovering, nurse, changes, field, message
):
    with pytest.raises(ValidationError) as refused:
        take_round(recovering, nurse, **changes)
    assert message in " ".join(refused.value.message_dict[field])
    assert not ObservationRound.objects.exists()


def test_it_accepts_unusual_but_possible_values_and_highlights_them(client, recovering, nurse):
    round_ = take_round(recovering, nurse, spo2=82, pulse=38, temperature=Decimal("34.6"))
    assert set(round_.unusual_fields()) == {"spo2", "pulse", "temperature"}
    client.force_login(nurse)
    page = client.get(reverse("nursing_record", args=[recovering.pk])).content.decode()
    assert page.count(" unusual") >= 3
    assert "Unusual values: re-check." in page


def test_it_records_rounds_only_in_recovery(appointment, nurse):
    with pytest.raises(services.NursingRefused, match="this patient is checked in"):
        take_round(appointment, nurse)


# --- Escalation ----------------------------------------------------------------------


def test_it_shows_an_escalation_banner_until_the_call_is_recorded(
    client, recovering, nurse, physician
):
    client.force_login(nurse)
    url = reverse("nursing_record", args=[recovering.pk])
    take_round(recovering, nurse)
    assert "escalation-banner" not in client.get(url).content.decode()

    round_ = take_round(recovering, nurse, systolic_bp=88, diastolic_bp=50)
    page = client.get(url).content.decode()
    assert "NEWS2 3 — low-medium risk." in page and "Call the physician now" in page
    assert reverse("nursing_escalation_new", args=[round_.pk]) in page

    response = client.post(reverse("nursing_escalation_new", args=[round_.pk]), {"note": "x"})
    assert response.status_code == 400
    assert "Choose the physician you called, or write their name." in response.content.decode()
    client.post(
        reverse("nursing_escalation_new", args=[round_.pk]),
        {"physician": physician.pk, "note": "Fluids, repeat in 15 min"},
    )
    escalation = Escalation.objects.get()
    assert (escalation.round, escalation.physician, escalation.recorded_by) == (
        round_,
        physician,
        nurse,
    )
    page = client.get(url).content.decode()
    assert "Physician called; keep observing" in page
    assert "Called Peter Holm" in page and "Fluids, repeat in 15 min" in page


def test_it_records_a_call_to_someone_outside_the_clinic(recovering, nurse):
    round_ = take_round(recovering, nurse, consciousness="V")
    escalation = services.escalation_record(
        actor=nurse, round_=round_, called_whom="On-call anaesthetist"
    )
    assert escalation.callee == "On-call anaesthetist"


def test_it_refuses_an_escalation_for_a_low_risk_round(recovering, nurse, physician):
    round_ = take_round(recovering, nurse)
    with pytest.raises(services.NursingRefused, match="no escalation is due"):
        services.escalation_record(actor=nurse, round_=round_, physician=physician)


# --- Amendments ----------------------------------------------------------------------


def test_it_amends_a_round_and_scores_it_again(client, recovering, nurse):
    round_ = take_round(recovering, nurse)
    client.force_login(nurse)
    url = reverse("nursing_round_amend", args=[round_.pk])
    response = client.post(url, round_amend_form(round_, spo2="150", reason="typo"))
    assert "SpO₂ 150% is not possible" in response.content.decode()
    response = client.post(url, round_amend_form(round_, spo2="91", reason="Typed 97 for 91"))
    assert response.status_code == 302

    round_.refresh_from_db()
    assert (round_.spo2, round_.news2_total, round_.news2_risk) == (91, 3, "low-medium")
    changes = list(
        Amendment.objects.filter(round=round_).values_list("field", "old_value", "new_value", "by")
    )
    assert changes == [
        ("SpO₂ (%)", "98", "91", nurse.pk),
        ("NEWS2", "0 (low)", "3 (low-medium)", nurse.pk),
    ]
    page = client.get(reverse("nursing_record", args=[recovering.pk])).content.decode()
    assert "Typed 97 for 91" in page and "<del>98</del>" in page
    assert "NEWS2 3 — low-medium risk." in page


def test_it_refuses_a_round_amendment_without_a_reason_or_a_change(recovering, nurse):
    round_ = take_round(recovering, nurse)
    with pytest.raises(services.NursingRefused, match="reason"):
        services.round_amend(actor=nurse, round_=round_, field="pulse", value=80, reason="")
    with pytest.raises(services.NursingRefused, match="the same"):
        services.round_amend(actor=nurse, round_=round_, field="pulse", value=72, reason="x")
    with pytest.raises(services.NursingRefused, match="cannot be amended"):
        services.round_amend(actor=nurse, round_=round_, field="news2_total", value=0, reason="x")
    assert not Amendment.objects.exists()


# --- Pages ---------------------------------------------------------------------------


def test_it_records_a_round_from_the_tablet_form(client, recovering, nurse):
    client.force_login(nurse)
    url = reverse("nursing_round_new", args=[recovering.pk])
    form = {
        **CALM,
        "on_oxygen": "False",
        "motor": "normal",
        "sensory": "normal",
        "puncture_site": "clean",
        "headache": "none",
        "nausea": "none",
    }
    response = client.post(url, {**form, "spo2": "140", "temperature": "55"})
    page = response.content.decode()
    assert "Nothing was saved" in page
    assert "SpO₂ 140% is not possible" in page and "Temperature 55 °C is not possible" in page
    assert 'value="140"' in page  # what was typed is kept to correct

    response = client.post(url, {**form, "consciousness": "C"}, follow=True)
    assert "NEWS2 3 (low-medium risk): call the physician now" in response.content.decode()
    assert ObservationRound.objects.get().signed_by == nurse


# --- Schedule and board --------------------------------------------------------------


def protocol(**values):
    return ProcedureProtocol(observation_interval_minutes=15, observation_count=2, **values)


def test_it_schedules_the_next_round_from_the_last_one():
    arrived = timezone.now()
    due = selectors.next_observation_due(
        protocol=protocol(), started_at=arrived, last_round_at=None, rounds_done=0, last_risk=None
    )
    assert due == arrived + datetime.timedelta(minutes=15)
    later = arrived + datetime.timedelta(minutes=17)
    due = selectors.next_observation_due(
        protocol=protocol(), started_at=arrived, last_round_at=later, rounds_done=1, last_risk="low"
    )
    assert due == later + datetime.timedelta(minutes=15)
    assert (
        selectors.next_observation_due(
            protocol=protocol(),
            started_at=arrived,
            last_round_at=later,
            rounds_done=2,
            last_risk="low",
        )
        is None
    )
    # A round still in an escalation band keeps the schedule going.
    assert (
        selectors.next_observation_due(
            protocol=protocol(),
            started_at=arrived,
            last_round_at=later,
            rounds_done=2,
            last_risk="medium",
        )
        is not None
    )


def test_it_seeds_observation_schedules_per_procedure_type(db):
    schedules = dict(
        ProcedureProtocol.objects.values_list("procedure_type__code", "observation_count")
    )
    assert schedules["esi-transforaminal"] == schedules["facet-injection"] == 2
    for code in ("scs-trial", "scs-implant", "vertebroplasty", "kyphoplasty", "rfa"):
        assert schedules[code] == 4, code
    assert set(
        ProcedureProtocol.objects.values_list("observation_interval_minutes", flat=True)
    ) == {15}


def board(client, calendar, **params):
    return client.get(reverse("nursing_board"), {"site": calendar["site"].pk, **params})


def test_it_shows_an_overdue_round_on_the_board(client, recovering, nurse, calendar):
    round_ = take_round(recovering, nurse)
    client.force_login(nurse)
    assert "OVERDUE" not in board(client, calendar).content.decode()
    ObservationRound.objects.filter(pk=round_.pk).update(
        taken_at=timezone.now() - datetime.timedelta(minutes=20)
    )
    page = board(client, calendar).content.decode()
    assert 'data-testid="overdue"' in page and "OVERDUE since" in page
    assert "0 · low" in page


def test_it_shows_every_state_on_the_board_and_refreshes_itself(client, calendar, nurse):
    now = timezone.now()
    # Today on the site's clock, even when the suite runs just after or before midnight:
    # the six appointments, 50 minutes apart, all start within the local day.
    midnight = timezone.localtime(now, calendar["site"].zone).replace(
        hour=0, minute=0, second=0, microsecond=0
    )
    last_possible = midnight + datetime.timedelta(days=1) - datetime.timedelta(minutes=50 * 6)
    early = min(max(now - datetime.timedelta(hours=3), midnight), last_possible)
    made = {}
    for n, status in enumerate(
        [
            Status.CONFIRMED,
            Status.CHECKED_IN,
            Status.IN_PROCEDURE,
            Status.IN_RECOVERY,
            Status.DISCHARGED,
            Status.CANCELLED,
        ]
    ):
        who = PatientFactory(
            mrn=f"S{n}", first_name="P", last_name=status, date_of_birth=datetime.date(1970, 1, 1)
        )
        made[status] = TodaysAppointmentFactory(
            calendar=calendar,
            patient=who,
            status=status,
            starts_at=early + datetime.timedelta(minutes=50 * n),
            recovery_bay=None,
            cancel_reason="patient_request" if status == Status.CANCELLED else "",
        )
    client.force_login(nurse)
    response = board(client, calendar)
    sections = {s["key"]: [r.appointment for r in s["rows"]] for s in response.context["sections"]}
    assert sections == {
        "waiting": [made[Status.CONFIRMED]],
        "checks": [made[Status.CHECKED_IN]],
        "procedure": [made[Status.IN_PROCEDURE]],
        "recovery": [made[Status.IN_RECOVERY]],
        "discharged": [made[Status.DISCHARGED]],
    }
    page = response.content.decode()
    assert 'hx-trigger="every 30s"' in page
    partial = client.get(
        reverse("nursing_board"), {"site": calendar["site"].pk}, HTTP_HX_REQUEST="true"
    )
    assert partial.content.decode().lstrip().startswith('<div id="board"')


def test_it_shows_the_front_desk_only_the_status(client, recovering, nurse, front_desk, calendar):
    take_round(recovering, nurse, pulse=131)
    client.force_login(front_desk)
    page = board(client, calendar).content.decode()
    assert "Karen Jensen" in page and "In recovery" in page
    assert "NEWS2" not in page and "3 · low-medium" not in page
    assert reverse("nursing_record", args=[recovering.pk]) not in page
    client.force_login(nurse)
    assert "3 · low-medium" in board(client, calendar).content.decode()


def test_it_keeps_the_board_query_count_flat(client, calendar, nurse, assert_query_count_flat):
    midnight = timezone.localtime(timezone.now(), calendar["site"].zone).replace(
        hour=0, minute=0, second=0, microsecond=0
    )
    made = []

    def add_rows(count):
        for _ in range(count):
            n = len(made)
            who = PatientFactory(
                mrn=f"B{n}",
                first_name="P",
                last_name=str(n),
                date_of_birth=datetime.date(1970, 1, 1),
            )
            status = [Status.CONFIRMED, Status.CHECKED_IN, Status.IN_RECOVERY][n % 3]
            appointment = TodaysAppointmentFactory(
                calendar=calendar,
                patient=who,
                status=status,
                starts_at=midnight + datetime.timedelta(minutes=25 * n),
                physician=UserFactory(username=f"doctor{n}"),
                room=calendar["fluoro"] if n % 2 else calendar["plain"],
                recovery_bay=None,
            )
            if status == Status.IN_RECOVERY:
                take_round(appointment, nurse)
            made.append(appointment)

    client.force_login(nurse)
    assert_query_count_flat(client, reverse("nursing_board"), add_rows, site=calendar["site"].pk)


def test_it_keeps_a_patient_in_recovery_on_the_board_past_midnight(client, calendar, nurse):
    yesterday_evening = timezone.localtime(timezone.now(), calendar["site"].zone).replace(
        hour=21, minute=0, second=0, microsecond=0
    ) - datetime.timedelta(days=1)
    late = TodaysAppointmentFactory(
        calendar=calendar,
        patient=nf_patient(),
        status=Status.IN_RECOVERY,
        starts_at=yesterday_evening,
    )
    not_shown = TodaysAppointmentFactory(
        calendar=calendar,
        patient=nf_patient(mrn="S-OLD-2"),
        status=Status.CONFIRMED,
        starts_at=yesterday_evening - datetime.timedelta(hours=2),
    )
    client.force_login(nurse)
    sections = {
        s["key"]: [r.appointment for r in s["rows"]]
        for s in board(client, calendar).context["sections"]
    }
    assert sections["recovery"] == [late]
    assert not_shown not in sections["waiting"]


def nf_patient(mrn="S-OLD-1"):
    return PatientFactory(
        mrn=mrn, first_name="Late", last_name="Evening", date_of_birth=datetime.date(1970, 1, 1)
    )


# --- The round form keeps a draft in the browser -------------------------------------


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
    page.locator("#nav-account").click()  # the account menu holds "Log out"
    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_label("Username")).to_be_visible()
    assert page.evaluate(drafts) == []

    saved = ObservationRound.objects.get()
    assert (saved.respiration_rate, saved.spo2, saved.on_oxygen, saved.pulse) == (18, 95, True, 74)
    assert (saved.consciousness, saved.news2_risk) == ("C", "medium")
