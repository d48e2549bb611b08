"""The blood-thinner plan at booking (issue 14, item 4): dates per drug and bleeding risk, the
risk-factor upgrade, weekends, the one rule shared with the nurse's check, the booking pages,
the reminder email, and the worklist of patients to phone."""

import datetime

import pytest
from django.urls import reverse

from clinic.models import AuditEvent, Medication, Patient, ProcedureType
from clinic.nursing.models import AnticoagulantHold, antithrombotic_problems
from followup.emails import invitation_message
from followup.models import Invitation
from followup.services import reminder_schedule
from scheduling.advice import previous_working_day
from scheduling.models import MedicationCall
from scheduling.selectors_medication import plan_of
from tests.factories import AppointmentFactory, PatientFactory, local, next_monday

A = Medication.Agent
D = datetime.date


def takes(patient, *agents):
    for agent in agents:
        Medication.objects.create(patient=patient, agent=agent, name=agent.label, dose="")
    return patient


def appointment_on(calendar, patient, day, code="esi-transforaminal"):
    return AppointmentFactory(
        calendar=calendar,
        patient=patient,
        procedure_type=ProcedureType.objects.get(code=code),
        starts_at=local(day, 9, 0),
    )


def fresh(appointment):
    """The appointment as a new page reads it (the patient's medicines not cached)."""
    return (
        type(appointment)
        .objects.select_related("patient", "procedure_type", "site")
        .get(pk=appointment.pk)
    )


def step(plan, agent):
    return next(s for s in plan.steps if s.agent == agent)


@pytest.fixture
def monday(calendar):
    return calendar["monday"]


@pytest.mark.parametrize(
    ("agent", "code", "last_dose_days_before"),
    [
        # Seeded ASRA defaults, intermediate (ESI) and high (SCS trial) risk.
        (A.CLOPIDOGREL, "esi-transforaminal", 7),
        (A.CLOPIDOGREL, "scs-trial", 7),
        (A.PRASUGREL, "esi-transforaminal", 7),
        (A.PRASUGREL, "scs-trial", 10),
        (A.APIXABAN, "esi-transforaminal", 3),
        (A.APIXABAN, "scs-trial", 5),
        (A.WARFARIN, "scs-trial", 5),
        (A.DABIGATRAN, "scs-trial", 5),
        (A.ASPIRIN, "scs-trial", 6),
    ],
)
def test_it_dates_the_last_dose_and_restart_per_drug_and_bleeding_risk(
    calendar, patient, monday, agent, code, last_dose_days_before
):
    appointment = appointment_on(calendar, takes(patient, agent), monday, code)
    plan = plan_of(fresh(appointment))
    found = step(plan, agent)
    assert found.last_dose == monday - datetime.timedelta(days=last_dose_days_before)
    assert found.stop_from == found.last_dose + datetime.timedelta(days=1)
    assert found.restart == monday + datetime.timedelta(days=1)
    assert not plan.upgraded
    assert found.text.startswith(f"Stop {agent.label} from ")
    assert "(per clinic protocol)" in found.text


def test_it_says_continue_for_a_low_risk_procedure_and_asks_no_call(calendar, patient, monday):
    appointment = appointment_on(
        calendar, takes(patient, A.CLOPIDOGREL), monday, "si-joint-injection"
    )
    plan = plan_of(fresh(appointment))
    assert step(plan, A.CLOPIDOGREL).text == "Clopidogrel: continue as usual (per clinic protocol)."
    assert not plan.needs_call and plan.call_by is None


def test_it_has_no_plan_for_a_patient_without_blood_thinners(calendar, patient, monday):
    takes(patient, A.OPIOID)
    assert plan_of(fresh(appointment_on(calendar, patient, monday))) is None


def test_it_moves_two_blood_thinners_together_one_bleeding_risk_up(calendar, patient, monday):
    """ASRA 2018: concurrent antiplatelets/anticoagulants are a patient risk factor; an
    intermediate-risk ESI then counts as high risk (prasugrel 10 days, aspirin 6)."""
    appointment = appointment_on(calendar, takes(patient, A.PRASUGREL, A.ASPIRIN), monday)
    plan = plan_of(fresh(appointment))
    assert plan.upgraded and plan.bleeding_risk == "high"
    assert "counts as high-risk" in plan.upgrade_reason
    assert step(plan, A.PRASUGREL).last_dose == monday - datetime.timedelta(days=10)
    assert step(plan, A.ASPIRIN).last_dose == monday - datetime.timedelta(days=6)


