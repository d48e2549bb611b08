"""Reads for the day board, the week board and a physician's day (read-only).

Each selector runs a fixed number of queries however many appointments the day holds (the
day board one more on a day that holds a room since moved to another site): the appointments
come in one query with everything a card shows joined in.
"""

import datetime
from dataclasses import dataclass, field

from django.utils import timezone

from clinic.compiled import Bound, CompiledQuery
from clinic.models import OpeningHours, Room, Site
from scheduling.models import FREED_STATUSES, Appointment

# Five-minute grid rows place any booking exactly; times are labelled every quarter hour.
ROW_MINUTES = 5
LABEL_MINUTES = 15
ROWS_PER_LABEL = LABEL_MINUTES // ROW_MINUTES
# Shown when the site has no opening hours that day, so a closed day still has a grid.
DEFAULT_HOURS = (datetime.time(8), datetime.time(16))
CARD_RELATIONS = ("patient", "procedure_type", "physician", "site", "room", "recovery_bay")
# The columns a day's board, its printable list and its areas' parts read (a card's times,
# status, side and level, patient, procedure and physician; the nursing part's bleeding risk):
# a busy day has dozens of rows with their patient, procedure and physician, and every other
# column costs a conversion and an attribute apiece. A column missing here is read row by
# row, which the boards' query tests catch (tests/test_hard_stop_overrides.py).
SHOWN_ON_BOARDS = (
    *("patient", "procedure_type", "physician", "site", "room", "recovery_bay"),
    *("starts_at", "ends_at", "recovery_starts_at", "recovery_ends_at", "checked_in_at"),
    *("status", "cancel_reason", "laterality", "levels", "notes"),
    *("patient__mrn", "patient__first_name", "patient__last_name", "patient__date_of_birth"),
    *("procedure_type__code", "procedure_type__name", "procedure_type__bleeding_risk"),
    *("physician__username", "physician__first_name", "physician__last_name"),
)


def card_appointments():
    return Appointment.objects.select_related(*CARD_RELATIONS).order_by("starts_at", "pk")


def local_day_bounds(day: datetime.date, zone) -> tuple[datetime.datetime, datetime.datetime]:
    """Midnight to midnight in `zone`; 23 or 25 hours long on a daylight-saving day."""
    return (
        datetime.datetime.combine(day, datetime.time(0), zone),
        datetime.datetime.combine(day + datetime.timedelta(days=1), datetime.time(0), zone),
    )


def _label(moment: datetime.datetime, zone) -> str:
    """The wall-clock time in `zone` as the boards write it: "09:15"."""
    return f"{timezone.localtime(moment, zone):%H:%M}"


def _minutes(moment: datetime.datetime, zone) -> int:
    """Wall-clock minutes since local midnight, which is what the board's rows are."""
    local = timezone.localtime(moment, zone)
    return local.hour * 60 + local.minute


@dataclass(frozen=True)
class TimeRow:
    number: int  # 1-based grid row below the header, ROW_MINUTES long
    time: datetime.time

    @property
    def is_hour(self) -> bool:
        return self.time.minute == 0

    @property
    def is_label(self) -> bool:
        return self.time.minute % LABEL_MINUTES == 0

    @property
    def label(self) -> str:
        return f"{self.time:%H:%M}"

    # The grid places by CSS grid lines; the header takes the first. Strings, because the
    # page writes hundreds of them and a template localizes every number it prints.
    @property
    def grid_line(self) -> str:
        return str(self.number + 1)

    @property
    def grid_span(self) -> str:
        """The quarter hour the row begins, as "grid-row" value."""
        return f"{self.number + 1} / span {ROWS_PER_LABEL}"


@dataclass
class Placed:
    """An appointment placed on the grid: `row` is its first time row, `span` how many;
    `starts` and `ends` the window's wall-clock times in the site's zone ("09:00")."""

    appointment: Appointment
    row: int
    span: int
    starts: str
    ends: str
    card: object = None  # what the page shows of the appointment, set by the page

    @property
    def grid_span(self) -> str:
        return f"{self.row + 1} / span {self.span}"


@dataclass
class FreeSlot:
    """A quarter hour of a room's column, within opening hours, that no booking touches."""

    row: int
    starts_at: datetime.datetime
    label: str  # its wall-clock start in the site's zone ("09:15")
    url: str = ""  # the booking page for it, set by the page

    span = ROWS_PER_LABEL

    @property
    def grid_span(self) -> str:
        return f"{self.row + 1} / span {self.span}"


