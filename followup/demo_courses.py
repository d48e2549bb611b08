"""The demo's story for the outcomes pages: a year of facet joint pain courses in which RFA
after two positive medial branch blocks does better than RFA without them.

Thirty patients, one course each, their RFA between about three and eleven months ago:
- A (15 courses): two medial branch blocks, both positive (>=80% relief within the block's
  duration), then RFA at the same side and level; 9 of 15 (60%) respond (>=50% relief).
- B (15 courses): RFA with no block before it, or after a single block (positive or not);
  5 of 15 (33%) respond.
Each course's appointments carry "[demo-course] A03-1" (course A03, block 1; "R" is the
RFA) in their notes; followup.demo reads the course from there when it writes the surveys.
Dealt, not drawn: the same courses on every machine for the same day, placed on weekdays,
at the site's opening hours, in the physician's session, never on a day the patient has
another appointment, and never overlapping another booking of the room, bay or physician.
"""

import datetime
import math
import random
import re
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.utils import timezone

from clinic.management.commands.seed_demo import MRN_PREFIX, RANDOM_SEED, Seeded
from clinic.models import Patient, ProcedureType, Room, Site
from scheduling import rules
from scheduling.demo import DEMO_SESSIONS, load_ledger
from scheduling.models import Appointment, Laterality, Status

COURSE_NOTE = "[demo-course]"
COURSE_COUNT = 30
# Physicians credentialed for RFA; each works the days DEMO_SESSIONS gives them.
RFA_PHYSICIANS = ("dr.holm", "dr.nielsen")
SITES = ("Aarhus Spine Centre", "Copenhagen Pain Clinic")
LEVELS = ("L4-L5", "L5-S1", "L3-L4")
SIDES = (Laterality.LEFT, Laterality.RIGHT, Laterality.BILATERAL)
START_TIMES = (datetime.time(11, 0), datetime.time(12, 30), datetime.time(10, 0))
# The clinic is closed between Christmas and New Year.
CLOSED = {(12, 24), (12, 25), (12, 26), (12, 31), (1, 1)}
NOTE_PATTERN = re.compile(r"^\[demo-course\] ([AB])(\d+)-([0-9R])")
DAY = datetime.timedelta(days=1)


@dataclass(frozen=True)
class Course:
    """One patient's course: group, index, blocks before the RFA and the RFA's result."""

    group: str
    index: int
    # (days before the RFA, positive?) per block, oldest first.
    blocks: tuple[tuple[int, bool], ...]
    profile: str

    @property
    def label(self) -> str:
        return f"{self.group}{self.index:02d}"

    @property
    def rfa_days_ago(self) -> int:
        return 95 + self.index * 8


def course(number: int) -> Course:
    """The `number`-th course (0-29): even numbers are group A, odd ones group B."""
    j = number // 2
    if number % 2 == 0:
        profile = "improves" if j % 5 in (0, 1, 2) else ("partly" if j % 2 else "unchanged")
        return Course("A", number, ((35, True), (17, True)), profile)
    blocks = () if j % 2 == 0 else ((21, j % 4 == 1),)
    profile = (
        "improves" if j % 10 in (0, 3, 6) else ("partly", "unchanged", "partly", "worse")[j % 4]
    )
    return Course("B", number, blocks, profile)


@dataclass(frozen=True)
class CourseStep:
    """What an appointment is within its course: its course and block number (0 = RFA)."""

    course: Course
    block: int

    @property
    def positive_block(self) -> bool | None:
        if self.block == 0:
            return None
        return self.course.blocks[self.block - 1][1]


def step_of(appointment) -> CourseStep | None:
    """The course step an appointment's notes name, None for other appointments."""
    match = NOTE_PATTERN.match(appointment.notes or "")
    if match is None:
        return None
    number = int(match.group(2))
    block = 0 if match.group(3) == "R" else int(match.group(3))
    return CourseStep(course(number), block)


def pain_average(patient) -> int:
    """The patient's usual pain: the same before each procedure of their course."""
    return random.Random(f"{RANDOM_SEED}-{patient.mrn}-course").randint(5, 8)


