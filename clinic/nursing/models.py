"""The perioperative (nursing) record: checklists, observation rounds, discharge.

Clinical content and its sources are listed in clinic/nursing/CLINICAL_CONTENT.md.
Protocol rows (checklist items, anticoagulant holds, observation schedules, discharge
scales and instructions) are clinic data a manager edits; the record rows are signed by
the user who entered them and afterwards change only through an Amendment.

Until issue 9 these models belonged to the clinic app: their tables (and history tables)
keep the names they had then, clinic_<model>, so no data had to move.
"""

import datetime
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from simple_history.models import HistoricalRecords

from clinic.models import Medication, Patient, ProcedureType
from clinic.nursing import discharge_scores, news2
from scheduling.models import Laterality, Status

ANTITHROMBOTIC_CHOICES = [
    (value, label)
    for value, label in Medication.Agent.choices
    if value in Medication.ANTITHROMBOTIC_AGENTS
]
# Women of these ages are asked about pregnancy before fluoroscopy.
CHILDBEARING_AGES = range(12, 56)


class NursingHistory(HistoricalRecords):
    """History of a nursing model, in the tables it had while nursing was part of the clinic
    app: `table_name` names the main one, and the history of a many-to-many field keeps
    clinic_historical<model>_<field> (simple-history cannot name that one itself)."""

    def create_history_model(self, model, inherited):
        return self._in_models_module(super().create_history_model(model, inherited))

    def create_history_m2m_model(self, model, through_model):
        return self._in_models_module(super().create_history_m2m_model(model, through_model))

    def get_meta_options_m2m(self, through_model):
        name = self.get_history_model_name(through_model)
        return {**super().get_meta_options_m2m(through_model), "db_table": f"clinic_{name.lower()}"}

    def _in_models_module(self, history_model):
        # simple-history names the app's package (clinic.nursing) as the module when the app
        # label differs from it; the class is defined here.
        history_model.__module__ = self.module
        return history_model


class Phase(models.TextChoices):
    PRE_PROCEDURE = "pre_procedure", "Pre-procedure"
    SIGN_IN = "sign_in", "Sign-in"
    TIME_OUT = "time_out", "Time-out"
    SIGN_OUT = "sign_out", "Sign-out"


# Phases that must be complete before the procedure starts.
BEFORE_START = (Phase.PRE_PROCEDURE, Phase.SIGN_IN, Phase.TIME_OUT)
# The WHO sign-in and time-out are done, or the procedure does not start: nobody overrides
# them (WHO Surgical Safety Checklist; Universal Protocol).
NEVER_OVERRIDDEN = (Phase.SIGN_IN, Phase.TIME_OUT)


