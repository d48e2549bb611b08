"""Reads of scheduling for the booking pages, the appointment list and the waitlist."""

import datetime
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.db.models import Q, QuerySet
from django.utils import timezone

from clinic.models import ProcedureType, Room, Site
from clinic.roles import Role, acting_roles, group_name, roles_of
from clinic.selectors import field_by_key
from scheduling import rules
from scheduling.models import (
    FREED_STATUSES,
    MOVABLE_STATUSES,
    TRANSITIONS,
    Appointment,
    AppointmentEvent,
    PhysicianSession,
    Status,
    WaitlistEntry,
)
from scheduling.slots import PARTS_OF_DAY

User = get_user_model()

# Who may move an appointment into each status. The front desk runs the booking side,
# nurses and physicians the procedure day; managers and admins may do everything.
BOOKING_ROLES = frozenset({Role.FRONT_DESK, Role.MANAGER, Role.ADMIN})
CLINICAL_ROLES = frozenset({Role.NURSE, Role.PHYSICIAN, Role.MANAGER, Role.ADMIN})
STATUS_ROLES: dict[str, frozenset] = {
    Status.REQUESTED: BOOKING_ROLES,
    Status.BOOKED: BOOKING_ROLES,
    Status.CONFIRMED: BOOKING_ROLES,
    Status.CANCELLED: BOOKING_ROLES,
    Status.NO_SHOW: BOOKING_ROLES,
    Status.CHECKED_IN: BOOKING_ROLES | {Role.NURSE, Role.PHYSICIAN},
    Status.IN_PROCEDURE: CLINICAL_ROLES,
    Status.IN_RECOVERY: CLINICAL_ROLES,
    Status.DISCHARGED: CLINICAL_ROLES,
    Status.COMPLETED: CLINICAL_ROLES,
}


# A mistaken check-in is taken back by those who check patients in at the desk and the
# unit, and by managers and admins.
UNDO_CHECK_IN_ROLES = frozenset({Role.FRONT_DESK, Role.NURSE, Role.MANAGER, Role.ADMIN})


def may_set_status(user, status: str) -> bool:
    if not user.is_authenticated or not user.has_perm("scheduling.change_appointment"):
        return False
    # By role only: a superuser without one is not a clinician (nor the front desk), except
    # as a physician while its break-glass access lasts (clinic.roles.acting_roles).
    return bool(acting_roles(user) & STATUS_ROLES.get(status, set()))


def may_book(user) -> bool:
    """Booking, rescheduling and cancelling are the front desk's (and managers') work."""
    return user.has_perms(["scheduling.add_appointment", "scheduling.change_appointment"])


def status_moves_for(*, user, appointment: Appointment, now=None) -> list[str]:
    """The next statuses this user may set from the appointment's status, lifecycle order.

    Cancelling needs a reason, so it is offered as its own page, not among these moves;
    a no-show is only offered once the start time has passed, a check-in only on the
    appointment's day.
    """
    now = now or timezone.now()
    moves = []
    for status in Status.values:
        if status not in TRANSITIONS[appointment.status] or status == Status.CANCELLED:
            continue
        if status == Status.NO_SHOW and appointment.starts_at > now:
            continue
        if status == Status.CHECKED_IN and not rules.is_appointment_day(appointment, now):
            continue
        if may_set_status(user, status):
            moves.append(status)
    return moves


def may_undo_check_in_as(user) -> bool:
    """The role may undo check-ins (whether this one may be undone is may_undo_check_in)."""
    if not user.is_authenticated or not user.has_perm("scheduling.change_appointment"):
        return False
    return bool(roles_of(user) & UNDO_CHECK_IN_ROLES)


def may_undo_check_in(*, user, appointment: Appointment, now=None) -> bool:
    """Offered while the patient is just checked in, on the appointment's day."""
    return (
        appointment.status == Status.CHECKED_IN
        and rules.is_appointment_day(appointment, now)
        and may_undo_check_in_as(user)
    )


def check_in_waits_for_the_day(*, user, appointment: Appointment, now=None) -> bool:
    """The appointment could be checked in by this user, but not before its day comes."""
    return (
        Status.CHECKED_IN in TRANSITIONS[appointment.status]
        and may_set_status(user, Status.CHECKED_IN)
        and appointment.local_start.date() > rules.site_today(appointment.site, now)
    )


def may_reschedule(*, user, appointment: Appointment) -> bool:
    return appointment.status in MOVABLE_STATUSES and may_book(user)