def positive_diary(pain_now: int, offsets) -> dict:
    """A diary of a block that works, for the demo's default diary times (30 min to 8 h)."""
    # At most a fifth of the pain left at one and two hours: >=80% relief at its best.
    shape = {30: 0.4, 240: 0.3, 360: 0.5}
    best = [minutes for minutes in offsets if 60 <= minutes <= 120] or list(offsets)[:1]
    return {
        str(minutes): (
            math.floor(pain_now * 0.2)
            if minutes in best
            else round(pain_now * shape.get(minutes, 0.9))
        )
        for minutes in offsets
    }


def negative_diary(pain_now: int, offsets) -> dict:
    """A diary of a block that does not: at best about half the pain relieved."""
    return {
        str(minutes): max(round(pain_now * (0.5 if minutes <= 240 else 0.8)), 1)
        for minutes in offsets
    }


def _weekday(day: datetime.date) -> datetime.date:
    """The day, or the weekday before it the clinic is open."""
    while day.weekday() >= 5 or (day.month, day.day) in CLOSED:
        day -= DAY
    return day


def _physician(site_name: str, day: datetime.date, users: dict):
    for username, weekdays in DEMO_SESSIONS.get(site_name, []):
        if username in RFA_PHYSICIANS and day.weekday() in weekdays and username in users:
            return users[username]
    return None