def test_it_counts_weekends_as_calendar_days_and_names_the_weekday(calendar, patient, monday):
    """Apixaban 3 days before a Monday ESI: last dose Friday, none Saturday or Sunday; the
    desk phones by Friday. Rivaroxaban 3 days before a Tuesday: last dose on Saturday, not
    moved; the phone call is brought back to the Friday."""
    tuesday = monday + datetime.timedelta(days=1)
    plan = plan_of(fresh(appointment_on(calendar, takes(patient, A.APIXABAN), monday)))
    apixaban = step(plan, A.APIXABAN)
    assert apixaban.last_dose.weekday() == 4  # Friday
    assert apixaban.stop_from.weekday() == 5  # Saturday
    assert "from Saturday " in apixaban.text and "(last dose Friday " in apixaban.text
    assert "restart Tuesday " in apixaban.text
    assert plan.call_by == apixaban.last_dose

    other = takes(PatientFactory(), A.RIVAROXABAN)
    plan = plan_of(fresh(appointment_on(calendar, other, tuesday)))
    rivaroxaban = step(plan, A.RIVAROXABAN)
    assert rivaroxaban.last_dose.weekday() == 5  # Saturday: a calendar date, not moved
    assert (
        plan.call_by.weekday() == 4
        and plan.call_by == rivaroxaban.last_dose - datetime.timedelta(days=1)
    )


def test_it_brings_the_phone_day_back_to_a_weekday():
    assert previous_working_day(D(2026, 12, 6)) == D(2026, 12, 4)  # Sunday -> Friday
    assert previous_working_day(D(2026, 12, 5)) == D(2026, 12, 4)  # Saturday -> Friday
    assert previous_working_day(D(2026, 12, 7)) == D(2026, 12, 7)  # Monday stays


def test_it_uses_the_same_last_dose_rule_as_the_nurses_check(calendar, patient, monday):
    """A dose on the plan's last day passes the pre-procedure check; a day later fails."""
    appointment = fresh(appointment_on(calendar, takes(patient, A.CLOPIDOGREL), monday))
    last = step(plan_of(appointment), A.CLOPIDOGREL).last_dose
    ok = {"doses": {"clopidogrel": last.isoformat()}, "risk_factors": False}
    late = {"doses": {"clopidogrel": (last + datetime.timedelta(days=1)).isoformat()}}
    assert antithrombotic_problems(ok, appointment) == []
    assert antithrombotic_problems(late, appointment)


def test_it_follows_the_managers_edit_of_the_hold_table(calendar, patient, monday):
    AnticoagulantHold.objects.filter(agent=A.CLOPIDOGREL, bleeding_risk="intermediate").update(
        hold_days=5, restart_days=2
    )
    plan = plan_of(fresh(appointment_on(calendar, takes(patient, A.CLOPIDOGREL), monday)))
    assert step(plan, A.CLOPIDOGREL).last_dose == monday - datetime.timedelta(days=5)
    assert step(plan, A.CLOPIDOGREL).restart == monday + datetime.timedelta(days=2)


def test_it_leaves_a_drug_without_a_hold_row_to_the_physician(calendar, patient, monday):
    AnticoagulantHold.objects.filter(agent=A.EDOXABAN).delete()
    plan = plan_of(fresh(appointment_on(calendar, takes(patient, A.EDOXABAN), monday)))
    assert step(plan, A.EDOXABAN).physician_decides
    assert plan.needs_call and plan.call_by == previous_working_day(
        monday - datetime.timedelta(days=1)
    )


def test_it_seeds_a_restart_day_for_every_held_agent(db):
    assert not AnticoagulantHold.objects.exclude(restart_days=1).exists()
    assert AnticoagulantHold.objects.count() >= 20


# --- Pages -------------------------------------------------------------------------------


def test_it_shows_the_plan_on_the_appointment_page(client, front_desk, calendar, patient, monday):
    appointment = appointment_on(calendar, takes(patient, A.CLOPIDOGREL), monday)
    client.force_login(front_desk)
    body = client.get(appointment.get_absolute_url()).content.decode()
    assert 'id="medication-plan"' in body
    assert "Stop Clopidogrel from " in body and "(per clinic protocol)" in body


def test_it_shows_the_plan_on_the_booking_form(client, front_desk, calendar, patient, monday):
    takes(patient, A.CLOPIDOGREL)
    client.force_login(front_desk)
    url = reverse("booking_medication_plan")
    params = {
        "patient": patient.pk,
        "procedure_type": calendar["tfesi"].pk,
        "date": monday.isoformat(),
    }
    body = client.get(url, params).content.decode()
    last = monday - datetime.timedelta(days=7)
    assert f"(last dose {last:%A} {last.day} {last:%b %Y})" in body
    assert AuditEvent.objects.filter(patient=patient, detail__contains="medication plan").exists()
    assert "not chosen yet" in client.get(url, {"patient": patient.pk}).content.decode()
    assert 'hx-get="' + url in client.get(reverse("appointment_book")).content.decode()


def test_it_refuses_the_booking_plan_to_an_outsider(client, outsider):
    client.force_login(outsider)
    assert client.get(reverse("booking_medication_plan")).status_code == 403


# --- The reminder email --------------------------------------------------------------------


def reminder(appointment):
    row = reminder_schedule(appointment=appointment)
    return Invitation.objects.select_related(
        "patient", "appointment__site", "appointment__procedure_type"
    ).get(pk=row.pk)


