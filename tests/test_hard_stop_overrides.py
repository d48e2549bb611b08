"""Hard stops are overridden one at a time, never the sign-in or time-out, and a failing one is
loud everywhere: the sign result, the record, the boards, the API (issue 10)."""

import datetime
from unittest import mock

import pytest
from django.db import IntegrityError
from django.db.models import Model
from django.urls import reverse
from playwright.sync_api import expect
from rest_framework.test import APIClient

from clinic.nursing import services
from clinic.nursing.guards import HardStopRefused
from clinic.nursing.models import ChecklistItem, HardStopOverride, Phase
from scheduling.models import Status
from tests.browser import TABLET, login
from tests.factories import answer_items, confirm_time_out, ready_to_start

HAEMATOLOGY = "Haematologist agreed: proceed on apixaban"


def dose_days_before(appointment, days, **extra):
    day = appointment.local_start.date() - datetime.timedelta(days=days)
    return {"doses": {"apixaban": day.isoformat()}, **extra}


def start(appointment, actor, reason="", **overrides):
    return services.procedure_start(
        actor=actor, appointment=appointment, override_reason=reason, overrides=overrides
    )


def refused(appointment, actor, reason="", **overrides) -> HardStopRefused:
    with pytest.raises(HardStopRefused) as refusal:
        start(appointment, actor, reason, **overrides)
    appointment.refresh_from_db()
    assert appointment.status == Status.CHECKED_IN
    assert not HardStopOverride.objects.filter(appointment=appointment).exists()
    return refusal.value


def stops(refusal) -> dict[str, bool]:
    return {r.stop: r.overridable for r in refusal.reasons}


def api(user):
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def two_stops(appointment, on_apixaban, nurse, physician):
    """Apixaban two days ago (held 3) and no escort: two overridable hard stops."""
    ready_to_start(
        appointment,
        nurse,
        physician,
        antithrombotics=dose_days_before(appointment, 2),
        escort="no",
    )
    return appointment


# --- One override per stop -----------------------------------------------------------


def test_it_waives_only_the_stop_a_reason_names(two_stops, physician):
    refusal = refused(two_stops, physician, antithrombotics=HAEMATOLOGY)
    assert stops(refusal) == {"escort": True}
    assert refusal.messages == ["Hard stop — Escort home arranged (no driving today): answered No."]

    start(two_stops, physician, antithrombotics=HAEMATOLOGY, escort="Taxi booked by the ward")
    assert two_stops.status == Status.IN_PROCEDURE
    overrides = {o.stop: o for o in HardStopOverride.objects.filter(appointment=two_stops)}
    assert set(overrides) == {"antithrombotics", "escort"}
    assert overrides["antithrombotics"].reason == HAEMATOLOGY
    assert overrides["antithrombotics"].item == ChecklistItem.objects.get(code="antithrombotics")
    assert "Apixaban last taken 2 days before" in overrides["antithrombotics"].failures
    assert overrides["escort"].reason == "Taxi booked by the ward"
    assert all(o.by == physician for o in overrides.values())


def test_it_does_not_spread_one_general_reason_over_two_stops(two_stops, physician):
    refusal = refused(two_stops, physician, "proceed on clopidogrel")
    assert stops(refusal) == {"antithrombotics": True, "escort": True}


def test_it_takes_a_general_reason_for_a_single_overridable_stop(
    appointment, on_apixaban, nurse, physician
):
    ready_to_start(appointment, nurse, physician, antithrombotics=dose_days_before(appointment, 2))
    start(appointment, physician, HAEMATOLOGY)
    assert HardStopOverride.objects.get(appointment=appointment).stop == "antithrombotics"