def may_cancel(*, user, appointment: Appointment) -> bool:
    return Status.CANCELLED in TRANSITIONS[appointment.status] and may_book(user)


def appointment_list() -> QuerySet:
    return Appointment.objects.select_related(
        "patient", "procedure_type", "physician", "site", "room"
    )


def appointment_list_rows() -> QuerySet:
    """The appointments as the appointments list shows them (scheduling.tables.AppointmentTable),
    the procedure's and the room's names by key (`field_by_key`)."""
    return (
        Appointment.objects.select_related("patient", "physician", "site")
        .annotate(
            procedure_type_name=field_by_key(ProcedureType, "name", "procedure_type"),
            room_name=field_by_key(Room, "name", "room"),
        )
        .only(*APPOINTMENT_LIST_FIELDS)
    )


# What the list and its CSV show of an appointment: without the notes, histories and JSON
# of the five rows behind each line, a page of rows is built in half the time.
APPOINTMENT_LIST_FIELDS = [
    "starts_at",
    "ends_at",
    "laterality",
    "levels",
    "status",
    "procedure_type",
    "room",
    "patient__mrn",
    "patient__first_name",
    "patient__last_name",
    "physician__username",
    "physician__first_name",
    "physician__last_name",
    "site__name",
    "site__time_zone",
]


def appointments_on_days(queryset: QuerySet, *, first=None, last=None, zone=None) -> QuerySet:
    """Appointments starting on the days `first`..`last` (either may be open) in `zone`.

    A range on `starts_at` from local midnight to local midnight, not `starts_at__date`:
    the range can use the index that starts with `starts_at`, the date of every row cannot.
    `zone` is the site's when the list is of one site, else the clinic's (TIME_ZONE).
    """
    zone = zone or timezone.get_current_timezone()
    if first is not None:
        queryset = queryset.filter(
            starts_at__gte=datetime.datetime.combine(first, datetime.time(0), zone)
        )
    if last is not None:
        following = last + datetime.timedelta(days=1)
        queryset = queryset.filter(
            starts_at__lt=datetime.datetime.combine(following, datetime.time(0), zone)
        )
    return queryset


def appointment_get(*, pk: int) -> Appointment:
    return Appointment.objects.select_related(
        "patient",
        "procedure_type",
        "physician",
        "site",
        "room",
        "recovery_bay",
        "created_by",
        "updated_by",
    ).get(pk=pk)


def physicians() -> QuerySet:
    return (
        User.objects.filter(is_active=True, groups__name=group_name(Role.PHYSICIAN))
        .order_by("last_name", "first_name")
        .distinct()
    )


def physicians_in_session(*, site: Site, starts_at: datetime.datetime) -> QuerySet:
    """The physicians whose session at `site` covers the site-local time `starts_at`."""
    local = timezone.localtime(starts_at, site.zone)
    day = local.date()
    sessions = PhysicianSession.objects.filter(
        site=site,
        weekday=day.weekday(),
        starts__lte=local.time(),
        ends__gt=local.time(),
        valid_from__lte=day,
    ).filter(Q(valid_until__isnull=True) | Q(valid_until__gte=day))
    return physicians().filter(pk__in=sessions.values("physician"))


def procedure_rooms() -> QuerySet:
    return Room.objects.filter(
        kind=Room.Kind.PROCEDURE, active=True, site__active=True
    ).select_related("site")


@dataclass(frozen=True)
class FieldChange:
    field: str
    old: str
    new: str


@dataclass(frozen=True)
class HistoryEntry:
    at: datetime.datetime
    user: object
    kind: str
    changes: list[FieldChange]


# Fields whose history is noise next to the events (timestamps) or shown elsewhere.
HISTORY_SKIPPED_FIELDS = ["updated_at", "created_at", "updated_by", "created_by"]


def appointment_events(*, appointment: Appointment) -> list[AppointmentEvent]:
    return list(appointment.events.select_related("user"))


def pathway_overrides(*, appointment: Appointment) -> list:
    """The pathway warnings this booking went ahead despite, with the reason given."""
    return list(appointment.pathway_overrides.select_related("by"))


