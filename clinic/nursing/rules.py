"""The safety rules of the perioperative record.

What must be true before a procedure starts (WHO Surgical Safety Checklist; Joint
Commission Universal Protocol) and before a patient goes home (discharge score per
clinic.nursing.discharge_scores, sign-out complete, last NEWS2 not in an escalation band per
clinic.nursing.news2). Each rule returns the reasons it fails, in words a nurse understands.
"""

import datetime
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.db.models import Prefetch, Q
from django.utils import timezone

from clinic.models import Allergy, ProcedureType
from clinic.nursing.models import (
    ANTITHROMBOTIC_CHOICES,
    BEFORE_START,
    NEVER_OVERRIDDEN,
    Amendment,
    AnticoagulantHold,
    ChecklistAnswer,
    ChecklistItem,
    Phase,
    ProcedureNoteTemplate,
    ProcedureProtocol,
    TimeOutConfirmation,
    effective_bleeding_risk,
)

TEXT_MAX = 200
LAST_DOSE_LOOKBACK = datetime.timedelta(days=365)
Kind = ChecklistItem.Kind


def protocol_for(procedure_type) -> ProcedureProtocol:
    """The procedure type's nursing protocol, or the defaults when none was set up."""
    try:
        return procedure_type.nursing_protocol
    except ProcedureProtocol.DoesNotExist:
        return ProcedureProtocol(procedure_type=procedure_type)


def antithrombotics_of(patient) -> dict[str, str]:
    """The patient's antithrombotic agents: agent code -> what the patient takes."""
    found = {}
    for medication in patient.medications.all():
        if medication.is_antithrombotic:
            found.setdefault(medication.agent, f"{medication.get_agent_display()}")
            if medication.name.lower() != medication.get_agent_display().lower():
                found[medication.agent] = f"{medication.get_agent_display()} ({medication.name})"
    return found


def hold_summary(appointment, *, risk_factors: bool = False) -> list[str]:
    """The clinic's hold time for each antithrombotic the patient takes, for this procedure;
    patient risk factors move it one bleeding-risk category up (ASRA 2018)."""
    agents = antithrombotics_of(appointment.patient)
    risk = effective_bleeding_risk(appointment.procedure_type.bleeding_risk, risk_factors)
    holds = {
        h.agent: h for h in AnticoagulantHold.objects.filter(agent__in=agents, bleeding_risk=risk)
    }
    lines = []
    for agent, name in agents.items():
        hold = holds.get(agent)
        if hold is None:
            lines.append(f"{name}: no hold time in the clinic protocol; a physician decides.")
            continue
        lines.append(
            f"{name}: held {hold.hold_days} day{'s' * (hold.hold_days != 1)} before "
            f"{hold.get_bleeding_risk_display().lower()}-risk procedures, per clinic protocol"
            + (f" ({hold.note})" if hold.note else "")
            + "."
        )
    if lines and risk != appointment.procedure_type.bleeding_risk:
        usual = appointment.procedure_type.get_bleeding_risk_display().lower()
        counted = ProcedureType.BleedingRisk(risk).label.lower()
        lines.append(
            f"Bleeding risk factors: this {usual}-risk procedure counts as {counted}-risk."
        )
    return lines


# ASRA 2018 counts concurrent antithrombotics as a patient bleeding-risk factor; it is the one
# factor the medication list shows, so the plan told at booking upgrades on it alone. The
# nurse asks about the others (age, bleeding history, liver and kidney disease) on the day.
CONCURRENT_ANTITHROMBOTICS = 2