def test_it_never_overrides_the_sign_in_or_the_time_out(appointment, on_apixaban, nurse, physician):
    """The reported case: one reason about an anticoagulant, nothing else done."""
    answer_items(
        appointment, nurse, [Phase.PRE_PROCEDURE], antithrombotics=dose_days_before(appointment, 1)
    )
    refusal = refused(appointment, physician, "proceed on clopidogrel")
    blocking = stops(refusal)
    assert blocking["antithrombotics"] is True
    assert blocking["timeout-patient"] is False and blocking["site-marked"] is False
    assert blocking["time-out-nurse"] is False and blocking["time-out-physician"] is False
    every_stop = dict.fromkeys(blocking, "Emergency")
    refusal = refused(appointment, physician, **every_stop)
    assert "antithrombotics" not in stops(refusal)
    assert "cannot be overridden" in refusal.detail


def test_it_never_overrides_a_failed_time_out_item(appointment, nurse, physician):
    ready_to_start(appointment, nurse, physician, timeout_position="no")
    refusal = refused(appointment, physician, "Position is fine", **{"timeout-position": "fine"})
    assert stops(refusal) == {"timeout-position": False}


def test_it_never_overrides_an_unanswered_item(appointment, nurse, physician):
    ready_to_start(appointment, nurse, physician, escort=None)
    refusal = refused(appointment, physician, "Taxi", escort="Taxi")
    assert stops(refusal) == {"escort": False}
    assert refusal.messages == [
        "Pre-procedure: Escort home arranged (no driving today) — not answered."
    ]


def test_it_lets_only_a_physician_override(two_stops, nurse):
    refusal = refused(two_stops, nurse, antithrombotics=HAEMATOLOGY, escort="Taxi")
    assert "Only a physician can override" in refusal.detail


def test_it_refuses_the_time_out_override_through_the_api(
    appointment, on_apixaban, nurse, physician
):
    answer_items(
        appointment, nurse, [Phase.PRE_PROCEDURE], antithrombotics=dose_days_before(appointment, 1)
    )
    url = reverse("api-appointment-transition", args=[appointment.pk])
    body = {
        "to": "in_procedure",
        "override_reason": "proceed on clopidogrel",
        "overrides": {"antithrombotics": HAEMATOLOGY, "time-out-nurse": "Emergency"},
    }
    response = api(physician).post(url, body, format="json")
    assert response.status_code == 409
    reasons = {r["stop"]: r for r in response.json()["reasons"]}
    assert reasons["time-out-nurse"]["overridable"] is False
    assert reasons["timeout-patient"] == {
        "code": "start_blocked",
        "message": "Time-out: Patient confirmed — not answered.",
        "stop": "timeout-patient",
        "overridable": False,
    }
    assert "antithrombotics" not in reasons
    appointment.refresh_from_db()
    assert appointment.status == Status.CHECKED_IN
    assert not HardStopOverride.objects.exists()


def test_it_overrides_per_stop_through_the_api(two_stops, physician):
    url = reverse("api-appointment-transition", args=[two_stops.pk])
    response = api(physician).post(
        url, {"to": "in_procedure", "overrides": {"antithrombotics": HAEMATOLOGY}}, format="json"
    )
    assert response.status_code == 409
    assert [(r["stop"], r["overridable"]) for r in response.json()["reasons"]] == [("escort", True)]
    response = api(physician).post(
        url,
        {"to": "in_procedure", "overrides": {"antithrombotics": HAEMATOLOGY, "escort": "Taxi"}},
        format="json",
    )
    assert response.status_code == 200
    assert HardStopOverride.objects.filter(appointment=two_stops).count() == 2


def test_it_documents_the_per_stop_overrides_in_the_schema(nurse):
    schema = api(nurse).get(reverse("api_schema"), {"format": "json"}).json()
    transition = schema["components"]["schemas"]["Transition"]["properties"]
    assert "overrides" in transition
    reason = schema["components"]["schemas"]["Reason"]["properties"]
    assert {"stop", "overridable"} <= set(reason)


