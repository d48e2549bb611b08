"""Appointments and the availability they are booked against.

No-double-booking is enforced by PostgreSQL exclusion constraints (migration 0002) and,
on the SQLite default, by `scheduling.services` checking inside an IMMEDIATE transaction.
"""

import datetime
import re
import secrets

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator
from django.db import models
from django.db.models import F, Q
from django.urls import reverse
from django.utils import timezone
from simple_history.models import HistoricalRecords

from clinic.accounts.two_factor import is_refused_demo_account
from clinic.links import key_url
from clinic.models import Indication, Patient, ProcedureType, Room, Site, Weekday
from clinic.roles import Role, roles_of


class PhysicianSession(models.Model):
    """A weekly template: this physician works at this site on this weekday, site-local times."""

    physician = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="sessions"
    )
    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="physician_sessions")
    weekday = models.PositiveSmallIntegerField(choices=Weekday.choices)
    starts = models.TimeField()
    ends = models.TimeField()
    valid_from = models.DateField(default=timezone.localdate)
    valid_until = models.DateField(null=True, blank=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["physician", "weekday", "starts"]
        constraints = [
            models.CheckConstraint(
                condition=Q(ends__gt=F("starts")), name="physician_session_ends_after_start"
            ),
            models.CheckConstraint(
                condition=Q(valid_until__isnull=True) | Q(valid_until__gte=F("valid_from")),
                name="physician_session_valid_range",
            ),
        ]

    def __str__(self):
        return (
            f"{self.physician} {self.get_weekday_display()} {self.starts:%H:%M}-{self.ends:%H:%M}"
        )

    def clean(self):
        if self.starts and self.ends and self.ends <= self.starts:
            raise ValidationError({"ends": "The session must end after it starts."})


class Unavailability(models.Model):
    """A dated exception: a physician's leave, a room closure or a site closure (holiday)."""

    class Reason(models.TextChoices):
        LEAVE = "leave", "Leave"
        CONFERENCE = "conference", "Conference"
        PUBLIC_HOLIDAY = "public_holiday", "Public holiday"
        MAINTENANCE = "maintenance", "Maintenance"
        OTHER = "other", "Other"

    physician = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="unavailabilities",
    )
    room = models.ForeignKey(
        Room, null=True, blank=True, on_delete=models.CASCADE, related_name="closures"
    )
    site = models.ForeignKey(
        Site, null=True, blank=True, on_delete=models.CASCADE, related_name="closures"
    )
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    reason = models.CharField(max_length=20, choices=Reason.choices, default=Reason.LEAVE)
    note = models.CharField(max_length=200, blank=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["starts_at"]
        verbose_name_plural = "unavailabilities"
        constraints = [
            models.CheckConstraint(
                condition=Q(ends_at__gt=F("starts_at")), name="unavailability_ends_after_start"
            ),
            models.CheckConstraint(
                condition=(
                    Q(physician__isnull=False, room__isnull=True, site__isnull=True)
                    | Q(physician__isnull=True, room__isnull=False, site__isnull=True)
                    | Q(physician__isnull=True, room__isnull=True, site__isnull=False)
                ),
                name="unavailability_exactly_one_subject",
            ),
        ]

    def __str__(self):
        subject = self.physician or self.room or self.site
        return f"{subject}: {self.get_reason_display()} {self.starts_at:%Y-%m-%d}"

    def clean(self):
        if sum(x is not None for x in (self.physician_id, self.room_id, self.site_id)) != 1:
            raise ValidationError("Choose exactly one of physician, room or site.")
        if self.starts_at and self.ends_at and self.ends_at <= self.starts_at:
            raise ValidationError({"ends_at": "The end must be after the start."})


class Status(models.TextChoices):
    REQUESTED = "requested", "Requested"
    BOOKED = "booked", "Booked"
    CONFIRMED = "confirmed", "Confirmed"
    CHECKED_IN = "checked_in", "Checked in"
    IN_PROCEDURE = "in_procedure", "In procedure"
    IN_RECOVERY = "in_recovery", "In recovery"
    DISCHARGED = "discharged", "Discharged"
    COMPLETED = "completed", "Completed"
    CANCELLED = "cancelled", "Cancelled"
    NO_SHOW = "no_show", "No-show"


# The only legal moves of the lifecycle; anything else is refused.
TRANSITIONS: dict[str, set[str]] = {
    Status.REQUESTED: {Status.BOOKED, Status.CANCELLED},
    Status.BOOKED: {Status.CONFIRMED, Status.CHECKED_IN, Status.CANCELLED, Status.NO_SHOW},
    Status.CONFIRMED: {Status.CHECKED_IN, Status.CANCELLED, Status.NO_SHOW},
    Status.CHECKED_IN: {Status.IN_PROCEDURE, Status.CANCELLED},
    Status.IN_PROCEDURE: {Status.IN_RECOVERY},
    Status.IN_RECOVERY: {Status.DISCHARGED},
    Status.DISCHARGED: {Status.COMPLETED},
    Status.COMPLETED: set(),
    Status.CANCELLED: set(),
    Status.NO_SHOW: set(),
}
# Statuses that no longer hold their room, physician, patient and bay time.
FREED_STATUSES = (Status.CANCELLED, Status.NO_SHOW)
# Statuses whose time may still be moved by a reschedule.
MOVABLE_STATUSES = (Status.REQUESTED, Status.BOOKED, Status.CONFIRMED)
# The statuses a check-in starts from, and so the ones an undone check-in returns to.
CHECK_IN_FROM = (Status.BOOKED, Status.CONFIRMED)
# A patient who arrives later than this after the booked start is marked late: the day's
# list may have to be re-ordered around them.
LATE_CHECK_IN = datetime.timedelta(hours=1)


class Laterality(models.TextChoices):
    NOT_APPLICABLE = "na", "n.a."
    LEFT = "left", "Left"
    RIGHT = "right", "Right"
    BILATERAL = "bilateral", "Bilateral"


_STATUS_LABELS = dict(Status.choices)
_LATERALITY_LABELS = dict(Laterality.choices)

_LEVEL = r"(C[1-8]|T1[0-2]|T[1-9]|L[1-5]|S[1-5])"
LEVEL_PATTERN = re.compile(rf"^{_LEVEL}(-{_LEVEL})?$")


def validate_levels(value: str):
    """Spinal levels as written on a request, e.g. "L4-L5, L5-S1" or "C6"."""
    for level in (part.strip().upper() for part in value.split(",")):
        if not LEVEL_PATTERN.match(level):
            raise ValidationError(
                "%(level)s is not a spinal level; write levels like L4-L5, L5-S1 or C6.",
                params={"level": level or "(empty)"},
            )


class CancelReason(models.TextChoices):
    PATIENT_REQUEST = "patient_request", "Patient request"
    PATIENT_ILL = "patient_ill", "Patient unwell"
    ANTICOAGULANT = "anticoagulant", "Anticoagulant not held"
    PHYSICIAN_UNAVAILABLE = "physician_unavailable", "Physician unavailable"
    EQUIPMENT = "equipment", "Equipment or room unavailable"
    CLINICAL = "clinical", "Clinical decision"
    OTHER = "other", "Other"


class Appointment(models.Model):
    """One booked procedure.

    `starts_at`..`ends_at` is the procedure room's time: setup, procedure and turnover.
    The recovery bay is held from the end of the procedure for the recovery time.
    """

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="appointments")
    procedure_type = models.ForeignKey(
        ProcedureType, on_delete=models.PROTECT, related_name="appointments"
    )
    physician = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="appointments"
    )
    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="appointments")
    room = models.ForeignKey(Room, on_delete=models.PROTECT, related_name="appointments")
    recovery_bay = models.ForeignKey(
        Room, null=True, blank=True, on_delete=models.PROTECT, related_name="recoveries"
    )
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    recovery_starts_at = models.DateTimeField(null=True, blank=True)
    recovery_ends_at = models.DateTimeField(null=True, blank=True)
    laterality = models.CharField(
        max_length=10, choices=Laterality.choices, default=Laterality.NOT_APPLICABLE
    )
    levels = models.CharField(max_length=60, blank=True, validators=[validate_levels])
    notes = models.TextField("booking notes", blank=True)
    # Why the procedure is done: the referral it answers (the pathway rules read it).
    indication = models.ForeignKey(
        Indication, null=True, blank=True, on_delete=models.SET_NULL, related_name="appointments"
    )
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.BOOKED)
    cancel_reason = models.CharField(max_length=30, choices=CancelReason.choices, blank=True)
    cancel_note = models.CharField(max_length=255, blank=True)
    # When the patient was checked in and from which status, so an undo can return there.
    checked_in_at = models.DateTimeField(null=True, blank=True)
    checked_in_from = models.CharField(
        max_length=20,
        choices=[(s.value, s.label) for s in CHECK_IN_FROM],
        blank=True,
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["starts_at"]
        permissions = [("override_duration", "Can override an appointment's duration")]
        indexes = [
            # The appointment list and the API: "from today", in start order, page by page.
            models.Index(fields=["starts_at", "id"], name="appointment_start_idx"),
            models.Index(fields=["site", "starts_at"], name="appointment_site_start_idx"),
            models.Index(fields=["physician", "starts_at"], name="appointment_phys_start_idx"),
            models.Index(fields=["room", "starts_at"], name="appointment_room_start_idx"),
            models.Index(fields=["patient", "starts_at"], name="appointment_patient_idx"),
            models.Index(fields=["status", "starts_at"], name="appointment_status_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(ends_at__gt=F("starts_at")), name="appointment_ends_after_start"
            ),
            models.CheckConstraint(
                condition=Q(recovery_bay__isnull=True)
                | Q(recovery_ends_at__gt=F("recovery_starts_at")),
                name="appointment_recovery_window_valid",
            ),
            models.CheckConstraint(
                condition=~Q(status__in=[Status.CANCELLED]) | ~Q(cancel_reason=""),
                name="appointment_cancel_has_reason",
            ),
            models.CheckConstraint(
                condition=Q(checked_in_from__in=["", *CHECK_IN_FROM]),
                name="appointment_checked_in_from_booked_or_confirmed",
            ),
        ]

    def __str__(self):
        return f"{self.procedure_type} at {self.local_start:%Y-%m-%d %H:%M}"

    def get_absolute_url(self):
        return key_url("appointment_detail", self.pk)  # lists link dozens of rows

    @property
    def local_start(self):
        return timezone.localtime(self.starts_at, self.site.zone)

    @property
    def local_end(self):
        return timezone.localtime(self.ends_at, self.site.zone)

    @property
    def is_active(self) -> bool:
        """Still holds its time (not cancelled or a no-show)."""
        return self.status not in FREED_STATUSES

    @property
    def checked_in_late(self) -> bool:
        """Checked in more than LATE_CHECK_IN after the booked start."""
        return bool(self.checked_in_at) and self.checked_in_at > self.starts_at + LATE_CHECK_IN

    # Every row of a list and every card of a board shows these; Django's own
    # get_FOO_display() builds the field's choices into a dict on each call.
    def get_status_display(self) -> str:
        return _STATUS_LABELS.get(self.status, self.status)

    def get_laterality_display(self) -> str:
        return _LATERALITY_LABELS.get(self.laterality, self.laterality)

    def can_move_to(self, status: str) -> bool:
        return status in TRANSITIONS[self.status]

    @property
    def side_and_level(self) -> str:
        parts = []
        if self.laterality != Laterality.NOT_APPLICABLE:
            parts.append(self.get_laterality_display())
        if self.levels:
            parts.append(self.levels)
        return " ".join(parts)


class AppointmentEvent(models.Model):
    """The appointment's own history: who did what, when, shown on its page."""

    class Kind(models.TextChoices):
        BOOKED = "booked", "Booked"
        RESCHEDULED = "rescheduled", "Rescheduled"
        STATUS = "status", "Status changed"
        CANCELLED = "cancelled", "Cancelled"
        NO_SHOW = "no_show", "No-show"
        CHECK_IN_UNDONE = "check_in_undone", "Check-in undone"
        EDITED = "edited", "Edited"
        OVERRIDE = "override", "Override"

    appointment = models.ForeignKey(Appointment, on_delete=models.CASCADE, related_name="events")
    at = models.DateTimeField(default=timezone.now)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    kind = models.CharField(max_length=20, choices=Kind.choices)
    from_status = models.CharField(max_length=20, choices=Status.choices, blank=True)
    to_status = models.CharField(max_length=20, choices=Status.choices, blank=True)
    detail = models.TextField(blank=True)

    class Meta:
        ordering = ["at", "pk"]

    def __str__(self):
        return f"{self.at:%Y-%m-%d %H:%M} {self.get_kind_display()}"


class WaitlistEntry(models.Model):
    """A patient waiting for an earlier or any slot of a procedure type."""

    class PartOfDay(models.TextChoices):
        ANY = "any", "Any time"
        MORNING = "morning", "Morning"
        AFTERNOON = "afternoon", "Afternoon"

    class State(models.TextChoices):
        WAITING = "waiting", "Waiting"
        BOOKED = "booked", "Booked"
        REMOVED = "removed", "Removed"

    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="waitlist")
    procedure_type = models.ForeignKey(ProcedureType, on_delete=models.PROTECT, related_name="+")
    physician = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    site = models.ForeignKey(
        Site, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    earliest = models.DateField()
    latest = models.DateField()
    part_of_day = models.CharField(max_length=10, choices=PartOfDay.choices, default=PartOfDay.ANY)
    notes = models.CharField(max_length=255, blank=True)
    state = models.CharField(max_length=10, choices=State.choices, default=State.WAITING)
    appointment = models.ForeignKey(
        Appointment, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["created_at"]
        verbose_name_plural = "waitlist entries"
        constraints = [
            models.CheckConstraint(
                condition=Q(latest__gte=F("earliest")), name="waitlist_window_valid"
            ),
            models.UniqueConstraint(
                fields=["patient", "procedure_type"],
                condition=Q(state="waiting"),
                name="waitlist_one_waiting_entry_per_procedure",
            ),
        ]

    def __str__(self):
        return f"{self.patient} waiting for {self.procedure_type}"


def new_feed_token() -> str:
    return secrets.token_urlsafe(32)


class CalendarFeed(models.Model):
    """A physician's secret iCalendar URL; revoking it replaces the token (and `created_at`).

    It lives like an API token: it ends when the physician's password changes, the account is
    deactivated or loses a role (scheduling.receivers), and after CALENDAR_FEED_DAYS.
    """

    physician = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="calendar_feed"
    )
    token = models.CharField(max_length=64, unique=True, default=new_feed_token)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self):
        return f"Calendar feed of {self.physician}"

    @property
    def expires_at(self):
        return self.created_at + datetime.timedelta(days=settings.CALENDAR_FEED_DAYS)

    def is_usable(self, now=None) -> bool:
        """True while the feed may be served: not expired, and its owner an active physician
        who may log in (a demo account may not outside DEBUG)."""
        physician = self.physician
        return (
            (now or timezone.now()) < self.expires_at
            and physician.is_active
            and Role.PHYSICIAN in roles_of(physician)
            and not is_refused_demo_account(physician)
        )


