"""Demo data of this area for `seed_demo` (idempotent).

Past appointments (completed by the scheduling demo) get a complete perioperative record:
checklist, time-out, rounds, discharge score and discharge. Today's appointments of each
site are spread over every state of the recovery board; when a site has too few today
(a weekend, or late in the evening), demo appointments are added near the current time,
or earlier that day when the day is nearly over (never tomorrow).
An appointment that already has a record is never touched again. Later areas' demos may
add completed appointments; `seed_late` gives them their record. Two of every three past
appointments get a signed procedure note.
"""

import datetime
import random
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.utils import timezone

from clinic.management.commands.seed_demo import MRN_PREFIX, Seeded
from clinic.models import Patient, ProcedureType, Room, Site
from clinic.nursing import rules, services
from clinic.nursing.models import (
    AnticoagulantHold,
    ChecklistAnswer,
    ChecklistItem,
    Discharge,
    DischargeAssessment,
    Escalation,
    ImagingModality,
    ObservationRound,
    Phase,
    TimeOutConfirmation,
)
from clinic.roles import Role, group_name
from scheduling.models import FREED_STATUSES, Appointment, AppointmentEvent, Laterality, Status

RANDOM_SEED = 20261124
BOARD_NOTE = "Demo (recovery board)"
M = datetime.timedelta(minutes=1)
# Today's board, in order of the day: the earliest patients have gone home.
BOARD_STATES = [
    "discharged",
    "recovery_overdue",
    "recovery_escalated",
    "in_procedure",
    "checked_in",
    "waiting",
]
NUMBERS = {
    "baseline-systolic": (115, 150),
    "baseline-diastolic": (65, 90),
    "baseline-pulse": (58, 88),
    "baseline-spo2": (95, 99),
    "baseline-pain": (4, 8),
    "glucose": (5, 11),
}
TEXTS = {
    "signout-performed": "{procedure} {side_and_level}, as planned",
    "signout-plan": "Observations per protocol; home with escort when the score allows",
}


