"""Forms and filters of the availability pages and the slot finder."""

import datetime

import django_filters
from django import forms
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from clinic.models import OpeningHours, Patient, ProcedureType, Room, Site, Weekday
from clinic.ui import DateInput, FilterForm, StyledFormMixin
from scheduling import selectors
from scheduling.filters import ScheduleDateFilter
from scheduling.forms import PhysicianChoiceField, ScheduleDateField, TimeInput
from scheduling.models import Laterality, PhysicianSession, Unavailability, validate_levels
from scheduling.rules import physician_name

User = get_user_model()

MAX_SEARCH_DAYS = 92
MAX_SLOTS = 96
DATE_ERROR = "Enter a date as YYYY-MM-DD."
TIME_ERROR = "Enter a time as HH:MM, for example 08:30."


def physician_choices(current=None):
    """Active physicians, plus the one already chosen even if no longer active."""
    if current is None:
        return selectors.physicians()
    return User.objects.filter(
        Q(pk__in=selectors.physicians().values("pk")) | Q(pk=current.pk)
    ).order_by("last_name", "first_name")


def session_problems(
    *, physician, site, weekday, starts, ends, valid_from, valid_until, exclude_pk=None
) -> list[str]:
    """Why this weekly session cannot be saved: outside the site's opening hours, or
    overlapping another session of the same physician on the same weekday."""
    day_name = Weekday(weekday).label
    hours = OpeningHours.objects.filter(site=site, weekday=weekday).first()
    problems = []
    if hours is None:
        problems.append(f"{site} is closed on {day_name}s: set its opening hours first.")
    elif starts < hours.opens or ends > hours.closes:
        problems.append(
            f"{site} is open {hours.opens:%H:%M}-{hours.closes:%H:%M} on {day_name}s: "
            "the session must fall within those hours."
        )
    clashes = (
        PhysicianSession.objects.filter(
            physician=physician, weekday=weekday, starts__lt=ends, ends__gt=starts
        )
        .filter(Q(valid_until__isnull=True) | Q(valid_until__gte=valid_from))
        .select_related("site")
        .order_by("starts")
    )
    if valid_until:
        clashes = clashes.filter(valid_from__lte=valid_until)
    if exclude_pk:
        clashes = clashes.exclude(pk=exclude_pk)
    for clash in clashes:
        problems.append(
            f"{physician_name(physician)} already has a {day_name} session "
            f"{clash.starts:%H:%M}-{clash.ends:%H:%M} at {clash.site} then."
        )
    return problems