def test_it_asks_a_reason_per_overridable_stop_on_the_start_page(client, two_stops, physician):
    client.force_login(physician)
    page = client.get(reverse("nursing_record", args=[two_stops.pk])).content.decode()
    assert 'name="override-antithrombotics"' in page and 'name="override-escort"' in page
    url = reverse("nursing_start", args=[two_stops.pk])
    response = client.post(url, {"override-antithrombotics": HAEMATOLOGY})
    assert response.status_code == 409
    assert "Escort home arranged" in response.content.decode()
    assert HAEMATOLOGY in response.content.decode()  # the typed reason is kept
    response = client.post(
        url, {"override-antithrombotics": HAEMATOLOGY, "override-escort": "Taxi"}
    )
    assert response.status_code == 302
    two_stops.refresh_from_db()
    assert two_stops.status == Status.IN_PROCEDURE
    page = client.get(reverse("nursing_record", args=[two_stops.pk])).content.decode()
    assert "Hard stop overridden" in page and HAEMATOLOGY in page
    assert "Anticoagulant / antiplatelet last doses" in page
    assert "In procedure" in page and "inprocedure" not in page and "in_procedure)" not in page


def test_it_refuses_the_time_out_override_on_the_page(client, appointment, nurse, physician):
    answer_items(appointment, nurse, [Phase.PRE_PROCEDURE, Phase.SIGN_IN])
    client.force_login(physician)
    page = client.get(reverse("nursing_record", args=[appointment.pk])).content.decode()
    assert 'name="override-timeout-patient"' not in page
    response = client.post(
        reverse("nursing_start", args=[appointment.pk]),
        {"override_reason": "Emergency", "override-timeout-patient": "Emergency"},
    )
    assert response.status_code == 409
    assert "Time-out: not confirmed by the nurse." in response.content.decode()
    appointment.refresh_from_db()
    assert appointment.status == Status.CHECKED_IN


# --- Which stops may be overridden: protocol data ------------------------------------


def test_it_seeds_which_stops_a_physician_may_override(db):
    overridable = set(ChecklistItem.objects.filter(overridable=True).values_list("code", flat=True))
    assert overridable == {"antithrombotics", "fasting", "glucose", "escort"}


def test_it_follows_a_managers_change_of_what_may_be_overridden(
    client, manager, appointment, nurse, physician
):
    escort = ChecklistItem.objects.get(code="escort")
    client.force_login(manager)
    form = client.get(reverse("nursing_checklist_item_edit", args=[escort.pk]))
    data = {
        k: v
        for k, v in form.context["form"].initial.items()
        if v not in (None, False) and k not in ("procedure_types", "overridable")
    }
    data.update(fail_values="no", choices="", required="on", hard_stop="on", active="on")
    response = client.post(reverse("nursing_checklist_item_edit", args=[escort.pk]), data)
    assert response.status_code == 302, response.content.decode()
    escort.refresh_from_db()
    assert not escort.overridable

    ready_to_start(appointment, nurse, physician, escort="no")
    assert stops(refused(appointment, physician, escort="Taxi")) == {"escort": False}
    ChecklistItem.objects.filter(code="escort").update(overridable=True)
    start(appointment, physician, escort="Taxi")
    assert appointment.status == Status.IN_PROCEDURE


def test_it_never_lets_a_manager_make_the_time_out_overridable(client, manager):
    item = ChecklistItem.objects.get(code="timeout-patient")
    item.overridable = True
    with pytest.raises(Exception, match="never be overridden"):
        item.full_clean()
    with pytest.raises(IntegrityError):
        ChecklistItem.objects.filter(pk=item.pk).update(overridable=True)


# --- A failing hard stop is loud -----------------------------------------------------


@pytest.fixture
def clopidogrel_signed(appointment, on_apixaban, nurse):
    """Apixaban yesterday, risk factors ticked: the pre-procedure checks signed with a hard stop."""
    answer_items(
        appointment,
        nurse,
        [Phase.PRE_PROCEDURE],
        antithrombotics=dose_days_before(appointment, 1, risk_factors=True),
    )
    return appointment


