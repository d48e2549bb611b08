"""Test data for the FHIR interface tests: a patient's whole record, built row by row.

Rows are created directly (not through the services) so a test can put them at any time;
the values are ones the services would have stored.
"""

import datetime
from decimal import Decimal

from django.utils import timezone

from clinic.models import Patient
from clinic.nursing.models import ObservationRound
from followup.models import Alert, Invitation, Response
from followup.scoring import ODI_SECTIONS, RED_FLAGS
from scheduling.models import Appointment, Status

ROUND = dict(
    respiration_rate=16,
    spo2=97,
    on_oxygen=False,
    spo2_scale=1,
    systolic_bp=128,
    diastolic_bp=79,
    pulse=74,
    consciousness="A",
    temperature=Decimal("36.9"),
    pain_nrs=2,
)
SURVEY_ANSWERS = {
    "nrs_current": 3,
    "nrs_average": 4,
    "nrs_worst": 6,
    "pgic": 2,
    "relief": 50,
    "odi": {section_id: 1 for section_id, _title in ODI_SECTIONS},
    "red_flags": {code: code == "fever" for code, _label in RED_FLAGS},
}


def make_appointment(calendar, patient, *, status=Status.COMPLETED, starts_at=None, **extra):
    procedure_type = calendar["tfesi"]
    starts_at = starts_at or timezone.now() - datetime.timedelta(days=3)
    values = dict(
        patient=patient,
        procedure_type=procedure_type,
        physician=calendar["physician"],
        site=calendar["site"],
        room=calendar["fluoro"],
        starts_at=starts_at,
        ends_at=starts_at + datetime.timedelta(minutes=procedure_type.room_minutes),
        laterality="left",
        levels="L4-L5",
        status=status,
        cancel_reason="other" if status == Status.CANCELLED else "",
    )
    values.update(extra)
    return Appointment.objects.create(**values)


def make_round(appointment, nurse, *, taken_at=None, **values) -> ObservationRound:
    taken_at = taken_at or appointment.ends_at + datetime.timedelta(minutes=15)
    round = ObservationRound(
        appointment=appointment, signed_by=nurse, taken_at=taken_at, **{**ROUND, **values}
    )
    round.score()
    round.save()
    return round


def make_response(appointment, *, submitted_at=None, answers=None, **scores) -> Response:
    submitted_at = submitted_at or appointment.ends_at + datetime.timedelta(days=1)
    invitation = Invitation.objects.create(
        patient=appointment.patient,
        appointment=appointment,
        kind=Invitation.Kind.SURVEY,
        instruments=["nrs", "pgic", "relief", "odi", "red_flags"],
        due_at=submitted_at - datetime.timedelta(hours=1),
        status=Invitation.Status.ANSWERED,
        answered_at=submitted_at,
    )
    answers = SURVEY_ANSWERS if answers is None else answers
    values = dict(
        nrs_current=answers.get("nrs_current"),
        nrs_average=answers.get("nrs_average"),
        nrs_worst=answers.get("nrs_worst"),
        pgic=answers.get("pgic"),
        patient_rated_relief=answers.get("relief"),
        odi_percent=Decimal(20) if "odi" in answers else None,
        red_flags=[code for code, yes in answers.get("red_flags", {}).items() if yes],
    )
    values.update(scores)
    return Response.objects.create(
        invitation=invitation,
        patient=appointment.patient,
        submitted_at=submitted_at,
        answers=answers,
        **values,
    )


def make_alert(response, kind=Alert.Kind.RED_FLAG, **fields) -> Alert:
    return Alert.objects.create(
        patient=response.patient, response=response, kind=kind, detail="Fever or chills", **fields
    )


def make_record(calendar, patient, nurse, *, shift_days=0) -> dict:
    """A patient after one procedure: the appointment, a round, a survey, a red flag,
    and a booking ahead (`shift_days` earlier, for a second patient's record)."""
    shift = datetime.timedelta(days=shift_days)
    done = make_appointment(
        calendar, patient, starts_at=timezone.now() - datetime.timedelta(days=3) - shift
    )
    ahead = make_appointment(
        calendar,
        patient,
        status=Status.BOOKED,
        starts_at=timezone.now() + datetime.timedelta(days=10) - shift,
        levels="L5-S1",
        laterality="right",
    )
    round = make_round(done, nurse)
    response = make_response(done)
    alert = make_alert(response)
    return {
        "appointment": done,
        "ahead": ahead,
        "round": round,
        "response": response,
        "alert": alert,
    }


def make_patients(count: int, *, prefix="BULK") -> list[Patient]:
    existing = Patient.objects.filter(mrn__startswith=prefix).count()
    return Patient.objects.bulk_create(
        Patient(
            mrn=f"{prefix}-{existing + number:05d}",
            first_name="Bulk",
            last_name=f"Patient{existing + number:05d}",
            date_of_birth=datetime.date(1970, 1, 1) + datetime.timedelta(days=number),
        )
        for number in range(count)
    )


def add_history(calendar, nurse, count: int) -> None:
    """`count` more past appointments (each of a new patient), each with a round and a
    survey: rows enough to see whether a search's query count grows with them."""
    patients = make_patients(count)
    # One an hour after those already made: the rooms never double-book.
    start = timezone.now() - datetime.timedelta(days=400, hours=-Appointment.objects.count())
    procedure_type = calendar["tfesi"]
    appointments = Appointment.objects.bulk_create(
        Appointment(
            patient=patient,
            procedure_type=procedure_type,
            physician=calendar["physician"],
            site=calendar["site"],
            room=calendar["fluoro"],
            starts_at=start + datetime.timedelta(hours=number),
            ends_at=start + datetime.timedelta(hours=number, minutes=45),
            laterality="left",
            levels="L4-L5",
            status=Status.COMPLETED,
        )
        for number, patient in enumerate(patients)
    )
    rounds = []
    for appointment in appointments:
        round = ObservationRound(
            appointment=appointment,
            signed_by=nurse,
            taken_at=appointment.ends_at + datetime.timedelta(minutes=10),
            **ROUND,
        )
        round.score()
        rounds.append(round)
    ObservationRound.objects.bulk_create(rounds)
    invitations = Invitation.objects.bulk_create(
        Invitation(
            patient_id=appointment.patient_id,
            appointment=appointment,
            kind=Invitation.Kind.SURVEY,
            instruments=["nrs"],
            due_at=appointment.ends_at + datetime.timedelta(days=1),
            status=Invitation.Status.ANSWERED,
        )
        for appointment in appointments
    )
    Response.objects.bulk_create(
        Response(
            invitation=invitation,
            patient_id=invitation.patient_id,
            submitted_at=invitation.due_at + datetime.timedelta(hours=1),
            answers={"nrs_current": 4, "nrs_average": 4, "nrs_worst": 7},
            nrs_current=4,
            nrs_average=4,
            nrs_worst=7,
        )
        for invitation in invitations
    )
