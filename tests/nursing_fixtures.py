"""Fixtures and helpers for the perioperative record tests.

Appointments are built directly (today, in the site's zone): booking refuses the past,
and the nursing day happens today.
"""

import datetime

import pytest
from django.utils import timezone

from clinic.models import Medication, ProcedureType
from clinic.nursing import rules, services
from clinic.nursing.models import ChecklistItem, Phase, TimeOutConfirmation
from scheduling.models import Appointment, Status

# Valid answers by item code; yes/no items answer "yes" and choices their first option.
VALUES = {
    "baseline-systolic": 130,
    "baseline-diastolic": 80,
    "baseline-pulse": 72,
    "baseline-spo2": 98,
    "baseline-pain": 6,
    "glucose": 7.2,
    "signout-performed": "Left L4-L5 transforaminal ESI as planned",
    "signout-plan": "Standard observations; home with escort",
}
# A round in the low band (NEWS2 0).
CALM = dict(
    respiration_rate=16,
    spo2=98,
    on_oxygen=False,
    spo2_scale=1,
    systolic_bp=125,
    diastolic_bp=78,
    pulse=72,
    consciousness="A",
    temperature="36.8",
    pain_nrs=2,
)


def make_appointment(
    calendar, patient, *, status=Status.CHECKED_IN, start=None, code=None, **extra
):
    """An appointment today (or at `start`) in the calendar's fluoroscopy room."""
    if start is None:
        now = timezone.now().replace(microsecond=0)
        start = now - datetime.timedelta(minutes=20)
        if status in (Status.REQUESTED, Status.BOOKED, Status.CONFIRMED):
            # Keep a waiting patient on today's board when the suite runs just after midnight.
            midnight = timezone.localtime(now, calendar["site"].zone).replace(
                hour=0, minute=0, second=0
            )
            start = max(start, midnight)
    procedure_type = ProcedureType.objects.get(code=code) if code else calendar["tfesi"]
    recovery = start + datetime.timedelta(
        minutes=procedure_type.setup_minutes + procedure_type.procedure_minutes
    )
    fields = dict(
        patient=patient,
        procedure_type=procedure_type,
        physician=calendar["physician"],
        site=calendar["site"],
        room=calendar["fluoro"],
        recovery_bay=calendar["bay"],
        recovery_starts_at=recovery,
        recovery_ends_at=recovery + datetime.timedelta(minutes=procedure_type.recovery_minutes),
        starts_at=start,
        ends_at=start + datetime.timedelta(minutes=procedure_type.room_minutes),
        laterality="left",
        levels="L4-L5",
        status=status,
    )
    fields.update(extra)
    return Appointment.objects.create(**fields)


def valid_value(item: ChecklistItem, appointment):
    if item.code in VALUES:
        return VALUES[item.code]
    if item.kind == ChecklistItem.Kind.CHOICE:
        return item.choices[0]
    if item.kind == ChecklistItem.Kind.ANTITHROMBOTIC:
        agents = rules.antithrombotics_of(appointment.patient)
        return {"doses": dict.fromkeys(agents, "stopped"), "risk_factors": False}
    if item.kind == ChecklistItem.Kind.TEXT:
        return "Done"
    return "yes"


def answer_items(appointment, actor, phases, **overrides):
    """Sign a valid answer to every applicable item of `phases`; `overrides` by code
    (underscores for dashes); an override of None leaves the item unanswered."""
    overrides = {code.replace("_", "-"): value for code, value in overrides.items()}
    values = {}
    for item in rules.applicable_items(appointment, phases):
        value = overrides.get(item.code, valid_value(item, appointment))
        if value is not None:
            values[item] = value
    return services.checklist_save(actor=actor, appointment=appointment, values=values, sign=True)


def confirm_time_out(appointment, nurse, physician):
    services.time_out_confirm(
        actor=nurse, appointment=appointment, role=TimeOutConfirmation.Role.NURSE
    )
    services.time_out_confirm(
        actor=physician, appointment=appointment, role=TimeOutConfirmation.Role.PHYSICIAN
    )


def ready_to_start(appointment, nurse, physician, **overrides):
    answer_items(
        appointment, nurse, [Phase.PRE_PROCEDURE, Phase.SIGN_IN, Phase.TIME_OUT], **overrides
    )
    confirm_time_out(appointment, nurse, physician)


def to_recovery(appointment, nurse, physician):
    ready_to_start(appointment, nurse, physician)
    services.procedure_start(actor=nurse, appointment=appointment)
    services.procedure_end(actor=nurse, appointment=appointment)
    appointment.refresh_from_db()
    return appointment


def take_round(appointment, nurse, **changes):
    return services.round_record(actor=nurse, appointment=appointment, data={**CALM, **changes})


def ready_to_discharge(appointment, nurse, physician, total_scores=None):
    to_recovery(appointment, nurse, physician)
    answer_items(appointment, nurse, [Phase.SIGN_OUT])
    take_round(appointment, nurse)
    scale = rules.protocol_for(appointment.procedure_type).scale
    scores = total_scores or {item.code: 2 for item in scale.items}
    services.assessment_record(actor=nurse, appointment=appointment, scores=scores)
    return appointment


@pytest.fixture
def appointment(calendar, patient):
    return make_appointment(calendar, patient)


@pytest.fixture
def on_apixaban(patient):
    Medication.objects.create(
        patient=patient, agent=Medication.Agent.APIXABAN, name="Eliquis", dose="5 mg x 2"
    )
    return patient