def medication_plans(appointments) -> dict:
    """The plan told at booking for each appointment whose patient takes an antithrombotic:
    last dose and restart day per drug from the clinic's hold table (`AnticoagulantHold`,
    the same rule as the nurse's check), registered with scheduling.advice."""
    from scheduling.advice import MedicationPlan, MedicationStep

    holds = {(h.agent, h.bleeding_risk): h for h in AnticoagulantHold.objects.all()}
    plans = {}
    for appointment in appointments:
        agents = antithrombotics_of(appointment.patient)
        if not agents:
            continue
        usual = appointment.procedure_type.bleeding_risk
        upgraded = len(agents) >= CONCURRENT_ANTITHROMBOTICS
        risk = effective_bleeding_risk(usual, upgraded)
        day = appointment.local_start.date()
        steps = []
        for agent, name in sorted(agents.items(), key=lambda item: item[1]):
            hold = holds.get((agent, risk))
            if hold is None:
                steps.append(MedicationStep(agent=agent, drug=name, physician_decides=True))
                continue
            steps.append(
                MedicationStep(
                    agent=agent,
                    drug=name,
                    hold_days=hold.hold_days,
                    last_dose=hold.last_dose_day(day) if hold.is_held else None,
                    restart=hold.restart_day(day) if hold.is_held else None,
                    note=hold.note,
                )
            )
        plans[appointment.pk] = MedicationPlan(
            procedure_day=day,
            bleeding_risk=risk,
            bleeding_risk_label=ProcedureType.BleedingRisk(risk).label.lower(),
            upgraded=risk != usual,
            upgrade_reason=(
                f"{len(agents)} antithrombotics taken together: this "
                f"{ProcedureType.BleedingRisk(usual).label.lower()}-risk procedure counts as "
                f"{ProcedureType.BleedingRisk(risk).label.lower()}-risk (ASRA 2018)."
                if risk != usual
                else ""
            ),
            steps=steps,
        )
    return plans


def applicable_items(appointment, phases=None) -> list[ChecklistItem]:
    """The active checklist items asked for this appointment, in order."""
    items = (
        ChecklistItem.objects.filter(active=True)
        .filter(Q(procedure_types__isnull=True) | Q(procedure_types=appointment.procedure_type))
        .distinct()
        .order_by("order", "pk")
    )
    if phases is not None:
        items = items.filter(phase__in=phases)
    return [item for item in items if item.applies_to(appointment)]


def validate_answer(item: ChecklistItem, value, appointment):
    """The answer in its stored form, or ValidationError saying what is wrong with it."""
    allowed = item.allowed_values()
    if allowed is not None:
        if value not in allowed:
            labels = ", ".join(item.display_value(v) for v in allowed)
            raise ValidationError(f"{item.label}: choose one of {labels}.")
        return value
    if item.kind == Kind.NUMBER:
        return _number(item, value)
    if item.kind == Kind.TEXT:
        text = value.strip() if isinstance(value, str) else ""
        if not text:
            raise ValidationError(f"{item.label}: write a short answer.")
        if len(text) > TEXT_MAX:
            raise ValidationError(f"{item.label}: keep it under {TEXT_MAX} characters.")
        return text
    return _antithrombotic(item, value, appointment)


def _plain(number: Decimal) -> str:
    """50.00 as "50" and 7.50 as "7.5", never in scientific notation."""
    return format(number.normalize(), "f")


# What a number answer may look like: what the item's own min/max columns can hold
# (max_digits=7, decimal_places=2). Beyond that a value is a typo (1e9, 0.0000001), and
# turning it into an int could take minutes (int(Decimal("1e999999999"))).
NUMBER_DIGITS = 5  # before the decimal point: below 100000
NUMBER_DECIMALS = 2


def _number(item, value):
    try:
        number = Decimal(str(value).strip().replace(",", "."))
    except InvalidOperation:
        number = None
    if number is None or not number.is_finite() or isinstance(value, bool):
        raise ValidationError(f"{item.label}: enter a number, for example 7.5.") from None
    low, high, unit = item.min_value, item.max_value, f" {item.unit}" if item.unit else ""
    # adjusted() reads the exponent without arithmetic (abs(1e999999999) would overflow).
    if number.adjusted() >= NUMBER_DIGITS:
        raise ValidationError(
            f"{item.label}: that number is far too large; check the value, or re-measure."
        )
    if number != number.quantize(Decimal(1).scaleb(-NUMBER_DECIMALS)):
        raise ValidationError(
            f"{item.label}: enter at most {NUMBER_DECIMALS} decimals, for example 7.5."
        )
    if (low is not None and number < low) or (high is not None and number > high):
        if low is None:
            allowed = f"at most {_plain(high)}"
        elif high is None:
            allowed = f"at least {_plain(low)}"
        else:
            allowed = f"a value from {_plain(low)} to {_plain(high)}"
        raise ValidationError(
            f"{item.label}: {number}{unit} is not possible; enter {allowed}{unit}, or re-measure."
        )
    return int(number) if number == number.to_integral_value() else float(number)