class ChecklistItem(models.Model):
    """One question of the safety checklist (WHO Surgical Safety Checklist; Joint
    Commission Universal Protocol), edited by a manager."""

    class Kind(models.TextChoices):
        YES_NO = "yes_no", "Yes / no"
        YES_NO_NA = "yes_no_na", "Yes / no / n.a."
        NUMBER = "number", "Number"
        CHOICE = "choice", "Choice"
        TEXT = "text", "Short text"
        ANTITHROMBOTIC = "antithrombotic", "Antithrombotic last doses"

    class AppliesWhen(models.TextChoices):
        ALWAYS = "always", "Always"
        SEDATION = "sedation", "Sedation planned"
        DIABETIC = "diabetic", "Patient is diabetic"
        CHILDBEARING = "childbearing", "Woman of childbearing age"
        SIDED = "sided", "Procedure has a side"
        LEVELLED = "levelled", "Procedure has spinal levels"

    code = models.SlugField(max_length=40, unique=True)
    label = models.CharField(max_length=200)
    phase = models.CharField(max_length=20, choices=Phase.choices)
    kind = models.CharField(max_length=20, choices=Kind.choices)
    procedure_types = models.ManyToManyField(
        ProcedureType,
        blank=True,
        related_name="checklist_items",
        help_text="Leave empty to ask it for every procedure type.",
    )
    applies_when = models.CharField(
        max_length=20, choices=AppliesWhen.choices, default=AppliesWhen.ALWAYS
    )
    required = models.BooleanField(default=True)
    hard_stop = models.BooleanField(
        default=False,
        help_text="A failing answer stops the procedure.",
    )
    overridable = models.BooleanField(
        "a physician may override",
        default=False,
        help_text="A physician may let the procedure start despite a failing answer, giving a "
        "reason. Never for sign-in and time-out items, nor for an unanswered item.",
    )
    fail_values = models.JSONField(
        default=list,
        blank=True,
        help_text="Answers that fail a hard stop, e.g. no. Antithrombotic items fail on the "
        "hold table instead.",
    )
    unit = models.CharField(max_length=20, blank=True)
    min_value = models.DecimalField(
        max_digits=7, decimal_places=2, null=True, blank=True, help_text="Lowest possible value."
    )
    max_value = models.DecimalField(
        max_digits=7, decimal_places=2, null=True, blank=True, help_text="Highest possible value."
    )
    choices = models.JSONField(default=list, blank=True, help_text="The options of a choice.")
    help_text = models.CharField(max_length=300, blank=True)
    order = models.PositiveSmallIntegerField(default=0)
    active = models.BooleanField(default=True)
    history = NursingHistory(
        table_name="clinic_historicalchecklistitem", m2m_fields=[procedure_types]
    )

    class Meta:
        db_table = "clinic_checklistitem"
        ordering = ["order", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(min_value__isnull=True)
                | Q(max_value__isnull=True)
                | Q(max_value__gt=models.F("min_value")),
                name="checklist_item_range_valid",
            ),
            models.CheckConstraint(
                condition=Q(overridable=False) | ~Q(phase__in=NEVER_OVERRIDDEN),
                name="checklist_item_sign_in_time_out_never_overridable",
                violation_error_message="Sign-in and time-out items can never be overridden.",
            ),
        ]

    def __str__(self):
        return self.label

    def clean(self):
        errors = {}
        if self.kind == self.Kind.CHOICE and len(self.choices or []) < 2:
            errors["choices"] = "A choice needs at least two options."
        allowed = self.allowed_values()
        if self.fail_values and allowed is None:
            errors["fail_values"] = "Only yes/no and choice answers can fail a hard stop."
        elif allowed is not None and not set(self.fail_values) <= set(allowed):
            errors["fail_values"] = "Failing answers must be among: " + ", ".join(allowed) + "."
        if self.hard_stop and not (self.fail_values or self.kind == self.Kind.ANTITHROMBOTIC):
            errors["hard_stop"] = "Name the answers that fail this hard stop."
        if self.overridable and self.phase in NEVER_OVERRIDDEN:
            errors["overridable"] = "Sign-in and time-out items can never be overridden."
        has_range = self.min_value is not None or self.max_value is not None
        if self.kind != self.Kind.NUMBER and (has_range or self.unit):
            errors["unit"] = "A unit and a range only apply to number answers."
        if (
            self.min_value is not None
            and self.max_value is not None
            and self.max_value <= self.min_value
        ):
            errors["max_value"] = "The highest value must be above the lowest."
        if errors:
            raise ValidationError(errors)

    def allowed_values(self) -> list[str] | None:
        """The answers a yes/no or choice item accepts; None for the other kinds."""
        if self.kind == self.Kind.YES_NO:
            return ["yes", "no"]
        if self.kind == self.Kind.YES_NO_NA:
            return ["yes", "no", "na"]
        if self.kind == self.Kind.CHOICE:
            return list(self.choices)
        return None

    def applies_to(self, appointment) -> bool:
        """Whether this item is asked for this appointment's patient and procedure."""
        procedure_type = appointment.procedure_type
        patient = appointment.patient
        condition = self.applies_when
        if condition == self.AppliesWhen.SEDATION:
            return procedure_type.typical_sedation != ProcedureType.Sedation.NONE
        if condition == self.AppliesWhen.DIABETIC:
            return patient_is_diabetic(patient)
        if condition == self.AppliesWhen.CHILDBEARING:
            return patient.sex != Patient.Sex.MALE and (
                patient.age_on(appointment.local_start.date()) in CHILDBEARING_AGES
            )
        if condition == self.AppliesWhen.SIDED:
            return procedure_type.needs_laterality
        if condition == self.AppliesWhen.LEVELLED:
            return procedure_type.needs_level
        return True

    def display_value(self, value) -> str:
        """An answer as a nurse reads it."""
        if value is None or value == "":
            return "—"
        if self.kind in (self.Kind.YES_NO, self.Kind.YES_NO_NA):
            return {"yes": "Yes", "no": "No", "na": "n.a."}.get(value, str(value))
        if self.kind == self.Kind.NUMBER:
            return f"{value} {self.unit}".strip()
        if self.kind == self.Kind.ANTITHROMBOTIC:
            labels = dict(ANTITHROMBOTIC_CHOICES)
            doses = value.get("doses", {})
            parts = [
                f"{labels.get(agent, agent)}: "
                + ("not taking" if day == "stopped" else f"last dose {day}")
                for agent, day in sorted(doses.items())
            ] or ["No anticoagulant or antiplatelet medicine"]
            if value.get("risk_factors"):
                parts.append("bleeding risk factors present")
            return "; ".join(parts)
        return str(value)


def patient_is_diabetic(patient) -> bool:
    agents = {Medication.Agent.INSULIN, Medication.Agent.ORAL_ANTIDIABETIC}
    return any(m.agent in agents for m in patient.medications.all())


class AnticoagulantHold(models.Model):
    """Days an antithrombotic is held before a procedure of a bleeding-risk category.

    Defaults from ASRA Pain Medicine guidelines (Narouze et al., Reg Anesth Pain Med
    2018;43:225-62), confirmed and edited by the clinic: shown to staff "per clinic protocol".
    Days are counted from the day of the last dose to the day of the procedure, and from
    the procedure day to the first dose after it. They are calendar days: weekends and
    holidays count like any other day (the clinic's rule, see `last_dose_day`).
    """

    agent = models.CharField(max_length=30, choices=ANTITHROMBOTIC_CHOICES)
    bleeding_risk = models.CharField(max_length=20, choices=ProcedureType.BleedingRisk.choices)
    hold_days = models.PositiveSmallIntegerField(
        validators=[MaxValueValidator(30)],
        help_text="Days from the last dose to the procedure day; 0 means continue.",
    )
    restart_days = models.PositiveSmallIntegerField(
        default=1,
        validators=[MaxValueValidator(14)],
        help_text="Days from the procedure day to the first dose after it; 1 is the day after.",
    )
    note = models.CharField(max_length=255, blank=True)
    source = models.CharField(
        max_length=255, blank=True, default="ASRA Pain Medicine 2018 (Narouze et al.)"
    )
    history = NursingHistory(table_name="clinic_historicalanticoagulanthold")

    class Meta:
        db_table = "clinic_anticoagulanthold"
        ordering = ["agent", "bleeding_risk"]
        constraints = [
            models.UniqueConstraint(
                fields=["agent", "bleeding_risk"],
                name="anticoagulant_hold_one_per_risk",
                violation_error_message=(
                    "This agent already has a hold time for that bleeding risk: edit that one."
                ),
            )
        ]

    def __str__(self):
        return (
            f"{self.get_agent_display()}, {self.get_bleeding_risk_display().lower()} risk: "
            f"{self.hold_days} days"
        )

    @property
    def is_held(self) -> bool:
        return self.hold_days > 0

    def last_dose_day(self, procedure_day: datetime.date) -> datetime.date:
        """The last day the patient may take a dose before a procedure on `procedure_day`.

        The one rule for both the plan told at booking and the nurse's check on the day
        (`antithrombotic_problems`): a calendar date, `hold_days` before the procedure day.
        A weekend is not skipped or moved: a hold of 7 days before a Monday procedure ends
        with a last dose on the Monday before.
        """
        return procedure_day - datetime.timedelta(days=self.hold_days)

    def restart_day(self, procedure_day: datetime.date) -> datetime.date:
        """The first day the patient takes the drug again, a calendar date as above."""
        return procedure_day + datetime.timedelta(days=self.restart_days)


