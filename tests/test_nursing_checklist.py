"""The safety checklist: what is asked of whom, answers and drafts, the hard stops before a
procedure starts, the physician's override, the time-out signatures and amendments."""

import datetime

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from clinic.models import AuditEvent, Medication, Patient
from clinic.nursing import rules, services
from clinic.nursing.guards import HardStopRefused
from clinic.nursing.models import (
    BEFORE_START,
    Amendment,
    AnticoagulantHold,
    ChecklistAnswer,
    ChecklistItem,
    HardStopOverride,
    Phase,
    TimeOutConfirmation,
)
from scheduling.models import AppointmentEvent, Status
from scheduling.services import TransitionRefused, appointment_transition
from tests.factories import (
    PASSWORD,
    PatientFactory,
    TodaysAppointmentFactory,
    answer_items,
    ready_to_start,
)


def codes(appointment, phases=None):
    return {item.code for item in rules.applicable_items(appointment, phases)}


def item(code):
    return ChecklistItem.objects.get(code=code)


def start(appointment, actor, reason=""):
    return services.procedure_start(actor=actor, appointment=appointment, override_reason=reason)


def refusal_of(appointment, actor, reason="") -> list[str]:
    with pytest.raises(HardStopRefused) as refused:
        start(appointment, actor, reason)
    appointment.refresh_from_db()
    assert appointment.status == Status.CHECKED_IN
    return refused.value.messages


# --- What is asked -------------------------------------------------------------------


def test_it_seeds_a_checklist_for_every_phase(db):
    by_phase = {phase: set() for phase in Phase}
    for checklist_item in ChecklistItem.objects.all():
        by_phase[checklist_item.phase].add(checklist_item.code)
    assert {
        "identity",
        "consent",
        "allergies",
        "antithrombotics",
        "fasting",
        "escort",
        "glucose",
        "pregnancy",
        "infection",
        "baseline-systolic",
        "baseline-pain",
    } <= by_phase[Phase.PRE_PROCEDURE]
    assert {"imaging", "site-marked", "iv-access"} <= by_phase[Phase.SIGN_IN]
    assert {
        "timeout-patient",
        "timeout-procedure",
        "timeout-side",
        "timeout-levels",
        "timeout-position",
        "timeout-images",
    } == by_phase[Phase.TIME_OUT]
    assert {"signout-performed", "signout-complications", "signout-plan"} == by_phase[
        Phase.SIGN_OUT
    ]
    allergies = item("allergies").label.lower()
    for allergen in ("contrast", "iodine", "latex", "local anaesthetic", "steroid"):
        assert allergen in allergies
    assert item("consent").hard_stop and item("consent").fail_values == ["no"]
    assert item("identity").help_text


def test_it_asks_fasting_and_iv_access_only_when_sedation_is_planned(calendar, patient):
    injection = TodaysAppointmentFactory(calendar=calendar, patient=patient)
    ablation = TodaysAppointmentFactory(
        calendar=calendar,
        patient=patient,
        code="rfa",
        starts_at=injection.starts_at + datetime.timedelta(hours=2),
    )
    assert not {"fasting", "iv-access"} & codes(injection)
    assert {"fasting", "iv-access"} <= codes(ablation)


def test_it_asks_for_glucose_only_when_a_diabetic_is_given_a_steroid(calendar, patient):
    injection = TodaysAppointmentFactory(calendar=calendar, patient=patient)
    diagnostic = TodaysAppointmentFactory(
        calendar=calendar,
        patient=patient,
        code="medial-branch-block",
        starts_at=injection.starts_at + datetime.timedelta(hours=2),
    )
    assert "glucose" not in codes(injection)
    Medication.objects.create(
        patient=patient, agent=Medication.Agent.ORAL_ANTIDIABETIC, name="Metformin"
    )
    assert "glucose" in codes(injection)
    assert "glucose" not in codes(diagnostic)