class Recorder:
    """Builds the record rows of one appointment, to be bulk-created."""

    def __init__(self, rng, nurses, holds):
        self.rng, self.nurses, self.holds = rng, nurses, holds
        self.answers, self.signatures, self.rounds, self.assessments = [], [], [], []
        self.discharges, self.events, self.escalations = [], [], []

    def value(self, item, appointment):
        if item.code in NUMBERS:
            low, high = NUMBERS[item.code]
            return self.rng.randint(low, high)
        if item.code in TEXTS:
            return (
                TEXTS[item.code]
                .format(
                    procedure=appointment.procedure_type.name,
                    side_and_level=appointment.side_and_level,
                )
                .strip()
            )
        if item.kind == ChecklistItem.Kind.CHOICE:
            return item.choices[0] if self.rng.random() < 0.93 else item.choices[1]
        if item.kind == ChecklistItem.Kind.TEXT:
            return "Done"
        if item.kind == ChecklistItem.Kind.ANTITHROMBOTIC:
            return {"doses": self.doses(appointment), "risk_factors": False}
        return "yes"

    def doses(self, appointment):
        """Last doses that respect the clinic's hold table (or the drug was stopped)."""
        day = appointment.local_start.date()
        doses = {}
        for agent in rules.antithrombotics_of(appointment.patient):
            hold = self.holds.get((agent, appointment.procedure_type.bleeding_risk))
            doses[agent] = (
                (day - datetime.timedelta(days=hold.hold_days + 1)).isoformat()
                if hold
                else "stopped"
            )
        return doses

    def checklist(self, appointment, phases, nurse, at, *, sign=True, skip=()):
        for item in rules.applicable_items(appointment, phases):
            if item.code in skip:
                continue
            self.answers.append(
                ChecklistAnswer(
                    appointment=appointment,
                    item=item,
                    value=self.value(item, appointment),
                    entered_by=nurse,
                    entered_at=at,
                    signed_by=nurse if sign else None,
                    signed_at=at if sign else None,
                )
            )

    def time_out(self, appointment, nurse, at):
        self.signatures += [
            TimeOutConfirmation(
                appointment=appointment, role="nurse", signed_by=nurse, signed_at=at
            ),
            TimeOutConfirmation(
                appointment=appointment,
                role="physician",
                signed_by=appointment.physician,
                signed_at=at,
            ),
        ]

    def event(self, appointment, user, old, new, at):
        self.events.append(
            AppointmentEvent(
                appointment=appointment,
                user=user,
                at=at,
                kind=AppointmentEvent.Kind.STATUS,
                from_status=old,
                to_status=new,
            )
        )

    def round(self, appointment, nurse, at, **changes):
        values = dict(
            respiration_rate=self.rng.randint(12, 18),
            spo2=self.rng.randint(96, 99),
            on_oxygen=False,
            spo2_scale=1,
            systolic_bp=self.rng.randint(115, 145),
            diastolic_bp=self.rng.randint(65, 88),
            pulse=self.rng.randint(58, 86),
            consciousness="A",
            temperature=Decimal(f"36.{self.rng.randint(3, 9)}"),
            pain_nrs=self.rng.randint(0, 4),
        )
        round_ = ObservationRound(
            appointment=appointment,
            taken_at=at,
            signed_by=nurse,
            signed_at=at,
            **{**values, **changes},
        )
        round_.score()
        self.rounds.append(round_)
        return round_

    def before_start(self, appointment, nurse, start):
        self.checklist(appointment, [Phase.PRE_PROCEDURE], nurse, start - 40 * M)
        self.checklist(appointment, [Phase.SIGN_IN, Phase.TIME_OUT], nurse, start - 2 * M)
        self.time_out(appointment, nurse, start - M)
        self.event(appointment, nurse, Status.CONFIRMED, Status.CHECKED_IN, start - 45 * M)
        self.event(appointment, nurse, Status.CHECKED_IN, Status.IN_PROCEDURE, start)

    def complete(self, appointment, nurse, *, ended, discharged_at):
        """A whole record: checks, procedure, rounds per protocol, score, discharge."""
        start = appointment.starts_at
        protocol = rules.protocol_for(appointment.procedure_type)
        self.before_start(appointment, nurse, start)
        self.checklist(appointment, [Phase.SIGN_OUT], nurse, ended)
        self.event(appointment, nurse, Status.IN_PROCEDURE, Status.IN_RECOVERY, ended)
        interval = protocol.observation_interval_minutes * M
        for n in range(1, protocol.observation_count + 1):
            self.round(appointment, nurse, ended + n * interval)
        scale = protocol.scale
        scores = {item.code: 2 for item in scale.items}
        if self.rng.random() < 0.3:
            scores[self.rng.choice(scale.items).code] = 1
        assessment = DischargeAssessment(
            appointment=appointment,
            scale=scale.code,
            scores=scores,
            threshold=protocol.discharge_threshold,
            signed_by=nurse,
            signed_at=discharged_at - 2 * M,
        )
        assessment.score()
        self.assessments.append(assessment)
        language = appointment.patient.preferred_language
        self.discharges.append(
            Discharge(
                appointment=appointment,
                discharged_at=discharged_at,
                discharged_by=nurse,
                instructions=protocol.instructions_for(language),
                instructions_language=language,
            )
        )
        self.event(appointment, nurse, Status.IN_RECOVERY, Status.DISCHARGED, discharged_at)

    def save(self):
        ChecklistAnswer.objects.bulk_create(self.answers, batch_size=1000)
        TimeOutConfirmation.objects.bulk_create(self.signatures, batch_size=1000)
        ObservationRound.objects.bulk_create(self.rounds, batch_size=1000)
        Escalation.objects.bulk_create(self.escalations, batch_size=1000)
        DischargeAssessment.objects.bulk_create(self.assessments, batch_size=1000)
        assessments = {a.appointment_id: a for a in self.assessments}
        for discharge in self.discharges:
            discharge.assessment = assessments.get(discharge.appointment_id)
        Discharge.objects.bulk_create(self.discharges, batch_size=1000)
        AppointmentEvent.objects.bulk_create(self.events, batch_size=1000)
        # The physician of a patient in recovery with a high NEWS2 has the alert to see.
        for escalation in self.escalations:
            services.round_escalation_warn(escalation.round)


