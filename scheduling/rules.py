"""The booking rules: everything that must hold for an appointment to take its time.

Each check returns refusals a front-desk clerk understands. The booking service and the
slot finder share these definitions of windows, opening hours and sessions.
"""

import datetime
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.db.models import Q
from django.utils import timezone

from clinic.models import Capability, OpeningHours, ProcedureType, Room, Site
from clinic.refusals import Reason
from scheduling.models import (
    FREED_STATUSES,
    Appointment,
    Laterality,
    PhysicianSession,
    Unavailability,
)

User = get_user_model()
# The column's size: levels are stored as normalise_levels() writes them.
LEVELS_MAX_LENGTH = Appointment._meta.get_field("levels").max_length


@dataclass(frozen=True)
class Windows:
    """The time an appointment holds: the room's, and the recovery bay's after it."""

    starts_at: datetime.datetime
    ends_at: datetime.datetime
    recovery_starts_at: datetime.datetime
    recovery_ends_at: datetime.datetime


def windows_for(
    procedure_type: ProcedureType, starts_at: datetime.datetime, room_minutes: int | None = None
) -> Windows:
    """Room from `starts_at` for setup + procedure + turnover (or `room_minutes` when a
    physician or manager overrode it); the bay from the end of the procedure for recovery."""
    minutes = room_minutes or procedure_type.room_minutes
    procedure_ends = starts_at + datetime.timedelta(
        minutes=max(minutes - procedure_type.turnover_minutes, 1)
    )
    return Windows(
        starts_at=starts_at,
        ends_at=starts_at + datetime.timedelta(minutes=minutes),
        recovery_starts_at=procedure_ends,
        recovery_ends_at=procedure_ends
        + datetime.timedelta(minutes=procedure_type.recovery_minutes),
    )


def hhmm(moment: datetime.datetime, site: Site) -> str:
    return timezone.localtime(moment, site.zone).strftime("%H:%M")


def day_and_time(moment: datetime.datetime, site: Site) -> str:
    return timezone.localtime(moment, site.zone).strftime("%a %d %b %H:%M")


def active_appointments():
    return Appointment.objects.exclude(status__in=FREED_STATUSES)


def overlapping(queryset, start_field, end_field, starts_at, ends_at):
    """Rows whose half-open [start, end) window overlaps [starts_at, ends_at)."""
    return queryset.filter(**{f"{start_field}__lt": ends_at, f"{end_field}__gt": starts_at})


def check_opening_hours(site: Site, windows: Windows) -> list[Reason]:
    local_start = timezone.localtime(windows.starts_at, site.zone)
    local_end = timezone.localtime(max(windows.ends_at, windows.recovery_ends_at), site.zone)
    weekday = local_start.strftime("%A")
    hours = OpeningHours.objects.filter(site=site, weekday=local_start.weekday()).first()
    if hours is None:
        return [Reason("closed_day", f"{site} is closed on {weekday}s.")]
    if (
        local_start.time() < hours.opens
        or local_end.date() != local_start.date()
        or local_end.time() > hours.closes
    ):
        return [
            Reason(
                "outside_opening_hours",
                f"Outside opening hours: {site} is open "
                f"{hours.opens:%H:%M}-{hours.closes:%H:%M} on {weekday}s, and this booking "
                f"(with recovery) runs {local_start:%H:%M}-{local_end:%H:%M}.",
            )
        ]
    closure = overlapping(
        Unavailability.objects.filter(site=site),
        "starts_at",
        "ends_at",
        windows.starts_at,
        windows.recovery_ends_at,
    ).first()
    if closure:
        return [
            Reason(
                "site_closed",
                f"{site} is closed then ({closure.get_reason_display()}"
                f"{': ' + closure.note if closure.note else ''}).",
            )
        ]
    return []