class Placer:
    """Finds each course a patient and times, against what is already booked."""

    def __init__(self, now):
        self.today = timezone.localdate(now)
        first = now - datetime.timedelta(days=420)
        self.ledger = load_ledger(first, now)
        self.users = {
            user.username: user
            for user in get_user_model().objects.filter(
                username__in=[*RFA_PHYSICIANS, "desk.madsen"]
            )
        }
        self.sites = {site.name: site for site in Site.objects.filter(name__in=SITES, active=True)}
        self.types = {
            pt.code: pt
            for pt in ProcedureType.objects.filter(code__in=["medial-branch-block", "rfa"])
        }
        self.rooms = {}
        for site in self.sites.values():
            rooms = Room.objects.filter(site=site, active=True).order_by("name")
            procedure = [
                room
                for room in rooms
                if room.kind == Room.Kind.PROCEDURE
                and room.has_capabilities(self.types["rfa"].required_capabilities)
            ]
            bays = [room for room in rooms if room.kind == Room.Kind.RECOVERY]
            self.rooms[site.pk] = (procedure, bays)
        self.patients = list(
            Patient.objects.filter(
                mrn__startswith=MRN_PREFIX, email_consent=True, anonymised_at__isnull=True
            ).order_by("-mrn")
        )
        self.hours = {
            site.pk: {row.weekday: row for row in site.opening_hours.all()}
            for site in self.sites.values()
        }
        self.busy_days = set()
        for patient_id, starts_at in Appointment.objects.filter(
            patient__mrn__startswith=MRN_PREFIX
        ).values_list("patient_id", "starts_at"):
            self.busy_days.add((patient_id, timezone.localdate(starts_at)))
        self.used = set()

    def ready(self) -> bool:
        return (
            len(self.sites) == len(SITES)
            and len(self.types) == 2
            and all(
                self.rooms[site.pk][0] and self.rooms[site.pk][1] for site in self.sites.values()
            )
            and set(RFA_PHYSICIANS) <= set(self.users)
        )

    def slot(self, site, day, procedure_type, patient):
        """(physician, room, bay, windows) free on `day`, or None."""
        physician = _physician(site.name, day, self.users)
        if physician is None:
            return None
        hours = self.hours[site.pk].get(day.weekday())
        if hours is None:
            return None
        closes = datetime.datetime.combine(day, hours.closes, site.zone)
        procedure_rooms, bays = self.rooms[site.pk]
        for start in START_TIMES:
            starts_at = datetime.datetime.combine(day, start, site.zone).astimezone(datetime.UTC)
            windows = rules.windows_for(procedure_type, starts_at)
            if max(windows.ends_at, windows.recovery_ends_at) > closes:
                continue
            room_time = (windows.starts_at, windows.ends_at)
            bay_time = (windows.recovery_starts_at, windows.recovery_ends_at)
            if not (
                self.ledger.free(("physician", physician.pk), *room_time)
                and self.ledger.free(("patient", patient.pk), *room_time)
                and self.ledger.free(("site", site.pk), *room_time)
            ):
                continue
            room = next(
                (r for r in procedure_rooms if self.ledger.free(("room", r.pk), *room_time)), None
            )
            bay = next((b for b in bays if self.ledger.free(("room", b.pk), *bay_time)), None)
            if room and bay:
                return physician, room, bay, windows
        return None

    def take(self, physician, room, bay, patient, windows):
        room_time = (windows.starts_at, windows.ends_at)
        for key in (("physician", physician.pk), ("patient", patient.pk), ("room", room.pk)):
            self.ledger.take(key, *room_time)
        self.ledger.take(("room", bay.pk), windows.recovery_starts_at, windows.recovery_ends_at)
        self.busy_days.add((patient.pk, timezone.localdate(windows.starts_at)))

    def days(self, plan: Course) -> list[tuple[int, datetime.date]]:
        """(block number, day) of each appointment of the course: blocks, then the RFA (0)."""
        rfa_day = _weekday(self.today - datetime.timedelta(days=plan.rfa_days_ago))
        days = [
            (number, _weekday(rfa_day - datetime.timedelta(days=before)))
            for number, (before, _positive) in enumerate(plan.blocks, start=1)
        ]
        return [*days, (0, rfa_day)]

    def place(self, plan: Course, site, rng) -> list[Appointment]:
        days = self.days(plan)
        for patient in self.patients:
            if patient.pk in self.used:
                continue
            if any((patient.pk, day) in self.busy_days for _number, day in days):
                continue
            slots = []
            for number, day in days:
                procedure_type = self.types["rfa" if number == 0 else "medial-branch-block"]
                found = self.slot(site, day, procedure_type, patient)
                if found is None:
                    break
                slots.append((number, procedure_type, found))
                self.take(*found[:3], patient, found[3])
            if len(slots) != len(days):
                # Another patient may fit; what this one took stays taken (a demo can spare it).
                continue
            self.used.add(patient.pk)
            return self.create(plan, site, patient, slots, rng)
        return []

    def create(self, plan, site, patient, slots, rng) -> list[Appointment]:
        side = SIDES[plan.index % len(SIDES)]
        level = LEVELS[(plan.index // 3) % len(LEVELS)]
        desk = self.users.get("desk.madsen")
        made = []
        for number, procedure_type, (physician, room, bay, windows) in slots:
            what = (
                "radiofrequency ablation"
                if number == 0
                else f"diagnostic medial branch block {number} of {len(plan.blocks)}"
            )
            suffix = "R" if number == 0 else str(number)
            appointment = Appointment.objects.create(
                patient=patient,
                procedure_type=procedure_type,
                physician=physician,
                site=site,
                room=room,
                recovery_bay=bay,
                starts_at=windows.starts_at,
                ends_at=windows.ends_at,
                recovery_starts_at=windows.recovery_starts_at,
                recovery_ends_at=windows.recovery_ends_at,
                laterality=side,
                levels=level,
                notes=f"{COURSE_NOTE} {plan.label}-{suffix}: facet joint pain, {what}",
                status=Status.COMPLETED,
                created_by=desk,
                updated_by=desk,
            )
            # Booked two to four weeks ahead, as the desk would have.
            booked = windows.starts_at - datetime.timedelta(days=rng.randint(14, 28), hours=3)
            Appointment.objects.filter(pk=appointment.pk).update(
                created_at=booked, updated_at=booked
            )
            made.append(appointment)
        return made


def seed_courses(now) -> Seeded:
    """The thirty courses, once: a second run finds them and makes none."""
    seeded = Seeded()
    existing = list(Appointment.objects.filter(notes__startswith=COURSE_NOTE))
    if existing:
        seeded.objects = existing
        return seeded
    placer = Placer(now)
    if not placer.ready():
        return seeded
    rng = random.Random(RANDOM_SEED + 13)
    sites = [placer.sites[name] for name in SITES]
    for number in range(COURSE_COUNT):
        plan = course(number)
        for appointment in placer.place(plan, sites[(number // 2) % len(sites)], rng):
            seeded.add(appointment, created=True)
    return seeded
