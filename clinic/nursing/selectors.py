"""Reads of the perioperative record: one appointment's record and the recovery board."""

import datetime
from collections import defaultdict
from dataclasses import dataclass, field

from django.db.models import Count, OuterRef, Prefetch, Q, Subquery
from django.utils import timezone

from clinic.nursing import rules
from clinic.nursing.models import (
    BEFORE_START,
    Amendment,
    AnticoagulantHold,
    ChecklistAnswer,
    DischargeAssessment,
    Escalation,
    HardStopOverride,
    ObservationRound,
    Phase,
    ProcedureNote,
    ProcedureNoteAmendment,
)
from scheduling.models import Appointment, AppointmentEvent, Status

BOARD_SECTIONS = [
    ("waiting", "Waiting for check-in", (Status.BOOKED, Status.CONFIRMED)),
    ("checks", "Pre-procedure checks", (Status.CHECKED_IN,)),
    ("procedure", "In procedure", (Status.IN_PROCEDURE,)),
    ("recovery", "In recovery", (Status.IN_RECOVERY,)),
    ("discharged", "Discharged", (Status.DISCHARGED, Status.COMPLETED)),
]
IN_UNIT = (Status.CHECKED_IN, Status.IN_PROCEDURE, Status.IN_RECOVERY)
# Until the start a failed hard stop blocks; after it, only overrides are left to show.
BEFORE_THE_START = (Status.BOOKED, Status.CONFIRMED, Status.CHECKED_IN)
AFTER_THE_START = (Status.IN_PROCEDURE, Status.IN_RECOVERY, Status.DISCHARGED, Status.COMPLETED)


def appointment_for_record(pk: int) -> Appointment:
    return (
        Appointment.objects.select_related(
            "patient", "procedure_type", "physician", "site", "room", "recovery_bay"
        )
        .prefetch_related("patient__medications", "patient__allergies")
        .get(pk=pk)
    )


def recovery_started_at(appointment) -> datetime.datetime | None:
    """When the appointment moved to recovery, from its own history."""
    event = (
        appointment.events.filter(to_status=Status.IN_RECOVERY).order_by("-at").only("at").first()
    )
    return event.at if event else None


def next_observation_due(*, protocol, started_at, last_round_at, rounds_done, last_risk):
    """When the next round is due: one interval after the last round (or arrival in
    recovery). None once the protocol's rounds are done and the last is in the low band."""
    if started_at is None:
        return None
    if rounds_done >= protocol.observation_count and last_risk in (None, "low"):
        return None
    base = last_round_at or started_at
    return base + datetime.timedelta(minutes=protocol.observation_interval_minutes)


