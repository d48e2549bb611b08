"""The follow-up engine's data: care plans, work rows with due times, responses, alerts.

Future work is a row (`Invitation`) with a due time; the beat dispatcher claims due rows.
Nothing is ever scheduled as a long eta/countdown on the broker.
"""

import datetime

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from simple_history.models import HistoricalRecords

from clinic.models import Patient, ProcedureType, SpinalRegion
from followup.outcomes import POINT_CODES


class Instrument(models.TextChoices):
    """The instruments a survey can contain; scoring is in followup.scoring."""

    NRS = "nrs", "Pain now, average and worst (NRS-11)"
    PGIC = "pgic", "Global impression of change (PGIC)"
    RELIEF = "relief", "Patient-rated % relief"
    ODI = "odi", "Oswestry Disability Index v2.1a"
    NDI = "ndi", "Neck Disability Index"
    RED_FLAGS = "red_flags", "Red-flag symptoms"
    DIARY = "diary", "Pain diary after a diagnostic block"
    # Chooses ODI or NDI by the spinal region treated (cervical -> NDI).
    DISABILITY = "disability", "ODI or NDI by region"


def disability_instrument(appointment) -> str:
    """ODI or NDI for this appointment: NDI for cervical treatment, ODI otherwise.

    Cervical means cervical levels on the appointment ("C5-C6"), or no levels and a
    procedure type that only treats the neck. The survey page resolves "disability" by
    the same rule.
    """
    levels = appointment.levels.strip().upper()
    if levels:
        cervical = levels.startswith("C")
    else:
        cervical = appointment.procedure_type.regions == [SpinalRegion.CERVICAL]
    return Instrument.NDI if cervical else Instrument.ODI


def resolve_instruments(instruments, appointment) -> list[str]:
    """The instruments with "disability" replaced by ODI or NDI for this appointment."""
    resolved = []
    for instrument in instruments:
        if instrument == Instrument.DISABILITY:
            instrument = disability_instrument(appointment)
        if instrument not in resolved:
            resolved.append(str(instrument))
    return resolved


def default_baseline_instruments() -> list[str]:
    return [Instrument.NRS, Instrument.DISABILITY]


class CarePlan(models.Model):
    """What follow-up a procedure type gets; managers edit it."""

    procedure_type = models.OneToOneField(
        ProcedureType, on_delete=models.CASCADE, related_name="care_plan"
    )
    active = models.BooleanField(default=True)
    baseline_with_reminder = models.BooleanField(
        default=True, help_text="Send the baseline survey with the appointment reminder."
    )
    baseline_instruments = models.JSONField(
        default=default_baseline_instruments,
        blank=True,
        help_text="Instruments of the baseline survey; empty = no baseline.",
    )
    # Protocol data: who changed a plan, and when, is kept.
    history = HistoricalRecords()

    def __str__(self):
        return f"Care plan: {self.procedure_type}"


class CarePlanStep(models.Model):
    """One survey of a plan, due `offset_days` after discharge at `local_time` (site time)."""

    plan = models.ForeignKey(CarePlan, on_delete=models.CASCADE, related_name="steps")
    name = models.CharField(max_length=80)
    offset_days = models.PositiveSmallIntegerField(default=0)
    offset_minutes = models.PositiveIntegerField(
        default=0, help_text="For same-day diaries: minutes after discharge instead of a day."
    )
    local_time = models.TimeField(
        null=True, blank=True, help_text="Site-local send time; empty = offset from discharge."
    )
    instruments = models.JSONField(default=list)
    order = models.PositiveSmallIntegerField(default=0)
    expiry_days = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        help_text="Days after it is due that an unanswered survey closes; "
        "empty = FOLLOWUP_SURVEY_EXPIRY_DAYS.",
    )
    history = HistoricalRecords()

    class Meta:
        ordering = ["plan", "order", "offset_days", "offset_minutes"]
        constraints = [
            models.UniqueConstraint(fields=["plan", "name"], name="care_plan_step_name_unique"),
            # A step with nothing to ask would email an empty survey.
            models.CheckConstraint(
                condition=~Q(instruments=[]), name="care_plan_step_has_instruments"
            ),
        ]

    def __str__(self):
        return f"{self.plan.procedure_type}: {self.name}"

    def due_after(self, discharged_at: datetime.datetime, zone) -> datetime.datetime:
        """When this step is due for a patient discharged at `discharged_at`.

        With a `local_time`, the survey is due that wall-clock time in the site's zone
        `offset_days` calendar days after the discharge day, so "14 days later at 10:00"
        stays 10:00 local across a daylight-saving change. Without one, it is due an
        exact duration (days and minutes) after the discharge. Never before the discharge.
        """
        if self.local_time is None:
            due = discharged_at + datetime.timedelta(
                days=self.offset_days, minutes=self.offset_minutes
            )
        else:
            day = timezone.localtime(discharged_at, zone).date()
            day += datetime.timedelta(days=self.offset_days)
            due = datetime.datetime.combine(day, self.local_time, tzinfo=zone)
        return max(due, discharged_at).astimezone(datetime.UTC)

    def expires_after(self, due_at: datetime.datetime) -> datetime.datetime:
        days = self.expiry_days or settings.FOLLOWUP_SURVEY_EXPIRY_DAYS
        return due_at + datetime.timedelta(days=days)