def check_room(
    room: Room, site: Site, procedure_type: ProcedureType, windows: Windows
) -> list[Reason]:
    if not site.active:
        return [Reason("site_inactive", f"{site} is no longer in use for bookings.")]
    if room.site_id != site.pk or room.kind != Room.Kind.PROCEDURE or not room.active:
        return [
            Reason(
                "room_unusable",
                f"{room.name} is not an active procedure room at {site}.",
            )
        ]
    missing = [
        code for code in procedure_type.required_capabilities if code not in room.capabilities
    ]
    if missing:
        labels = dict(Capability.choices)
        needs = ", ".join(labels.get(code, code) for code in missing)
        return [
            Reason(
                "room_lacks_capability",
                f"{room.name} lacks {needs}, which {procedure_type.name} needs.",
            )
        ]
    closure = overlapping(
        room.closures.all(), "starts_at", "ends_at", windows.starts_at, windows.ends_at
    ).first()
    if closure:
        return [
            Reason(
                "room_closed",
                f"{room.name} is closed then ({closure.get_reason_display()}).",
            )
        ]
    return []


def physician_name(physician) -> str:
    return physician.get_full_name() or physician.get_username()


def check_physician(
    physician, site: Site, procedure_type: ProcedureType, windows: Windows
) -> list[Reason]:
    name = physician_name(physician)
    profile = getattr(physician, "staff_profile", None)
    if profile is None or not profile.credentials.filter(pk=procedure_type.pk).exists():
        return [
            Reason(
                "physician_not_credentialed",
                f"{name} is not credentialed for {procedure_type.name}.",
            )
        ]
    local_start = timezone.localtime(windows.starts_at, site.zone)
    local_end = timezone.localtime(windows.ends_at, site.zone)
    day = local_start.date()
    session = (
        PhysicianSession.objects.filter(
            physician=physician,
            site=site,
            weekday=day.weekday(),
            starts__lte=local_start.time(),
            ends__gte=local_end.time(),
            valid_from__lte=day,
        )
        .filter(Q(valid_until__isnull=True) | Q(valid_until__gte=day))
        .exists()
    )
    if not session or local_end.date() != day:
        return [
            Reason(
                "physician_no_session",
                f"{name} has no session at {site} covering {local_start:%H:%M}-{local_end:%H:%M} "
                f"on {local_start:%A} {day:%d %b}.",
            )
        ]
    away = overlapping(
        physician.unavailabilities.all(), "starts_at", "ends_at", windows.starts_at, windows.ends_at
    ).first()
    if away:
        return [
            Reason(
                "physician_away",
                f"{name} is away then ({away.get_reason_display()}"
                f"{': ' + away.note if away.note else ''}).",
            )
        ]
    return []


def normalise_levels(levels: str) -> str:
    """ "l4-l5,L5-S1" -> "L4-L5, L5-S1": how levels are stored and shown."""
    return ", ".join(part.strip().upper() for part in levels.split(",") if part.strip())


def levels_too_long(levels: str) -> str:
    """Why the levels do not fit the column once normalised, or ""."""
    length = len(normalise_levels(levels))
    if length <= LEVELS_MAX_LENGTH:
        return ""
    return (
        f'Too many spinal levels: written as "L4-L5, L5-S1" they take {length} characters, '
        f"at most {LEVELS_MAX_LENGTH} fit. Enter the main levels and add the rest to the notes."
    )


def check_laterality_and_levels(
    procedure_type: ProcedureType, laterality: str, levels: str
) -> list[Reason]:
    refusals = []
    if procedure_type.needs_laterality and laterality == Laterality.NOT_APPLICABLE:
        refusals.append(
            Reason(
                "side_missing",
                f"Choose the side (left, right or bilateral): {procedure_type.name} needs it.",
            )
        )
    if procedure_type.needs_level and not levels.strip():
        refusals.append(
            Reason(
                "level_missing",
                f"Enter the spinal level(s), e.g. L4-L5: {procedure_type.name} needs them.",
            )
        )
    if too_long := levels_too_long(levels):
        refusals.append(Reason("levels_too_long", too_long))
    return refusals