@dataclass
class RoomColumn:
    room: Room
    number: int  # 1-based among the room columns
    cards: list[Placed] = field(default_factory=list)
    free: list[FreeSlot] = field(default_factory=list)

    @property
    def grid_line(self) -> str:
        return str(self.number + 1)


@dataclass
class BayLane:
    bay: Room
    number: int
    stays: list[Placed] = field(default_factory=list)

    @property
    def grid_line(self) -> str:
        return str(self.number + 1)


@dataclass
class DayBoard:
    site: Site
    day: datetime.date
    hours: OpeningHours | None
    rows: list[TimeRow]
    rooms: list[RoomColumn]
    bays: list[BayLane]
    appointments: list[Appointment]  # every appointment of the day, cancelled ones too

    @property
    def is_open(self) -> bool:
        return self.hours is not None

    @property
    def placed(self) -> list[Placed]:
        """The rooms' cards and the bays' stays."""
        return [p for c in self.rooms for p in c.cards] + [p for b in self.bays for p in b.stays]

    @property
    def label_rows(self) -> list[TimeRow]:
        return [row for row in self.rows if row.is_label]

    @property
    def hour_rows(self) -> list[TimeRow]:
        return [row for row in self.rows if row.is_hour]

    @property
    def active(self) -> list[Appointment]:
        return [a for a in self.appointments if a.status not in FREED_STATUSES]

    @property
    def freed(self) -> list[Appointment]:
        """Cancelled and no-show appointments: listed apart, their time is free again."""
        return [a for a in self.appointments if a.status in FREED_STATUSES]


def _row_range(hours, appointments, zone) -> tuple[int, int]:
    """First and last minute of the grid: opening hours, widened to fit every appointment."""
    opens, closes = (hours.opens, hours.closes) if hours else DEFAULT_HOURS
    first = opens.hour * 60 + opens.minute
    last = closes.hour * 60 + closes.minute
    for appointment in appointments:
        first = min(first, _minutes(appointment.starts_at, zone))
        end = max(appointment.ends_at, appointment.recovery_ends_at or appointment.ends_at)
        same_day = (
            timezone.localtime(end, zone).date()
            == timezone.localtime(appointment.starts_at, zone).date()
        )
        last = max(last, _minutes(end, zone) if same_day else 24 * 60)
    first -= first % LABEL_MINUTES
    last = min(last + (-last) % LABEL_MINUTES, 24 * 60)
    return first, max(last, first + LABEL_MINUTES)


