"""The shared clinic model: sites and rooms, staff, patients and the procedure catalogue."""

import datetime
import unicodedata
import zoneinfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.deconstruct import deconstructible
from simple_history.models import HistoricalRecords

from clinic.links import key_url


class Capability(models.TextChoices):
    FLUOROSCOPY = "fluoroscopy", "Fluoroscopy (C-arm)"
    CT = "ct", "CT"
    ULTRASOUND = "ultrasound", "Ultrasound"
    RF_GENERATOR = "rf_generator", "RF generator"
    SEDATION = "sedation", "Sedation-capable"


class SpinalRegion(models.TextChoices):
    CERVICAL = "cervical", "Cervical"
    THORACIC = "thoracic", "Thoracic"
    LUMBAR = "lumbar", "Lumbar"
    SACRAL = "sacral", "Sacral / sacroiliac"
    PERIPHERAL = "peripheral", "Peripheral"


@deconstructible
class ChoiceListValidator:
    """Validates a JSON list whose items must be values of a TextChoices class."""

    def __init__(self, allowed):
        self.allowed = sorted(allowed)

    def __call__(self, value):
        if not isinstance(value, list) or any(item not in self.allowed for item in value):
            raise ValidationError(
                "Choose from: %(allowed)s.", params={"allowed": ", ".join(self.allowed)}
            )

    def __eq__(self, other):
        return isinstance(other, ChoiceListValidator) and other.allowed == self.allowed


def validate_no_control_characters(value):
    """Refuses tabs, line breaks and other control characters in one-line text: they split
    CSV rows, forge email headers and hide text in terminals and logs."""
    if any(unicodedata.category(char) == "Cc" for char in value):
        raise ValidationError(
            "Use letters, spaces and punctuation only: tabs, line breaks and other control "
            "characters are not allowed."
        )


def validate_time_zone(value):
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValidationError(
            "%(value)s is not a time zone; use a name such as Europe/Copenhagen.",
            params={"value": value},
        ) from None


class Site(models.Model):
    name = models.CharField(max_length=100, unique=True)
    address = models.TextField(blank=True)
    phone = models.CharField(max_length=40, blank=True)
    time_zone = models.CharField(
        max_length=64, default="Europe/Copenhagen", validators=[validate_time_zone]
    )
    active = models.BooleanField(default=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name

    @property
    def zone(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.time_zone)


class Weekday(models.IntegerChoices):
    MONDAY = 0, "Monday"
    TUESDAY = 1, "Tuesday"
    WEDNESDAY = 2, "Wednesday"
    THURSDAY = 3, "Thursday"
    FRIDAY = 4, "Friday"
    SATURDAY = 5, "Saturday"
    SUNDAY = 6, "Sunday"


class OpeningHours(models.Model):
    """When a site is open on a weekday, in the site's own time zone. No row: closed."""

    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="opening_hours")
    weekday = models.PositiveSmallIntegerField(choices=Weekday.choices)
    opens = models.TimeField()
    closes = models.TimeField()
    history = HistoricalRecords()

    class Meta:
        ordering = ["site", "weekday"]
        verbose_name_plural = "opening hours"
        constraints = [
            models.UniqueConstraint(fields=["site", "weekday"], name="opening_hours_one_per_day"),
            models.CheckConstraint(
                condition=Q(closes__gt=models.F("opens")), name="opening_hours_close_after_open"
            ),
        ]

    def __str__(self):
        return f"{self.site}: {self.get_weekday_display()} {self.opens:%H:%M}-{self.closes:%H:%M}"

    def clean(self):
        if self.opens and self.closes and self.closes <= self.opens:
            raise ValidationError({"closes": "Closing time must be after opening time."})