def check_conflicts(
    *, patient, physician, room: Room, site: Site, windows: Windows, exclude_pk=None
) -> list[Reason]:
    """Overlaps with other active appointments of the same room, physician or patient."""
    others = overlapping(
        active_appointments(), "starts_at", "ends_at", windows.starts_at, windows.ends_at
    )
    if exclude_pk:
        others = others.exclude(pk=exclude_pk)
    refusals = []
    for field, label, value in (
        ("room", room.name, room),
        ("physician", physician_name(physician), physician),
        ("patient", "The patient", patient),
    ):
        clash = others.filter(**{field: value}).order_by("starts_at").first()
        if clash:
            refusals.append(
                Reason(
                    f"{field}_taken",
                    f"{label} is already booked from {day_and_time(clash.starts_at, site)} "
                    f"to {hhmm(clash.ends_at, site)}.",
                )
            )
    return refusals


def free_recovery_bays(site: Site, windows: Windows, *, exclude_pk=None):
    """The active bays at the site free for the recovery window, by name."""
    busy = overlapping(
        active_appointments().filter(recovery_bay__isnull=False),
        "recovery_starts_at",
        "recovery_ends_at",
        windows.recovery_starts_at,
        windows.recovery_ends_at,
    )
    if exclude_pk:
        busy = busy.exclude(pk=exclude_pk)
    closed = overlapping(
        Unavailability.objects.filter(room__isnull=False),
        "starts_at",
        "ends_at",
        windows.recovery_starts_at,
        windows.recovery_ends_at,
    )
    return (
        Room.objects.filter(site=site, kind=Room.Kind.RECOVERY, active=True)
        .exclude(pk__in=busy.values("recovery_bay"))
        .exclude(pk__in=closed.values("room"))
        .order_by("name")
    )


def free_recovery_bay(
    site: Site, windows: Windows, *, exclude_pk=None, preferred: Room | None = None
):
    """The preferred bay if it is free, else the first free active bay at the site, else None."""
    bays = free_recovery_bays(site, windows, exclude_pk=exclude_pk)
    if preferred is not None:
        return bays.filter(pk=preferred.pk).first()
    return bays.first()


def check_booking(
    *,
    patient,
    procedure_type: ProcedureType,
    physician,
    room: Room,
    windows: Windows,
    laterality: str = Laterality.NOT_APPLICABLE,
    levels: str = "",
    exclude_pk=None,
    now: datetime.datetime | None = None,
) -> list[Reason]:
    """Every refusal for this booking; an empty list means it may be made."""
    site = room.site
    refusals = []
    if windows.starts_at < (now or timezone.now()):
        refusals.append(Reason("in_the_past", "The start time is in the past."))
    if not procedure_type.active:
        refusals.append(
            Reason("procedure_inactive", f"{procedure_type.name} is no longer offered.")
        )
    refusals += check_laterality_and_levels(procedure_type, laterality, levels)
    refusals += check_opening_hours(site, windows)
    refusals += check_room(room, site, procedure_type, windows)
    refusals += check_physician(physician, site, procedure_type, windows)
    refusals += check_conflicts(
        patient=patient,
        physician=physician,
        room=room,
        site=site,
        windows=windows,
        exclude_pk=exclude_pk,
    )
    return refusals


# --- The procedure day: check-in and its undo --------------------------------------------


def site_today(site: Site, now: datetime.datetime | None = None) -> datetime.date:
    """Today's date where the site is, which is what "the appointment's day" is read in."""
    return timezone.localdate(now or timezone.now(), site.zone)


def is_appointment_day(appointment: Appointment, now: datetime.datetime | None = None) -> bool:
    return appointment.local_start.date() == site_today(appointment.site, now)


def check_in_day_refusal(
    appointment: Appointment, now: datetime.datetime | None = None
) -> Reason | None:
    """Why this appointment cannot be checked in now, or None: a patient is checked in on
    the day of the appointment (site-local), neither before it nor after."""
    day = appointment.local_start.date()
    today = site_today(appointment.site, now)
    when = f"{day:%a %d %b %Y} at {appointment.site}"
    if day > today:
        return Reason(
            "check_in_before_the_day",
            f"Check-in opens on the day of the appointment ({when}); today is "
            f"{today:%a %d %b}. To record that the patient will come, confirm attendance.",
        )
    if day < today:
        return Reason(
            "check_in_after_the_day",
            f"The appointment was on {when}; a patient can no longer be checked in for it. "
            "Mark a no-show or cancel it instead.",
        )
    return None