def test_it_writes_the_dates_in_the_english_reminder_not_in_the_subject(calendar, patient, monday):
    Patient.objects.filter(pk=patient.pk).update(preferred_language="en")
    appointment = appointment_on(calendar, takes(patient, A.CLOPIDOGREL), monday)
    message = invitation_message(reminder(appointment))
    last = monday - datetime.timedelta(days=7)
    assert f"Clopidogrel: take your last dose on {last:%A} {last.day} {last:%B %Y}." in message.body
    assert f"Start again on {monday + datetime.timedelta(days=1):%A} " in message.body
    assert "weekends count like other days" in message.body
    assert "clopidogrel" not in message.subject.lower()
    assert "clopidogrel" in message.alternatives[0].content.lower()


def test_it_writes_the_dates_in_the_danish_reminder(calendar, patient, monday):
    appointment = appointment_on(calendar, takes(patient, A.CLOPIDOGREL), monday)
    message = invitation_message(reminder(appointment))
    assert "Din blodfortyndende medicin:" in message.body
    assert "Clopidogrel: tag din sidste dosis mandag den " in message.body
    assert "Begynd igen tirsdag den " in message.body
    assert "clopidogrel" not in message.subject.lower()


# --- The phone worklist ----------------------------------------------------------------------


@pytest.fixture
def to_phone(calendar, patient, monday):
    return appointment_on(calendar, takes(patient, A.CLOPIDOGREL), monday)


@pytest.mark.parametrize(
    ("persona", "allowed"),
    [
        ("front_desk", True),
        ("nurse", True),
        ("manager", True),
        ("admin", True),
        ("physician", False),
        ("outsider", False),
    ],
)
def test_it_shows_the_worklist_to_the_desk_and_nurses_only(
    client, personas, to_phone, persona, allowed
):
    client.force_login(personas[persona])
    response = client.get(reverse("medication_calls"))
    assert response.status_code == (200 if allowed else 403)
    if allowed:
        body = response.content.decode()
        assert "Karen Jensen" in body and "Stop Clopidogrel from " in body
        assert "+45 20 30 40 50" in body


def test_it_marks_the_call_done_once(client, front_desk, nurse, to_phone):
    client.force_login(front_desk)
    url = reverse("medication_call_mark", args=[to_phone.pk])
    client.post(url, {"note": "Spoke to her daughter"})
    call = MedicationCall.objects.get(appointment=to_phone)
    assert call.called_by == front_desk and call.note == "Spoke to her daughter"
    assert AuditEvent.objects.filter(
        patient=to_phone.patient, detail="medication call done"
    ).exists()
    client.force_login(nurse)
    response = client.post(url, follow=True)
    assert "already marked as phoned" in response.content.decode()
    assert MedicationCall.objects.filter(appointment=to_phone).count() == 1
    body = client.get(reverse("medication_calls")).content.decode()
    assert "Done " in body and "Spoke to her daughter" in body
    detail = client.get(to_phone.get_absolute_url()).content.decode()
    assert 'id="medication-call"' in detail and "Spoke to her daughter" in detail
    assert (
        "Karen Jensen"
        not in client.get(reverse("medication_calls"), {"called": "no"}).content.decode()
    )


def test_it_refuses_the_done_mark_to_a_physician_and_an_outsider(
    client, physician, outsider, to_phone
):
    url = reverse("medication_call_mark", args=[to_phone.pk])
    for user in (physician, outsider):
        client.force_login(user)
        assert client.post(url).status_code == 403
    assert not MedicationCall.objects.exists()


def test_it_leaves_out_patients_with_nothing_to_stop_and_far_appointments(
    client, nurse, calendar, monday
):
    low = appointment_on(
        calendar,
        takes(PatientFactory(last_name="Lowrisk"), A.CLOPIDOGREL),
        monday,
        "si-joint-injection",
    )
    far = appointment_on(
        calendar, takes(PatientFactory(last_name="Farahead"), A.CLOPIDOGREL), next_monday(6)
    )
    client.force_login(nurse)
    body = client.get(reverse("medication_calls")).content.decode()
    assert low.patient.last_name not in body and far.patient.last_name not in body
    wide = {"date_to": (next_monday(7)).isoformat()}
    assert far.patient.last_name in client.get(reverse("medication_calls"), wide).content.decode()


def test_it_exports_the_worklist_as_csv(client, nurse, to_phone):
    client.force_login(nurse)
    response = client.get(reverse("medication_calls"), {"_export": "csv"})
    text = response.content.decode()
    assert response["Content-Type"].startswith("text/csv")
    assert "Phone by" in text and "Stop Clopidogrel from" in text
    assert AuditEvent.objects.filter(action=AuditEvent.Action.EXPORT).exists()


def test_it_builds_the_worklist_in_as_many_queries_for_many_rows(
    client, nurse, calendar, monday, assert_query_count_flat
):
    def add_rows(n):
        for _ in range(n):
            # Each in a room and with a physician of its own: one slot, no double booking.
            patient = takes(PatientFactory(), A.CLOPIDOGREL, A.APIXABAN)
            AppointmentFactory(patient=patient, starts_at=local(monday, 9, 0))

    client.force_login(nurse)
    assert_query_count_flat(client, reverse("medication_calls"), add_rows)