class InvitationQuerySet(models.QuerySet):
    def unexpired(self, now: datetime.datetime):
        """Rows not past their `expires_at` at `now`: the SQL twin of `is_expired`."""
        return self.filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now))

    def answerable(self, now: datetime.datetime):
        """Surveys a patient can still answer at `now`: the SQL twin of `is_answerable`.

        Also the condition of the writes that record answers and drafts, so a survey that
        closes between the page and the write is still refused.
        """
        return self.unexpired(now).filter(
            kind__in=self.model.SURVEY_KINDS,
            status__in=self.model.ANSWERABLE_STATUSES,
            answered_at__isnull=True,
        )


class Invitation(models.Model):
    """A unit of future work: an email to send at `due_at`, and the survey it links to."""

    class Kind(models.TextChoices):
        APPOINTMENT_REMINDER = "appointment_reminder", "Appointment reminder"
        BASELINE = "baseline", "Baseline survey"
        SURVEY = "survey", "Follow-up survey"

    class Status(models.TextChoices):
        SCHEDULED = "scheduled", "Scheduled"
        QUEUED = "queued", "Queued for sending"
        SENDING = "sending", "Sending"
        SENT = "sent", "Sent"
        ANSWERED = "answered", "Answered"
        EXPIRED = "expired", "Expired"
        CANCELLED = "cancelled", "Cancelled"
        FAILED = "failed", "Failed"
        # Due, but not emailed: no consent or no address, or a reminder too late to send.
        SKIPPED = "skipped", "Not emailed"

    SURVEY_KINDS = (Kind.BASELINE, Kind.SURVEY)
    # A survey can be answered in these states (not yet emailed counts: the link may be in
    # the reminder that carries the baseline).
    ANSWERABLE_STATUSES = (
        Status.SCHEDULED,
        Status.QUEUED,
        Status.SENDING,
        Status.SENT,
        Status.SKIPPED,
        Status.FAILED,
    )

    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="invitations")
    appointment = models.ForeignKey(
        "scheduling.Appointment", on_delete=models.CASCADE, related_name="invitations"
    )
    step = models.ForeignKey(
        CarePlanStep, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    kind = models.CharField(max_length=30, choices=Kind.choices)
    instruments = models.JSONField(default=list, blank=True)
    due_at = models.DateTimeField(db_index=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.SCHEDULED)
    # Survey reminders are further sends of the same invitation, counted here.
    reminders_sent = models.PositiveSmallIntegerField(default=0)
    next_reminder_at = models.DateTimeField(null=True, blank=True)
    queued_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    opened_at = models.DateTimeField(null=True, blank=True)
    answered_at = models.DateTimeField(null=True, blank=True)
    # Partial answers saved while the patient fills in the survey.
    draft = models.JSONField(default=dict, blank=True)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # Emails the SMTP server accepted for this row (first send, reminders, a reminder
    # re-sent after a reschedule); the next one's Message-ID carries sends + 1.
    sends = models.PositiveSmallIntegerField(default=0)
    # Failed attempts of the send in progress; a transient failure retries at `retry_at`.
    send_attempts = models.PositiveSmallIntegerField(default=0)
    retry_at = models.DateTimeField(null=True, blank=True)
    # Set when a worker claims the row (queued -> sending); see followup.dispatch.
    sending_started_at = models.DateTimeField(null=True, blank=True)
    sent_with = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="companions",
        help_text="Delivered inside this other invitation's email (baseline with reminder).",
    )

    # The non-responder worklist: a row leaves the open list while snoozed (a call logged,
    # or "call again on ...") and for good once closed; see WorklistAction.
    worklist_snoozed_until = models.DateField(null=True, blank=True)
    worklist_closed_at = models.DateTimeField(null=True, blank=True)

    objects = InvitationQuerySet.as_manager()

    class Meta:
        ordering = ["due_at"]
        indexes = [
            models.Index(fields=["status", "due_at"], name="invitation_due_idx"),
            models.Index(fields=["status", "next_reminder_at"], name="invitation_reminder_idx"),
            # The surveys-due worklist (`surveys_due`) and its count, in its order: the open
            # survey rows only, a small part of a table that is mostly answered surveys.
            models.Index(
                fields=["due_at", "id"],
                condition=Q(
                    kind__in=["baseline", "survey"],
                    status__in=["scheduled", "queued", "sending", "sent"],
                ),
                name="invitation_open_survey_idx",
            ),
            # The open rows of the non-responder lists and the start page's counts of them
            # (selectors_worklists.nonresponders, worklist_open_q): a few thousand rows of a
            # table of millions, in the lists' order, with every column their filter reads,
            # so the count is an index-only scan and a page stops after its rows.
            models.Index(
                fields=[
                    *("sent_at", "id", "status", "expires_at", "next_reminder_at"),
                    *("reminders_sent", "due_at", "worklist_snoozed_until"),
                    *("kind", "answered_at", "worklist_closed_at"),
                ],
                condition=Q(
                    kind__in=["baseline", "survey"],
                    status__in=["sent", "expired", "skipped"],
                    answered_at__isnull=True,
                    worklist_closed_at__isnull=True,
                ),
                name="invitation_nonresponder_idx",
            ),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["appointment", "step"],
                condition=Q(step__isnull=False),
                name="invitation_one_per_plan_step",
            ),
            models.UniqueConstraint(
                fields=["appointment", "kind"],
                condition=Q(kind__in=["appointment_reminder", "baseline"]),
                name="invitation_one_reminder_and_baseline_per_appointment",
            ),
        ]

    def __str__(self):
        return f"{self.get_kind_display()} for {self.patient} due {self.due_at:%Y-%m-%d %H:%M}"

    @property
    def is_survey(self) -> bool:
        return self.kind in self.SURVEY_KINDS

    @property
    def is_answered(self) -> bool:
        return self.status == self.Status.ANSWERED or self.answered_at is not None

    def is_expired(self, now: datetime.datetime) -> bool:
        """Past its `expires_at`: closed, even before the dispatcher marks it expired."""
        return self.expires_at is not None and self.expires_at <= now

    def is_answerable(self, now: datetime.datetime) -> bool:
        """Whether a patient can still answer this survey at `now`.

        It must be a survey (not an appointment reminder), not answered, in a status that
        is still open (not cancelled or expired) and not past `expires_at`. The one rule
        behind the survey pages, drafts and recording answers; `InvitationQuerySet.answerable`
        says the same in SQL.
        """
        return (
            self.is_survey
            and not self.is_answered
            and self.status in self.ANSWERABLE_STATUSES
            and not self.is_expired(now)
        )

    @property
    def message_id(self) -> str:
        """The Message-ID of this row's next email: fixed per row and send number.

        A send repeated after a crash carries the same id, so it is recognisable (and
        collapsible by mail systems) as the same message.
        """
        return f"<invitation-{self.pk}-send-{self.sends + 1}@{settings.FOLLOWUP_MESSAGE_ID_DOMAIN}>"

    def send_refusal(self, now: datetime.datetime) -> tuple[str, str] | None:
        """Why this row must not be emailed now, as (status to give it, reason); else None.

        Checked when the dispatcher claims the row and again by the worker right before
        sending, so a cancellation, an opt-out or an expiry in between is respected.
        Needs `patient` and `appointment` loaded.
        """
        from scheduling.models import FREED_STATUSES, Status

        appointment = self.appointment
        if appointment.status in FREED_STATUSES:
            return self.Status.CANCELLED, "The appointment was cancelled."
        if self.is_expired(now):
            return self.Status.EXPIRED, "The survey closed before it could be sent."
        if self.kind == self.Kind.APPOINTMENT_REMINDER and (
            appointment.starts_at <= now
            or appointment.status not in (Status.REQUESTED, Status.BOOKED, Status.CONFIRMED)
        ):
            return self.Status.SKIPPED, "The appointment has already begun."
        if not self.patient.email:
            return self.Status.SKIPPED, "The patient has no email address."
        if not self.patient.email_consent:
            return self.Status.SKIPPED, "The patient has not agreed to email."
        return None