class Room(models.Model):
    class Kind(models.TextChoices):
        PROCEDURE = "procedure", "Procedure room"
        RECOVERY = "recovery", "Recovery bay"

    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="rooms")
    name = models.CharField(max_length=60)
    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.PROCEDURE)
    capabilities = models.JSONField(
        default=list, blank=True, validators=[ChoiceListValidator(Capability.values)]
    )
    active = models.BooleanField(default=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["site", "kind", "name"]
        constraints = [
            models.UniqueConstraint(fields=["site", "name"], name="room_name_unique_per_site")
        ]

    def __str__(self):
        return f"{self.name} ({self.site})"

    def has_capabilities(self, required) -> bool:
        """True when this room has every capability in `required`."""
        return set(required) <= set(self.capabilities)

    def get_capabilities_display(self) -> str:
        labels = dict(Capability.choices)
        return ", ".join(labels.get(code, code) for code in self.capabilities)


class ProcedureType(models.Model):
    """An entry of the procedure catalogue; the times drive booking, the rest drives safety."""

    class Category(models.TextChoices):
        DIAGNOSTIC = "diagnostic", "Diagnostic"
        THERAPEUTIC = "therapeutic", "Therapeutic"
        IMPLANT = "implant", "Implant"

    class BleedingRisk(models.TextChoices):
        LOW = "low", "Low"
        INTERMEDIATE = "intermediate", "Intermediate"
        HIGH = "high", "High"

    class Sedation(models.TextChoices):
        NONE = "none", "Local anaesthetic only"
        MILD = "mild", "Mild sedation"
        MODERATE = "moderate", "Moderate sedation"

    code = models.SlugField(max_length=40, unique=True)
    name = models.CharField(max_length=120, unique=True)
    # Patient-facing papers (the discharge leaflet) in Danish; empty = the name above.
    name_da = models.CharField("name (Danish)", max_length=120, blank=True)
    category = models.CharField(max_length=20, choices=Category.choices)
    regions = models.JSONField(
        default=list, blank=True, validators=[ChoiceListValidator(SpinalRegion.values)]
    )
    needs_laterality = models.BooleanField(default=False)
    needs_level = models.BooleanField(default=False)
    procedure_minutes = models.PositiveSmallIntegerField(
        validators=[MinValueValidator(5), MaxValueValidator(480)]
    )
    setup_minutes = models.PositiveSmallIntegerField(
        default=10, validators=[MaxValueValidator(120)]
    )
    turnover_minutes = models.PositiveSmallIntegerField(
        default=10, validators=[MaxValueValidator(120)]
    )
    recovery_minutes = models.PositiveSmallIntegerField(
        default=30, validators=[MaxValueValidator(480)]
    )
    required_capabilities = models.JSONField(
        default=list, blank=True, validators=[ChoiceListValidator(Capability.values)]
    )
    bleeding_risk = models.CharField(max_length=20, choices=BleedingRisk.choices)
    typical_sedation = models.CharField(
        max_length=20, choices=Sedation.choices, default=Sedation.NONE
    )
    active = models.BooleanField(default=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(procedure_minutes__gte=5), name="procedure_type_minutes_positive"
            )
        ]

    def __str__(self):
        return self.name

    def get_absolute_url(self):
        return reverse("procedure_type_detail", args=[self.pk])

    def name_in(self, language: str) -> str:
        """The name a patient reads in `language`: the Danish one where it is given."""
        return (self.name_da if language == "da" else "") or self.name

    @property
    def room_minutes(self) -> int:
        """How long the procedure room is taken: setup, procedure and turnover."""
        return self.setup_minutes + self.procedure_minutes + self.turnover_minutes

    def get_regions_display(self) -> str:
        labels = dict(SpinalRegion.choices)
        return ", ".join(labels.get(code, code) for code in self.regions)

    def get_required_capabilities_display(self) -> str:
        labels = dict(Capability.choices)
        return ", ".join(labels.get(code, code) for code in self.required_capabilities)