class ProcedureProtocol(models.Model):
    """Nursing protocol of one procedure type: observations, discharge scale, instructions."""

    class Scale(models.TextChoices):
        ALDRETE = "aldrete", "Modified Aldrete"
        PADSS = "padss", "Modified PADSS"

    procedure_type = models.OneToOneField(
        ProcedureType, on_delete=models.CASCADE, related_name="nursing_protocol"
    )
    observation_interval_minutes = models.PositiveSmallIntegerField(
        default=15, validators=[MinValueValidator(5), MaxValueValidator(240)]
    )
    observation_count = models.PositiveSmallIntegerField(
        default=2,
        validators=[MinValueValidator(1), MaxValueValidator(24)],
        help_text="Rounds after the procedure before the schedule is complete.",
    )
    discharge_scale = models.CharField(max_length=10, choices=Scale.choices, default=Scale.ALDRETE)
    discharge_threshold = models.PositiveSmallIntegerField(
        default=discharge_scores.DEFAULT_DISCHARGE_THRESHOLD,
        validators=[MinValueValidator(1), MaxValueValidator(10)],
        help_text="Lowest total (of 10) at which the patient may go home.",
    )
    instructions_en = models.TextField("discharge instructions (English)", blank=True)
    instructions_da = models.TextField("discharge instructions (Danish)", blank=True)
    history = NursingHistory(table_name="clinic_historicalprocedureprotocol")

    class Meta:
        db_table = "clinic_procedureprotocol"
        ordering = ["procedure_type__name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(discharge_threshold__gte=1, discharge_threshold__lte=10),
                name="procedure_protocol_threshold_range",
            ),
            models.CheckConstraint(
                condition=Q(observation_interval_minutes__gte=5),
                name="procedure_protocol_interval_positive",
            ),
        ]

    def __str__(self):
        return f"Nursing protocol: {self.procedure_type}"

    @property
    def scale(self) -> discharge_scores.DischargeScale:
        return discharge_scores.DISCHARGE_SCALES[self.discharge_scale]

    @property
    def schedule_display(self) -> str:
        return f"Every {self.observation_interval_minutes} min × {self.observation_count}"

    def instructions_for(self, language: str) -> str:
        """Instructions in the patient's language, falling back to English."""
        if language == Patient.Language.DANISH and self.instructions_da:
            return self.instructions_da
        return self.instructions_en


class SignedRecord(models.Model):
    """Who entered and signed a row of the record, and when; signed rows change only by
    amendment."""

    signed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    signed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        abstract = True


class ChecklistAnswer(models.Model):
    """The answer to one checklist item for one appointment.

    A draft (no signer yet) may be changed freely: it is what the tablet keeps while the
    nurse works. Once signed it changes only through an Amendment.
    """

    appointment = models.ForeignKey(
        "scheduling.Appointment", on_delete=models.CASCADE, related_name="checklist_answers"
    )
    item = models.ForeignKey(ChecklistItem, on_delete=models.PROTECT, related_name="answers")
    value = models.JSONField()
    entered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    entered_at = models.DateTimeField(default=timezone.now)
    signed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    signed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "clinic_checklistanswer"
        ordering = ["item__order", "item_id"]
        permissions = [
            ("override_hard_stop", "Can override a hard stop with a reason"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["appointment", "item"],
                name="checklist_answer_one_per_item",
                violation_error_message="This item is already answered for this appointment.",
            ),
            models.CheckConstraint(
                condition=Q(signed_by__isnull=True, signed_at__isnull=True)
                | Q(signed_by__isnull=False, signed_at__isnull=False),
                name="checklist_answer_signed_by_and_at",
            ),
        ]

    def __str__(self):
        return f"{self.item}: {self.display_value}"

    @property
    def is_signed(self) -> bool:
        return self.signed_at is not None

    @property
    def display_value(self) -> str:
        return self.item.display_value(self.value)

    def failure(self, appointment=None, holds=None) -> str:
        """Why this answer fails a hard stop, or "" when it does not.

        Antithrombotic answers are checked against the clinic's hold table (defaults from
        ASRA Pain Medicine, Narouze et al., Reg Anesth Pain Med 2018;43:225-62).
        """
        item = self.item
        if not item.hard_stop:
            return ""
        if item.kind == ChecklistItem.Kind.ANTITHROMBOTIC:
            problems = antithrombotic_problems(
                self.value, appointment or self.appointment, holds=holds
            )
            return " ".join(problems)
        if self.value in item.fail_values:
            return f"{item.label}: answered {item.display_value(self.value)}."
        return ""


