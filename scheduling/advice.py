"""What a patient does with their medicines before a booked procedure.

Scheduling books; the hold times are the nursing protocol's (clinic.nursing), which scheduling
may not import. So the area that knows registers a provider here at startup
(`register_medication_advice`), and booking pages, the reminder email and the phone worklist
ask `medication_plans` without knowing where the rule lives.

Dates are calendar dates in the site's time zone: weekends and holidays count like other days
and nothing is moved to a weekday; only the day by which the front desk phones the patient
(`MedicationPlan.call_by`) is brought back to a weekday, because the desk is closed at weekends.
"""

import datetime
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from django.utils import formats

# Days the front desk works: Monday (0) to Friday (4).
WORKING_WEEKDAYS = range(0, 5)


@dataclass(frozen=True)
class MedicationStep:
    """One drug: stop and restart dates, continue (no dates), or a physician decides."""

    agent: str
    drug: str
    hold_days: int = 0
    last_dose: datetime.date | None = None
    restart: datetime.date | None = None
    note: str = ""
    physician_decides: bool = False

    @property
    def is_held(self) -> bool:
        return self.last_dose is not None

    @property
    def stop_from(self) -> datetime.date | None:
        """The first day without a dose."""
        return self.last_dose + datetime.timedelta(days=1) if self.last_dose else None

    @property
    def text(self) -> str:
        """The step as staff read it, weekday names included."""
        if self.physician_decides:
            return f"{self.drug}: no hold time in the clinic protocol; a physician decides."
        if not self.is_held:
            return f"{self.drug}: continue as usual (per clinic protocol)."
        return (
            f"Stop {self.drug} from {day_text(self.stop_from)} (last dose "
            f"{day_text(self.last_dose)}), restart {day_text(self.restart)} "
            "(per clinic protocol)."
        )


@dataclass(frozen=True)
class MedicationPlan:
    """The plan for one appointment: a step per antithrombotic the patient takes."""

    procedure_day: datetime.date
    bleeding_risk: str
    bleeding_risk_label: str
    upgraded: bool = False
    upgrade_reason: str = ""
    steps: list[MedicationStep] = field(default_factory=list)

    @property
    def held(self) -> list[MedicationStep]:
        return [step for step in self.steps if step.is_held]

    @property
    def needs_call(self) -> bool:
        """Someone must phone the patient: a drug to stop, or one a physician decides."""
        return any(step.is_held or step.physician_decides for step in self.steps)

    @property
    def call_by(self) -> datetime.date | None:
        """The last working day on or before the earliest last dose: after it the patient
        would already have taken a dose they should have skipped."""
        days = [step.last_dose for step in self.held]
        if not days:
            days = [self.procedure_day - datetime.timedelta(days=1)] if self.needs_call else []
        if not days:
            return None
        return previous_working_day(min(days))


Provider = Callable[[list], dict]
_providers: list[Provider] = []


def register_medication_advice(provider: Provider) -> None:
    """Register `provider(appointments) -> {appointment id: MedicationPlan}`.

    Appointments come with `patient`, `procedure_type` and `site` loaded and the patient's
    `medications` prefetched; the provider reads its own tables once for all of them.
    """
    if provider not in _providers:
        _providers.append(provider)


def medication_plans(appointments: Iterable) -> dict:
    """The plan of each appointment that has one (no provider, or no drug: none)."""
    appointments = list(appointments)
    plans = {}
    for provider in _providers:
        plans.update(provider(appointments))
    return plans


def medication_plan(appointment) -> MedicationPlan | None:
    return medication_plans([appointment]).get(appointment.pk)


def previous_working_day(day: datetime.date) -> datetime.date:
    while day.weekday() not in WORKING_WEEKDAYS:
        day -= datetime.timedelta(days=1)
    return day


def day_text(day: datetime.date) -> str:
    """Weekday and date, e.g. "Monday 7 Dec 2026", in the active language."""
    return formats.date_format(day, "l j M Y")