def nursing_record(appointment) -> dict:
    """Everything the record page shows about one appointment."""
    state = rules.checklist_state(appointment)
    rounds = list(
        ObservationRound.objects.filter(appointment=appointment)
        .select_related("signed_by")
        .prefetch_related(
            Prefetch("escalations", queryset=Escalation.objects.select_related("physician")),
            Prefetch("amendments", queryset=Amendment.objects.select_related("by")),
        )
    )
    assessments = list(
        DischargeAssessment.objects.filter(appointment=appointment)
        .select_related("signed_by")
        .prefetch_related(Prefetch("amendments", queryset=Amendment.objects.select_related("by")))
    )
    protocol = rules.protocol_for(appointment.procedure_type)
    started = recovery_started_at(appointment)
    last = rounds[-1] if rounds else None
    due = None
    if appointment.status == Status.IN_RECOVERY:
        due = next_observation_due(
            protocol=protocol,
            started_at=started,
            last_round_at=last.taken_at if last else None,
            rounds_done=len(rounds),
            last_risk=last.news2_risk if last else None,
        )
    answer_amendments = (
        Amendment.objects.filter(answer__appointment=appointment)
        .select_related("by", "answer__item")
        .order_by("at")
    )
    overrides = list(
        HardStopOverride.objects.filter(appointment=appointment).select_related("by", "item")
    )
    before_start = appointment.status in BEFORE_THE_START
    stops = rules.start_stops(appointment, state) if before_start else []
    failing = {s.item.phase for s in stops if s.kind == "hard_stop"}
    phases = [
        {
            "phase": phase,
            "rows": state.rows(phase),
            "progress": state.phase_progress(phase),
            "hard_stop": phase in failing,
        }
        for phase in Phase
    ]
    return {
        "appointment": appointment,
        "state": state,
        "phases": phases,
        "start_blockers": [s.message for s in stops],
        "start_stops": stops,
        "override_stops": [s for s in stops if s.overridable],
        "hard_stops": [s.message for s in stops if s.kind == "hard_stop"],
        "discharge_blockers": rules.discharge_blockers(appointment, state)
        if appointment.status == Status.IN_RECOVERY
        else [],
        "rounds": rounds,
        "last_round": last,
        "escalation_due": bool(last and last.needs_escalation and not last.escalations.all()),
        "assessments": assessments,
        "discharge": getattr(appointment, "discharge", None),
        "overrides": overrides,
        "answer_amendments": list(answer_amendments),
        "protocol": protocol,
        "recovery_started_at": started,
        "next_due": due,
        "antithrombotics": rules.antithrombotics_of(appointment.patient),
        "now": timezone.now(),
    }