def _set_status(appointment, status):
    Appointment.objects.filter(pk=appointment.pk).update(status=status)
    appointment.status = status


def _with_record_ids() -> set[int]:
    return set(ChecklistAnswer.objects.values_list("appointment_id", flat=True).distinct())


def seed_past(recorder, now, done: set[int]) -> Seeded:
    """Complete records for every completed appointment that has none."""
    seeded = Seeded()
    past = (
        Appointment.objects.filter(status__in=[Status.COMPLETED, Status.DISCHARGED])
        .exclude(pk__in=done)
        .select_related("patient", "procedure_type__nursing_protocol", "physician", "site")
        .prefetch_related("patient__medications")
        .order_by("starts_at")
    )
    for appointment in past:
        ended = appointment.ends_at - appointment.procedure_type.turnover_minutes * M
        protocol = rules.protocol_for(appointment.procedure_type)
        observed = protocol.observation_interval_minutes * protocol.observation_count * M
        discharged_at = min(ended + observed + 5 * M, now)
        recorder.complete(
            appointment,
            recorder.rng.choice(recorder.nurses),
            ended=ended,
            discharged_at=discharged_at,
        )
        seeded.add(appointment, created=True)
    return seeded


def _free_demo_appointment(site, start, patients, physicians, procedure_type):
    """A demo appointment at `start` or a little later, wherever the database allows it."""
    rooms = list(site.rooms.filter(active=True, kind=Room.Kind.PROCEDURE))
    bays = list(site.rooms.filter(active=True, kind=Room.Kind.RECOVERY))
    minutes = procedure_type.room_minutes
    for shift in range(0, 240, 15):
        begin = start + shift * M
        for room in rooms:
            for physician in physicians:
                if not patients:
                    return None
                patient = patients.pop(0)
                try:
                    with transaction.atomic():
                        recovery_start = begin + (minutes - procedure_type.turnover_minutes) * M
                        return Appointment.objects.create(
                            patient=patient,
                            procedure_type=procedure_type,
                            physician=physician,
                            site=site,
                            room=room,
                            recovery_bay=bays[0] if bays else None,
                            starts_at=begin,
                            ends_at=begin + minutes * M,
                            recovery_starts_at=recovery_start if bays else None,
                            recovery_ends_at=(
                                recovery_start + procedure_type.recovery_minutes * M
                                if bays
                                else None
                            ),
                            notes=BOARD_NOTE,
                            status=Status.CONFIRMED,
                        )
                except IntegrityError:
                    patients.append(patient)
                    continue
    return None


def _todays(site, now):
    day = timezone.localtime(now, site.zone).date()
    start = datetime.datetime.combine(day, datetime.time.min, site.zone)
    return list(
        Appointment.objects.filter(
            site=site, starts_at__gte=start, starts_at__lt=start + datetime.timedelta(days=1)
        )
        .exclude(status__in=[*FREED_STATUSES, Status.REQUESTED])
        .select_related("patient", "procedure_type__nursing_protocol", "physician", "site")
        .prefetch_related("patient__medications")
        .order_by("starts_at")
    )