class EmailLog(models.Model):
    """Every send attempt: who, what kind, when, how it went, the provider's message id."""

    class Status(models.TextChoices):
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"
        SKIPPED = "skipped", "Skipped"

    invitation = models.ForeignKey(
        Invitation, null=True, blank=True, on_delete=models.SET_NULL, related_name="emails"
    )
    patient = models.ForeignKey(
        Patient, null=True, blank=True, on_delete=models.SET_NULL, related_name="emails"
    )
    kind = models.CharField(max_length=40)
    to_address = models.EmailField(blank=True)
    at = models.DateTimeField(default=timezone.now, db_index=True)
    status = models.CharField(max_length=10, choices=Status.choices)
    message_id = models.CharField(max_length=255, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-at"]

    def __str__(self):
        return f"{self.kind} to {self.to_address}: {self.status}"


class Response(models.Model):
    """A patient's answers to one invitation; the database allows one per invitation."""

    invitation = models.OneToOneField(Invitation, on_delete=models.PROTECT, related_name="response")
    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="responses")
    submitted_at = models.DateTimeField(default=timezone.now)
    answers = models.JSONField(default=dict)
    nrs_current = models.PositiveSmallIntegerField(null=True, blank=True)
    nrs_average = models.PositiveSmallIntegerField(null=True, blank=True)
    nrs_worst = models.PositiveSmallIntegerField(null=True, blank=True)
    pgic = models.PositiveSmallIntegerField(null=True, blank=True)
    # The patient's own "what % of your usual pain is relieved" answer.
    patient_rated_relief = models.PositiveSmallIntegerField(null=True, blank=True)
    # Computed from NRS against the baseline response (unrounded).
    percent_relief = models.DecimalField(max_digits=30, decimal_places=20, null=True, blank=True)
    odi_percent = models.DecimalField(max_digits=30, decimal_places=20, null=True, blank=True)
    ndi_percent = models.DecimalField(max_digits=30, decimal_places=20, null=True, blank=True)
    red_flags = models.JSONField(default=list, blank=True)
    # Best relief over a diagnostic block's pain diary against the baseline pain now.
    diary_peak_relief = models.DecimalField(max_digits=30, decimal_places=20, null=True, blank=True)

    class Meta:
        ordering = ["-submitted_at"]
        indexes = [
            # The responses list: newest first, page by page, and its "last 30 days".
            models.Index(fields=["-submitted_at", "-id"], name="response_submitted_idx"),
        ]

    def __str__(self):
        return f"Response of {self.patient} at {self.submitted_at:%Y-%m-%d}"