@pytest.mark.parametrize(
    ("sex", "born", "asked"),
    [
        (Patient.Sex.FEMALE, 1995, True),
        (Patient.Sex.UNKNOWN, 1995, True),
        (Patient.Sex.FEMALE, 1961, False),
        (Patient.Sex.MALE, 1995, False),
    ],
)
def test_it_asks_about_pregnancy_only_where_relevant(calendar, sex, born, asked):
    someone = PatientFactory(
        mrn=f"P-{sex}-{born}",
        first_name="A",
        last_name="B",
        date_of_birth=datetime.date(born, 6, 1),
        sex=sex,
    )
    assert (
        "pregnancy" in codes(TodaysAppointmentFactory(calendar=calendar, patient=someone))
    ) is asked


def test_it_asks_for_side_and_levels_only_when_the_procedure_has_them(calendar, patient):
    caudal = TodaysAppointmentFactory(
        calendar=calendar, patient=patient, code="esi-caudal", laterality="na", levels=""
    )
    assert not {"timeout-side", "timeout-levels"} & codes(caudal)
    assert {"timeout-side", "timeout-levels"} <= codes(
        TodaysAppointmentFactory(
            calendar=calendar,
            patient=patient,
            starts_at=caudal.starts_at + datetime.timedelta(hours=2),
        )
    )


def test_it_asks_an_item_only_for_the_procedure_types_it_names(calendar, patient):
    checklist_item = item("imaging")
    checklist_item.procedure_types.set([calendar["tfesi"]])
    injection = TodaysAppointmentFactory(calendar=calendar, patient=patient)
    caudal = TodaysAppointmentFactory(
        calendar=calendar,
        patient=patient,
        code="esi-caudal",
        starts_at=injection.starts_at + datetime.timedelta(hours=2),
    )
    assert "imaging" in codes(injection)
    assert "imaging" not in codes(caudal)
    checklist_item.active = False
    checklist_item.save()
    assert "imaging" not in codes(injection)


# --- Answers -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "value", "message"),
    [
        ("consent", "maybe", "Consent form signed: choose one of Yes, No."),
        ("pregnancy", "perhaps", "choose one of Yes, No, n.a."),
        (
            "baseline-systolic",
            400,
            "Baseline systolic BP: 400 mmHg is not possible; enter a value from 50 to 300 mmHg",
        ),
        ("baseline-spo2", 140, "140 % is not possible; enter a value from 50 to 100 %"),
        ("baseline-pain", "-1", "-1 /10 is not possible"),
        ("baseline-pulse", "fast", "Baseline pulse: enter a number, for example 7.5."),
        ("baseline-pulse", True, "enter a number"),
        ("signout-plan", "   ", "Recovery plan: write a short answer."),
        ("signout-plan", "x" * 201, "keep it under 200 characters"),
        ("signout-complications", "Something else", "choose one of None, Vasovagal"),
        ("antithrombotics", "none", 'send {"doses"'),
        (
            "antithrombotics",
            {"doses": {"paracetamol": "2026-01-01"}},
            "paracetamol is not an anticoagulant or antiplatelet",
        ),
        (
            "antithrombotics",
            {"doses": {"warfarin": "yesterday"}},
            "enter the last dose of Warfarin as a date (YYYY-MM-DD)",
        ),
    ],
)
def test_it_refuses_impossible_or_malformed_answers(appointment, code, value, message):
    with pytest.raises(services.ValidationError) as refused:
        rules.validate_answer(item(code), value, appointment)
    assert message in " ".join(refused.value.messages)


def test_it_stores_numbers_as_numbers_and_text_trimmed(appointment):
    assert rules.validate_answer(item("baseline-pulse"), "72", appointment) == 72
    assert rules.validate_answer(item("glucose"), "7,5", appointment) == 7.5
    assert rules.validate_answer(item("signout-plan"), "  Home  ", appointment) == "Home"


def test_it_wants_a_last_dose_for_each_antithrombotic_the_patient_takes(appointment, on_apixaban):
    antithrombotics = item("antithrombotics")
    with pytest.raises(services.ValidationError, match="Apixaban \\(Eliquis\\)"):
        rules.validate_answer(antithrombotics, {"doses": {}}, appointment)
    tomorrow = (appointment.local_start.date() + datetime.timedelta(days=1)).isoformat()
    with pytest.raises(services.ValidationError, match="cannot be after the procedure day"):
        rules.validate_answer(antithrombotics, {"doses": {"apixaban": tomorrow}}, appointment)
    assert rules.validate_answer(
        antithrombotics, {"doses": {"apixaban": "stopped"}, "risk_factors": 1}, appointment
    ) == {"doses": {"apixaban": "stopped"}, "risk_factors": True}