def _place(appointment, starts_at, ends_at, first_minute, row_count, zone) -> Placed:
    start = max(_minutes(starts_at, zone) - first_minute, 0)
    local_start = timezone.localtime(starts_at, zone)
    local_end = timezone.localtime(ends_at, zone)
    # A window running past local midnight is cut at the end of the grid.
    end = (
        _minutes(ends_at, zone) - first_minute
        if local_end.date() == local_start.date()
        else row_count * ROW_MINUTES
    )
    row = min(start // ROW_MINUTES, row_count - 1) + 1
    span = max(-(-end // ROW_MINUTES) - (row - 1), 1)
    return Placed(
        appointment,
        row,
        min(span, row_count - row + 1),
        starts=f"{local_start:%H:%M}",
        ends=f"{local_end:%H:%M}",
    )


# The day board's three reads, the same on every request but for the site and the day:
# compiled once (clinic.compiled). The site and rooms come from their own small reads, not
# joined to every row: seven tables in one join took PostgreSQL longer to plan than to run.
_SITE = Bound("site", Site._meta.pk)
_DAYS_APPOINTMENTS = CompiledQuery(
    lambda: (
        Appointment.objects.select_related("patient", "procedure_type", "physician")
        .only(*SHOWN_ON_BOARDS)
        .filter(
            site=_SITE,
            starts_at__gte=Bound("starts", Appointment._meta.get_field("starts_at")),
            starts_at__lt=Bound("ends", Appointment._meta.get_field("starts_at")),
        )
        .order_by("starts_at", "pk")
    )
)
# One row at most (opening_hours_one_per_day): ordered by id, not by the model's ordering by
# site name, which joined the site table.
_DAYS_HOURS = CompiledQuery(
    lambda: OpeningHours.objects.filter(
        site=_SITE, weekday=Bound("weekday", OpeningHours._meta.get_field("weekday"))
    ).order_by("pk")[:1]
)
_SITES_ROOMS = CompiledQuery(lambda: Room.objects.filter(site=_SITE).order_by("kind", "name", "pk"))


def day_board(*, site: Site, day: datetime.date) -> DayBoard:
    """The site's day: procedure rooms as columns, five-minute rows, recovery bays below."""
    zone = site.zone
    day_starts, day_ends = local_day_bounds(day, zone)
    appointments = _DAYS_APPOINTMENTS(site=site.pk, starts=day_starts, ends=day_ends)
    active = [a for a in appointments if a.status not in FREED_STATUSES]
    hours = next(iter(_DAYS_HOURS(site=site.pk, weekday=day.weekday())), None)
    booked = {a.room_id for a in appointments} | {a.recovery_bay_id for a in appointments}
    # The site's rooms, and any room booked here that has since moved to another site.
    rooms = {room.pk: room for room in _SITES_ROOMS(site=site.pk)}
    moved = booked - {None} - rooms.keys()
    if moved:
        rooms.update((room.pk, room) for room in Room.objects.filter(pk__in=moved))
    for appointment in appointments:
        appointment.site = site
        appointment.room = rooms[appointment.room_id]
        appointment.recovery_bay = rooms.get(appointment.recovery_bay_id)
    # Inactive rooms still get a column on a day they hold appointments.
    used = {a.room_id for a in active} | {a.recovery_bay_id for a in active if a.recovery_bay_id}
    rooms = [r for r in rooms.values() if r.site_id == site.pk and (r.active or r.pk in used)]
    first, last = _row_range(hours, active, zone)
    row_count = (last - first) // ROW_MINUTES
    rows = [
        TimeRow(number, datetime.time(*divmod(first + (number - 1) * ROW_MINUTES, 60)))
        for number in range(1, row_count + 1)
    ]
    columns = {
        room.pk: RoomColumn(room, number)
        for number, room in enumerate((r for r in rooms if r.kind == Room.Kind.PROCEDURE), start=1)
    }
    lanes = {
        room.pk: BayLane(room, number)
        for number, room in enumerate((r for r in rooms if r.kind == Room.Kind.RECOVERY), start=1)
    }
    for appointment in active:
        if appointment.room_id in columns:
            columns[appointment.room_id].cards.append(
                _place(
                    appointment, appointment.starts_at, appointment.ends_at, first, row_count, zone
                )
            )
        if appointment.recovery_bay_id in lanes:
            lanes[appointment.recovery_bay_id].stays.append(
                _place(
                    appointment,
                    appointment.recovery_starts_at,
                    appointment.recovery_ends_at,
                    first,
                    row_count,
                    zone,
                )
            )
    if hours is not None:
        for column in columns.values():
            column.free = _free_slots(column, rows, hours, day, zone)
    return DayBoard(
        site=site,
        day=day,
        hours=hours,
        rows=rows,
        rooms=list(columns.values()),
        bays=list(lanes.values()),
        appointments=appointments,
    )


def _free_slots(column, rows, hours, day, zone) -> list[FreeSlot]:
    """The quarter hours of opening time in which the column's room holds no booking."""
    taken = set()
    for placed in column.cards:
        taken.update(range(placed.row, placed.row + placed.span))
    free = []
    for row in rows:
        if not row.is_label or not hours.opens <= row.time < hours.closes:
            continue
        if taken & set(range(row.number, row.number + ROWS_PER_LABEL)):
            continue
        starts_at = datetime.datetime.combine(day, row.time, zone)
        free.append(FreeSlot(row.number, starts_at, _label(starts_at, zone)))
    return free


@dataclass
class WeekDay:
    day: datetime.date
    hours: OpeningHours | None
    appointments: list[Appointment] = field(default_factory=list)
    free: list[tuple[Room, FreeSlot]] = field(default_factory=list)  # the first few

    @property
    def active(self) -> list[Appointment]:
        return [a for a in self.appointments if a.status not in FREED_STATUSES]

    @property
    def freed_count(self) -> int:
        return len(self.appointments) - len(self.active)


@dataclass
class WeekBoard:
    site: Site
    week_start: datetime.date
    days: list[WeekDay]

    @property
    def previous_week(self) -> datetime.date:
        return self.week_start - datetime.timedelta(days=7)

    @property
    def next_week(self) -> datetime.date:
        return self.week_start + datetime.timedelta(days=7)

    @property
    def week_end(self) -> datetime.date:
        return self.week_start + datetime.timedelta(days=6)

    @property
    def shown_days(self) -> list[WeekDay]:
        """Weekdays always; a weekend day only when the site opens or has bookings then."""
        return [d for d in self.days if d.day.weekday() < 5 or d.hours or d.appointments]


def week_board(*, site: Site, week_start: datetime.date) -> WeekBoard:
    """Monday to Sunday of the week holding `week_start`, one list of appointments a day."""
    monday = week_start - datetime.timedelta(days=week_start.weekday())
    zone = site.zone
    starts, _ = local_day_bounds(monday, zone)
    _, ends = local_day_bounds(monday + datetime.timedelta(days=6), zone)
    hours = {h.weekday: h for h in OpeningHours.objects.filter(site=site)}
    days = {
        monday + datetime.timedelta(days=offset): WeekDay(
            monday + datetime.timedelta(days=offset), hours.get(offset)
        )
        for offset in range(7)
    }
    for appointment in card_appointments().filter(
        site=site, starts_at__gte=starts, starts_at__lt=ends
    ):
        days[timezone.localtime(appointment.starts_at, zone).date()].appointments.append(
            appointment
        )
    rooms = list(Room.objects.filter(site=site, kind=Room.Kind.PROCEDURE, active=True))
    for weekday in days.values():
        weekday.free = _first_free(weekday, rooms, zone)
    return WeekBoard(site=site, week_start=monday, days=list(days.values()))


WEEK_FREE_SLOTS = 4


def _first_free(weekday: WeekDay, rooms, zone) -> list[tuple[Room, FreeSlot]]:
    """The day's first free quarter hours, any room: where the week board offers to book."""
    if weekday.hours is None:
        return []
    quarter = datetime.timedelta(minutes=LABEL_MINUTES)
    opens, closes = weekday.hours.opens, weekday.hours.closes
    start = datetime.datetime.combine(weekday.day, opens, zone)
    end = datetime.datetime.combine(weekday.day, closes, zone)
    found = []
    moment = start
    while moment < end and len(found) < WEEK_FREE_SLOTS:
        for room in rooms:
            busy = any(
                a.room_id == room.pk and a.starts_at < moment + quarter and a.ends_at > moment
                for a in weekday.active
            )
            if not busy:
                found.append((room, FreeSlot(0, moment, _label(moment, zone))))
                break
        moment += quarter
    return found


@dataclass
class PhysicianDay:
    physician: object
    day: datetime.date
    appointments: list[Appointment]

    @property
    def active(self) -> list[Appointment]:
        return [a for a in self.appointments if a.status not in FREED_STATUSES]

    @property
    def freed(self) -> list[Appointment]:
        return [a for a in self.appointments if a.status in FREED_STATUSES]


def physician_day(*, physician, day: datetime.date) -> PhysicianDay:
    """The physician's appointments on `day` at every site, each day read in its site's zone."""
    # A day is at most 26 hours from UTC midnight in any zone; the exact cut is per site.
    starts = datetime.datetime.combine(day, datetime.time(0), datetime.UTC)
    candidates = card_appointments().filter(
        physician=physician,
        starts_at__gte=starts - datetime.timedelta(hours=14),
        starts_at__lt=starts + datetime.timedelta(hours=38),
    )
    return PhysicianDay(
        physician=physician,
        day=day,
        appointments=[a for a in candidates if a.local_start.date() == day],
    )


# Areas that add to each board card (their "board_card.html" include) read what it shows
# for the whole board at once, instead of one query per card: `reader(appointments, user)`
# sets attributes on the appointments that the include then uses.
_card_readers: list = []


def register_board_card_reader(reader) -> None:
    if reader not in _card_readers:
        _card_readers.append(reader)


def board_cards_read(appointments, user) -> None:
    """Let every area read, once for all these cards, what its part of the card shows."""
    appointments = list(appointments)
    if appointments:
        for reader in _card_readers:
            reader(appointments, user)