class Alert(models.Model):
    """Something that needs a clinician: in a survey response (red flags, worse pain, PGIC
    6-7) for a nurse to phone about, or a clinical warning from the perioperative record
    (NEWS2 in an escalation band) for the procedure's physician.

    A response's alerts are emailed to on-call at once and again (escalated) when nobody
    acknowledged them in FOLLOWUP_ALERT_ESCALATE_MINUTES. A clinical alert is shown to the
    physician first (start page, "Physician's day") and emailed to on-call only when
    nobody acknowledged it in CLINICAL_ALERT_ESCALATE_MINUTES.
    """

    class Kind(models.TextChoices):
        RED_FLAG = "red_flag", "Red-flag symptom"
        WORSE_PAIN = "worse_pain", "Pain worse than baseline"
        PGIC_WORSE = "pgic_worse", "Patient feels much worse"
        NEWS2 = "news2", "NEWS2 in an escalation band"

    # Raised by the perioperative record (scheduling.signals.clinical_warning_raised).
    CLINICAL_KINDS = (Kind.NEWS2,)

    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="alerts")
    response = models.ForeignKey(
        Response, null=True, blank=True, on_delete=models.CASCADE, related_name="alerts"
    )
    # A clinical alert's appointment: its physician is the one who must hear of it.
    appointment = models.ForeignKey(
        "scheduling.Appointment",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="clinical_alerts",
    )
    kind = models.CharField(max_length=20, choices=Kind.choices)
    detail = models.CharField(max_length=255, blank=True)
    # A clinical alert's band as the latest warning gave it (e.g. NEWS2 "high").
    severity = models.CharField(max_length=20, blank=True)
    # The record that raised it last (an observation round's id), and how many warnings
    # the open alert has taken in: later rounds in the band update it, not add alerts.
    source_id = models.PositiveBigIntegerField(null=True, blank=True)
    occurrences = models.PositiveSmallIntegerField(default=1)
    last_raised_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    oncall_emailed_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledgement_note = models.TextField(blank=True)
    escalated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            # The open-alerts list (its default) and the nav badge's count on every page.
            models.Index(
                fields=["-created_at", "-id"],
                condition=Q(acknowledged_at__isnull=True),
                name="alert_open_idx",
            ),
        ]
        constraints = [
            models.UniqueConstraint(fields=["response", "kind"], name="alert_one_per_kind"),
            models.CheckConstraint(
                condition=Q(acknowledged_at__isnull=True) | ~Q(acknowledgement_note=""),
                name="alert_acknowledgement_has_note",
            ),
            # A follow-up alert comes from a response, a clinical alert from an appointment.
            models.CheckConstraint(
                condition=Q(
                    response__isnull=False, kind__in=["red_flag", "worse_pain", "pgic_worse"]
                )
                | Q(appointment__isnull=False, kind__in=["news2"]),
                name="alert_has_its_source",
            ),
            # One open clinical alert per appointment and kind: the physician acknowledges
            # one, however many rounds stay in the band meanwhile.
            models.UniqueConstraint(
                fields=["appointment", "kind"],
                condition=Q(appointment__isnull=False, acknowledged_at__isnull=True),
                name="alert_one_open_per_appointment",
            ),
        ]

    def __str__(self):
        return f"{self.get_kind_display()}: {self.patient}"

    @property
    def is_clinical(self) -> bool:
        return self.kind in self.CLINICAL_KINDS


