"""Forms of the booking pages: book, reschedule, cancel and the waitlist."""

import datetime

from django import forms
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from clinic.models import Indication, Patient, ProcedureType, Room, Site
from clinic.ui import DateInput, StyledFormMixin
from scheduling import selectors
from scheduling.dates import in_range, validate_schedule_day
from scheduling.models import CancelReason, Laterality, WaitlistEntry, validate_levels
from scheduling.rules import levels_too_long

PATHWAY_REASON_LABEL = "Reason to book despite the pathway warnings"


class TimeInput(forms.TimeInput):
    input_type = "time"

    def __init__(self, **kwargs):
        super().__init__(format="%H:%M", attrs={"step": 300}, **kwargs)


class ScheduleDateField(forms.DateField):
    """A date field that refuses days outside scheduling.dates' range with a clear message."""

    default_validators = [validate_schedule_day]
    widget = DateInput


class PhysicianChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        return obj.get_full_name() or obj.get_username()


class RoomChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        capabilities = obj.get_capabilities_display()
        return f"{obj.site.name} · {obj.name}" + (f" ({capabilities})" if capabilities else "")


def starts_at_initial(params, room: Room | None) -> dict:
    """Site-local date and time fields from an ISO 8601 `starts_at` query parameter."""
    try:
        value = parse_datetime(params.get("starts_at") or "")
    except ValueError:  # well formed but not a real moment, e.g. 30 February
        value = None
    if value is None or not in_range(value.date()):  # far-off years overflow the zone shift
        return {}
    zone = room.site.zone if room else timezone.get_current_timezone()
    if timezone.is_naive(value):
        value = value.replace(tzinfo=zone)
    local = timezone.localtime(value, zone)
    return {"date": local.date(), "time": local.time().replace(second=0, microsecond=0)}


def site_local(day: datetime.date, time: datetime.time, site: Site) -> datetime.datetime:
    return datetime.datetime.combine(day, time, site.zone)


WAITLIST_LINK_ERROR = (
    "The link to the waitlist entry was not valid, so this booking is no longer linked to it. "
    "Check the details and confirm again to book without it, or open the offer from the "
    "waitlist again."
)


class SlotFieldsMixin(forms.Form):
    """Room, physician, site-local date and time, and the room-time override."""

    room = RoomChoiceField(
        queryset=selectors.procedure_rooms(), label="Site and room", empty_label="Choose a room"
    )
    physician = PhysicianChoiceField(
        queryset=selectors.physicians(), empty_label="Choose a physician"
    )
    date = ScheduleDateField(error_messages={"invalid": "Enter a date as YYYY-MM-DD."})
    time = forms.TimeField(
        widget=TimeInput(),
        help_text="Local time at the site.",
        error_messages={"invalid": "Enter a time as HH:MM, for example 09:30."},
    )
    room_minutes = forms.IntegerField(
        label="Room time override (minutes)",
        required=False,
        min_value=5,
        max_value=600,
        help_text="Leave empty for the standard setup + procedure + turnover time.",
    )

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        if user is None or not user.has_perm("scheduling.override_duration"):
            del self.fields["room_minutes"]

    @property
    def starts_at(self) -> datetime.datetime:
        data = self.cleaned_data
        return site_local(data["date"], data["time"], data["room"].site)


PATIENT_MISSING = "Choose the patient: search by MRN, name or birth date, or register a new one."