def effective_bleeding_risk(procedure_risk: str, risk_factors: bool) -> str:
    """Patient risk factors move the procedure one bleeding-risk category up (ASRA 2018)."""
    order = list(ProcedureType.BleedingRisk.values)
    if not risk_factors:
        return procedure_risk
    return order[min(order.index(procedure_risk) + 1, len(order) - 1)]


def antithrombotic_problems(value: dict, appointment, holds=None) -> list[str]:
    """Each antithrombotic whose last dose is too recent for the clinic's hold table.

    `holds` maps (agent, bleeding risk) to AnticoagulantHold; read from the table when None.
    """
    risk = effective_bleeding_risk(
        appointment.procedure_type.bleeding_risk, bool(value.get("risk_factors"))
    )
    risk_label = ProcedureType.BleedingRisk(risk).label.lower()
    labels = dict(ANTITHROMBOTIC_CHOICES)
    procedure_day = appointment.local_start.date()
    if holds is None:
        holds = {(h.agent, h.bleeding_risk): h for h in AnticoagulantHold.objects.all()}
    problems = []
    for agent, day in sorted(value.get("doses", {}).items()):
        if day == "stopped":
            continue
        name = labels.get(agent, agent)
        hold = holds.get((agent, risk))
        if hold is None:
            problems.append(
                f"{name}: the clinic protocol has no hold time for {risk_label}-risk procedures; "
                "a physician must decide."
            )
            continue
        taken_on = datetime.date.fromisoformat(day)
        if taken_on > hold.last_dose_day(procedure_day):
            days = (procedure_day - taken_on).days
            taken = "on the procedure day" if days == 0 else f"{days} day{'s' * (days != 1)} before"
            problems.append(
                f"{name} last taken {taken}; clinic protocol holds it {hold.hold_days} "
                f"day{'s' * (hold.hold_days != 1)} for {risk_label}-risk procedures."
            )
    return problems


class TimeOutConfirmation(models.Model):
    """The time-out confirmed aloud: one signature by the nurse, one by the physician."""

    class Role(models.TextChoices):
        NURSE = "nurse", "Nurse"
        PHYSICIAN = "physician", "Physician"

    appointment = models.ForeignKey(
        "scheduling.Appointment", on_delete=models.CASCADE, related_name="time_out_confirmations"
    )
    role = models.CharField(max_length=10, choices=Role.choices)
    signed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    signed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "clinic_timeoutconfirmation"
        ordering = ["signed_at"]
        permissions = [
            ("sign_time_out_as_physician", "Can confirm a time-out as the physician"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["appointment", "role"], name="time_out_one_signature_per_role"
            ),
        ]

    def __str__(self):
        return f"Time-out confirmed by the {self.get_role_display().lower()} {self.signed_by}"