class RescheduleRequest(models.Model):
    """A patient asked, from the reminder email, to move their appointment."""

    appointment = models.ForeignKey(
        "scheduling.Appointment", on_delete=models.CASCADE, related_name="reschedule_requests"
    )
    requested_at = models.DateTimeField(default=timezone.now)
    message = models.CharField(max_length=500, blank=True)
    handled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    handled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["requested_at"]
        constraints = [
            # One open request per appointment: the front desk calls the patient back once.
            models.UniqueConstraint(
                fields=["appointment"],
                condition=Q(handled_at__isnull=True),
                name="reschedule_request_one_open",
            )
        ]

    def __str__(self):
        return f"Reschedule request for appointment {self.appointment_id}"


class InstrumentWording(models.Model):
    """Licensed item wording (ODI, NDI) loaded at deployment by `load_instrument_wording`.

    The wording is copyright; only section ids and titles ship with the code, and the
    survey falls back to a generic 0-5 scale where no wording is loaded.
    """

    instrument = models.CharField(max_length=10, choices=[("odi", "ODI"), ("ndi", "NDI")])
    section = models.CharField(max_length=40)
    language = models.CharField(max_length=2, choices=Patient.Language.choices)
    title = models.CharField(max_length=120)
    options = models.JSONField(help_text="Six answer texts, for scores 0 to 5.")
    history = HistoricalRecords()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["instrument", "section", "language"], name="instrument_wording_unique"
            )
        ]

    def __str__(self):
        return f"{self.instrument} {self.section} ({self.language})"


class PreparationInstruction(models.Model):
    """One point of a procedure type's preparation advice in the appointment reminder.

    Patient-facing text in each language; it must not name the procedure or a diagnosis
    (the email may be read by others). Managers edit it; defaults are seeded.
    """

    class Topic(models.TextChoices):
        FASTING = "fasting", "Fasting (sedation)"
        ANTICOAGULANTS = "anticoagulants", "Blood thinners"
        ESCORT = "escort", "Escort home"
        BRING = "bring", "What to bring and wear"
        DIABETES = "diabetes", "Diabetes and steroids"
        OTHER = "other", "Other"

    procedure_type = models.ForeignKey(
        ProcedureType, on_delete=models.CASCADE, related_name="preparation_instructions"
    )
    topic = models.CharField(max_length=20, choices=Topic.choices)
    language = models.CharField(max_length=2, choices=Patient.Language.choices)
    text = models.TextField()
    order = models.PositiveSmallIntegerField(default=0)
    history = HistoricalRecords()

    class Meta:
        ordering = ["procedure_type", "language", "order", "topic"]
        constraints = [
            models.UniqueConstraint(
                fields=["procedure_type", "topic", "language"],
                name="preparation_instruction_unique",
            )
        ]

    def __str__(self):
        return f"{self.procedure_type}: {self.get_topic_display()} ({self.language})"


class RedFlagRegion(models.TextChoices):
    """Which treated region a red-flag question belongs to ("any" is asked of everyone)."""

    ANY = "any", "Any region"
    CERVICAL = "cervical", "Cervical"
    THORACIC = "thoracic", "Thoracic"
    LUMBAR_SACRAL = "lumbar_sacral", "Lumbar and sacral"