def test_it_says_at_signing_that_the_procedure_cannot_start(
    client, appointment, on_apixaban, nurse
):
    client.force_login(nurse)
    url = reverse("nursing_checklist", args=[appointment.pk, "pre_procedure"])
    day = (appointment.local_start.date() - datetime.timedelta(days=1)).isoformat()
    data = {
        f"item-{item.code}": "yes"
        for item in ChecklistItem.objects.filter(phase="pre_procedure", kind="yes_no")
    }
    data.update(
        {
            "item-baseline-systolic": "130",
            "item-baseline-diastolic": "80",
            "item-baseline-pulse": "70",
            "item-baseline-spo2": "98",
            "item-baseline-pain": "5",
            "item-antithrombotics-apixaban": day,
            "item-antithrombotics-risk": "on",
            "action": "sign",
        }
    )
    response = client.post(url, data, follow=True)
    page = response.content.decode()
    assert "signed, but the procedure cannot start:" in page
    assert "Apixaban last taken 1 day before" in page
    assert "answers signed." not in page


def test_it_shows_a_hard_stop_after_signing_on_the_record(client, clopidogrel_signed, nurse):
    client.force_login(nurse)
    page = client.get(reverse("nursing_record", args=[clopidogrel_signed.pk])).content.decode()
    banner = page.split('data-testid="hard-stop-banner"')[1].split("</div>")[0]
    assert "Apixaban last taken 1 day before" in banner


def test_it_flags_a_hard_stop_on_the_recovery_board(client, clopidogrel_signed, nurse):
    client.force_login(nurse)
    page = client.get(reverse("nursing_board")).content.decode()
    row = page.split(f'data-testid="board-row-{clopidogrel_signed.pk}"')[1].split("</tr>")[0]
    assert 'data-testid="hard-stop-flag"' in row
    assert "Apixaban last taken 1 day before" in row


def test_it_flags_a_hard_stop_on_the_day_board(client, clopidogrel_signed, nurse):
    client.force_login(nurse)
    day = clopidogrel_signed.local_start.date().isoformat()
    page = client.get(
        reverse("day_board"), {"site": clopidogrel_signed.site_id, "day": day}
    ).content.decode()
    card = page.split(f'id="card-{clopidogrel_signed.pk}"')[1].split("</article>")[0]
    assert 'data-testid="hard-stop-flag"' in card


@pytest.mark.parametrize("name", ["day_board", "day_list_print"])
def test_it_reads_no_column_of_a_flagged_card_row_by_row(client, clopidogrel_signed, nurse, name):
    """The boards read a chosen set of columns (selectors_board.SHOWN_ON_BOARDS); one the
    cards, the print list or the hard-stop check needs but that set lacks would be read
    with a query per card (Django reads a deferred column with refresh_from_db)."""
    client.force_login(nurse)
    day = clopidogrel_signed.local_start.date().isoformat()
    with mock.patch.object(Model, "refresh_from_db", autospec=True) as deferred_read:
        page = client.get(reverse(name), {"site": clopidogrel_signed.site_id, "day": day})
    assert page.status_code == 200
    assert 'data-testid="hard-stop-flag"' in page.content.decode()
    assert deferred_read.call_args_list == []


def test_it_keeps_the_flag_on_a_card_swapped_in_and_on_the_physicians_day(
    client, clopidogrel_signed, nurse, front_desk
):
    """The card htmx swaps in after a status change, and the physician's day, read the
    flags as the day board does: for staff who see them only."""
    url = reverse("board_card_transition", args=[clopidogrel_signed.pk])
    client.force_login(nurse)
    card = client.post(url, {"to": "nonsense"}, HTTP_HX_REQUEST="true").content.decode()
    assert 'data-testid="hard-stop-flag"' in card
    day = clopidogrel_signed.local_start.date().isoformat()
    schedule = client.get(
        reverse("physician_day"), {"physician": clopidogrel_signed.physician_id, "day": day}
    ).content.decode()
    assert 'data-testid="hard-stop-flag"' in schedule
    client.force_login(front_desk)
    card = client.post(url, {"to": "nonsense"}, HTTP_HX_REQUEST="true").content.decode()
    assert f'id="card-{clopidogrel_signed.pk}"' in card
    assert 'data-testid="hard-stop-flag"' not in card