class HardStopOverride(models.Model):
    """A physician let a status change pass despite a failed safety check, and why.

    One row per stop: `stop` names it (a checklist item's code, or "discharge" for the
    discharge criteria, which a physician overrides together). Rows from before per-stop
    overrides have an empty `stop`.
    """

    appointment = models.ForeignKey(
        "scheduling.Appointment", on_delete=models.CASCADE, related_name="hard_stop_overrides"
    )
    to_status = models.CharField(max_length=20)
    stop = models.CharField(max_length=40, blank=True, help_text="Which stop was overridden.")
    item = models.ForeignKey(
        ChecklistItem, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    failures = models.TextField(help_text="The checks that failed at the time.")
    reason = models.TextField()
    by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "clinic_hardstopoverride"
        ordering = ["at"]
        constraints = [
            models.CheckConstraint(condition=~Q(reason=""), name="hard_stop_override_has_reason")
        ]

    def __str__(self):
        return f"Override of {self.stop or 'hard stops'} by {self.by}"

    @property
    def stop_label(self) -> str:
        """The overridden stop in a nurse's words."""
        if self.item_id:
            return self.item.label
        return "Discharge criteria" if self.stop == "discharge" else "Hard stops"

    @property
    def to_status_label(self) -> str:
        """'In procedure', not the stored code."""
        return Status(self.to_status).label if self.to_status in Status.values else self.to_status


class ObservationRound(SignedRecord):
    """One set of observations in recovery, with its NEWS2 (RCP 2017) stored as scored."""

    # What the nurse enters, in the order the round form and the API present it.
    ENTERED_FIELDS = (
        "respiration_rate",
        "spo2",
        "on_oxygen",
        "spo2_scale",
        "systolic_bp",
        "diastolic_bp",
        "pulse",
        "consciousness",
        "temperature",
        "pain_nrs",
        "motor",
        "sensory",
        "puncture_site",
        "headache",
        "nausea",
        "note",
    )

    class Motor(models.TextChoices):
        NORMAL = "normal", "Normal"
        WEAK = "weak", "Weak"
        UNABLE = "unable", "Cannot move"

    class Sensation(models.TextChoices):
        NORMAL = "normal", "Normal"
        ALTERED = "altered", "Altered"
        NUMB = "numb", "Numb"

    class PunctureSite(models.TextChoices):
        CLEAN = "clean", "Clean and dry"
        OOZING = "oozing", "Oozing"
        BLEEDING = "bleeding", "Bleeding"
        HAEMATOMA = "haematoma", "Haematoma"

    class Severity(models.TextChoices):
        NONE = "none", "None"
        MILD = "mild", "Mild"
        MODERATE = "moderate", "Moderate"
        SEVERE = "severe", "Severe"

    class Nausea(models.TextChoices):
        NONE = "none", "None"
        NAUSEA = "nausea", "Nausea"
        VOMITING = "vomiting", "Vomiting"

    appointment = models.ForeignKey(
        "scheduling.Appointment", on_delete=models.CASCADE, related_name="observation_rounds"
    )
    taken_at = models.DateTimeField(default=timezone.now)
    respiration_rate = models.PositiveSmallIntegerField("respiration rate (/min)")
    spo2 = models.PositiveSmallIntegerField("SpO₂ (%)")
    on_oxygen = models.BooleanField("on oxygen", default=False)
    spo2_scale = models.PositiveSmallIntegerField(
        "SpO₂ scale", choices=[(1, "Scale 1"), (2, "Scale 2 (target 88-92%)")], default=1
    )
    systolic_bp = models.PositiveSmallIntegerField("systolic BP (mmHg)")
    diastolic_bp = models.PositiveSmallIntegerField("diastolic BP (mmHg)")
    pulse = models.PositiveSmallIntegerField("pulse (/min)")
    consciousness = models.CharField(
        max_length=1,
        choices=[
            ("A", "Alert"),
            ("C", "New confusion"),
            ("V", "Responds to voice"),
            ("P", "Responds to pain"),
            ("U", "Unresponsive"),
        ],
        default="A",
    )
    temperature = models.DecimalField("temperature (°C)", max_digits=3, decimal_places=1)
    pain_nrs = models.PositiveSmallIntegerField(
        "pain (NRS 0-10)", validators=[MaxValueValidator(10)]
    )
    motor = models.CharField(
        "lower-limb motor", max_length=10, choices=Motor.choices, default=Motor.NORMAL
    )
    sensory = models.CharField(
        "lower-limb sensory", max_length=10, choices=Sensation.choices, default=Sensation.NORMAL
    )
    puncture_site = models.CharField(
        max_length=10, choices=PunctureSite.choices, default=PunctureSite.CLEAN
    )
    headache = models.CharField(max_length=10, choices=Severity.choices, default=Severity.NONE)
    nausea = models.CharField(max_length=10, choices=Nausea.choices, default=Nausea.NONE)
    note = models.CharField(max_length=500, blank=True)
    news2_total = models.PositiveSmallIntegerField()
    news2_risk = models.CharField(max_length=12, choices=[(r.value, r.value) for r in news2.Risk])
    news2_scores = models.JSONField(default=dict)

    # Outside these the value is refused as impossible; (low, high, what the limit means).
    PLAUSIBLE = {
        "respiration_rate": (3, 70),
        "spo2": (50, 100),
        "systolic_bp": (50, 300),
        "diastolic_bp": (20, 200),
        "pulse": (20, 250),
        "temperature": (Decimal("30.0"), Decimal("44.0")),
    }
    # Outside these the value is accepted but highlighted for a re-check.
    USUAL = {
        "respiration_rate": (8, 30),
        "spo2": (85, 100),
        "systolic_bp": (80, 220),
        "diastolic_bp": (40, 130),
        "pulse": (40, 150),
        "temperature": (Decimal("35.0"), Decimal("39.5")),
    }
    LABELS = {
        "respiration_rate": ("Respiration rate", "/min"),
        "spo2": ("SpO₂", "%"),
        "systolic_bp": ("Systolic BP", " mmHg"),
        "diastolic_bp": ("Diastolic BP", " mmHg"),
        "pulse": ("Pulse", "/min"),
        "temperature": ("Temperature", " °C"),
    }
    VITALS = [
        "respiration_rate",
        "spo2",
        "on_oxygen",
        "spo2_scale",
        "systolic_bp",
        "diastolic_bp",
        "pulse",
        "consciousness",
        "temperature",
    ]

    class Meta:
        db_table = "clinic_observationround"
        ordering = ["taken_at", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(spo2__gte=50, spo2__lte=100), name="observation_spo2_possible"
            ),
            models.CheckConstraint(
                condition=Q(pulse__gte=20, pulse__lte=250), name="observation_pulse_possible"
            ),
            models.CheckConstraint(
                condition=Q(temperature__gte=Decimal("30.0"), temperature__lte=Decimal("44.0")),
                name="observation_temperature_possible",
            ),
            models.CheckConstraint(
                condition=Q(diastolic_bp__lt=models.F("systolic_bp")),
                name="observation_diastolic_below_systolic",
            ),
            models.CheckConstraint(condition=Q(pain_nrs__lte=10), name="observation_nrs_0_10"),
            models.CheckConstraint(
                condition=Q(spo2_scale__in=[1, 2]), name="observation_spo2_scale_1_or_2"
            ),
        ]

    def __str__(self):
        return f"Observations {self.taken_at:%Y-%m-%d %H:%M}: NEWS2 {self.news2_total}"

    def observations(self) -> news2.Observations:
        return news2.Observations(
            respiration_rate=self.respiration_rate,
            spo2=self.spo2,
            on_oxygen=self.on_oxygen,
            spo2_scale=self.spo2_scale,
            systolic_bp=self.systolic_bp,
            pulse=self.pulse,
            consciousness=self.consciousness,
            temperature=self.temperature,
        )

    def score(self) -> None:
        """Store the NEWS2 of these observations (RCP 2017, chart 1; see clinic.nursing.news2)."""
        result = news2.news2(self.observations())
        self.news2_total = result.total
        self.news2_risk = result.risk
        self.news2_scores = result.parameter_scores

    @property
    def needs_escalation(self) -> bool:
        """Low-medium risk or worse: the nurse calls the physician (RCP 2017)."""
        return self.news2_risk != news2.Risk.LOW

    def unusual_fields(self) -> list[str]:
        """Fields with a possible but unusual value, to be highlighted for a re-check."""
        return [
            name
            for name, (low, high) in self.USUAL.items()
            if not low <= getattr(self, name) <= high
        ]

    CLOCK_GRACE = datetime.timedelta(minutes=5)

    def clean(self):
        errors = {}
        for name, (low, high) in self.PLAUSIBLE.items():
            value = getattr(self, name)
            if value is None or low <= value <= high:
                continue
            label, unit = self.LABELS[name]
            if self.consciousness == "A" and name in ("pulse", "respiration_rate") and value < low:
                # Clearer words for the most likely slip on an alert patient.
                errors[name] = (
                    f"{label} {value}{unit} is not possible in an alert patient: re-measure."
                )
            else:
                errors[name] = (
                    f"{label} {value}{unit} is not possible: enter {low} to {high}{unit}, "
                    "or re-measure."
                )
        if (
            self.systolic_bp is not None
            and self.diastolic_bp is not None
            and self.diastolic_bp >= self.systolic_bp
            and not errors.keys() & {"systolic_bp", "diastolic_bp"}
        ):
            errors["diastolic_bp"] = "The diastolic pressure must be below the systolic."
        # A few minutes' grace for a device clock that runs ahead of the server's.
        if self.taken_at and self.taken_at > timezone.now() + self.CLOCK_GRACE:
            errors["taken_at"] = "Observations cannot be taken in the future: check the time."
        if errors:
            raise ValidationError(errors)