class RedFlagQuestion(models.Model):
    """One warning-sign question of the red-flag screen, asked by the treated region.

    Protocol data managers edit (seeded from shared/reference/clinical.md). The survey
    asks the "any" questions and those of the regions the appointment treats (see
    followup.red_flags). Answers are stored by `code`, so a code keeps its meaning:
    change the wording, or deactivate a question and add a new code.
    """

    region = models.CharField(max_length=20, choices=RedFlagRegion.choices)
    code = models.SlugField(
        max_length=40, help_text="Stored with the answers; keep it when editing the wording."
    )
    text_en = models.CharField("wording (English)", max_length=255)
    text_da = models.CharField("wording (Danish)", max_length=255)
    order = models.PositiveSmallIntegerField(default=0)
    active = models.BooleanField(default=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["region", "order", "code"]
        constraints = [
            models.UniqueConstraint(fields=["region", "code"], name="red_flag_question_unique")
        ]

    def __str__(self):
        return f"{self.get_region_display()}: {self.text_en}"

    def text(self, language: str) -> str:
        """The wording in `language`, English where no Danish is given."""
        return (self.text_da if language == "da" else "") or self.text_en


class DiagnosticBlockProtocol(models.Model):
    """How a diagnostic block's pain diary is read: protocol data managers edit.

    A block is positive when the diary's best % relief against the pain before the block,
    counting only diary times within the local anaesthetic's expected duration, reaches
    `positive_threshold` (followup.blocks). Defaults from shared/reference/clinical.md:
    lidocaine lasts about 1-2 h, bupivacaine about 4-6 h; >=80% relief is the threshold used
    before RFA (CMS LCD L38803 family, as confirmed by the clinic).
    """

    procedure_type = models.OneToOneField(
        ProcedureType, on_delete=models.CASCADE, related_name="block_protocol"
    )
    local_anaesthetic = models.CharField(max_length=80, blank=True)
    expected_duration_hours = models.DecimalField(
        max_digits=3,
        decimal_places=1,
        help_text="Diary times up to this many hours after the block count.",
    )
    positive_threshold = models.PositiveSmallIntegerField(
        default=80, help_text="Peak % relief from which the block is positive."
    )
    source = models.CharField(max_length=255, blank=True)
    history = HistoricalRecords()

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(expected_duration_hours__gt=0, expected_duration_hours__lte=24),
                name="block_protocol_duration_0_24h",
            ),
            models.CheckConstraint(
                condition=Q(positive_threshold__gte=1, positive_threshold__lte=100),
                name="block_protocol_threshold_1_100",
            ),
        ]

    def __str__(self):
        return f"Block protocol: {self.procedure_type}"

    @property
    def window_minutes(self) -> int:
        """The diary times (minutes after the block) that count: up to the expected duration."""
        return int(self.expected_duration_hours * 60)