class StaffProfile(models.Model):
    """What the clinic knows of a staff member beyond the login: title and credentials."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="staff_profile"
    )
    title = models.CharField(max_length=80, blank=True)
    credentials = models.ManyToManyField(
        ProcedureType,
        blank=True,
        related_name="credentialed_staff",
        help_text="Procedure types this physician may perform.",
    )
    is_demo = models.BooleanField(
        default=False, help_text="Created by seed_demo; can only log in while debugging."
    )
    sites = models.ManyToManyField(
        Site,
        blank=True,
        related_name="staff",
        help_text=(
            "The sites whose records this person sees. None ticked: every site (a clinic "
            "with one site need not set this)."
        ),
    )
    history = HistoricalRecords(m2m_fields=[credentials, sites])

    def __str__(self):
        return self.user.get_full_name() or self.user.get_username()


def _cpr_birth_date(digits: str) -> datetime.date | None:
    """The birth date in a Danish CPR number: DDMMYY, the century read from the 7th digit
    (CPR-kontoret's table). None when the date part is no real day."""
    day, month, year, seventh = int(digits[:2]), int(digits[2:4]), int(digits[4:6]), int(digits[6])
    if seventh <= 3:
        century = 1900
    elif seventh in (4, 9):
        century = 2000 if year <= 36 else 1900
    else:
        century = 2000 if year <= 57 else 1800
    try:
        return datetime.date(century + year, month, day)
    except ValueError:
        return None


def normalise_cpr(value: str) -> str:
    """A Danish CPR number as DDMMYY-SSSS. Only the format and the date part are checked:
    the modulo-11 check was dropped in 2007, so valid numbers fail it."""
    digits = value.replace("-", "").replace(" ", "")
    if len(digits) != 10 or not digits.isdigit():
        raise ValidationError(
            "Enter a CPR number as 10 digits, DDMMYY-SSSS, for example 270566-1234."
        )
    if _cpr_birth_date(digits) is None:
        raise ValidationError("The first six digits of a CPR number are a date, DDMMYY.")
    return f"{digits[:6]}-{digits[6:]}"


def cpr_birth_date(value: str) -> datetime.date | None:
    digits = value.replace("-", "")
    return _cpr_birth_date(digits) if len(digits) == 10 and digits.isdigit() else None


# Each country's national identity number: its normaliser (raises ValidationError) and the
# birth date it holds. A new country is one entry here and one choice below.
NATIONAL_ID_RULES = {"DK": (normalise_cpr, cpr_birth_date)}


class Patient(models.Model):
    class Country(models.TextChoices):
        DENMARK = "DK", "Denmark (CPR number)"

    class Sex(models.TextChoices):
        FEMALE = "female", "Female"
        MALE = "male", "Male"
        OTHER = "other", "Other"
        UNKNOWN = "unknown", "Not stated"

    class Language(models.TextChoices):
        ENGLISH = "en", "English"
        DANISH = "da", "Dansk"

    mrn = models.CharField(
        "MRN",
        max_length=32,
        unique=True,
        error_messages={"unique": "Another patient already has this MRN."},
    )
    first_name = models.CharField(max_length=80, validators=[validate_no_control_characters])
    last_name = models.CharField(max_length=80, validators=[validate_no_control_characters])
    date_of_birth = models.DateField()
    sex = models.CharField(max_length=10, choices=Sex.choices, default=Sex.UNKNOWN)
    email = models.EmailField(blank=True)
    phone = models.CharField(max_length=40, blank=True, validators=[validate_no_control_characters])
    preferred_language = models.CharField(
        max_length=2, choices=Language.choices, default=Language.DANISH
    )
    email_consent = models.BooleanField(
        default=False, help_text="The patient agreed to reminders and surveys by email."
    )
    national_id = models.CharField(
        "national ID",
        max_length=20,
        blank=True,
        help_text="Optional. The Danish CPR number, DDMMYY-SSSS.",
    )
    # One country so far: set by the code, not typed (NATIONAL_ID_RULES).
    national_id_country = models.CharField(
        "national ID country",
        max_length=2,
        choices=Country.choices,
        default=Country.DENMARK,
        editable=False,
    )
    # Set by clinic.services.patient_merge: this record was a duplicate of `merged_into`,
    # which now holds its appointments and follow-up. Kept, never deleted: the audit trail
    # and old links still name it.
    merged_into = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="merged_records",
        editable=False,
    )
    merged_at = models.DateTimeField(null=True, blank=True, editable=False)
    # Clinical fields: shown and edited only with the clinical record permissions.
    spinal_history = models.TextField(blank=True)
    # Set by clinic.services_privacy.patient_anonymise (GDPR Art. 17): the identifying
    # fields are scrubbed everywhere, the clinical record stays for the retention period.
    anonymised_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["last_name", "first_name"]
        permissions = [
            ("view_clinical_record", "Can view a patient's clinical record"),
            ("change_clinical_record", "Can change a patient's clinical record"),
            ("export_patient_data", "Can export all of a patient's data (GDPR Art. 15/20)"),
            ("anonymise_patient", "Can anonymise a patient (GDPR Art. 17)"),
            ("merge_patient", "Can merge a duplicate patient record into another"),
        ]
        indexes = [
            models.Index(fields=["last_name", "first_name"], name="patient_name_idx"),
            models.Index(fields=["date_of_birth"], name="patient_dob_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(date_of_birth__gte=datetime.date(1900, 1, 1)),
                name="patient_born_after_1900",
            ),
            # An anonymised patient is never emailed again: no address, no consent.
            models.CheckConstraint(
                condition=Q(anonymised_at__isnull=True) | Q(email="", email_consent=False),
                name="patient_anonymised_has_no_email",
            ),
            models.UniqueConstraint(
                fields=["national_id_country", "national_id"],
                condition=~Q(national_id=""),
                name="patient_national_id_unique",
                violation_error_message="Another patient already has this national ID.",
            ),
            models.CheckConstraint(
                condition=Q(merged_into__isnull=True, merged_at__isnull=True)
                | Q(merged_into__isnull=False, merged_at__isnull=False),
                name="patient_merged_has_time",
            ),
            models.CheckConstraint(
                condition=~Q(merged_into=models.F("pk")), name="patient_not_merged_into_itself"
            ),
        ]

    def __str__(self):
        return f"{self.last_name}, {self.first_name} ({self.mrn})"

    def get_absolute_url(self):
        return key_url("patient_detail", self.pk)  # lists link dozens of rows

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}"

    def age_on(self, day: datetime.date) -> int:
        born = self.date_of_birth
        return day.year - born.year - ((day.month, day.day) < (born.month, born.day))

    @property
    def age(self) -> int:
        return self.age_on(timezone.localdate())

    def clean(self):
        if self.mrn:
            self.mrn = self.mrn.strip().upper()
        if self.date_of_birth:
            if self.date_of_birth > timezone.localdate():
                raise ValidationError({"date_of_birth": "Date of birth cannot be in the future."})
            if self.date_of_birth < datetime.date(1900, 1, 1):
                raise ValidationError({"date_of_birth": "Date of birth must be after 1900."})
        if self.email_consent and not self.email:
            raise ValidationError({"email": "Add an email address, or untick email consent."})
        if self.national_id:
            self.clean_national_id()
        if self.anonymised_at and (self.email or self.email_consent):
            raise ValidationError(
                {"email": "This patient was anonymised: they are not emailed again."}
            )

    def clean_national_id(self):
        """Normalise the national ID by its country's rule; its birth date must be this one."""
        normalise, born_on = NATIONAL_ID_RULES[self.national_id_country]
        try:
            self.national_id = normalise(self.national_id)
        except ValidationError as error:
            raise ValidationError({"national_id": error.messages}) from None
        born = born_on(self.national_id)
        if self.date_of_birth and born and born != self.date_of_birth:
            raise ValidationError(
                {
                    "national_id": f"The number's date part is {born:%d-%m-%Y}, but the date "
                    f"of birth is {self.date_of_birth:%d-%m-%Y}."
                }
            )

    @property
    def is_merged(self) -> bool:
        return self.merged_into_id is not None

    @property
    def is_anonymised(self) -> bool:
        return self.anonymised_at is not None

    @property
    def can_receive_email(self) -> bool:
        return bool(self.email) and self.email_consent


