"""Managers edit the nursing protocols: checklist items per procedure type, the
anticoagulant hold table (per clinic protocol) and each procedure's schedule, discharge
scale, threshold and instructions."""

import pytest
from django.urls import reverse

from clinic.models import ProcedureType
from clinic.nursing import rules
from clinic.nursing.models import AnticoagulantHold, ChecklistItem, ProcedureProtocol
from tests.factories import ProcedureTypeFactory

NEW_ITEM = {
    "label": "Contrast allergy premedication given",
    "code": "premedication",
    "phase": "pre_procedure",
    "kind": "yes_no_na",
    "applies_when": "always",
    "required": "on",
    "hard_stop": "on",
    "fail_values": "no",
    "help_text": "",
    "order": "35",
    "active": "on",
}


def test_it_adds_a_checklist_item_that_the_next_checklist_asks(
    client, manager, appointment, calendar
):
    client.force_login(manager)
    response = client.post(
        reverse("nursing_checklist_item_create"),
        {**NEW_ITEM, "procedure_types": [calendar["tfesi"].pk]},
    )
    assert response.status_code == 302
    added = ChecklistItem.objects.get(code="premedication")
    assert list(added.procedure_types.all()) == [calendar["tfesi"]]
    assert added in rules.applicable_items(appointment)
    assert "Contrast allergy premedication given — not answered." in " ".join(
        rules.start_blockers(appointment)
    )
    assert added.history.earliest().history_user == manager  # protocol changes are kept


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"fail_values": ""}, "hard_stop", "Name the answers that fail this hard stop."),
        ({"fail_values": "perhaps"}, "fail_values", "Failing answers must be among: yes, no, na."),
        (
            {"kind": "choice", "choices": "Only one", "fail_values": "Only one"},
            "choices",
            "A choice needs at least two options.",
        ),
        (
            {"kind": "text", "hard_stop": "", "fail_values": "no"},
            "fail_values",
            "Only yes/no and choice answers can fail a hard stop.",
        ),
        ({"unit": "mg"}, "unit", "A unit and a range only apply to number answers."),
        (
            {
                "kind": "number",
                "hard_stop": "",
                "fail_values": "",
                "min_value": "10",
                "max_value": "5",
            },
            "max_value",
            "The highest value must be above the lowest.",
        ),
        ({"code": "consent"}, "code", "already exists"),
    ],
)
def test_it_explains_an_invalid_checklist_item(client, manager, changes, field, message):
    client.force_login(manager)
    data = {k: v for k, v in {**NEW_ITEM, **changes}.items() if v != ""}
    response = client.post(reverse("nursing_checklist_item_create"), data)
    assert response.status_code == 200
    assert message in " ".join(response.context["form"].errors[field])
    assert not ChecklistItem.objects.filter(label=NEW_ITEM["label"]).exists()


def test_it_filters_the_checklist_to_one_procedures_template(client, manager):
    caudal = ProcedureType.objects.get(code="esi-caudal")
    client.force_login(manager)
    response = client.get(reverse("nursing_checklist_item_list"), {"procedure_type": caudal.pk})
    labels = [row.record.code for row in response.context["table"].rows]
    assert "glucose" in labels and "consent" in labels
    rfa = ProcedureType.objects.get(code="rfa")
    response = client.get(reverse("nursing_checklist_item_list"), {"procedure_type": rfa.pk})
    assert "glucose" not in [row.record.code for row in response.context["table"].rows]


def test_it_edits_the_hold_table_and_refuses_a_duplicate(client, manager):
    client.force_login(manager)
    page = client.get(reverse("nursing_hold_list")).content.decode()
    assert "per clinic protocol" in page and "ASRA Pain Medicine" in page
    hold = AnticoagulantHold.objects.get(agent="apixaban", bleeding_risk="intermediate")
    data = {
        "agent": "apixaban",
        "bleeding_risk": "intermediate",
        "hold_days": "4",
        "restart_days": "1",
        "note": "Clinic decision 2026",
        "source": "Clinic protocol board",
    }
    response = client.post(reverse("nursing_hold_edit", args=[hold.pk]), data)
    assert response.status_code == 302
    hold.refresh_from_db()
    assert (hold.hold_days, hold.source) == (4, "Clinic protocol board")
    response = client.post(reverse("nursing_hold_create"), data)
    assert "already has a hold time for that bleeding risk" in response.content.decode()
    response = client.post(reverse("nursing_hold_create"), {**data, "hold_days": "45"})
    assert "less than or equal to 30" in response.content.decode()