def test_it_shows_an_override_on_the_boards(client, two_stops, physician, nurse):
    start(two_stops, physician, antithrombotics=HAEMATOLOGY, escort="Taxi")
    client.force_login(nurse)
    page = client.get(reverse("nursing_board")).content.decode()
    row = page.split(f'data-testid="board-row-{two_stops.pk}"')[1].split("</tr>")[0]
    assert 'data-testid="override-flag"' in row and 'data-testid="hard-stop-flag"' not in row
    day = two_stops.local_start.date().isoformat()
    page = client.get(
        reverse("day_board"), {"site": two_stops.site_id, "day": day}
    ).content.decode()
    card = page.split(f'id="card-{two_stops.pk}"')[1].split("</article>")[0]
    assert 'data-testid="override-flag"' in card
    printed = client.get(
        reverse("day_list_print"), {"site": two_stops.site_id, "day": day}
    ).content.decode()
    assert "Overridden: Escort home arranged (no driving today)" in printed


def test_it_exposes_hard_stops_and_overrides_in_the_api(clopidogrel_signed, nurse, physician):
    url = reverse("api_nursing_checklist", args=[clopidogrel_signed.pk])
    body = api(nurse).get(url).json()
    assert len(body["hard_stops"]) == 1 and "Apixaban" in body["hard_stops"][0]
    assert body["overrides"] == []
    answer_items(clopidogrel_signed, nurse, [Phase.SIGN_IN, Phase.TIME_OUT])
    confirm_time_out(clopidogrel_signed, nurse, physician)
    start(clopidogrel_signed, physician, antithrombotics=HAEMATOLOGY)
    body = api(nurse).get(url).json()
    assert body["hard_stops"] == []
    [override] = body["overrides"]
    assert override["stop"] == "antithrombotics" and override["reason"] == HAEMATOLOGY
    assert override["to_status"] == "in_procedure"


# --- The hold rule follows the risk factors ------------------------------------------


def test_it_recalculates_the_hold_as_risk_factors_are_ticked(
    client, appointment, on_apixaban, nurse
):
    client.force_login(nurse)
    url = reverse("nursing_hold_text", args=[appointment.pk])
    day = (appointment.local_start.date() - datetime.timedelta(days=4)).isoformat()
    plain = client.get(
        url,
        {"item": "antithrombotics", "item-antithrombotics-apixaban": day},
        HTTP_HX_REQUEST="true",
    ).content.decode()
    assert "held 3 days before intermediate-risk procedures" in plain
    risky = client.get(
        url,
        {
            "item": "antithrombotics",
            "item-antithrombotics-apixaban": day,
            "item-antithrombotics-risk": "on",
        },
        HTTP_HX_REQUEST="true",
    ).content.decode()
    assert "held 5 days before high-risk procedures" in risky
    assert "Apixaban last taken 4 days before" in risky  # the hard stop it would be
    page = client.get(reverse("nursing_checklist", args=[appointment.pk, "pre_procedure"]))
    assert f'hx-get="{url}?item=antithrombotics"' in page.content.decode()


@pytest.mark.browser
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_it_updates_the_hold_text_on_the_tablet_as_risk_factors_are_ticked(
    open_page, appointment, on_apixaban, nurse
):
    page = open_page(TABLET)
    login(page, nurse)
    page.goto(reverse("nursing_checklist", args=[appointment.pk, "pre_procedure"]))
    hold = page.locator("#hold-antithrombotics")
    expect(hold).to_contain_text("held 3 days before intermediate-risk procedures")
    day = appointment.local_start.date() - datetime.timedelta(days=4)
    page.get_by_label("Apixaban (Eliquis): last dose taken on").fill(day.isoformat())
    page.get_by_label("Bleeding risk factors").check()
    expect(hold).to_contain_text("held 5 days before high-risk procedures")
    expect(hold).to_contain_text("Apixaban last taken 4 days before")
    page.get_by_label("Bleeding risk factors").uncheck()
    expect(hold).to_contain_text("held 3 days before intermediate-risk procedures")
    expect(hold).not_to_contain_text("Hard stop")