class SessionForm(StyledFormMixin, forms.ModelForm):
    """One weekly session (editing)."""

    class Meta:
        model = PhysicianSession
        fields = ["physician", "site", "weekday", "starts", "ends", "valid_from", "valid_until"]
        field_classes = {
            "physician": PhysicianChoiceField,
            "valid_from": ScheduleDateField,
            "valid_until": ScheduleDateField,
        }
        widgets = {
            "starts": TimeInput(),
            "ends": TimeInput(),
            "valid_from": DateInput(),
            "valid_until": DateInput(),
        }
        labels = {
            "starts": "From (site-local time)",
            "ends": "Until",
            "valid_from": "First day",
            "valid_until": "Last day",
        }
        help_texts = {"valid_until": "Leave empty while the session keeps running."}
        error_messages = {
            "starts": {"invalid": TIME_ERROR},
            "ends": {"invalid": TIME_ERROR},
            "valid_from": {"invalid": DATE_ERROR},
            "valid_until": {"invalid": DATE_ERROR},
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        current = self.instance.physician if self.instance.physician_id else None
        self.fields["physician"].queryset = physician_choices(current)
        self.fields["site"].queryset = Site.objects.filter(active=True)

    def weekdays(self) -> list[int]:
        return [self.cleaned_data["weekday"]]

    def clean(self):
        data = super().clean()
        starts, ends = data.get("starts"), data.get("ends")
        valid_from, valid_until = data.get("valid_from"), data.get("valid_until")
        if starts and ends and ends <= starts:
            self.add_error("ends", "The session must end after it starts.")
        if valid_from and valid_until and valid_until < valid_from:
            self.add_error("valid_until", "The last day must be on or after the first day.")
        if self.errors or not (data.get("physician") and data.get("site")):
            return data
        for weekday in self.weekdays():
            for problem in session_problems(
                physician=data["physician"],
                site=data["site"],
                weekday=weekday,
                starts=starts,
                ends=ends,
                valid_from=valid_from,
                valid_until=valid_until,
                exclude_pk=self.instance.pk,
            ):
                self.add_error(None, problem)
        return data


class SessionCreateForm(SessionForm):
    """New sessions: the same hours on each chosen weekday."""

    weekdays_chosen = forms.TypedMultipleChoiceField(
        label="Weekdays",
        choices=Weekday.choices,
        coerce=int,
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": "Choose at least one weekday."},
    )

    class Meta(SessionForm.Meta):
        fields = ["physician", "site", "starts", "ends", "valid_from", "valid_until"]

    field_order = ["physician", "site", "weekdays_chosen"]

    def weekdays(self) -> list[int]:
        return self.cleaned_data.get("weekdays_chosen", [])

    @transaction.atomic
    def save(self, commit=True):
        template = self.instance
        sessions = []
        for weekday in self.weekdays():
            session = PhysicianSession(
                physician=template.physician,
                site=template.site,
                weekday=weekday,
                starts=template.starts,
                ends=template.ends,
                valid_from=template.valid_from,
                valid_until=template.valid_until,
            )
            session.save()
            sessions.append(session)
        return sessions


class SessionFilter(django_filters.FilterSet):
    physician = django_filters.ModelChoiceFilter(queryset=physician_choices())
    site = django_filters.ModelChoiceFilter(queryset=Site.objects.all())
    weekday = django_filters.ChoiceFilter(choices=Weekday.choices)
    current = django_filters.BooleanFilter(
        label="Running today",
        method="filter_current",
        widget=forms.Select(choices=[("", "Any"), ("true", "Yes"), ("false", "No")]),
    )

    class Meta:
        model = PhysicianSession
        form = FilterForm
        fields = ["physician", "site", "weekday"]

    def filter_current(self, queryset, name, value):
        today = timezone.localdate()
        running = Q(valid_from__lte=today) & (
            Q(valid_until__isnull=True) | Q(valid_until__gte=today)
        )
        return queryset.filter(running) if value else queryset.exclude(running)


class UnavailabilityForm(StyledFormMixin, forms.ModelForm):
    """Leave, a conference, a public holiday or a room closure, in whole days or part days.

    Times are local to the site (of the room); a physician's leave uses the clinic's zone.
    """

    first_day = ScheduleDateField(widget=DateInput(), error_messages={"invalid": DATE_ERROR})
    last_day = ScheduleDateField(
        widget=DateInput(),
        required=False,
        help_text="Leave empty for a single day.",
        error_messages={"invalid": DATE_ERROR},
    )
    from_time = forms.TimeField(
        widget=TimeInput(),
        required=False,
        label="From time on the first day",
        help_text="Leave empty to start at midnight.",
        error_messages={"invalid": TIME_ERROR},
    )
    until_time = forms.TimeField(
        widget=TimeInput(),
        required=False,
        label="Until time on the last day",
        help_text="Leave empty to include the whole last day.",
        error_messages={"invalid": TIME_ERROR},
    )

    class Meta:
        model = Unavailability
        fields = ["reason", "physician", "room", "site", "note"]
        field_classes = {"physician": PhysicianChoiceField}
        help_texts = {
            "physician": "For leave or a conference.",
            "room": "For a room closure (maintenance).",
            "site": "For a public holiday or a closure of the whole site.",
        }

    field_order = [
        "reason",
        "physician",
        "room",
        "site",
        "first_day",
        "last_day",
        "from_time",
        "until_time",
        "note",
    ]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        current = self.instance.physician if self.instance.physician_id else None
        self.fields["physician"].queryset = physician_choices(current)
        self.fields["room"].queryset = Room.objects.select_related("site")
        if self.instance.pk:
            zone = self.zone_of(self.instance.room, self.instance.site)
            starts = timezone.localtime(self.instance.starts_at, zone)
            ends = timezone.localtime(self.instance.ends_at, zone)
            whole_last_day = ends.time() == datetime.time(0)
            last_day = ends.date() - datetime.timedelta(days=1) if whole_last_day else ends.date()
            self.initial.update(
                first_day=starts.date(),
                last_day=last_day,
                from_time=None if starts.time() == datetime.time(0) else starts.time(),
                until_time=None if whole_last_day else ends.time(),
            )

    @staticmethod
    def zone_of(room, site):
        if room is not None:
            return room.site.zone
        if site is not None:
            return site.zone
        return timezone.get_default_timezone()

    def clean(self):
        data = super().clean()
        subjects = [data.get(name) for name in ("physician", "room", "site")]
        if sum(subject is not None for subject in subjects) != 1:
            return data  # the model's own check says "choose exactly one"
        physician, room, site = subjects
        if data.get("reason") == Unavailability.Reason.PUBLIC_HOLIDAY and site is None:
            self.add_error("site", "A public holiday closes a whole site: choose the site.")
        first_day = data.get("first_day")
        if first_day is None:
            return data
        last_day = data.get("last_day") or first_day
        if last_day < first_day:
            self.add_error("last_day", "The last day must be on or after the first day.")
            return data
        zone = self.zone_of(room, site)
        starts_at = datetime.datetime.combine(
            first_day, data.get("from_time") or datetime.time(0), zone
        )
        until_time = data.get("until_time")
        ends_at = (
            datetime.datetime.combine(last_day, until_time, zone)
            if until_time
            else datetime.datetime.combine(
                last_day + datetime.timedelta(days=1), datetime.time(0), zone
            )
        )
        if ends_at <= starts_at:
            self.add_error("until_time", "The end must be after the start.")
            return data
        self.instance.starts_at, self.instance.ends_at = starts_at, ends_at
        return data


class UnavailabilityFilter(django_filters.FilterSet):
    reason = django_filters.ChoiceFilter(choices=Unavailability.Reason.choices)
    physician = django_filters.ModelChoiceFilter(queryset=physician_choices())
    site = django_filters.ModelChoiceFilter(
        queryset=Site.objects.all(), method="filter_site", label="Site (or a room there)"
    )
    date_from = ScheduleDateFilter(
        label="In effect on or after", method="filter_from", widget=DateInput()
    )
    date_to = ScheduleDateFilter(
        label="In effect on or before", method="filter_to", widget=DateInput()
    )

    class Meta:
        model = Unavailability
        form = FilterForm
        fields = ["reason", "physician", "site"]

    def filter_site(self, queryset, name, value):
        return queryset.filter(Q(site=value) | Q(room__site=value))

    def filter_from(self, queryset, name, value):
        # Periods still running on or after that day (whole local days).
        return queryset.filter(
            ends_at__gt=datetime.datetime.combine(
                value, datetime.time(0), timezone.get_default_timezone()
            )
        )

    def filter_to(self, queryset, name, value):
        return queryset.filter(
            starts_at__lt=datetime.datetime.combine(
                value + datetime.timedelta(days=1),
                datetime.time(0),
                timezone.get_default_timezone(),
            )
        )


class OpeningHoursForm(StyledFormMixin, forms.Form):
    """A site's week: for each weekday, open or closed, and from when until when."""

    def __init__(self, *args, site: Site, **kwargs):
        super().__init__(*args, **kwargs)
        self.site = site
        existing = {row.weekday: row for row in site.opening_hours.all()}
        for weekday, label in Weekday.choices:
            row = existing.get(weekday)
            self.fields[f"open_{weekday}"] = forms.BooleanField(
                label=f"Open on {label}s", required=False, initial=row is not None
            )
            for name, attr in (("opens", "Opens"), ("closes", "Closes")):
                self.fields[f"{name}_{weekday}"] = forms.TimeField(
                    label=f"{attr} on {label}s",
                    required=False,
                    widget=TimeInput(),
                    initial=getattr(row, name, None),
                    error_messages={"invalid": TIME_ERROR},
                )

    def rows(self):
        """(weekday label, open field, opens field, closes field) for the template."""
        return [
            (label, self[f"open_{day}"], self[f"opens_{day}"], self[f"closes_{day}"])
            for day, label in Weekday.choices
        ]

    def clean(self):
        data = super().clean()
        for weekday, label in Weekday.choices:
            if not data.get(f"open_{weekday}"):
                continue
            opens, closes = data.get(f"opens_{weekday}"), data.get(f"closes_{weekday}")
            if f"opens_{weekday}" in self.errors or f"closes_{weekday}" in self.errors:
                continue
            if opens is None or closes is None:
                self.add_error(
                    f"opens_{weekday}" if opens is None else f"closes_{weekday}",
                    f"Enter both times for {label}, or untick it to close the site that day.",
                )
            elif closes <= opens:
                self.add_error(f"closes_{weekday}", "Closing time must be after opening time.")
        return data

    @transaction.atomic
    def save(self):
        for weekday, _label in Weekday.choices:
            data = self.cleaned_data
            if data[f"open_{weekday}"]:
                values = {"opens": data[f"opens_{weekday}"], "closes": data[f"closes_{weekday}"]}
                row = OpeningHours.objects.filter(site=self.site, weekday=weekday).first()
                if row is None:
                    OpeningHours.objects.create(site=self.site, weekday=weekday, **values)
                elif (row.opens, row.closes) != (values["opens"], values["closes"]):
                    row.opens, row.closes = values["opens"], values["closes"]
                    row.save(update_fields=["opens", "closes"])
            else:
                # Deleted one by one so each leaves a history row.
                for row in OpeningHours.objects.filter(site=self.site, weekday=weekday):
                    row.delete()

    def sessions_outside(self) -> list[PhysicianSession]:
        """Running sessions at the site that the saved hours no longer cover."""
        hours = {row.weekday: row for row in self.site.opening_hours.all()}
        today = timezone.localdate()
        sessions = (
            PhysicianSession.objects.filter(site=self.site)
            .filter(Q(valid_until__isnull=True) | Q(valid_until__gte=today))
            .select_related("physician")
        )
        return [
            session
            for session in sessions
            if session.weekday not in hours
            or session.starts < hours[session.weekday].opens
            or session.ends > hours[session.weekday].closes
        ]


class SlotSearchForm(StyledFormMixin, forms.Form):
    procedure_type = forms.ModelChoiceField(
        queryset=ProcedureType.objects.filter(active=True),
        label="Procedure",
        empty_label="Choose a procedure",
        error_messages={"required": "Choose the procedure to find a slot for."},
    )
    physician = PhysicianChoiceField(
        queryset=selectors.physicians(), required=False, empty_label="Any physician"
    )
    site = forms.ModelChoiceField(
        queryset=Site.objects.filter(active=True), required=False, empty_label="Any site"
    )
    date_from = ScheduleDateField(
        label="From", required=False, widget=DateInput(), error_messages={"invalid": DATE_ERROR}
    )
    date_to = ScheduleDateField(
        label="Until",
        required=False,
        widget=DateInput(),
        error_messages={"invalid": DATE_ERROR},
        help_text=f"At most {MAX_SEARCH_DAYS} days after the first day.",
    )
    part_of_day = forms.ChoiceField(
        label="Time of day",
        required=False,
        choices=[("", "Any time"), ("morning", "Morning"), ("afternoon", "Afternoon")],
    )
    patient = forms.ModelChoiceField(
        queryset=Patient.objects.all(),
        required=False,
        widget=forms.HiddenInput,
        error_messages={"invalid_choice": "That patient no longer exists; search again."},
    )
    limit = forms.IntegerField(
        required=False, min_value=1, max_value=MAX_SLOTS, widget=forms.HiddenInput
    )
    # Carried from a link (e.g. a recall row) for the pathway rules' slot marks.
    levels = forms.CharField(
        required=False, max_length=60, validators=[validate_levels], widget=forms.HiddenInput
    )
    laterality = forms.ChoiceField(
        required=False, choices=[("", "")] + Laterality.choices, widget=forms.HiddenInput
    )

    def clean(self):
        data = super().clean()
        date_from = data.get("date_from") or timezone.localdate()
        date_to = data.get("date_to")
        if date_to and date_to < date_from:
            self.add_error("date_to", "The last day must be on or after the first day.")
        elif date_to and (date_to - date_from).days > MAX_SEARCH_DAYS:
            self.add_error("date_to", f"Search at most {MAX_SEARCH_DAYS} days at a time.")
        data["date_from"] = date_from
        return data