class Escalation(models.Model):
    """The nurse called a physician about a round in an escalation band."""

    round = models.ForeignKey(
        ObservationRound, on_delete=models.CASCADE, related_name="escalations"
    )
    physician = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    called_whom = models.CharField(
        max_length=120, blank=True, help_text="Name, if not a physician of this clinic."
    )
    called_at = models.DateTimeField(default=timezone.now)
    note = models.CharField(max_length=500, blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        db_table = "clinic_escalation"
        ordering = ["called_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(physician__isnull=False) | ~Q(called_whom=""),
                name="escalation_names_who_was_called",
            )
        ]

    def __str__(self):
        return f"Called {self.callee} at {self.called_at:%H:%M}"

    @property
    def callee(self) -> str:
        if self.physician_id:
            return self.physician.get_full_name() or self.physician.get_username()
        return self.called_whom


class DischargeAssessment(SignedRecord):
    """A discharge score (Modified Aldrete or Modified PADSS), scored from the nurse's
    entries; see clinic.nursing.discharge_scores for the sources."""

    appointment = models.ForeignKey(
        "scheduling.Appointment", on_delete=models.CASCADE, related_name="discharge_assessments"
    )
    scale = models.CharField(max_length=10, choices=ProcedureProtocol.Scale.choices)
    scores = models.JSONField()
    total = models.PositiveSmallIntegerField(validators=[MaxValueValidator(10)])
    threshold = models.PositiveSmallIntegerField(validators=[MaxValueValidator(10)])

    class Meta:
        db_table = "clinic_dischargeassessment"
        ordering = ["signed_at", "pk"]
        constraints = [
            models.CheckConstraint(condition=Q(total__lte=10), name="discharge_total_0_10"),
        ]

    def __str__(self):
        return f"{self.get_scale_display()} {self.total}/10"

    @property
    def is_ready(self) -> bool:
        """The total reaches the threshold the protocol had when this was scored."""
        return discharge_scores.is_discharge_ready(self.total, self.threshold)

    def score(self) -> None:
        self.total = discharge_scores.DISCHARGE_SCALES[self.scale].total(self.scores)

    def item_rows(self) -> list[tuple[str, int, str]]:
        """(item title, score, option label) for display."""
        rows = []
        for item in discharge_scores.DISCHARGE_SCALES[self.scale].items:
            value = self.scores.get(item.code)
            label = next((o.label for o in item.options if o.value == value), "")
            rows.append((item.title, value, label))
        return rows


class Discharge(models.Model):
    """The patient went home: when, with whom, with which instructions."""

    appointment = models.OneToOneField(
        "scheduling.Appointment", on_delete=models.CASCADE, related_name="discharge"
    )
    assessment = models.ForeignKey(
        DischargeAssessment, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    discharged_at = models.DateTimeField(default=timezone.now)
    discharged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    instructions = models.TextField(help_text="As given to the patient.")
    instructions_language = models.CharField(max_length=2, choices=Patient.Language.choices)

    class Meta:
        db_table = "clinic_discharge"
        ordering = ["-discharged_at"]

    def __str__(self):
        return f"Discharged {self.discharged_at:%Y-%m-%d %H:%M}"


class Amendment(models.Model):
    """A change to a signed record: who, when, why, with the old and new value."""

    answer = models.ForeignKey(
        ChecklistAnswer, null=True, blank=True, on_delete=models.CASCADE, related_name="amendments"
    )
    round = models.ForeignKey(
        ObservationRound,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="amendments",
    )
    assessment = models.ForeignKey(
        DischargeAssessment,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="amendments",
    )
    field = models.CharField(max_length=60)
    old_value = models.TextField()
    new_value = models.TextField()
    reason = models.TextField()
    by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "clinic_amendment"
        ordering = ["at", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=(
                    Q(answer__isnull=False, round__isnull=True, assessment__isnull=True)
                    | Q(answer__isnull=True, round__isnull=False, assessment__isnull=True)
                    | Q(answer__isnull=True, round__isnull=True, assessment__isnull=False)
                ),
                name="amendment_exactly_one_record",
            ),
            models.CheckConstraint(condition=~Q(reason=""), name="amendment_has_reason"),
        ]

    def __str__(self):
        return f"{self.field}: {self.old_value} → {self.new_value}"