class OutcomeEpisode(models.Model):
    """What one treated appointment came to: one row per procedure done, kept up to date.

    Derived data, never entered: `followup.services_outcomes.outcome_episode_refresh`
    recomputes the row after a survey answer or the appointment's completion, and
    `manage.py rebuild_outcomes` rebuilds them all. The outcomes page and API aggregate
    these rows in SQL (followup.selectors_outcomes) instead of re-scoring every answer per
    request. The rules are in followup.outcomes; per follow-up point (followup.outcomes.POINTS)
    there is `relief_<point>`, `responder30_<point>` and `responder50_<point>`.
    """

    class BaselineSource(models.TextChoices):
        NONE = "", "No baseline"
        SURVEY = "survey", "Baseline survey"
        NURSE = "nurse", "Nurse's pre-procedure NRS"

    # The appointment is the key: a rebuilt row keeps its id.
    appointment = models.OneToOneField(
        "scheduling.Appointment",
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="outcome_episode",
    )
    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="+")
    procedure_type = models.ForeignKey(ProcedureType, on_delete=models.CASCADE, related_name="+")
    physician = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    site = models.ForeignKey("clinic.Site", on_delete=models.CASCADE, related_name="+")
    # Why it was done (the appointment's indication), where the booking recorded one.
    diagnosis = models.ForeignKey(
        "clinic.Diagnosis", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # The procedure's day in the site's zone: the period filters and "last 12 months".
    treated_on = models.DateField()
    region = models.CharField(max_length=20, choices=SpinalRegion.choices, blank=True)
    levels = models.CharField(max_length=60, blank=True)
    laterality = models.CharField(max_length=10, blank=True)
    baseline_nrs = models.PositiveSmallIntegerField(null=True, blank=True)
    baseline_source = models.CharField(
        max_length=10, choices=BaselineSource.choices, blank=True, default=""
    )
    has_followup = models.BooleanField(
        default=False, help_text="At least one follow-up survey answered."
    )
    last_point = models.CharField(max_length=4, blank=True)
    last_relief = models.DecimalField(max_digits=30, decimal_places=20, null=True, blank=True)
    immpact_category = models.CharField(max_length=30, blank=True)
    responder_30 = models.BooleanField(null=True, blank=True)
    responder_50 = models.BooleanField(null=True, blank=True)
    disability_instrument = models.CharField(max_length=3, blank=True)
    # ODI in percent points, NDI in raw points (0-50), as their MCIDs are stated.
    disability_baseline = models.DecimalField(
        max_digits=30, decimal_places=20, null=True, blank=True
    )
    disability_last = models.DecimalField(max_digits=30, decimal_places=20, null=True, blank=True)
    disability_change = models.DecimalField(max_digits=30, decimal_places=20, null=True, blank=True)
    disability_mcid = models.BooleanField(null=True, blank=True)
    pgic_last = models.PositiveSmallIntegerField(null=True, blank=True)
    pgic_improved = models.BooleanField(null=True, blank=True)
    # Days until relief first fell below 50% (durable_event) or of the last answer (censored).
    durable_days = models.PositiveIntegerField(null=True, blank=True)
    durable_event = models.BooleanField(null=True, blank=True)
    # A diagnostic block's diary read by its protocol (followup.blocks).
    block_peak_relief = models.DecimalField(max_digits=30, decimal_places=20, null=True, blank=True)
    block_result = models.CharField(max_length=12, blank=True)
    refreshed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-treated_on", "-appointment"]
        indexes = [
            models.Index(fields=["site", "treated_on"], name="outcome_site_day_idx"),
            models.Index(fields=["procedure_type", "treated_on"], name="outcome_type_day_idx"),
            models.Index(fields=["physician", "treated_on"], name="outcome_physician_day_idx"),
            models.Index(fields=["treated_on", "appointment"], name="outcome_day_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(baseline_source="", baseline_nrs__isnull=True)
                | Q(baseline_source__in=["survey", "nurse"]),
                name="outcome_baseline_has_source",
            ),
            models.CheckConstraint(
                condition=Q(durable_days__isnull=True, durable_event__isnull=True)
                | Q(durable_days__isnull=False, durable_event__isnull=False),
                name="outcome_durability_days_and_event",
            ),
        ]

    def __str__(self):
        return f"Outcome of appointment {self.appointment_id}"

    def relief_at(self, point: str):
        return getattr(self, f"relief_{point}")


def _add_point_fields():
    for code in POINT_CODES:
        OutcomeEpisode.add_to_class(
            f"relief_{code}",
            models.DecimalField(max_digits=30, decimal_places=20, null=True, blank=True),
        )
        OutcomeEpisode.add_to_class(f"responder30_{code}", models.BooleanField(null=True))
        OutcomeEpisode.add_to_class(f"responder50_{code}", models.BooleanField(null=True))


_add_point_fields()


class WorklistAction(models.Model):
    """What staff did about an unanswered survey on the non-responder worklist: a call
    (with its outcome), a snooze until a day, or closing the row with a reason.

    The invitation carries the resulting state (`worklist_snoozed_until`,
    `worklist_closed_at`), changed by conditional updates in
    followup.services_worklists; these rows are the history of who did what, when.
    """

    class Kind(models.TextChoices):
        CALL = "call", "Call"
        SNOOZE = "snooze", "Snooze"
        CLOSE = "close", "Close"

    class Outcome(models.TextChoices):
        REACHED = "reached", "Reached: will answer the survey"
        DECLINED = "declined", "Reached: declines follow-up"
        NO_ANSWER = "no_answer", "No answer"
        MESSAGE = "message", "Left a message"
        WRONG_NUMBER = "wrong_number", "Wrong or missing number"

    class Reason(models.TextChoices):
        ANSWERED_BY_PHONE = "answered_by_phone", "Answers taken by phone"
        DECLINED = "declined", "Patient declines follow-up"
        UNREACHABLE = "unreachable", "Could not be reached"
        NOT_RELEVANT = "not_relevant", "No longer relevant"
        OTHER = "other", "Other (say why in the note)"

    # After a call the row comes back on this many days later: tomorrow when nobody
    # answered, after a few days when the patient said they would answer online.
    CALL_AGAIN_AFTER_DAYS = {
        Outcome.REACHED: 3,
        Outcome.NO_ANSWER: 1,
        Outcome.MESSAGE: 1,
        Outcome.WRONG_NUMBER: 1,
    }
    # A call with this outcome closes the row with this reason.
    CLOSED_BY_OUTCOME = {Outcome.DECLINED: Reason.DECLINED}

    invitation = models.ForeignKey(
        Invitation, on_delete=models.CASCADE, related_name="worklist_actions"
    )
    kind = models.CharField(max_length=10, choices=Kind.choices)
    outcome = models.CharField(max_length=20, choices=Outcome.choices, blank=True)
    reason = models.CharField(max_length=20, choices=Reason.choices, blank=True)
    snoozed_until = models.DateField(null=True, blank=True)
    note = models.TextField(blank=True)
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-at", "-pk"]
        indexes = [models.Index(fields=["invitation", "-at"], name="worklist_action_latest_idx")]
        constraints = [
            models.CheckConstraint(
                condition=~Q(kind="call") | ~Q(outcome=""), name="worklist_action_call_has_outcome"
            ),
            models.CheckConstraint(
                condition=~Q(kind="snooze") | Q(snoozed_until__isnull=False),
                name="worklist_action_snooze_has_date",
            ),
            models.CheckConstraint(
                condition=~Q(kind="close") | ~Q(reason=""),
                name="worklist_action_close_has_reason",
            ),
            models.CheckConstraint(
                condition=~Q(reason="other") | ~Q(note=""),
                name="worklist_action_other_reason_has_note",
            ),
            # A row is closed once; a second "close" from another tab is refused.
            models.UniqueConstraint(
                fields=["invitation"],
                condition=Q(kind="close"),
                name="worklist_action_one_close",
            ),
        ]

    def __str__(self):
        return f"{self.get_kind_display()} on invitation {self.invitation_id}"

    @classmethod
    def after_call(cls, outcome: str, today: datetime.date) -> tuple[datetime.date | None, str]:
        """What a call with `outcome` does to its row: (snooze until, close reason).

        A declining patient closes the row; any other outcome takes it off the open list
        until the day it should be called again (or checked for an online answer).
        """
        if outcome in cls.CLOSED_BY_OUTCOME:
            return None, cls.CLOSED_BY_OUTCOME[outcome]
        return today + datetime.timedelta(days=cls.CALL_AGAIN_AFTER_DAYS[outcome]), ""


class RecallRule(models.Model):
    """When a patient is due for review or a repeat: protocol data managers edit (followup.recall).

    Each rule watches the patient's done appointments of some procedure types (`watched`)
    over the last `lookback_weeks` and offers `recall_procedure` (the same procedure when
    empty) in the slot finder. Seeded from shared/reference/clinical.md; the thresholds are
    the clinic's to confirm ("verify locally"), not coverage advice.
    """

    class Kind(models.TextChoices):
        RELIEF_FADING = "relief_fading", "Relief fading below the threshold in surveys"
        POSITIVE_BLOCK = "positive_block", "Diary-positive block, follow-on not booked"
        TRIAL_ENDED = "trial_ended", "Trial ended, follow-on not booked"

    code = models.SlugField(max_length=40, unique=True)
    name = models.CharField(max_length=120)
    kind = models.CharField(max_length=20, choices=Kind.choices)
    watched = models.ManyToManyField(
        ProcedureType, related_name="+", help_text="Done procedures this rule looks at."
    )
    recall_procedure = models.ForeignKey(
        ProcedureType,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="Offered in the slot finder; empty: the watched procedure again.",
    )
    threshold_percent = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        help_text="Relief fading: due when the latest survey's relief is below this, after an "
        "earlier one reached it.",
    )
    weeks = models.PositiveSmallIntegerField(
        default=0,
        help_text="Positive block / trial: due this many weeks after the watched procedure "
        "when the follow-on is still not booked.",
    )
    lookback_weeks = models.PositiveSmallIntegerField(
        default=52, help_text="Only procedures done within this many weeks count."
    )
    active = models.BooleanField(default=True)
    source = models.CharField(max_length=255, blank=True)
    note = models.CharField(max_length=255, blank=True, default="Verify locally.")
    history = HistoricalRecords()

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(threshold_percent__isnull=True)
                | Q(threshold_percent__gte=1, threshold_percent__lte=100),
                name="recall_rule_threshold_1_100",
                violation_error_message="The relief threshold is a percentage from 1 to 100.",
            ),
            models.CheckConstraint(
                condition=~Q(kind="relief_fading") | Q(threshold_percent__isnull=False),
                name="recall_rule_fading_has_threshold",
                violation_error_message="A relief-fading rule needs its relief threshold.",
            ),
        ]

    def __str__(self):
        return self.name