class Medication(models.Model):
    """A current medication. `agent` names the drugs that matter for procedure holds."""

    class Agent(models.TextChoices):
        WARFARIN = "warfarin", "Warfarin"
        CLOPIDOGREL = "clopidogrel", "Clopidogrel"
        PRASUGREL = "prasugrel", "Prasugrel"
        TICAGRELOR = "ticagrelor", "Ticagrelor"
        APIXABAN = "apixaban", "Apixaban"
        RIVAROXABAN = "rivaroxaban", "Rivaroxaban"
        DABIGATRAN = "dabigatran", "Dabigatran"
        EDOXABAN = "edoxaban", "Edoxaban"
        ENOXAPARIN = "enoxaparin", "Enoxaparin (LMWH)"
        ASPIRIN = "aspirin", "Aspirin"
        NSAID = "nsaid", "NSAID"
        INSULIN = "insulin", "Insulin"
        ORAL_ANTIDIABETIC = "oral_antidiabetic", "Oral antidiabetic"
        OPIOID = "opioid", "Opioid"
        OTHER = "other", "Other"

    ANTITHROMBOTIC_AGENTS = {
        Agent.WARFARIN,
        Agent.CLOPIDOGREL,
        Agent.PRASUGREL,
        Agent.TICAGRELOR,
        Agent.APIXABAN,
        Agent.RIVAROXABAN,
        Agent.DABIGATRAN,
        Agent.EDOXABAN,
        Agent.ENOXAPARIN,
        Agent.ASPIRIN,
    }

    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="medications")
    agent = models.CharField(max_length=30, choices=Agent.choices, default=Agent.OTHER)
    name = models.CharField(max_length=120, help_text="As the patient takes it, e.g. Eliquis.")
    dose = models.CharField(max_length=80, blank=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["patient", "name"]

    def __str__(self):
        return f"{self.name} {self.dose}".strip()

    @property
    def is_antithrombotic(self) -> bool:
        return self.agent in self.ANTITHROMBOTIC_AGENTS


class Allergy(models.Model):
    class Kind(models.TextChoices):
        CONTRAST = "contrast", "Contrast medium"
        IODINE = "iodine", "Iodine"
        LATEX = "latex", "Latex"
        LOCAL_ANAESTHETIC = "local_anaesthetic", "Local anaesthetic"
        STEROID = "steroid", "Steroid"
        OTHER = "other", "Other"

    class Severity(models.TextChoices):
        MILD = "mild", "Mild"
        MODERATE = "moderate", "Moderate"
        SEVERE = "severe", "Severe / anaphylaxis"

    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="allergies")
    kind = models.CharField(max_length=30, choices=Kind.choices)
    substance = models.CharField(max_length=120, blank=True)
    reaction = models.CharField(max_length=200, blank=True)
    severity = models.CharField(max_length=20, choices=Severity.choices, default=Severity.MODERATE)
    history = HistoricalRecords()

    class Meta:
        ordering = ["patient", "kind"]
        verbose_name_plural = "allergies"

    def __str__(self):
        return self.substance or self.get_kind_display()

    def clean(self):
        if self.kind == self.Kind.OTHER and not self.substance:
            raise ValidationError({"substance": "Name the substance for an 'other' allergy."})