def test_it_keeps_drafts_until_signed_then_never_overwrites(appointment, nurse):
    consent = item("consent")
    services.checklist_save(actor=nurse, appointment=appointment, values={consent: "no"})
    services.checklist_save(actor=nurse, appointment=appointment, values={consent: "yes"})
    answer = ChecklistAnswer.objects.get(appointment=appointment, item=consent)
    assert answer.value == "yes" and not answer.is_signed

    assert (
        services.checklist_sign(actor=nurse, appointment=appointment, phase=Phase.PRE_PROCEDURE)
        == 1
    )
    answer.refresh_from_db()
    assert answer.signed_by == nurse and answer.signed_at

    with pytest.raises(services.NursingRefused, match="Already signed: Consent form signed"):
        services.checklist_save(actor=nurse, appointment=appointment, values={consent: "no"})
    answer.refresh_from_db()
    assert answer.value == "yes"


def test_it_closes_the_checklist_of_a_discharged_appointment(calendar, patient, nurse):
    done = TodaysAppointmentFactory(calendar=calendar, patient=patient, status=Status.DISCHARGED)
    with pytest.raises(services.NursingRefused, match="discharged appointment is closed"):
        services.checklist_save(actor=nurse, appointment=done, values={item("signout-plan"): "x"})


# --- Hard stops ----------------------------------------------------------------------


def test_it_refuses_to_start_until_every_required_item_is_signed(appointment, nurse):
    failures = refusal_of(appointment, nurse)
    for code in codes(appointment, BEFORE_START):
        label = item(code).label
        assert any(label in f and "not answered" in f for f in failures), code
    assert "Time-out: not confirmed by the nurse." in failures
    assert "Time-out: not confirmed by the physician." in failures
    assert not any("Sign-out" in f for f in failures)


def test_it_refuses_to_start_without_consent(appointment, nurse, physician):
    ready_to_start(appointment, nurse, physician, consent=None)
    assert refusal_of(appointment, nurse) == ["Pre-procedure: Consent form signed — not answered."]


def test_it_counts_an_unsigned_draft_as_not_done(appointment, nurse, physician):
    ready_to_start(appointment, nurse, physician, consent=None)
    services.checklist_save(actor=nurse, appointment=appointment, values={item("consent"): "yes"})
    assert refusal_of(appointment, nurse) == [
        "Pre-procedure: Consent form signed — not signed yet."
    ]


def test_it_lets_an_unanswered_optional_item_pass(appointment, nurse, physician):
    ChecklistItem.objects.filter(code="imaging").update(required=False)
    ready_to_start(appointment, nurse, physician, imaging=None)
    start(appointment, nurse)
    assert appointment.status == Status.IN_PROCEDURE


HARD_STOPS = [
    ("identity", None, None),
    ("consent", None, None),
    ("allergies", None, None),
    ("escort", None, None),
    ("infection", None, None),
    ("site-marked", None, None),
    ("timeout-patient", None, None),
    ("timeout-procedure", None, None),
    ("timeout-side", None, None),
    ("timeout-levels", None, None),
    ("timeout-position", None, None),
    ("timeout-images", None, None),
    ("fasting", "rfa", None),
    ("iv-access", "rfa", None),
    ("pregnancy", None, datetime.date(1994, 5, 1)),
]


@pytest.mark.parametrize(("code", "procedure", "born"), HARD_STOPS)
def test_it_stops_on_each_failed_hard_stop(
    calendar, patient, nurse, physician, code, procedure, born
):
    if born:
        patient.date_of_birth = born
        patient.save()
    appointment = TodaysAppointmentFactory(calendar=calendar, patient=patient, code=procedure)
    ready_to_start(appointment, nurse, physician, **{code.replace("-", "_"): "no"})
    label = item(code).label
    assert refusal_of(appointment, nurse) == [f"Hard stop — {label}: answered No."]