class RecallEntry(models.Model):
    """A patient a recall rule names, with the day they are due: derived, never entered.

    One row per patient and active rule, for the patient's latest watched appointment
    (followup.recall). `followup.services_recall` recomputes a patient's rows after the
    commit of what can change them (an appointment booked, moved, cancelled or done, a
    survey answered, a merge) and every row each night; the worklist reads the rows due
    today and still within the rule's look-back, one indexed query however many patients.
    Rows not due yet are kept, so a row comes due at its day with no work at midnight.
    """

    rule = models.ForeignKey(RecallRule, on_delete=models.CASCADE, related_name="+")
    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="+")
    appointment = models.ForeignKey(
        "scheduling.Appointment", on_delete=models.CASCADE, related_name="+"
    )
    # The watched appointment's site: the worklist is cut to the user's sites by it.
    site = models.ForeignKey("clinic.Site", on_delete=models.CASCADE, related_name="+")
    procedure_type = models.ForeignKey(
        ProcedureType, on_delete=models.CASCADE, related_name="+", help_text="Offered."
    )
    due = models.DateField()
    # The last day the watched appointment is within the rule's look-back.
    counts_until = models.DateField()
    evidence = models.CharField(max_length=500)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["rule", "patient"], name="recall_entry_one_per_patient_and_rule"
            ),
        ]
        indexes = [models.Index(fields=["due", "counts_until"], name="recall_entry_due")]

    def __str__(self):
        return f"{self.rule_id}: patient {self.patient_id} due {self.due:%Y-%m-%d}"

    @property
    def slot_url(self) -> str:
        """The slot finder, filled in with the offer and the patient."""
        params = {"procedure_type": self.procedure_type_id, "patient": self.patient_id}
        return f"{reverse('slot_finder')}?{urlencode(params)}"