@dataclass
class BoardRow:
    appointment: Appointment
    recovery_started_at: datetime.datetime | None
    last_news2: int | None
    last_risk: str | None
    next_due: datetime.datetime | None
    signed_answers: int
    now: datetime.datetime
    # Failed hard stops not overridden, and the overrides (nursing/_hard_stop_flag.html).
    hard_stops: list[str] = field(default_factory=list)
    overrides: list = field(default_factory=list)

    @property
    def overdue(self) -> bool:
        return self.next_due is not None and self.next_due < self.now

    @property
    def minutes_in_recovery(self) -> int | None:
        if self.recovery_started_at is None:
            return None
        return int((self.now - self.recovery_started_at).total_seconds() // 60)

    @property
    def escalation(self) -> bool:
        return self.last_risk not in (None, "low")


def recovery_board(*, site, day: datetime.date, now=None) -> list[dict]:
    """Today's patients of a site, and anyone still in the unit from before, by section."""
    now = now or timezone.now()
    start = datetime.datetime.combine(day, datetime.time.min, site.zone)
    rounds = ObservationRound.objects.filter(appointment=OuterRef("pk")).order_by(
        "-taken_at", "-pk"
    )
    appointments = (
        Appointment.objects.filter(
            Q(starts_at__gte=start, status__in=[s for _, _, ss in BOARD_SECTIONS for s in ss])
            # A patient still in the unit stays on the board past midnight until discharged.
            | Q(status__in=IN_UNIT),
            site=site,
            starts_at__lt=start + datetime.timedelta(days=1),
        )
        .select_related(
            "patient",
            "procedure_type__nursing_protocol",
            "recovery_bay",
            "room",
            "physician",
            "site",
        )
        .annotate(
            recovery_at=Subquery(
                AppointmentEvent.objects.filter(
                    appointment=OuterRef("pk"), to_status=Status.IN_RECOVERY
                )
                .order_by("-at")
                .values("at")[:1]
            ),
            last_round_at=Subquery(rounds.values("taken_at")[:1]),
            last_news2=Subquery(rounds.values("news2_total")[:1]),
            last_risk=Subquery(rounds.values("news2_risk")[:1]),
            rounds_done=Count("observation_rounds", distinct=True),
            signed_answers=Count(
                "checklist_answers",
                filter=Q(checklist_answers__signed_at__isnull=False),
                distinct=True,
            ),
        )
        .order_by("starts_at")
    )
    sections = {key: [] for key, _, _ in BOARD_SECTIONS}
    appointments = list(appointments)
    flags = hard_stop_flags(appointments)
    for appointment in appointments:
        section = next(key for key, _, statuses in BOARD_SECTIONS if appointment.status in statuses)
        due = None
        if appointment.status == Status.IN_RECOVERY:
            due = next_observation_due(
                protocol=rules.protocol_for(appointment.procedure_type),
                started_at=appointment.recovery_at,
                last_round_at=appointment.last_round_at,
                rounds_done=appointment.rounds_done,
                last_risk=appointment.last_risk,
            )
        sections[section].append(
            BoardRow(
                appointment=appointment,
                recovery_started_at=appointment.recovery_at,
                last_news2=appointment.last_news2,
                last_risk=appointment.last_risk,
                next_due=due,
                signed_answers=appointment.signed_answers,
                now=now,
                hard_stops=flags[appointment.pk].hard_stops,
                overrides=flags[appointment.pk].overrides,
            )
        )
    # Overdue patients first: they are the ones to see now.
    sections["recovery"].sort(key=lambda row: (not row.overdue, row.next_due or now))
    return [{"key": key, "title": title, "rows": sections[key]} for key, title, _ in BOARD_SECTIONS]


@dataclass
class HardStopFlags:
    hard_stops: list[str] = field(default_factory=list)
    overrides: list = field(default_factory=list)

    def __bool__(self) -> bool:
        """Something to show: most cards have neither."""
        return bool(self.hard_stops or self.overrides)


def hard_stop_flags(appointments) -> dict[int, HardStopFlags]:
    """Per appointment: failed hard stops of its signed checks (before the start) and the
    physicians' overrides, in three queries for a whole board."""
    flags = defaultdict(HardStopFlags)
    by_pk = {a.pk: a for a in appointments}
    # Only the statuses where each can exist are asked: a card of another status costs nothing.
    started = [pk for pk, a in by_pk.items() if a.status in AFTER_THE_START]
    if started:
        # The flag names the stop (its checklist item) and the reason, not who overrode it:
        # no join to the users for a board's every read.
        for override in HardStopOverride.objects.filter(appointment__in=started).select_related(
            "item"
        ):
            flags[override.appointment_id].overrides.append(override)
    waiting = [pk for pk, a in by_pk.items() if a.status in BEFORE_THE_START]
    if not waiting:
        return flags
    answers = list(
        ChecklistAnswer.objects.filter(
            appointment__in=waiting,
            signed_at__isnull=False,
            item__hard_stop=True,
            item__active=True,
            item__phase__in=BEFORE_START,
        )
        .select_related("item")
        .order_by("item__order", "item_id")
    )
    if answers:
        holds = {(h.agent, h.bleeding_risk): h for h in AnticoagulantHold.objects.all()}
        for answer in answers:
            reason = answer.failure(by_pk[answer.appointment_id], holds=holds)
            if reason:
                flags[answer.appointment_id].hard_stops.append(f"Hard stop — {reason}")
    return flags


def board_hard_stop_flags(appointments, user) -> None:
    """The flags of every card of a scheduling board in one read, for staff who see them
    (registered with scheduling.selectors_board); nursing/board_card.html shows them."""
    if not user.has_perm("nursing.view_checklistanswer"):
        return
    flags = hard_stop_flags(appointments)
    for appointment in appointments:
        appointment.nursing_hard_stop_flags = flags[appointment.pk]


def patient_perioperative_appointments(*, patient) -> list[Appointment]:
    """The patient's procedures that have (or will have) a perioperative record, latest first."""
    return list(
        Appointment.objects.filter(patient=patient)
        .exclude(status__in=(Status.CANCELLED, Status.REQUESTED, Status.NO_SHOW))
        .select_related("procedure_type")
        # What the patient page's rows show: whole rows cost more to build than to read.
        .only("starts_at", "status", "laterality", "levels", "procedure_type__name")
        .order_by("-starts_at", "-pk")
    )


# The checklist item where the nurse records pain before the procedure (seeded protocol).
BASELINE_PAIN_ITEM = "baseline-pain"


def baseline_pain_scores(appointment_ids: list[int]) -> dict[int, int]:
    """The signed pre-procedure pain score (NRS 0-10) of each appointment that has one.

    Registered with scheduling.outcome_sources (see NursingConfig.ready): the follow-up
    engine's baseline when the patient answered no baseline survey. One query.
    """
    scores = {}
    rows = ChecklistAnswer.objects.filter(
        appointment_id__in=appointment_ids,
        item__code=BASELINE_PAIN_ITEM,
        signed_at__isnull=False,
    ).values_list("appointment_id", "value")
    for appointment_id, value in rows:
        # A number answer is stored as entered: 7, 7.0 or "7".
        try:
            number = float(value)
        except (TypeError, ValueError):
            continue
        if number.is_integer() and 0 <= number <= 10:
            scores[appointment_id] = int(number)
    return scores


# --- The physician's procedure note --------------------------------------------------


@dataclass(frozen=True)
class TreatedLevels:
    """What a signed procedure note says was treated: side (a Laterality code) and levels."""

    laterality: str
    levels: list[str]


def procedure_note(appointment) -> ProcedureNote | None:
    """The appointment's note with its amendments and signatures, or None."""
    return (
        ProcedureNote.objects.select_related("signed_by", "written_by", "template")
        .prefetch_related(
            Prefetch("amendments", ProcedureNoteAmendment.objects.select_related("by"))
        )
        .filter(appointment=appointment)
        .first()
    )


def levels_treated(appointment_ids) -> dict[int, TreatedLevels]:
    """Side and levels treated, by appointment id, from signed notes only (for outcomes:
    a draft may still change). Appointments without a signed note are left out."""
    rows = ProcedureNote.objects.filter(
        appointment_id__in=list(appointment_ids), signed_at__isnull=False
    ).values_list("appointment_id", "laterality", "levels")
    return {
        appointment_id: TreatedLevels(
            laterality, [part.strip() for part in levels.split(",") if part.strip()]
        )
        for appointment_id, laterality, levels in rows
    }


def outcome_levels_treated(appointment_ids) -> dict[int, tuple[str, str]]:
    """Side and levels of each signed note, as outcome rows report them
    (scheduling.outcome_sources "treated_levels" provider)."""
    return {
        pk: (treated.laterality, ", ".join(treated.levels))
        for pk, treated in levels_treated(appointment_ids).items()
    }


def pathway_levels_treated(appointments) -> dict[int, str]:
    """The levels a signed note says were treated, as the pathway rules read levels
    (scheduling.pathway "levels" provider): they place a session in its spinal region."""
    treated = levels_treated(a.pk for a in appointments)
    return {pk: ", ".join(t.levels) for pk, t in treated.items() if t.levels}


@dataclass(frozen=True)
class NoteEvidence:
    """One signed procedure note as evidence for the pathway rules."""

    appointment_id: int
    procedure_code: str
    day: datetime.date
    laterality: str
    levels: list[str]
    complications: list[str]
    signed_at: datetime.datetime


def signed_notes_of_patient(patient_id, *, before=None) -> list[NoteEvidence]:
    """The patient's signed procedure notes, oldest first; with `before`, only notes of
    appointments that started before it."""
    notes = ProcedureNote.objects.filter(
        appointment__patient_id=patient_id, signed_at__isnull=False
    ).select_related("appointment__procedure_type", "appointment__site")
    if before is not None:
        notes = notes.filter(appointment__starts_at__lt=before)
    return [
        NoteEvidence(
            appointment_id=note.appointment_id,
            procedure_code=note.appointment.procedure_type.code,
            day=note.appointment.local_start.date(),
            laterality=note.laterality,
            levels=[part.strip() for part in note.levels.split(",") if part.strip()],
            complications=list(note.complications),
            signed_at=note.signed_at,
        )
        for note in notes.order_by("appointment__starts_at")
    ]