def test_it_does_not_stop_on_a_no_to_an_item_without_a_hard_stop(appointment, nurse, physician):
    ready_to_start(appointment, nurse, physician, imaging="no")
    start(appointment, nurse)
    assert appointment.status == Status.IN_PROCEDURE


def dose_days_before(appointment, days, **extra):
    day = appointment.local_start.date() - datetime.timedelta(days=days)
    return {"doses": {"apixaban": day.isoformat()}, **extra}


def test_it_stops_when_an_anticoagulant_was_not_held_long_enough(
    appointment, on_apixaban, nurse, physician
):
    ready_to_start(appointment, nurse, physician, antithrombotics=dose_days_before(appointment, 2))
    assert refusal_of(appointment, nurse) == [
        "Hard stop — Apixaban last taken 2 days before; clinic protocol holds it 3 "
        "days for intermediate-risk procedures."
    ]


def test_it_starts_when_the_anticoagulant_was_held_as_the_protocol_says(
    appointment, on_apixaban, nurse, physician
):
    ready_to_start(appointment, nurse, physician, antithrombotics=dose_days_before(appointment, 3))
    start(appointment, nurse)
    assert appointment.status == Status.IN_PROCEDURE


def test_it_moves_the_bleeding_risk_up_for_patient_risk_factors(
    appointment, on_apixaban, nurse, physician
):
    ready_to_start(
        appointment,
        nurse,
        physician,
        antithrombotics=dose_days_before(appointment, 3, risk_factors=True),
    )
    assert refusal_of(appointment, nurse) == [
        "Hard stop — Apixaban last taken 3 days before; clinic protocol holds it 5 "
        "days for high-risk procedures."
    ]


def test_it_follows_the_edited_hold_table(appointment, on_apixaban, nurse, physician):
    AnticoagulantHold.objects.filter(agent="apixaban", bleeding_risk="intermediate").update(
        hold_days=4
    )
    ready_to_start(appointment, nurse, physician, antithrombotics=dose_days_before(appointment, 3))
    assert "holds it 4 days" in refusal_of(appointment, nurse)[0]


def test_it_continues_anticoagulants_for_a_low_risk_procedure(
    calendar, on_apixaban, nurse, physician
):
    joint = TodaysAppointmentFactory(
        calendar=calendar, patient=on_apixaban, code="si-joint-injection"
    )
    ready_to_start(joint, nurse, physician, antithrombotics=dose_days_before(joint, 0))
    start(joint, nurse)
    assert joint.status == Status.IN_PROCEDURE


def test_it_leaves_an_agent_without_a_protocol_to_the_physician(appointment, nurse, physician):
    Medication.objects.create(
        patient=appointment.patient, agent=Medication.Agent.EDOXABAN, name="Lixiana"
    )
    yesterday = (appointment.local_start.date() - datetime.timedelta(days=10)).isoformat()
    ready_to_start(
        appointment, nurse, physician, antithrombotics={"doses": {"edoxaban": yesterday}}
    )
    assert refusal_of(appointment, nurse) == [
        "Hard stop — Edoxaban: the clinic protocol has no hold time for "
        "intermediate-risk procedures; a physician must decide."
    ]


def test_it_accepts_a_stopped_anticoagulant(appointment, on_apixaban, nurse, physician):
    ready_to_start(
        appointment, nurse, physician, antithrombotics={"doses": {"apixaban": "stopped"}}
    )
    start(appointment, nurse)
    assert appointment.status == Status.IN_PROCEDURE


# --- Override ------------------------------------------------------------------------