class BookingForm(StyledFormMixin, SlotFieldsMixin, forms.Form):
    # Not required: a new patient may be registered instead (clinic.forms.NewPatientForm).
    patient = forms.ModelChoiceField(
        queryset=Patient.objects.filter(merged_into__isnull=True),
        required=False,
        empty_label="Search for the patient above",
    )
    procedure_type = forms.ModelChoiceField(
        queryset=ProcedureType.objects.filter(active=True),
        label="Procedure",
        empty_label="Choose a procedure",
    )
    # No default: "n.a." would fail the first submit of every one-sided procedure.
    laterality = forms.ChoiceField(
        label="Side",
        choices=[("", "Choose the side (n.a. if none)"), *Laterality.choices],
        required=False,
        help_text="Required for procedures done on one side.",
    )
    levels = forms.CharField(
        label="Spinal level(s)",
        max_length=60,
        required=False,
        validators=[validate_levels],
        help_text="Required for procedures at a level, e.g. L4-L5, L5-S1.",
    )
    notes = forms.CharField(
        label="Booking notes", required=False, widget=forms.Textarea(attrs={"rows": 3})
    )
    waitlist = forms.IntegerField(
        required=False,
        widget=forms.HiddenInput,
        error_messages={"invalid": WAITLIST_LINK_ERROR},
    )
    indication = forms.ModelChoiceField(
        queryset=Indication.objects.none(),
        required=False,
        label="Indication (referral)",
        empty_label="None chosen (the latest is read)",
        help_text="The patient's referrals; add one on the patient's page.",
    )
    # Shown (as a text box) only when pathway rules warned: see `ask_pathway_reason`.
    pathway_reason = forms.CharField(
        required=False, max_length=1000, widget=forms.HiddenInput, label=PATHWAY_REASON_LABEL
    )

    field_order = [
        "patient",
        "procedure_type",
        "physician",
        "room",
        "date",
        "time",
        "laterality",
        "levels",
        "notes",
        "room_minutes",
    ]

    def __init__(self, *args, new_patient=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.new_patient = new_patient
        limit_patient_choices(self)
        # Only the chosen patient's referrals are offered.
        self.fields["indication"].queryset = Indication.objects.filter(
            patient_id=_int(self["patient"].value())
        ).select_related("diagnosis")

    def ask_pathway_reason(self) -> None:
        """Pathway rules warned: show the reason box (booking anyway needs a reason)."""
        self.fields["pathway_reason"].widget = forms.Textarea(
            attrs={"rows": 2, "class": "form-control"}
        )
        self.fields[
            "pathway_reason"
        ].help_text = (
            "Book anyway only for a clinical reason; it is stored and shown on the appointment."
        )

    def clean(self):
        data = super().clean()
        new_given = self.new_patient is not None and self.new_patient.is_filled()
        if not data.get("patient") and not new_given and "patient" not in self.errors:
            self.add_error("patient", PATIENT_MISSING)
        if "laterality" in data and not data["laterality"]:
            # The booking rules refuse a missing side where the procedure needs one, at
            # the field, together with a missing level.
            data["laterality"] = Laterality.NOT_APPLICABLE
        if "waitlist" in self.errors:
            # A hidden field the user cannot fix: drop the bad value from the re-shown form so
            # that confirming again books (the message says so) instead of failing forever.
            self.data = self.data.copy()
            self.data["waitlist"] = ""
        return data

    def clean_levels(self):
        # max_length checks what was typed; the column holds the normalised, longer form.
        levels = self.cleaned_data["levels"]
        if too_long := levels_too_long(levels):
            raise forms.ValidationError(too_long, code="max_length")
        return levels

    @classmethod
    def initial_from(cls, params) -> dict:
        """The initial values a link may carry, e.g. from the slot finder or a waitlist offer."""
        initial = {
            name: params[name]
            for name in (
                "patient",
                "procedure_type",
                "physician",
                "room",
                "laterality",
                "levels",
                "notes",
                "room_minutes",
                "waitlist",
                "indication",
            )
            if params.get(name)
        }
        if "waitlist" in initial and _int(initial["waitlist"]) is None:
            del initial["waitlist"]  # the view says the link was bad
        room = Room.objects.select_related("site").filter(pk=_int(params.get("room"))).first()
        slot = starts_at_initial(params, room)
        if room and slot and "physician" not in initial:
            # A link from an empty slot of the board names the room and time: the one
            # physician in session then is the one to book.
            starts_at = site_local(slot["date"], slot["time"], room.site)
            on_duty = list(selectors.physicians_in_session(site=room.site, starts_at=starts_at)[:2])
            if len(on_duty) == 1:
                initial["physician"] = on_duty[0].pk
        return initial | slot


class RescheduleForm(StyledFormMixin, SlotFieldsMixin, forms.Form):
    @classmethod
    def initial_for(cls, appointment, params) -> dict:
        """The appointment's own slot, or the one a link (an alternative) proposes."""
        local = appointment.local_start
        initial = {
            "room": appointment.room_id,
            "physician": appointment.physician_id,
            "date": local.date(),
            "time": local.time(),
        }
        for name in ("room", "physician"):
            if params.get(name):
                initial[name] = params[name]
        room = Room.objects.select_related("site").filter(pk=_int(initial["room"])).first()
        return initial | starts_at_initial(params, room)


class DurationForm(StyledFormMixin, forms.Form):
    room_minutes = forms.IntegerField(
        label="Room time (minutes)",
        min_value=5,
        max_value=600,
        help_text="Setup, procedure and turnover together; the start stays the same.",
        error_messages={"required": "Enter the room time in minutes."},
    )


class CancelForm(StyledFormMixin, forms.Form):
    reason = forms.ChoiceField(
        choices=CancelReason.choices,
        widget=forms.RadioSelect(attrs={"class": "form-check-input"}),
        error_messages={"required": "Choose a reason for the cancellation."},
    )
    note = forms.CharField(
        label="Details",
        max_length=255,
        required=False,
        help_text="Required when the reason is 'Other'.",
    )

    def clean(self):
        data = super().clean()
        if data.get("reason") == CancelReason.OTHER and not data.get("note", "").strip():
            self.add_error("note", "Describe the reason when you choose 'Other'.")
        return data


class WaitlistForm(StyledFormMixin, forms.Form):
    patient = forms.ModelChoiceField(
        queryset=Patient.objects.all(),
        empty_label="Search for the patient above",
        error_messages={"required": "Choose the patient: search by MRN or name."},
    )
    procedure_type = forms.ModelChoiceField(
        queryset=ProcedureType.objects.filter(active=True),
        label="Procedure",
        empty_label="Choose a procedure",
    )
    physician = PhysicianChoiceField(
        queryset=selectors.physicians(),
        required=False,
        empty_label="Any physician",
        label="Preferred physician",
    )
    site = forms.ModelChoiceField(
        queryset=Site.objects.filter(active=True),
        required=False,
        empty_label="Any site",
        label="Preferred site",
    )
    earliest = ScheduleDateField(
        label="Earliest date",
        error_messages={"invalid": "Enter a date as YYYY-MM-DD."},
    )
    latest = ScheduleDateField(
        label="Latest date",
        error_messages={"invalid": "Enter a date as YYYY-MM-DD."},
    )
    part_of_day = forms.ChoiceField(
        label="Part of the day",
        choices=WaitlistEntry.PartOfDay.choices,
        initial=WaitlistEntry.PartOfDay.ANY,
    )
    notes = forms.CharField(max_length=255, required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        limit_patient_choices(self)

    def clean(self):
        data = super().clean()
        earliest, latest = data.get("earliest"), data.get("latest")
        if earliest and latest and latest < earliest:
            self.add_error("latest", "The latest date must be on or after the earliest date.")
        elif latest and latest < timezone.localdate():
            self.add_error("latest", "This window has already passed; choose a later date.")
        return data


def limit_patient_choices(form):
    """List only the chosen patient: the search box fills the list, never all patients."""
    field = form.fields["patient"]
    chosen = Patient.objects.filter(pk=_int(form["patient"].value())).first()
    field.widget.choices = [("", field.empty_label)] + (
        [(chosen.pk, str(chosen))] if chosen else []
    )


def _int(value) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