class CrossSiteAccess(models.Model):
    """A staff member's reasoned opening of a patient's record held at a site that is not
    theirs (break-glass): allowed for CROSS_SITE_ACCESS_MINUTES, audited, shown to Admin."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="+")
    reason = models.CharField(max_length=255, validators=[validate_no_control_characters])
    at = models.DateTimeField(default=timezone.now)
    until = models.DateTimeField()

    class Meta:
        ordering = ["-at"]
        indexes = [models.Index(fields=["user", "patient", "-until"], name="cross_site_user_idx")]
        constraints = [
            models.CheckConstraint(
                condition=Q(until__gt=models.F("at")), name="cross_site_ends_after_it_starts"
            ),
            models.CheckConstraint(condition=~Q(reason=""), name="cross_site_has_a_reason"),
        ]

    def __str__(self):
        return f"{self.user} → {self.patient} ({self.reason})"


class AuditEvent(models.Model):
    """Who read or changed which clinical record, and when; who logged in, or failed to.

    Append-only: the database refuses UPDATE and DELETE on this table (a trigger, migration
    clinic 0008), and a user or patient named here cannot be deleted (PROTECT): staff who
    acted are deactivated, patients are anonymised.
    """

    class Action(models.TextChoices):
        VIEW = "view", "Viewed"
        CREATE = "create", "Created"
        CHANGE = "change", "Changed"
        DELETE = "delete", "Deleted"
        EXPORT = "export", "Exported"
        LOGIN = "login", "Logged in"
        LOGIN_FAILED = "login_failed", "Login failed"
        LOCKED_OUT = "locked_out", "Locked out"
        LOGOUT = "logout", "Logged out"
        CROSS_SITE = "cross_site", "Opened another site's record"
        BREAK_GLASS = "break_glass", "Break-glass"

    at = models.DateTimeField(default=timezone.now, db_index=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+"
    )
    action = models.CharField(max_length=20, choices=Action.choices)
    object_type = models.CharField(max_length=60)
    object_id = models.CharField(max_length=40, blank=True)
    patient = models.ForeignKey(
        Patient, null=True, blank=True, on_delete=models.PROTECT, related_name="audit_events"
    )
    detail = models.CharField(max_length=255, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    # Written under a superuser's break-glass access: the reason it was given for.
    break_glass = models.ForeignKey(
        "BreakGlass",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="audit_events",
    )

    class Meta:
        ordering = ["-at"]
        indexes = [models.Index(fields=["patient", "-at"], name="audit_patient_idx")]

    def __str__(self):
        return f"{self.at:%Y-%m-%d %H:%M} {self.user} {self.action} {self.object_type}"


class BreakGlass(models.Model):
    """A superuser's break-glass access: the reason given, and the time it lasts.

    While it lasts the superuser may do a physician's clinical acts (clinic.roles); every
    request and every audit row of theirs names it. Rows are never edited; ending early
    only brings `ends_at` forward.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="break_glass_accesses"
    )
    reason = models.CharField(max_length=500, validators=[validate_no_control_characters])
    started_at = models.DateTimeField(default=timezone.now)
    ends_at = models.DateTimeField()

    class Meta:
        ordering = ["-started_at"]
        verbose_name = "break-glass access"
        verbose_name_plural = "break-glass accesses"
        constraints = [
            models.CheckConstraint(
                condition=Q(ends_at__gte=models.F("started_at")),
                name="break_glass_ends_after_start",
            ),
            models.CheckConstraint(condition=~Q(reason=""), name="break_glass_has_reason"),
        ]
        indexes = [models.Index(fields=["user", "-ends_at"], name="break_glass_user_idx")]

    def __str__(self):
        return f"{self.user} {self.started_at:%Y-%m-%d %H:%M}: {self.reason}"