def seed_board(recorder, now, done: set[int]) -> Seeded:
    """Today's appointments of each site in every state of the board."""
    seeded = Seeded()
    injection = ProcedureType.objects.get(code="esi-transforaminal")
    busy_today = set(
        Appointment.objects.filter(
            starts_at__date__gte=(now - datetime.timedelta(days=1)).date(),
            starts_at__date__lte=(now + datetime.timedelta(days=1)).date(),
        ).values_list("patient_id", flat=True)
    )
    patients = list(
        Patient.objects.filter(mrn__startswith=MRN_PREFIX)
        .exclude(pk__in=busy_today)
        .order_by("mrn")
    )
    physicians = list(
        injection.credentialed_staff.select_related("user").order_by("user__username")
    )
    physicians = [profile.user for profile in physicians]
    for site in Site.objects.filter(active=True).order_by("name"):
        today = _todays(site, now)
        if any(a.pk in done for a in today):
            continue  # this site's board was seeded today already
        local_day = timezone.localtime(now, site.zone).date()
        day_start = datetime.datetime.combine(local_day, datetime.time.min, site.zone)
        day_end = day_start + datetime.timedelta(days=1)
        hours = site.opening_hours.filter(weekday=local_day.weekday()).first()
        if hours and now < datetime.datetime.combine(local_day, hours.closes, site.zone):
            # Seeded during opening hours: the board's patients are inside them too.
            day_start = datetime.datetime.combine(local_day, hours.opens, site.zone)
            day_end = datetime.datetime.combine(local_day, hours.closes, site.zone)
        held = injection.room_minutes - injection.turnover_minutes + injection.recovery_minutes
        # At least one patient still to come, and one for each state of the board.
        while (len(today) < len(BOARD_STATES) or all(a.starts_at <= now for a in today)) and len(
            patients
        ) > 1:
            start = max([now, *(a.ends_at for a in today)]) + 10 * M
            if start + max(held, injection.room_minutes) * M > day_end:
                # Late in the day, an appointment "to come" would be after closing time.
                if len(today) >= len(BOARD_STATES):
                    break
                start = max(day_start, now - 6 * 60 * M)
            created = _free_demo_appointment(site, start, patients, physicians, injection)
            if created is None:
                break
            today = _todays(site, now)
        if len(today) < len(BOARD_STATES):
            continue
        for appointment, state in zip(today, _states_for(today, now), strict=True):
            _board_record(recorder, appointment, state, now)
            seeded.add(appointment, created=state != "waiting")
    return seeded


def _states_for(today: list, now) -> list[str]:
    """The board's states in order of the day: extra patients who are done have gone
    home; extra patients still to come are waiting."""
    ended = sum(1 for a in today if a.ends_at <= now)
    extra = len(today) - len(BOARD_STATES)
    gone_home = max(0, min(ended - 3, extra))
    return ["discharged"] * gone_home + BOARD_STATES + ["waiting"] * (extra - gone_home)


def _board_record(recorder, appointment, state, now):
    nurse = recorder.rng.choice(recorder.nurses)
    if state == "waiting":
        if appointment.status not in (Status.BOOKED, Status.CONFIRMED):
            _set_status(appointment, Status.CONFIRMED)
        return
    if state == "discharged":
        end = min(appointment.ends_at, now - 60 * M)
        recorder.complete(appointment, nurse, ended=end, discharged_at=min(end + 40 * M, now))
        _set_status(appointment, Status.DISCHARGED)
        return
    if state == "checked_in":
        # Halfway through the pre-procedure checks: consent still to come.
        recorder.checklist(
            appointment, [Phase.PRE_PROCEDURE], nurse, now - 5 * M, sign=False, skip={"consent"}
        )
        recorder.event(appointment, nurse, Status.CONFIRMED, Status.CHECKED_IN, now - 10 * M)
        _set_status(appointment, Status.CHECKED_IN)
        return
    started = now - 15 * M if state == "in_procedure" else now - 60 * M
    recorder.before_start(appointment, nurse, started)
    if state == "in_procedure":
        _set_status(appointment, Status.IN_PROCEDURE)
        return
    ended = now - (25 if state == "recovery_overdue" else 12) * M
    recorder.checklist(appointment, [Phase.SIGN_OUT], nurse, ended)
    recorder.event(appointment, nurse, Status.IN_PROCEDURE, Status.IN_RECOVERY, ended)
    if state == "recovery_overdue":
        # One round, and the next is past due.
        recorder.round(appointment, nurse, ended + 2 * M)
    else:
        round_ = recorder.round(
            appointment, nurse, now - 4 * M, systolic_bp=98, pulse=112, respiration_rate=22
        )
        recorder.escalations.append(
            Escalation(
                round=round_,
                physician=appointment.physician,
                called_at=now - 3 * M,
                note="Physician on the way; repeat observations in 15 minutes.",
                recorded_by=nurse,
            )
        )
    _set_status(appointment, Status.IN_RECOVERY)


