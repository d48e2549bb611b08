"""The slot finder: the next start times at which every booking rule holds at once.

`find_slots` reads the fixed facts (sites, physicians and their credentials, opening hours,
rooms, sessions) in five queries, and the busy time (bookings, leave, closures) in two
queries per span of days: 2 days first, then spans twice as long until it has enough
slots. So a search reads no more than it needs, and its queries never grow with the number
of appointments, rooms or physicians (at most 13 for the default 28 days). Each candidate
start is then checked in memory against the rules of `scheduling.rules`: a slot it offers
is one `appointment_book` accepts. Candidates are the instants whose site-local wall-clock
time is a multiple of STEP_MINUTES; busy time is kept as sorted intervals, so each check
is a binary search.
"""

import bisect
import datetime
from collections import defaultdict
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.db.models import Q
from django.utils import timezone

from clinic.models import OpeningHours, ProcedureType, Room, Site
from scheduling.models import FREED_STATUSES, Appointment, PhysicianSession, Unavailability

STEP_MINUTES = 15
DEFAULT_DAYS = 28
# Site-local start time ranges, [from, to).
PARTS_OF_DAY = {
    "morning": (datetime.time(0), datetime.time(12)),
    "afternoon": (datetime.time(12), datetime.time.max),
}
# The rules keep an appointment inside one local opening day, so any appointment that
# overlaps the searched range started less than this before it.
LONGEST_APPOINTMENT = datetime.timedelta(days=1)
# No daylight-saving shift is longer: a local day never starts earlier than its
# midnight's UTC instant minus this.
LONGEST_CLOCK_SHIFT = datetime.timedelta(hours=3)
ONE_DAY = datetime.timedelta(days=1)
MIDNIGHT = datetime.time(0)
# Busy time is loaded for 2 days first, then for spans twice as long each time, so the
# usual search reads a few days and the longest a handful of spans.
FIRST_SPAN_DAYS = 2
EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)
MICROSECOND = datetime.timedelta(microseconds=1)


@dataclass(frozen=True)
class Slot:
    starts_at: datetime.datetime
    ends_at: datetime.datetime
    site: Site
    room: Room
    physician: object
    recovery_bay: Room


def ticks(moment: datetime.datetime) -> int:
    """Microseconds since the epoch: exact, and quick to compare and bisect."""
    return (moment - EPOCH) // MICROSECOND


def minutes(count: int) -> int:
    return count * 60_000_000


class Busy:
    """When one resource is taken: half-open [start, end) intervals in ticks.

    Only overlapping intervals are merged; touching ones stay apart so that a zero-length
    window between them tests free, exactly as the SQL overlap test in rules does.
    """

    def __init__(self, intervals=()):
        self.starts: list[int] = []
        self.ends: list[int] = []
        for start, end in sorted(intervals):
            if self.ends and start < self.ends[-1]:
                self.ends[-1] = max(self.ends[-1], end)
            else:
                self.starts.append(start)
                self.ends.append(end)

    def overlaps(self, start: int, end: int) -> bool:
        # Ends ascend, so the first interval ending after `start` has the earliest start
        # of all those that could overlap.
        index = bisect.bisect_right(self.ends, start)
        return index < len(self.starts) and self.starts[index] < end


FREE = Busy()


def grid_starts(day: datetime.date, opens: datetime.time, closes: datetime.time, zone):
    """(UTC start, site-local start) for every real instant of `day` whose local time is on
    the grid in [opens, closes): both instants of a repeated autumn hour, none of a
    skipped spring hour."""
    first = opens.hour * 60 + opens.minute
    first += -first % STEP_MINUTES
    last = closes.hour * 60 + closes.minute
    seen = set()
    for minute in range(first, last, STEP_MINUTES):
        wall = datetime.datetime.combine(day, datetime.time(*divmod(minute, 60)))
        for fold in (0, 1):
            starts_at = wall.replace(tzinfo=zone, fold=fold).astimezone(datetime.UTC)
            local_start = starts_at.astimezone(zone)
            if local_start.replace(tzinfo=None) == wall and starts_at not in seen:
                seen.add(starts_at)
                yield starts_at, local_start