def appointment_field_history(*, appointment: Appointment) -> list[HistoryEntry]:
    """Each saved version's field changes (django-simple-history), newest first, readable."""
    records = list(appointment.history.select_related("history_user").order_by("history_id"))
    if not records:
        return []
    zone = appointment.site.zone
    names = _related_names(records)
    entries = []
    for previous, record in zip([None, *records], records, strict=False):
        if previous is None:
            changes = [FieldChange("status", "", record.get_status_display())]
        else:
            delta = record.diff_against(previous, excluded_fields=HISTORY_SKIPPED_FIELDS)
            changes = [
                FieldChange(
                    Appointment._meta.get_field(change.field).verbose_name,
                    _readable(change.field, change.old, names, zone),
                    _readable(change.field, change.new, names, zone),
                )
                for change in delta.changes
            ]
        if changes:
            entries.append(
                HistoryEntry(
                    at=record.history_date,
                    user=record.history_user,
                    kind=record.get_history_type_display(),
                    changes=changes,
                )
            )
    return entries[::-1]


def _related_names(records) -> dict[tuple[str, int], str]:
    """Names of the rooms, physicians and sites the history mentions, in three queries."""
    ids: dict[str, set] = {"room": set(), "physician": set(), "site": set()}
    for record in records:
        ids["room"].update(filter(None, (record.room_id, record.recovery_bay_id)))
        ids["physician"].add(record.physician_id)
        ids["site"].add(record.site_id)
    names = {("room", room.pk): room.name for room in Room.objects.filter(pk__in=ids["room"])}
    names |= {
        ("physician", user.pk): user.get_full_name() or user.get_username()
        for user in User.objects.filter(pk__in=ids["physician"])
    }
    names |= {("site", site.pk): site.name for site in Site.objects.filter(pk__in=ids["site"])}
    return names


def _readable(field: str, value, names, zone) -> str:
    if value in (None, ""):
        return "—"
    if field in ("room", "recovery_bay"):
        return names.get(("room", value), str(value))
    if field in ("physician", "site"):
        return names.get((field, value), str(value))
    if isinstance(value, datetime.datetime):
        return timezone.localtime(value, zone).strftime("%Y-%m-%d %H:%M")
    model_field = Appointment._meta.get_field(field)
    if model_field.choices:
        return str(dict(model_field.flatchoices).get(value, value))
    return str(value)


# What the patient page's rows show: whole rows cost more to build than to read.
PATIENT_PAGE_FIELDS = [
    "starts_at",
    "ends_at",
    "status",
    "laterality",
    "levels",
    "procedure_type__name",
    "physician__first_name",
    "physician__last_name",
    "physician__username",
    "site__name",
    "site__time_zone",
    "room__name",
]


def patient_appointments(*, patient, now=None) -> dict[str, list[Appointment]]:
    """The patient's appointments: upcoming (soonest first) and the last 50 past (latest
    first), in one query."""
    now = now or timezone.now()
    mine = Appointment.objects.filter(patient=patient)
    latest_past = mine.filter(ends_at__lt=now).order_by("-starts_at").values("pk")[:50]
    appointments = (
        mine.filter(Q(ends_at__gte=now) | Q(pk__in=latest_past))
        .select_related("procedure_type", "physician", "site", "room")
        .only(*PATIENT_PAGE_FIELDS)
        .order_by("starts_at", "pk")
    )
    upcoming, past = [], []
    for appointment in appointments:
        (upcoming if appointment.ends_at >= now else past).append(appointment)
    return {"upcoming": upcoming, "past": past[::-1]}


def waitlist_entries() -> QuerySet:
    return WaitlistEntry.objects.select_related(
        "patient", "procedure_type", "physician", "site", "appointment"
    )


def waitlist_matches(*, appointment: Appointment) -> list[WaitlistEntry]:
    """Waiting entries the freed time of a cancelled or no-show appointment would suit.

    Same procedure type, a window containing the freed (site-local) date, the physician
    and site if the entry names them, and the part of the day if it names one.
    """
    if appointment.status not in FREED_STATUSES:
        return []
    local_start = appointment.local_start
    day = local_start.date()
    entries = (
        waitlist_entries()
        .filter(
            state=WaitlistEntry.State.WAITING,
            procedure_type=appointment.procedure_type_id,
            earliest__lte=day,
            latest__gte=day,
        )
        .filter(Q(physician__isnull=True) | Q(physician=appointment.physician_id))
        .filter(Q(site__isnull=True) | Q(site=appointment.site_id))
        .exclude(patient=appointment.patient_id)
        .order_by("created_at")
    )
    return [
        entry
        for entry in entries
        if entry.part_of_day == WaitlistEntry.PartOfDay.ANY
        or PARTS_OF_DAY[entry.part_of_day][0]
        <= local_start.time()
        < PARTS_OF_DAY[entry.part_of_day][1]
    ]