def test_it_seeds_the_hold_table_from_the_reference(db):
    holds = {(h.agent, h.bleeding_risk): h.hold_days for h in AnticoagulantHold.objects.all()}
    assert holds[("warfarin", "intermediate")] == 5
    assert holds[("clopidogrel", "high")] == 7
    assert holds[("prasugrel", "high")] == 10
    assert holds[("ticagrelor", "high")] == 5
    assert holds[("apixaban", "intermediate")] == 3 and holds[("apixaban", "high")] == 5
    assert holds[("rivaroxaban", "high")] == 3
    assert holds[("dabigatran", "high")] == 5
    assert holds[("enoxaparin", "high")] == 1
    assert holds[("aspirin", "high")] == 6 and holds[("aspirin", "intermediate")] == 0
    assert all(days == 0 for (agent, risk), days in holds.items() if risk == "low")
    assert ("edoxaban", "high") not in holds  # not in the reference: the physician decides
    assert set(AnticoagulantHold.objects.values_list("source", flat=True)) == {
        "ASRA Pain Medicine 2018 (Narouze et al., Reg Anesth Pain Med 2018;43:225-62)"
    }


def test_it_edits_a_procedures_protocol(client, manager):
    procedure_type = ProcedureType.objects.get(code="facet-injection")
    client.force_login(manager)
    url = reverse("nursing_protocol_edit", args=[procedure_type.pk])
    page = client.get(url).content.decode()
    assert "Consent form signed" in page  # its checklist template
    data = {
        "observation_interval_minutes": "10",
        "observation_count": "3",
        "discharge_scale": "padss",
        "discharge_threshold": "11",
        "instructions_en": "Go home",
        "instructions_da": "Gå hjem",
    }
    response = client.post(url, data)
    assert "less than or equal to 10" in response.content.decode()
    response = client.post(url, {**data, "discharge_threshold": "8"})
    assert response.status_code == 302
    protocol = ProcedureProtocol.objects.get(procedure_type=procedure_type)
    assert (
        protocol.observation_interval_minutes,
        protocol.observation_count,
        protocol.discharge_scale,
        protocol.discharge_threshold,
    ) == (10, 3, "padss", 8)


def test_it_gives_a_new_procedure_type_the_default_protocol(client, manager):
    new = ProcedureTypeFactory(
        code="new",
        name="New block",
        category="therapeutic",
        procedure_minutes=20,
        bleeding_risk="low",
    )
    protocol = rules.protocol_for(new)
    assert protocol.pk is None
    assert (protocol.discharge_scale, protocol.discharge_threshold, protocol.observation_count) == (
        "aldrete",
        9,
        2,
    )
    client.force_login(manager)
    page = client.get(reverse("nursing_protocol_list"), {"name": "New block"}).content.decode()
    assert "Every 15 min × 2" in page and "9 of 10" in page
    client.post(
        reverse("nursing_protocol_edit", args=[new.pk]),
        {
            "observation_interval_minutes": "15",
            "observation_count": "2",
            "discharge_scale": "aldrete",
            "discharge_threshold": "9",
            "instructions_en": "x",
            "instructions_da": "y",
        },
    )
    assert ProcedureProtocol.objects.filter(procedure_type=new).exists()


@pytest.mark.parametrize(
    ("url_name", "make"),
    [
        (
            "nursing_checklist_item_list",
            lambda n: ChecklistItem.objects.create(
                code=f"extra-{n}", label=f"Extra {n}", phase="sign_in", kind="text"
            ),
        ),
        (
            "nursing_hold_list",
            lambda n: (
                AnticoagulantHold.objects.create(
                    agent="edoxaban", bleeding_risk=["intermediate", "high"][n % 2], hold_days=n
                )
                if n < 2
                else None
            ),
        ),
        (
            "nursing_protocol_list",
            lambda n: ProcedureTypeFactory(
                code=f"extra-{n}",
                name=f"Extra {n}",
                category="therapeutic",
                procedure_minutes=20,
                bleeding_risk="low",
            ),
        ),
    ],
)
def test_it_keeps_the_protocol_lists_query_count_flat(
    client, manager, url_name, make, assert_query_count_flat
):
    made = []

    def add_rows(count):
        for _ in range(count):
            make(len(made))
            made.append(1)

    client.force_login(manager)
    assert_query_count_flat(client, reverse(url_name), add_rows)


def test_it_exports_the_hold_table_as_csv(client, manager):
    client.force_login(manager)
    response = client.get(reverse("nursing_hold_list"), {"_export": "csv"})
    assert response["Content-Type"].startswith("text/csv")
    assert "Apixaban" in response.content.decode()