def _antithrombotic(item, value, appointment):
    if not isinstance(value, dict) or not isinstance(value.get("doses", {}), dict):
        raise ValidationError(
            f'{item.label}: send {{"doses": {{agent: "YYYY-MM-DD" or "stopped"}}, '
            '"risk_factors": true/false}.'
        )
    labels = dict(ANTITHROMBOTIC_CHOICES)
    doses = value.get("doses", {})
    procedure_day = appointment.local_start.date()
    today = timezone.localtime(timezone.now(), appointment.site.zone).date()
    clean = {}
    for agent, day in doses.items():
        if agent not in labels:
            raise ValidationError(f"{item.label}: {agent} is not an anticoagulant or antiplatelet.")
        if day == "stopped":
            clean[agent] = day
            continue
        try:
            taken = datetime.date.fromisoformat(str(day))
        except ValueError:
            raise ValidationError(
                f"{item.label}: enter the last dose of {labels[agent]} as a date (YYYY-MM-DD)."
            ) from None
        if taken > procedure_day:
            raise ValidationError(
                f"{item.label}: the last dose of {labels[agent]} cannot be after the procedure day."
            )
        # A dose is reported once taken: a date after today is a typo, not a plan.
        if taken > today:
            raise ValidationError(
                f"{item.label}: the last dose of {labels[agent]} cannot be in the future."
            )
        # Hold times are days (at most 30 in the clinic's table); a last dose over a year
        # back is a mistyped year (0026 for 2026) that would pass any hold silently.
        if taken < procedure_day - LAST_DOSE_LOOKBACK:
            raise ValidationError(
                f"{item.label}: a last dose of {labels[agent]} on {taken.isoformat()} is more "
                "than a year before the procedure; check the year, or answer 'not taking it'."
            )
        clean[agent] = taken.isoformat()
    missing = [
        name
        for agent, name in antithrombotics_of(appointment.patient).items()
        if agent not in clean
    ]
    if missing:
        raise ValidationError(
            f"{item.label}: enter the last dose (or 'not taking') of " + ", ".join(missing) + "."
        )
    return {"doses": clean, "risk_factors": bool(value.get("risk_factors"))}


@dataclass(frozen=True)
class Stop:
    """One thing that keeps a procedure from starting.

    `stop` names it for an override (a checklist item's code, or time-out-nurse /
    time-out-physician); only a failed answer to an item the protocol marks overridable may
    be overridden, never an unanswered item and never the sign-in or time-out.
    """

    stop: str
    message: str
    kind: str  # not_answered, not_signed, hard_stop, time_out_unconfirmed
    overridable: bool = False
    item: ChecklistItem | None = field(default=None, compare=False)


@dataclass
class ChecklistState:
    """The checklist of one appointment: items, answers and what is still missing."""

    appointment: object
    items: list[ChecklistItem]
    answers: dict[int, ChecklistAnswer]
    signatures: dict[str, TimeOutConfirmation]
    holds: dict = field(default_factory=dict)

    def items_in(self, phase) -> list[ChecklistItem]:
        return [item for item in self.items if item.phase == phase]

    def rows(self, phase) -> list[tuple[ChecklistItem, ChecklistAnswer | None]]:
        return [(item, self.answers.get(item.pk)) for item in self.items_in(phase)]

    def incomplete_stops(self, phases) -> list[Stop]:
        """Required items of these phases without a signed answer."""
        stops = []
        for item in self.items:
            if item.phase not in phases or not item.required:
                continue
            answer = self.answers.get(item.pk)
            where = f"{item.get_phase_display()}: {item.label}"
            if answer is None:
                stops.append(Stop(item.code, f"{where} — not answered.", "not_answered", item=item))
            elif not answer.is_signed:
                stops.append(Stop(item.code, f"{where} — not signed yet.", "not_signed", item=item))
        return stops

    def incomplete(self, phases) -> list[str]:
        return [stop.message for stop in self.incomplete_stops(phases)]

    def failed_stops(self, phases) -> list[Stop]:
        """Signed answers of these phases that fail a hard stop."""
        stops = []
        for item in self.items:
            answer = self.answers.get(item.pk)
            if item.phase in phases and answer is not None and answer.is_signed:
                reason = answer.failure(self.appointment, holds=self.holds)
                if reason:
                    overridable = item.overridable and item.phase not in NEVER_OVERRIDDEN
                    stops.append(
                        Stop(item.code, f"Hard stop — {reason}", "hard_stop", overridable, item)
                    )
        return stops

    def failures(self, phases) -> list[str]:
        return [stop.message for stop in self.failed_stops(phases)]

    def phase_progress(self, phase) -> tuple[int, int]:
        """(signed answers, items) of a phase."""
        items = self.items_in(phase)
        signed = sum(1 for i in items if (a := self.answers.get(i.pk)) and a.is_signed)
        return signed, len(items)

    def missing_signature_stops(self) -> list[Stop]:
        return [
            Stop(
                f"time-out-{role.value}",
                f"Time-out: not confirmed by the {role.label.lower()}.",
                "time_out_unconfirmed",
            )
            for role in TimeOutConfirmation.Role
            if role not in self.signatures
        ]

    def missing_signatures(self) -> list[str]:
        return [stop.message for stop in self.missing_signature_stops()]