def test_it_lets_a_physician_override_a_hard_stop_with_a_reason(
    appointment, on_apixaban, nurse, physician, client
):
    ready_to_start(appointment, nurse, physician, antithrombotics=dose_days_before(appointment, 2))
    start(appointment, physician, "Haematologist agreed: low-dose, shared decision")

    assert appointment.status == Status.IN_PROCEDURE
    override = HardStopOverride.objects.get(appointment=appointment)
    assert override.by == physician and override.to_status == Status.IN_PROCEDURE
    assert "Apixaban last taken 2 days before" in override.failures
    event = appointment.events.get(to_status=Status.IN_PROCEDURE)
    assert "Override: Haematologist agreed" in event.detail
    assert AuditEvent.objects.filter(
        object_type="nursing.HardStopOverride", detail__contains="Haematologist agreed"
    ).exists()
    client.force_login(nurse)
    page = client.get(reverse("nursing_record", args=[appointment.pk])).content.decode()
    assert "Hard stop overridden" in page and "Haematologist agreed" in page


def test_it_refuses_an_override_by_a_nurse(appointment, nurse, physician):
    ready_to_start(appointment, nurse, physician, consent=None)
    with pytest.raises(HardStopRefused, match="Only a physician can override"):
        start(appointment, nurse, "The patient says they signed")
    assert not HardStopOverride.objects.exists()


def test_it_refuses_an_override_without_a_reason(appointment, nurse, physician):
    ready_to_start(appointment, nurse, physician, consent=None)
    refusal_of(appointment, physician, "   ")
    assert not HardStopOverride.objects.exists()


def test_it_holds_the_hard_stops_for_every_caller(appointment, nurse, physician):
    """The scheduling API and pages call appointment_transition: the same guard answers."""
    with pytest.raises(HardStopRefused):
        appointment_transition(actor=nurse, appointment=appointment, to=Status.IN_PROCEDURE)
    client = APIClient()
    client.force_authenticate(nurse)
    url = reverse("api-appointment-transition", args=[appointment.pk])
    response = client.post(url, {"to": Status.IN_PROCEDURE}, format="json")
    assert response.status_code == 409
    assert "Consent form signed — not answered" in str(response.data)
    # Unanswered items are never overridden (issue 10: one reason used to waive them all).
    client.force_authenticate(physician)
    response = client.post(
        url, {"to": Status.IN_PROCEDURE, "override_reason": "Emergency block"}, format="json"
    )
    assert response.status_code == 409
    assert not HardStopOverride.objects.exists()
    ready_to_start(appointment, nurse, physician, escort="no")
    response = client.post(
        url, {"to": Status.IN_PROCEDURE, "override_reason": "Emergency block"}, format="json"
    )
    assert response.status_code == 200
    assert HardStopOverride.objects.get(appointment=appointment).reason == "Emergency block"


def test_it_lets_only_nurses_and_physicians_start(appointment, nurse, physician, manager):
    ready_to_start(appointment, nurse, physician)
    with pytest.raises(TransitionRefused, match="Only a nurse or a physician can start"):
        appointment_transition(actor=manager, appointment=appointment, to=Status.IN_PROCEDURE)


# --- Time-out ------------------------------------------------------------------------


def test_it_confirms_the_time_out_only_after_its_items_are_signed(appointment, nurse):
    with pytest.raises(services.NursingRefused, match="Answer and sign the time-out first"):
        services.time_out_confirm(actor=nurse, appointment=appointment, role="nurse")


def test_it_wants_two_people_in_their_roles_for_the_time_out(
    appointment, nurse, physician, admin_user
):
    answer_items(appointment, nurse, [Phase.TIME_OUT])
    with pytest.raises(services.NursingRefused, match="is not a physician"):
        services.time_out_confirm(actor=nurse, appointment=appointment, role="physician")
    with pytest.raises(services.NursingRefused, match="must come from a nurse"):
        services.time_out_confirm(actor=physician, appointment=appointment, role="nurse")
    services.time_out_confirm(actor=nurse, appointment=appointment, role="nurse")
    with pytest.raises(services.NursingRefused, match="already confirmed by the nurse"):
        services.time_out_confirm(actor=nurse, appointment=appointment, role="nurse")
    services.time_out_confirm(actor=physician, appointment=appointment, role="physician")
    assert set(appointment.time_out_confirmations.values_list("role", "signed_by")) == {
        ("nurse", nurse.pk),
        ("physician", physician.pk),
    }