DEMO_FINDINGS = {
    "rfa": "Sensory stimulation below 0.5 V and no motor response at each lesion.",
    "medial-branch-block": "Contrast confined to each target; no vascular uptake.",
}
DEMO_FINDING = "Contrast spread as expected; no vascular uptake."


def seed_notes(now) -> Seeded:
    """Signed procedure notes for two of every three past appointments that have none
    (the physicians' backlog is the rest), signed when the procedure ended."""
    seeded = Seeded()
    rng = random.Random(RANDOM_SEED + 1)
    past = (
        Appointment.objects.filter(
            status__in=[Status.COMPLETED, Status.DISCHARGED],
            starts_at__lt=now,
            procedure_note__isnull=True,
        )
        .select_related("patient", "procedure_type__note_template", "physician", "site")
        .order_by("starts_at")
    )
    for appointment in past:
        if appointment.pk % 3 == 0:
            continue
        note = services.note_draft(appointment)
        procedure_type = appointment.procedure_type
        if procedure_type.needs_laterality and note.laterality == Laterality.NOT_APPLICABLE:
            note.laterality = Laterality.LEFT
        if note.imaging_modality == ImagingModality.FLUOROSCOPY:
            note.fluoroscopy_seconds = rng.randint(12, 90)
            note.dap_mgy_cm2 = Decimal(rng.randint(400, 6000)) / 10
        if note.contrast_agent:
            note.contrast_ml = Decimal(rng.choice([10, 15, 20, 30])) / 10
        if note.records_rf:
            levels = len([part for part in note.levels.split(",") if part.strip()]) or 1
            note.rf_lesions = 2 * levels
        if procedure_type.typical_sedation != ProcedureType.Sedation.NONE:
            note.sedation = [{"drug": "Midazolam", "dose": rng.choice(["1 mg", "2 mg"])}]
        if rng.random() < 0.05:
            note.complications = ["vasovagal"]
        note.findings = DEMO_FINDINGS.get(procedure_type.code, DEMO_FINDING)
        ended = appointment.ends_at - procedure_type.turnover_minutes * M
        note.written_by = note.signed_by = appointment.physician
        note.written_at = note.signed_at = min(ended, now)
        # A signed row is inserted whole: the database refuses changing it afterwards.
        note.save()
        seeded.add(note, created=True)
    return seeded


def seed() -> dict[str, Seeded]:
    nurses = list(
        get_user_model()
        .objects.filter(groups__name=group_name(Role.NURSE), staff_profile__is_demo=True)
        .order_by("username")
    )
    if not nurses:
        return {}
    now = timezone.now().replace(microsecond=0)
    holds = {(h.agent, h.bleeding_risk): h for h in AnticoagulantHold.objects.all()}
    recorder = Recorder(random.Random(RANDOM_SEED), nurses, holds)
    done = _with_record_ids()
    board = seed_board(recorder, now, done)
    for appointment in board.objects:
        done.add(appointment.pk)
    past = seed_past(recorder, now, done)
    recorder.save()
    return {"nursing records": past, "recovery board": board, "procedure notes": seed_notes(now)}


def seed_late() -> dict[str, Seeded]:
    """Records for the completed appointments that demos of later areas added (the
    follow-up demo's earlier procedures); a second run adds none."""
    late = seed()
    return {key: late[key] for key in ("nursing records", "procedure notes") if key in late}