@dataclass
class Bookings:
    """Busy time over a span of days: bookings, leave and closures."""

    site_busy: dict  # site id -> Busy (closures)
    room_busy: dict  # room id -> Busy (bookings and closures; a bay's recovery windows)
    physician_busy: dict  # physician id -> Busy (bookings and leave)
    patient_busy: Busy


@dataclass
class Calendar:
    """What the rules look at for one procedure type, apart from the busy time."""

    procedure_type: ProcedureType
    sites: list
    physicians: list
    patient: object
    hours: dict  # (site id, weekday) -> (opens, closes)
    rooms: dict  # site id -> capable procedure rooms, in order of preference
    bays: dict  # site id -> recovery bays, by name
    sessions: dict  # (physician id, site id, weekday) -> [(starts, ends, from, until)]

    @classmethod
    def load(cls, *, procedure_type, sites, physician, patient, date_from, date_to):
        User = get_user_model()
        credentialed = User.objects.filter(staff_profile__credentials=procedure_type)
        if physician is not None:
            physicians = [physician] if credentialed.filter(pk=physician.pk).exists() else []
        else:
            physicians = list(
                credentialed.filter(is_active=True).order_by("last_name", "first_name", "pk")
            )
        sessions = defaultdict(list)
        for row in (
            PhysicianSession.objects.filter(
                physician__in=[user.pk for user in physicians],
                site__in=[site.pk for site in sites],
                valid_from__lte=date_to,
            )
            .filter(Q(valid_until__isnull=True) | Q(valid_until__gte=date_from))
            .values_list(
                "physician_id", "site_id", "weekday", "starts", "ends", "valid_from", "valid_until"
            )
        ):
            sessions[row[:3]].append(row[3:])
        # Only sites where one of the physicians works can offer a slot.
        staffed = {site_id for _physician, site_id, _weekday in sessions}
        sites = [site for site in sites if site.pk in staffed]
        site_ids = [site.pk for site in sites]
        hours = {
            (row.site_id, row.weekday): (row.opens, row.closes)
            for row in OpeningHours.objects.filter(site__in=site_ids)
        }
        by_id = {site.pk: site for site in sites}
        rooms, bays = defaultdict(list), defaultdict(list)
        for room in Room.objects.filter(site__in=site_ids, active=True).order_by("name", "pk"):
            room.site = by_id[room.site_id]
            if room.kind == Room.Kind.RECOVERY:
                bays[room.site_id].append(room)
            elif room.has_capabilities(procedure_type.required_capabilities):
                rooms[room.site_id].append(room)
        return cls(
            procedure_type=procedure_type,
            sites=sites,
            physicians=physicians,
            patient=patient,
            hours=hours,
            rooms=rooms,
            bays=bays,
            sessions=sessions,
        )

    def bookings(self, first_day: datetime.date, last_day: datetime.date) -> Bookings:
        """Busy time of these sites, rooms, physicians and patient on these days (2 queries)."""
        site_ids = [site.pk for site in self.sites]
        physician_ids = [user.pk for user in self.physicians]
        bay_ids = {room.pk for site_bays in self.bays.values() for room in site_bays}
        room_ids = {room.pk for rooms in self.rooms.values() for room in rooms} | bay_ids
        from_moment = (
            min(datetime.datetime.combine(first_day, MIDNIGHT, site.zone) for site in self.sites)
            - LONGEST_CLOCK_SHIFT
        )
        until_moment = (
            max(
                datetime.datetime.combine(last_day + ONE_DAY, MIDNIGHT, site.zone)
                for site in self.sites
            )
            + LONGEST_CLOCK_SHIFT
        )
        site_intervals = defaultdict(list)
        room_intervals = defaultdict(list)
        physician_intervals = defaultdict(list)
        patient_intervals = []
        unavailable = Unavailability.objects.filter(
            Q(site__in=site_ids) | Q(room__in=room_ids) | Q(physician__in=physician_ids),
            starts_at__lt=until_moment,
            ends_at__gt=from_moment,
        ).values_list("site_id", "room_id", "physician_id", "starts_at", "ends_at")
        for site_id, room_id, physician_id, starts_at, ends_at in unavailable:
            window = (ticks(starts_at), ticks(ends_at))
            if site_id:
                site_intervals[site_id].append(window)
            elif room_id:
                room_intervals[room_id].append(window)
            else:
                physician_intervals[physician_id].append(window)

        # Every room and bay belongs to one of the sites, and an appointment's site is its
        # room's (and its bay's), so the site filter finds all their bookings on an index.
        holders = Q(site__in=site_ids) | Q(physician__in=physician_ids)
        patient_id = self.patient.pk if self.patient is not None else None
        if patient_id is not None:
            holders |= Q(patient=patient_id)
        booked = (
            Appointment.objects.exclude(status__in=FREED_STATUSES)
            .filter(holders)
            .filter(starts_at__lt=until_moment, starts_at__gt=from_moment - LONGEST_APPOINTMENT)
            .values_list(
                "room_id",
                "recovery_bay_id",
                "physician_id",
                "patient_id",
                "starts_at",
                "ends_at",
                "recovery_starts_at",
                "recovery_ends_at",
            )
        )
        for room_id, bay_id, physician_id, patient_of, starts, ends, rec_starts, rec_ends in booked:
            window = (ticks(starts), ticks(ends))
            if room_id in room_ids:
                room_intervals[room_id].append(window)
            if bay_id in bay_ids:
                room_intervals[bay_id].append((ticks(rec_starts), ticks(rec_ends)))
            physician_intervals[physician_id].append(window)
            if patient_of == patient_id:
                patient_intervals.append(window)
        return Bookings(
            site_busy={key: Busy(value) for key, value in site_intervals.items()},
            room_busy={key: Busy(value) for key, value in room_intervals.items()},
            physician_busy={key: Busy(value) for key, value in physician_intervals.items()},
            patient_busy=Busy(patient_intervals),
        )

    def working(self, site: Site, day: datetime.date) -> list:
        """(physician, [(starts, ends)]) of each physician with a session there that day."""
        found = []
        for physician in self.physicians:
            spans = [
                (starts, ends)
                for starts, ends, valid_from, valid_until in self.sessions.get(
                    (physician.pk, site.pk, day.weekday()), ()
                )
                if valid_from <= day and (valid_until is None or valid_until >= day)
            ]
            if spans:
                found.append((physician, spans))
        return found

    def day_slots(self, site: Site, day: datetime.date, busy: Bookings, *, now, part_of_day):
        """The free slots of one site-local day, earliest first."""
        hours = self.hours.get((site.pk, day.weekday()))
        rooms, bays = self.rooms.get(site.pk), self.bays.get(site.pk)
        working = self.working(site, day)
        if not (hours and rooms and bays and working):
            return
        procedure_type = self.procedure_type
        zone = site.zone
        opens, closes = hours
        room_time = datetime.timedelta(minutes=procedure_type.room_minutes)
        procedure_time = datetime.timedelta(
            minutes=max(procedure_type.room_minutes - procedure_type.turnover_minutes, 1)
        )
        held_time = max(
            room_time, procedure_time + datetime.timedelta(minutes=procedure_type.recovery_minutes)
        )
        room_span = minutes(procedure_type.room_minutes)
        recovery_offset = procedure_time // MICROSECOND
        recovery_span = minutes(procedure_type.recovery_minutes)
        part = PARTS_OF_DAY.get(part_of_day)
        site_busy = busy.site_busy.get(site.pk, FREE)
        # Each resource's busy time, looked up once per day rather than per candidate.
        bay_busy = [(bay, busy.room_busy.get(bay.pk, FREE)) for bay in bays]
        room_busy = [(room, busy.room_busy.get(room.pk, FREE)) for room in rooms]
        physician_busy = [
            (physician, spans, busy.physician_busy.get(physician.pk, FREE))
            for physician, spans in working
        ]
        for starts_at, local_start in grid_starts(day, opens, closes, zone):
            if starts_at < now or (part and not part[0] <= local_start.time() < part[1]):
                continue
            local_end = (starts_at + held_time).astimezone(zone)
            if local_end.date() != day or local_end.time() > closes:
                continue
            start = ticks(starts_at)
            room_end = start + room_span
            recovery_start = start + recovery_offset
            recovery_end = recovery_start + recovery_span
            if site_busy.overlaps(start, recovery_end):
                continue
            if busy.patient_busy.overlaps(start, room_end):
                continue
            bay = next(
                (
                    bay
                    for bay, taken in bay_busy
                    if not taken.overlaps(recovery_start, recovery_end)
                ),
                None,
            )
            if bay is None:
                continue
            local_room_end = (starts_at + room_time).astimezone(zone)
            if local_room_end.date() != day:
                continue
            start_time, room_end_time = local_start.time(), local_room_end.time()
            for physician, spans, away in physician_busy:
                if not any(s <= start_time and room_end_time <= e for s, e in spans):
                    continue
                if away.overlaps(start, room_end):
                    continue
                room = next(
                    (room for room, taken in room_busy if not taken.overlaps(start, room_end)),
                    None,
                )
                if room is not None:
                    yield Slot(starts_at, starts_at + room_time, site, room, physician, bay)
                    break