class Diagnosis(models.Model):
    """An ICD-10 diagnosis the clinic refers for; a seeded list a manager extends."""

    code = models.CharField("ICD-10 code", max_length=10, unique=True)
    text = models.CharField(max_length=200)
    active = models.BooleanField(default=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["code"]
        verbose_name_plural = "diagnoses"

    def __str__(self):
        return f"{self.code} {self.text}"


class Indication(models.Model):
    """Why a patient is referred: the road to a procedure, which a booking links to."""

    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="indications")
    referrer = models.CharField(
        max_length=200, blank=True, validators=[validate_no_control_characters]
    )
    referred_on = models.DateField(null=True, blank=True)
    diagnosis = models.ForeignKey(
        Diagnosis, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    diagnosis_note = models.CharField(max_length=255, blank=True)
    symptoms_since = models.DateField("symptom start date", null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["patient", "-created_at"]

    def __str__(self):
        return str(self.diagnosis or self.diagnosis_note or "Indication")

    def clean(self):
        if self.symptoms_since and self.symptoms_since > timezone.localdate():
            raise ValidationError({"symptoms_since": "The symptoms cannot start in the future."})

    def symptom_days_on(self, day: datetime.date) -> int | None:
        """Days with symptoms on `day` (None when the start date is not known)."""
        if self.symptoms_since is None:
            return None
        return (day - self.symptoms_since).days

    @property
    def symptom_weeks(self) -> int | None:
        days = self.symptom_days_on(timezone.localdate())
        return None if days is None else days // 7


class ConservativeCare(models.Model):
    """Care tried before a procedure: physiotherapy, medication, and the like, with dates."""

    class Kind(models.TextChoices):
        PHYSIOTHERAPY = "physiotherapy", "Physiotherapy"
        MEDICATION = "medication", "Medication"
        EXERCISE = "exercise", "Home exercise"
        CHIROPRACTIC = "chiropractic", "Chiropractic / manual therapy"
        OTHER = "other", "Other"

    indication = models.ForeignKey(
        Indication, on_delete=models.CASCADE, related_name="conservative_care"
    )
    kind = models.CharField(max_length=20, choices=Kind.choices)
    detail = models.CharField(max_length=200, blank=True)
    started = models.DateField()
    ended = models.DateField(null=True, blank=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["indication", "started"]
        verbose_name_plural = "conservative care"
        constraints = [
            models.CheckConstraint(
                condition=Q(ended__isnull=True) | Q(ended__gte=models.F("started")),
                name="conservative_care_ends_after_start",
            )
        ]

    def __str__(self):
        return f"{self.get_kind_display()} from {self.started:%Y-%m-%d}"


class Imaging(models.Model):
    """Relevant imaging the referral brings: modality, date and the finding."""

    class Modality(models.TextChoices):
        MRI = "mri", "MRI"
        CT = "ct", "CT"
        XRAY = "xray", "X-ray"
        ULTRASOUND = "ultrasound", "Ultrasound"
        OTHER = "other", "Other"

    indication = models.ForeignKey(Indication, on_delete=models.CASCADE, related_name="imaging")
    modality = models.CharField(max_length=20, choices=Modality.choices)
    taken_on = models.DateField()
    finding = models.TextField(blank=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["indication", "-taken_on"]
        verbose_name_plural = "imaging"

    def __str__(self):
        return f"{self.get_modality_display()} {self.taken_on:%Y-%m-%d}"
