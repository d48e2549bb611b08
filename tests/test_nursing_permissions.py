"""Who may do what with the perioperative record: nurses and physicians record, only
physicians override or sign as physician, the front desk sees only the status on the
board, managers read everything and edit the protocols."""

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from clinic.nursing import services
from clinic.nursing.models import AnticoagulantHold, ChecklistAnswer, ChecklistItem
from tests.factories import (
    CALM,
    TodaysAppointmentFactory,
    ready_to_start,
    take_round,
    to_recovery,
)

ROLES = ["front_desk", "nurse", "physician", "manager", "admin", "outsider"]
EVERY_STAFF = {"front_desk", "nurse", "physician", "manager", "admin"}
RECORDERS = {"nurse", "physician"}
READERS = {"nurse", "physician", "manager", "admin"}
EDITORS = {"manager", "admin"}


@pytest.fixture
def record(calendar, patient, nurse, physician):
    """An appointment in recovery with a round, a score and a signed answer."""
    appointment = to_recovery(
        TodaysAppointmentFactory(calendar=calendar, patient=patient), nurse, physician
    )
    round_ = take_round(appointment, nurse, consciousness="C")
    assessment = services.assessment_record(
        actor=nurse,
        appointment=appointment,
        scores={
            "activity": 2,
            "respiration": 2,
            "circulation": 2,
            "consciousness": 2,
            "spo2": 2,
        },
    )
    return {
        "appointment": appointment.pk,
        "round": round_.pk,
        "assessment": assessment.pk,
        "answer": ChecklistAnswer.objects.filter(appointment=appointment).first().pk,
        "procedure_type": appointment.procedure_type_id,
        "item": ChecklistItem.objects.get(code="consent").pk,
        "hold": AnticoagulantHold.objects.first().pk,
    }


# url name, argument names, roles allowed
PAGES = [
    ("nursing_board", [], EVERY_STAFF),
    ("nursing_record", ["appointment"], READERS),
    ("nursing_checklist", ["appointment", "phase"], RECORDERS),
    ("nursing_round_new", ["appointment"], RECORDERS),
    ("nursing_discharge", ["appointment"], RECORDERS),
    ("nursing_instructions", ["appointment"], READERS),
    ("nursing_answer_amend", ["answer"], RECORDERS),
    ("nursing_round_amend", ["round"], RECORDERS),
    ("nursing_assessment_amend", ["assessment"], RECORDERS),
    ("nursing_protocol_list", [], READERS),
    ("nursing_protocol_edit", ["procedure_type"], EDITORS),
    ("nursing_checklist_item_list", [], READERS),
    ("nursing_checklist_item_create", [], EDITORS),
    ("nursing_checklist_item_edit", ["item"], EDITORS),
    ("nursing_hold_list", [], READERS),
    ("nursing_hold_create", [], EDITORS),
    ("nursing_hold_edit", ["hold"], EDITORS),
]
# POST-only actions: url name, argument, roles allowed
ACTIONS = [
    ("nursing_check_in", "appointment", {"front_desk", "nurse", "physician", "manager", "admin"}),
    ("nursing_start", "appointment", RECORDERS),
    ("nursing_end", "appointment", RECORDERS),
    ("nursing_time_out_confirm", "appointment", RECORDERS),
    ("nursing_escalation_new", "round", RECORDERS),
]


def url_of(name, arg_names, record):
    args = [record[a] if a != "phase" else "pre_procedure" for a in arg_names]
    return reverse(name, args=args)


@pytest.mark.parametrize(("name", "arg_names", "allowed"), PAGES)
def test_it_opens_each_page_only_to_its_roles(client, personas, record, name, arg_names, allowed):
    url = url_of(name, arg_names, record)
    assert client.get(url).status_code == 302  # anonymous: to the login page
    for role in ROLES:
        client.force_login(personas[role])
        status = client.get(url).status_code
        assert status == (200 if role in allowed else 403), f"{role} on {name}: {status}"


@pytest.mark.parametrize(("name", "arg", "allowed"), ACTIONS)
def test_it_lets_only_its_roles_post_each_action(client, personas, record, name, arg, allowed):
    url = reverse(name, args=[record[arg]])
    response = client.post(url)
    assert response.status_code == 302 and reverse("login") in response.url
    for role in ROLES:
        client.force_login(personas[role])
        status = client.post(url).status_code
        if role in allowed:
            assert status != 403, f"{role} on {name}"
        else:
            assert status == 403, f"{role} on {name}: {status}"
    assert client.get(url).status_code == 405


def test_it_shows_managers_the_record_without_recording_buttons(client, manager, record):
    client.force_login(manager)
    page = client.get(reverse("nursing_record", args=[record["appointment"]])).content.decode()
    assert "Observations (NEWS2)" in page and "Consent form signed" in page
    for button in ("Record observations", "Amend", "Record call"):
        assert button not in page, button