def test_it_takes_the_physicians_signature_on_the_nurses_tablet(
    client, appointment, nurse, physician
):
    answer_items(appointment, nurse, [Phase.TIME_OUT])
    client.force_login(nurse)
    url = reverse("nursing_time_out_confirm", args=[appointment.pk])

    response = client.post(
        url, {"role": "physician", "username": physician.username, "password": "wrong"}, follow=True
    )
    assert "Username or password is wrong; nothing was signed." in response.content.decode()
    response = client.post(
        url, {"role": "physician", "username": nurse.username, "password": PASSWORD}, follow=True
    )
    assert "is not a physician" in response.content.decode()
    assert not TimeOutConfirmation.objects.exists()

    client.post(url, {"role": "physician", "username": physician.username, "password": PASSWORD})
    client.post(url, {"role": "nurse"})
    signatures = dict(appointment.time_out_confirmations.values_list("role", "signed_by"))
    assert signatures == {"physician": physician.pk, "nurse": nurse.pk}
    # Still the nurse's session: the physician's password signs, it does not log in.
    assert client.get(reverse("home")).context["user"] == nurse


# --- Pages ---------------------------------------------------------------------------


def phase_url(appointment, phase):
    return reverse("nursing_checklist", args=[appointment.pk, phase])


def test_it_autosaves_taps_as_drafts(client, appointment, nurse):
    client.force_login(nurse)
    response = client.post(
        phase_url(appointment, "pre_procedure"),
        {"item-consent": "yes", "item-baseline-pulse": "72"},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 200
    assert "Draft saved" in response.content.decode()
    drafts = dict(ChecklistAnswer.objects.values_list("item__code", "value"))
    assert drafts == {"consent": "yes", "baseline-pulse": 72}
    assert not ChecklistAnswer.objects.filter(signed_at__isnull=False).exists()
    page = client.get(phase_url(appointment, "pre_procedure")).content.decode()
    assert 'value="yes" autocomplete="off" checked' in page  # the draft is shown again


def test_it_keeps_good_answers_and_explains_a_bad_one(client, appointment, nurse):
    client.force_login(nurse)
    response = client.post(
        phase_url(appointment, "pre_procedure"),
        {
            "item-consent": "yes",
            "item-baseline-systolic": "400",
            "action": "sign",
        },
    )
    assert response.status_code == 200
    page = response.content.decode()
    assert "400 mmHg is not possible; enter a value from 50 to 300 mmHg" in page
    assert 'value="400"' in page
    answer = ChecklistAnswer.objects.get()
    assert answer.item.code == "consent" and not answer.is_signed


def test_it_signs_a_phase_and_moves_on_to_the_next(client, appointment, nurse):
    client.force_login(nurse)
    response = client.post(
        phase_url(appointment, "pre_procedure"),
        {"item-consent": "yes", "item-identity": "yes", "action": "sign"},
    )
    assert response.status_code == 302
    assert response.url == phase_url(appointment, "sign_in")
    assert set(ChecklistAnswer.objects.values_list("signed_by", flat=True)) == {nurse.pk}
    page = client.get(phase_url(appointment, "pre_procedure")).content.decode()
    assert (
        "Signed" in page
        and reverse("nursing_answer_amend", args=[ChecklistAnswer.objects.first().pk]) in page
    )


def test_it_records_antithrombotic_doses_from_the_form(client, appointment, on_apixaban, nurse):
    client.force_login(nurse)
    day = appointment.local_start.date() - datetime.timedelta(days=4)
    client.post(
        phase_url(appointment, "pre_procedure"),
        {
            "item-antithrombotics-apixaban": day.isoformat(),
            "item-antithrombotics-risk": "on",
        },
        HTTP_HX_REQUEST="true",
    )
    answer = ChecklistAnswer.objects.get(item__code="antithrombotics")
    assert answer.value == {"doses": {"apixaban": day.isoformat()}, "risk_factors": True}
    page = client.get(phase_url(appointment, "pre_procedure")).content.decode()
    # The risk factors ticked move the hold one category up (issue 10: it used to stay put).
    assert (
        "Apixaban (Eliquis): held 5 days before high-risk procedures, per clinic protocol"
    ) in page


def test_it_explains_a_refused_start_on_the_page(client, appointment, nurse, physician):
    ready_to_start(appointment, nurse, physician, consent=None)
    client.force_login(nurse)
    response = client.post(reverse("nursing_start", args=[appointment.pk]))
    assert response.status_code == 409
    page = response.content.decode()
    assert "The procedure cannot start yet." in page
    assert "Consent form signed — not answered." in page


def test_it_starts_from_the_page_when_all_is_done(client, appointment, nurse, physician):
    ready_to_start(appointment, nurse, physician)
    client.force_login(nurse)
    response = client.post(reverse("nursing_start", args=[appointment.pk]))
    assert response.status_code == 302
    appointment.refresh_from_db()
    assert appointment.status == Status.IN_PROCEDURE
    assert AppointmentEvent.objects.filter(
        appointment=appointment, user=nurse, to_status=Status.IN_PROCEDURE
    ).exists()


def test_it_checks_in_from_the_board(client, calendar, patient, nurse):
    waiting = TodaysAppointmentFactory(calendar=calendar, patient=patient, status=Status.CONFIRMED)
    client.force_login(nurse)
    response = client.post(reverse("nursing_check_in", args=[waiting.pk]))
    assert response.url == reverse("nursing_record", args=[waiting.pk])
    waiting.refresh_from_db()
    assert waiting.status == Status.CHECKED_IN


# --- Amendments ----------------------------------------------------------------------


def test_it_amends_a_signed_answer_keeping_who_when_why_and_both_values(client, appointment, nurse):
    (answer,) = services.checklist_save(
        actor=nurse, appointment=appointment, values={item("baseline-pulse"): 72}, sign=True
    )
    client.force_login(nurse)
    url = reverse("nursing_answer_amend", args=[answer.pk])
    response = client.post(url, {"item-baseline-pulse": "76", "reason": ""})
    assert "This field is required" in response.content.decode()
    response = client.post(url, {"item-baseline-pulse": "76", "reason": "Misread the monitor"})
    assert response.status_code == 302

    answer.refresh_from_db()
    assert answer.value == 76 and answer.signed_by == nurse
    amendment = Amendment.objects.get(answer=answer)
    assert (amendment.old_value, amendment.new_value, amendment.reason, amendment.by) == (
        "72 /min",
        "76 /min",
        "Misread the monitor",
        nurse,
    )
    page = client.get(reverse("nursing_record", args=[appointment.pk])).content.decode()
    assert "<del>72 /min</del>" in page and "Misread the monitor" in page
    assert AuditEvent.objects.filter(
        action="change", object_type="nursing.ChecklistAnswer"
    ).exists()


def test_it_refuses_an_amendment_without_a_change_or_a_reason(appointment, nurse):
    (answer,) = services.checklist_save(
        actor=nurse, appointment=appointment, values={item("consent"): "yes"}, sign=True
    )
    with pytest.raises(services.NursingRefused, match="reason"):
        services.answer_amend(actor=nurse, answer=answer, value="no", reason=" ")
    with pytest.raises(services.NursingRefused, match="the same"):
        services.answer_amend(actor=nurse, answer=answer, value="yes", reason="check")
    with pytest.raises(services.ValidationError):
        services.answer_amend(actor=nurse, answer=answer, value="maybe", reason="check")
    (draft,) = services.checklist_save(
        actor=nurse, appointment=appointment, values={item("identity"): "yes"}
    )
    with pytest.raises(services.NursingRefused, match="draft"):
        services.answer_amend(actor=nurse, answer=draft, value="no", reason="check")
    assert not Amendment.objects.exists()


def test_it_can_amend_a_failed_hard_stop_so_the_procedure_may_start(appointment, nurse, physician):
    ready_to_start(appointment, nurse, physician, consent="no")
    refusal_of(appointment, nurse)
    answer = ChecklistAnswer.objects.get(item__code="consent")
    services.answer_amend(
        actor=nurse, answer=answer, value="yes", reason="Form found in the referral letter"
    )
    start(appointment, nurse)
    assert appointment.status == Status.IN_PROCEDURE