def find_slots(
    *,
    procedure_type: ProcedureType,
    site: Site | None = None,
    physician=None,
    patient=None,
    date_from: datetime.date | None = None,
    date_to: datetime.date | None = None,
    part_of_day: str | None = None,
    limit: int = 10,
    now: datetime.datetime | None = None,
) -> list[Slot]:
    """Up to `limit` free slots, earliest first, at most one per start time.

    Days are site-local and `date_to` is included (default: `DEFAULT_DAYS` after
    `date_from`, which defaults to today). Where several sites, physicians or rooms are
    free at the same instant, the first site by name, physician by name, room by name
    and recovery bay by name is offered.
    """
    now = now or timezone.now()
    date_from = date_from or timezone.localdate()
    date_to = date_to or date_from + datetime.timedelta(days=DEFAULT_DAYS)
    if limit <= 0 or date_to < date_from or not procedure_type.active:
        return []
    if site is not None and not site.active:
        return []  # the booking rules refuse a site no longer in use
    sites = [site] if site else list(Site.objects.filter(active=True).order_by("name", "pk"))
    if not sites:
        return []
    calendar = Calendar.load(
        procedure_type=procedure_type,
        sites=sites,
        physician=physician,
        patient=patient,
        date_from=date_from,
        date_to=date_to,
    )
    sites = calendar.sites
    if not sites:
        return []
    found: dict[datetime.datetime, tuple[int, Slot]] = {}
    day, span = date_from, FIRST_SPAN_DAYS
    while day <= date_to:
        last_day = min(day + datetime.timedelta(days=span - 1), date_to)
        busy = calendar.bookings(day, last_day)
        span *= 2
        while day <= last_day:
            for rank, each_site in enumerate(sites):
                for slot in calendar.day_slots(
                    each_site, day, busy, now=now, part_of_day=part_of_day
                ):
                    if slot.starts_at not in found or found[slot.starts_at][0] > rank:
                        found[slot.starts_at] = (rank, slot)
            day += ONE_DAY
            if enough(found, limit, day, sites):
                return [found[start][1] for start in sorted(found)[:limit]]
    return [found[start][1] for start in sorted(found)[:limit]]


def enough(found: dict, limit: int, next_day: datetime.date, sites) -> bool:
    """True once `limit` slots start before any site's `next_day` can."""
    if len(found) < limit:
        return False
    last = sorted(found)[limit - 1]
    starts = min(datetime.datetime.combine(next_day, MIDNIGHT, site.zone) for site in sites)
    return last < starts - LONGEST_CLOCK_SHIFT