# --- The physician's procedure note (issue 14) ------------------------------------------


class ImagingModality(models.TextChoices):
    FLUOROSCOPY = "fluoroscopy", "Fluoroscopy"
    ULTRASOUND = "ultrasound", "Ultrasound"
    CT = "ct", "CT"
    NONE = "none", "None (landmark)"


class Complication(models.Model):
    """One entry of the clinic's list of procedural complications, edited by a manager."""

    code = models.SlugField(max_length=40, unique=True)
    label = models.CharField(max_length=120)
    order = models.PositiveSmallIntegerField(default=0)
    active = models.BooleanField(default=True)
    history = NursingHistory()

    class Meta:
        ordering = ["order", "label"]

    def __str__(self):
        return self.label


class ProcedureNoteTemplate(models.Model):
    """What a new procedure note of one procedure type starts with: clinic data a manager
    edits (pre-filled values, never advice the physician cannot change)."""

    procedure_type = models.OneToOneField(
        ProcedureType, on_delete=models.CASCADE, related_name="note_template"
    )
    approach = models.CharField(max_length=200, blank=True)
    imaging_modality = models.CharField(
        max_length=20, choices=ImagingModality.choices, default=ImagingModality.FLUOROSCOPY
    )
    contrast_agent = models.CharField(max_length=120, blank=True)
    injectates = models.JSONField(
        default=list,
        blank=True,
        help_text="Rows of {drug, dose, volume, concentration} a new note starts with.",
    )
    needle = models.CharField(max_length=120, blank=True)
    records_rf = models.BooleanField(
        "records RF parameters",
        default=False,
        help_text="Ask for lesion temperature, time and count (radiofrequency ablation).",
    )
    rf_temperature_c = models.PositiveSmallIntegerField(
        "RF temperature (°C)",
        null=True,
        blank=True,
        validators=[MinValueValidator(40), MaxValueValidator(95)],
    )
    rf_seconds = models.PositiveSmallIntegerField(
        "RF time per lesion (s)", null=True, blank=True, validators=[MaxValueValidator(600)]
    )
    findings = models.TextField(blank=True)
    plan = models.TextField(blank=True)
    history = NursingHistory()

    class Meta:
        ordering = ["procedure_type__name"]

    def __str__(self):
        return f"Note template: {self.procedure_type}"