def test_it_offers_the_override_only_to_physicians(client, calendar, patient, nurse, physician):
    appointment = TodaysAppointmentFactory(calendar=calendar, patient=patient)
    url = reverse("nursing_record", args=[appointment.pk])
    client.force_login(physician)
    # Nothing answered: nothing a physician may override (issue 10).
    assert "Override and start" not in client.get(url).content.decode()
    ready_to_start(appointment, nurse, physician, escort="no")
    client.force_login(nurse)
    assert "Override and start" not in client.get(url).content.decode()
    client.force_login(physician)
    assert "Override and start" in client.get(url).content.decode()


def test_it_offers_nursing_links_by_role(client, personas):
    for role in ROLES:
        client.force_login(personas[role])
        page = client.get(reverse("home")).content.decode()
        assert (reverse("nursing_board") in page) is (role in EVERY_STAFF), role
        assert (reverse("nursing_protocol_list") in page) is (role in READERS), role


def test_it_lists_perioperative_records_on_the_patient_page(client, personas, record, patient):
    for role in ROLES:
        client.force_login(personas[role])
        response = client.get(reverse("patient_detail", args=[patient.pk]))
        if response.status_code != 200:
            continue
        link = reverse("nursing_record", args=[record["appointment"]])
        assert (link in response.content.decode()) is (role in READERS), role


def test_it_lists_the_patients_procedures_without_a_query_each(
    client, nurse, calendar, patient, assert_query_count_flat
):
    from scheduling.models import Status

    days_ago = iter(range(1, 100))

    def add_rows(count):
        for _ in range(count):
            start = timezone.now() - datetime.timedelta(days=next(days_ago))
            TodaysAppointmentFactory(
                calendar=calendar, patient=patient, status=Status.COMPLETED, starts_at=start
            )
            start = timezone.now() - datetime.timedelta(days=next(days_ago))
            TodaysAppointmentFactory(
                calendar=calendar,
                patient=patient,
                status=Status.CANCELLED,
                starts_at=start,
                cancel_reason="other",
            )

    client.force_login(nurse)
    assert_query_count_flat(client, reverse("patient_detail", args=[patient.pk]), add_rows)
    page = client.get(reverse("patient_detail", args=[patient.pk])).content.decode()
    section = page.split("Perioperative records", 1)[1].split("</section>", 1)[0]
    assert section.count("Open record") == 33  # completed ones; cancelled ones have none


def api_cases(record):
    a, r = record["appointment"], record["round"]
    return [
        ("get", reverse("api_nursing_checklist", args=[a]), None, READERS),
        (
            "post",
            reverse("api_nursing_checklist", args=[a]),
            {"answers": [{"item": "signout-plan", "value": "Home"}]},
            RECORDERS,
        ),
        (
            "post",
            reverse("api_nursing_answer_amend", args=[record["answer"]]),
            {"value": "no", "reason": "test"},
            RECORDERS,
        ),
        ("post", reverse("api_nursing_time_out", args=[a]), {"role": "nurse"}, RECORDERS),
        ("get", reverse("api_nursing_rounds", args=[a]), None, READERS),
        ("post", reverse("api_nursing_rounds", args=[a]), CALM, RECORDERS),
        (
            "post",
            reverse("api_nursing_round_amend", args=[r]),
            {"field": "pulse", "value": 75, "reason": "x"},
            RECORDERS,
        ),
        ("post", reverse("api_nursing_escalations", args=[r]), {"called_whom": "Dr X"}, RECORDERS),
        ("get", reverse("api_nursing_assessments", args=[a]), None, READERS),
        ("post", reverse("api_nursing_assessments", args=[a]), {"scores": {}}, RECORDERS),
        ("get", reverse("api_nursing_discharge", args=[a]), None, READERS),
        ("post", reverse("api_nursing_discharge", args=[a]), {}, RECORDERS),
    ]


def test_it_applies_the_same_roles_to_the_api(personas, record):
    client = APIClient()
    for method, url, body, allowed in api_cases(record):
        assert getattr(client, method)(url, body, format="json").status_code == 401
        for role in ROLES:
            client.force_authenticate(personas[role])
            status = getattr(client, method)(url, body, format="json").status_code
            if role in allowed:
                assert status not in (401, 403), f"{role} {method} {url}: {status}"
            else:
                assert status == 403, f"{role} {method} {url}: {status}"
        client.force_authenticate(None)


def test_it_gives_only_physicians_the_override_and_the_physician_signature(personas):
    for role in ROLES:
        user = personas[role]
        assert user.has_perm("nursing.override_hard_stop") is (role == "physician"), role
        assert user.has_perm("nursing.sign_time_out_as_physician") is (role == "physician")