class MedicationCall(models.Model):
    """The patient was phoned about stopping and restarting their medicines before this
    appointment (the plan in scheduling.advice). One per appointment: marking it twice is
    refused by the constraint, not by a check that could race."""

    appointment = models.ForeignKey(
        Appointment, on_delete=models.CASCADE, related_name="medication_calls"
    )
    note = models.CharField(max_length=255, blank=True)
    called_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    called_at = models.DateTimeField(default=timezone.now)
    history = HistoricalRecords()

    class Meta:
        ordering = ["-called_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["appointment"],
                name="medication_call_one_per_appointment",
                violation_error_message="This patient was already marked as phoned.",
            )
        ]

    def __str__(self):
        return f"Medication call for {self.appointment}"


class PathwayRule(models.Model):
    """A repeat or pathway rule the clinic applies as a booking warning, never a refusal.

    `kind` names the check (scheduling.pathway); the numbers are the clinic's, seeded from
    ../shared/reference/clinical.md (CMS LCD L39240 for ESI, L38803 for facet interventions,
    marked [verify] there) and edited by a manager.
    """

    class Kind(models.TextChoices):
        MAX_SESSIONS = "max_sessions", "At most N sessions per region in a rolling window"
        REPEAT_RELIEF = "repeat_relief", "A repeat needs relief reported after the last one"
        DIAGNOSTIC_BLOCKS = "diagnostic_blocks", "Positive diagnostic blocks before"
        MAX_LEVELS = "max_levels", "At most N levels per session"
        BASELINE = "baseline", "Baseline pain and function recorded before"
        CONSERVATIVE_CARE = "conservative_care", "Symptoms for N weeks with conservative care"

    code = models.SlugField(max_length=40, unique=True)
    name = models.CharField(max_length=120)
    kind = models.CharField(max_length=20, choices=Kind.choices)
    procedure_codes = models.JSONField(
        default=list, help_text="Procedure type codes the rule is checked for."
    )
    related_codes = models.JSONField(
        default=list,
        blank=True,
        help_text="Procedure type codes the rule looks for in the history (the diagnostic "
        "blocks, or the sessions that count together); empty = the same as above.",
    )
    limit = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="Sessions, levels or blocks."
    )
    window_days = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="How far back the history is read, in days."
    )
    percent = models.PositiveSmallIntegerField(
        null=True, blank=True, validators=[MaxValueValidator(100)], help_text="Relief, in %."
    )
    duration_days = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        help_text="How long relief must last, or symptoms must have lasted, in days.",
    )
    source = models.CharField(max_length=255)
    verify_note = models.CharField(
        max_length=255,
        default="From a secondary summary: verify locally against the current source.",
    )
    active = models.BooleanField(default=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["code"]
        constraints = [
            models.CheckConstraint(
                condition=Q(percent__isnull=True) | Q(percent__lte=100),
                name="pathway_rule_percent_at_most_100",
            )
        ]

    def __str__(self):
        return self.name

    def get_absolute_url(self):
        return reverse("pathway_rule_edit", args=[self.pk])

    @property
    def counted_codes(self) -> list[str]:
        """The procedure codes read from the history."""
        return self.related_codes or self.procedure_codes

    def applies_to(self, procedure_code: str) -> bool:
        return self.active and procedure_code in self.procedure_codes


class PathwayOverride(models.Model):
    """A booking made although a pathway rule warned: the warning and the stated reason."""

    appointment = models.ForeignKey(
        Appointment, on_delete=models.CASCADE, related_name="pathway_overrides"
    )
    rule = models.ForeignKey(PathwayRule, null=True, on_delete=models.SET_NULL, related_name="+")
    rule_code = models.CharField(max_length=40)
    warning = models.TextField()
    evidence = models.JSONField(default=list, blank=True)
    reason = models.TextField()
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["appointment", "at", "pk"]
        constraints = [
            models.CheckConstraint(condition=~Q(reason=""), name="pathway_override_has_reason")
        ]

    def __str__(self):
        return f"{self.rule_code}: {self.reason}"