class ProcedureNote(models.Model):
    """The physician's note of one appointment's procedure.

    A draft changes freely. Once signed (by a physician) it changes only through a
    ProcedureNoteAmendment: the database refuses any other update or a delete of a signed
    note (trigger, migration 0006): an update must raise `revision` by one and a matching
    amendment row must exist.
    """

    # The values an amendment may change, in the order the note shows them.
    AMENDABLE = (
        "levels",
        "laterality",
        "approach",
        "imaging_modality",
        "fluoroscopy_seconds",
        "dap_mgy_cm2",
        "contrast_agent",
        "contrast_ml",
        "injectates",
        "needle",
        "sedation",
        "rf_temperature_c",
        "rf_seconds",
        "rf_lesions",
        "complications",
        "complication_note",
        "findings",
        "plan",
    )

    appointment = models.OneToOneField(
        "scheduling.Appointment", on_delete=models.PROTECT, related_name="procedure_note"
    )
    template = models.ForeignKey(
        ProcedureNoteTemplate, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    levels = models.CharField(
        "levels treated",
        max_length=60,
        blank=True,
        help_text="As treated, e.g. L4-L5, L5-S1.",
    )
    laterality = models.CharField("side", max_length=10, choices=Laterality.choices, default="na")
    approach = models.CharField(max_length=200, blank=True)
    imaging_modality = models.CharField(
        max_length=20, choices=ImagingModality.choices, default=ImagingModality.FLUOROSCOPY
    )
    fluoroscopy_seconds = models.PositiveIntegerField(
        "fluoroscopy time (s)", null=True, blank=True, validators=[MaxValueValidator(7200)]
    )
    dap_mgy_cm2 = models.DecimalField(
        "dose (DAP, mGy·cm²)",
        max_digits=9,
        decimal_places=1,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal("0"))],
    )
    contrast_agent = models.CharField(max_length=120, blank=True)
    contrast_ml = models.DecimalField(
        "contrast volume (mL)",
        max_digits=5,
        decimal_places=1,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("100"))],
    )
    injectates = models.JSONField(
        default=list, blank=True, help_text="Rows of {drug, dose, volume, concentration}."
    )
    needle = models.CharField(max_length=120, blank=True)
    sedation = models.JSONField(default=list, blank=True, help_text="Rows of {drug, dose}.")
    rf_temperature_c = models.PositiveSmallIntegerField(
        "RF temperature (°C)",
        null=True,
        blank=True,
        validators=[MinValueValidator(40), MaxValueValidator(95)],
    )
    rf_seconds = models.PositiveSmallIntegerField(
        "RF time per lesion (s)", null=True, blank=True, validators=[MaxValueValidator(600)]
    )
    rf_lesions = models.PositiveSmallIntegerField(
        "RF lesions", null=True, blank=True, validators=[MaxValueValidator(40)]
    )
    complications = models.JSONField(
        default=list, blank=True, help_text="Codes of the clinic's complication list."
    )
    complication_note = models.CharField(max_length=500, blank=True)
    findings = models.TextField(blank=True)
    plan = models.TextField(blank=True)
    written_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    written_at = models.DateTimeField(default=timezone.now)
    signed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    signed_at = models.DateTimeField(null=True, blank=True)
    revision = models.PositiveIntegerField(
        default=0, help_text="Amendments since signing; the database checks each one."
    )

    class Meta:
        permissions = [("sign_procedurenote", "Can sign a procedure note as the physician")]
        constraints = [
            models.CheckConstraint(
                condition=Q(signed_by__isnull=True, signed_at__isnull=True)
                | Q(signed_by__isnull=False, signed_at__isnull=False),
                name="procedure_note_signed_by_and_at",
            ),
            models.CheckConstraint(
                condition=Q(signed_at__isnull=False) | Q(revision=0),
                name="procedure_note_draft_not_amended",
            ),
            models.CheckConstraint(
                condition=Q(rf_temperature_c__isnull=True)
                | Q(rf_temperature_c__gte=40, rf_temperature_c__lte=95),
                name="procedure_note_rf_temperature_range",
            ),
            models.CheckConstraint(
                condition=Q(dap_mgy_cm2__isnull=True) | Q(dap_mgy_cm2__gte=0),
                name="procedure_note_dap_not_negative",
            ),
            models.CheckConstraint(
                condition=Q(contrast_ml__isnull=True) | Q(contrast_ml__gte=0),
                name="procedure_note_contrast_not_negative",
            ),
        ]

    def __str__(self):
        return f"Procedure note: {self.appointment}"

    @property
    def is_signed(self) -> bool:
        return self.signed_at is not None

    @property
    def records_rf(self) -> bool:
        """RF parameters are asked when the template says so, or once any is entered."""
        template = self.template
        entered = any(
            v is not None for v in (self.rf_temperature_c, self.rf_seconds, self.rf_lesions)
        )
        return entered or bool(template and template.records_rf)

    @property
    def side_and_levels(self) -> str:
        parts = []
        if self.laterality != Laterality.NOT_APPLICABLE:
            parts.append(self.get_laterality_display())
        if self.levels:
            parts.append(self.levels)
        return " ".join(parts)

    def sign_problems(self) -> list[str]:
        """What must be entered before the physician signs: levels and side where the
        procedure has them, fluoroscopy time and dose under fluoroscopy, the contrast volume
        when contrast was given, the RF parameters of an ablation, and the plan."""
        procedure_type = self.appointment.procedure_type
        problems = []
        if procedure_type.needs_level and not self.levels:
            problems.append("Enter the levels treated.")
        if procedure_type.needs_laterality and self.laterality == Laterality.NOT_APPLICABLE:
            problems.append("Enter the side treated.")
        if self.imaging_modality == ImagingModality.FLUOROSCOPY and (
            self.fluoroscopy_seconds is None or self.dap_mgy_cm2 is None
        ):
            problems.append("Enter the fluoroscopy time and dose (DAP).")
        if self.contrast_agent and self.contrast_ml is None:
            problems.append("Enter the contrast volume, or clear the contrast agent.")
        if self.records_rf and None in (self.rf_temperature_c, self.rf_seconds, self.rf_lesions):
            problems.append("Enter the RF temperature, time per lesion and number of lesions.")
        if "other" in self.complications and not self.complication_note.strip():
            problems.append("Describe the complication marked other.")
        if not self.plan.strip():
            problems.append("Enter the plan.")
        return problems

    def complication_labels(self) -> list[str]:
        labels = dict(Complication.objects.values_list("code", "label"))
        return [labels.get(code, code) for code in self.complications]

    def display(self, field: str) -> str:
        """One value as the note page prints it (amendments keep the same words)."""
        value = getattr(self, field)
        if field == "complications":
            return "; ".join(self.complication_labels()) or "None"
        if field == "injectates":
            return "; ".join(injectate_text(row) for row in value) or "—"
        if field == "sedation":
            return "; ".join(f"{r.get('drug', '')} {r.get('dose', '')}".strip() for r in value) or (
                "None"
            )
        if value is None or value == "":
            return "—"
        choices = dict(self._meta.get_field(field).flatchoices)
        if choices:
            return str(choices.get(value, value))
        unit = NOTE_UNITS.get(field, "")
        return f"{value}{unit}"


NOTE_UNITS = {
    "fluoroscopy_seconds": " s",
    "dap_mgy_cm2": " mGy·cm²",
    "contrast_ml": " mL",
    "rf_temperature_c": " °C",
    "rf_seconds": " s",
}
INJECTATE_KEYS = ("drug", "dose", "volume", "concentration")
SEDATION_KEYS = ("drug", "dose")


def injectate_text(row: dict) -> str:
    """'Triamcinolone 40 mg, 1 mL of 40 mg/mL'."""
    head = " ".join(p for p in (row.get("drug", ""), row.get("dose", "")) if p)
    tail = " of ".join(p for p in (row.get("volume", ""), row.get("concentration", "")) if p)
    return f"{head}, {tail}" if head and tail else head or tail


class ProcedureNoteAmendment(models.Model):
    """A change to a signed procedure note: who, when, why, old → new. One change of
    several values writes one row per value, all with the note's new `revision`."""

    note = models.ForeignKey(ProcedureNote, on_delete=models.PROTECT, related_name="amendments")
    revision = models.PositiveIntegerField()
    field = models.CharField(max_length=60)
    old_value = models.TextField()
    new_value = models.TextField()
    reason = models.TextField()
    # Empty only for the removal of identifying values by a patient's anonymisation.
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+"
    )
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["at", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(reason=""), name="procedure_note_amendment_has_reason"
            ),
            models.CheckConstraint(
                condition=Q(revision__gte=1), name="procedure_note_amendment_revision_positive"
            ),
        ]

    def __str__(self):
        return f"{self.field}: {self.old_value} → {self.new_value}"