def checklist_state(appointment) -> ChecklistState:
    answers = {
        a.item_id: a
        for a in ChecklistAnswer.objects.filter(appointment=appointment)
        .select_related("item", "signed_by", "entered_by")
        .prefetch_related(Prefetch("amendments", queryset=Amendment.objects.select_related("by")))
    }
    signatures = {
        s.role: s
        for s in TimeOutConfirmation.objects.filter(appointment=appointment).select_related(
            "signed_by"
        )
    }
    holds = {(h.agent, h.bleeding_risk): h for h in AnticoagulantHold.objects.all()}
    return ChecklistState(
        appointment=appointment,
        items=applicable_items(appointment),
        answers=answers,
        signatures=signatures,
        holds=holds,
    )


def start_stops(appointment, state: ChecklistState | None = None) -> list[Stop]:
    """Why the procedure may not start yet: required pre-procedure, sign-in and time-out
    answers missing or unsigned, failed hard stops, and the time-out not confirmed by both
    the nurse and the physician (WHO Surgical Safety Checklist; Universal Protocol)."""
    state = state or checklist_state(appointment)
    return [
        *state.incomplete_stops(BEFORE_START),
        *state.failed_stops(BEFORE_START),
        *state.missing_signature_stops(),
    ]


def start_blockers(appointment, state: ChecklistState | None = None) -> list[str]:
    return [stop.message for stop in start_stops(appointment, state)]


def hard_stops(appointment, state: ChecklistState | None = None, overridden=()) -> list[str]:
    """Failed hard stops of the signed checks, except those a physician overrode: what must
    be loud on the record, the boards and the API."""
    state = state or checklist_state(appointment)
    return [s.message for s in state.failed_stops(BEFORE_START) if s.stop not in overridden]


def discharge_blockers(appointment, state: ChecklistState | None = None) -> list[str]:
    """Why the patient may not go home yet.

    The latest discharge score must reach its threshold (Modified Aldrete, Aldrete 1995,
    or Modified PADSS, Chung 1995; clinic default 9 of 10), the sign-out must be complete,
    and the last observation round must not be in a NEWS2 escalation band (RCP 2017:
    low-medium or worse).
    """
    state = state or checklist_state(appointment)
    problems = []
    assessment = appointment.discharge_assessments.order_by("-signed_at", "-pk").first()
    if assessment is None:
        problems.append("No discharge score recorded yet.")
    elif not assessment.is_ready:
        problems.append(
            f"{assessment.get_scale_display()} {assessment.total} of 10 is below the discharge "
            f"threshold of {assessment.threshold}."
        )
    problems += state.incomplete([Phase.SIGN_OUT])
    last = appointment.observation_rounds.order_by("-taken_at", "-pk").first()
    if last is None:
        problems.append("No observations recorded after the procedure.")
    elif last.needs_escalation:
        problems.append(
            f"The last observations score NEWS2 {last.news2_total} ({last.news2_risk} risk): "
            "record a round out of the escalation band, or a physician decides."
        )
    return problems


def note_template_for(procedure_type):
    """The procedure type's note template, or an empty one when none was set up."""
    try:
        return procedure_type.note_template
    except ProcedureNoteTemplate.DoesNotExist:
        return ProcedureNoteTemplate(procedure_type=procedure_type)


def contrast_allergies(patient) -> list:
    """The patient's allergies to contrast media or iodine, shown next to the contrast."""
    kinds = (Allergy.Kind.CONTRAST, Allergy.Kind.IODINE)
    return [a for a in patient.allergies.all() if a.kind in kinds]
