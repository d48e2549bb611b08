"""Times the slot finder and the day board on a generated busy clinic.

Builds, inside one transaction that is rolled back at the end, a clinic of four sites,
twelve procedure rooms, twelve recovery bays and twenty physicians with a few years of
history (100,000+ appointments by default) and six busy weeks ahead, then reports the
median and 95th percentile of each query. Nothing it creates is left behind, but it
loads the database heavily while it runs: point DATABASE_URL at a scratch database
(`make bench` uses clinic_bench).
"""

import datetime
import heapq
import random
import statistics
import time
from dataclasses import asdict

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from clinic.models import OpeningHours, Patient, ProcedureType, Room, Site, StaffProfile
from scheduling import rules
from scheduling.demo import PROCEDURE_WEIGHTS
from scheduling.models import (
    Appointment,
    CancelReason,
    PhysicianSession,
    Status,
    Unavailability,
)
from scheduling.slots import find_slots

PREFIX = "[bench]"
SITES = 4
PHYSICIANS_PER_SITE = 5
ROOMS = [  # name, capabilities: three procedure rooms per site
    ("Procedure 1", ["fluoroscopy", "rf_generator", "sedation"]),
    ("Procedure 2", ["fluoroscopy", "ultrasound"]),
    ("Procedure 3", ["fluoroscopy"]),
]
BAYS = ["Bay 1", "Bay 2", "Bay 3"]
OPENS, CLOSES = datetime.time(7, 30), datetime.time(17)
FUTURE_DAYS = 42
PATIENTS = 30_000  # for 100,000+ appointments; fewer for a small run
BATCH = 5_000
# The same procedure mix as the demo clinic.
WEIGHTS = PROCEDURE_WEIGHTS
INJECTIONS = [
    code
    for code in WEIGHTS
    if code
    not in {
        "vertebroplasty",
        "kyphoplasty",
        "scs-trial",
        "scs-implant",
        "intrathecal-pump",
    }
]
FIVE_MINUTES = datetime.timedelta(minutes=5)


class Rollback(Exception):
    """Raised to roll the generated clinic back once measured."""


def percentile(values, fraction):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


class Command(BaseCommand):
    help = (
        "Generate a busy clinic (rolled back afterwards) and time the slot finder and the "
        "day board on it. Use a scratch database: make bench."
    )

    def add_arguments(self, parser):
        parser.add_argument("--appointments", type=int, default=100_000, metavar="N")
        parser.add_argument("--repeat", type=int, default=25, metavar="N")
        parser.add_argument("--seed", type=int, default=7)

    def handle(self, *args, appointments, repeat, seed, **options):
        if appointments < 1 or repeat < 1:
            raise CommandError("--appointments and --repeat must be at least 1.")
        self.rng = random.Random(seed)
        self.types = {pt.code: pt for pt in ProcedureType.objects.filter(code__in=WEIGHTS)}
        if "esi-transforaminal" not in self.types:
            raise CommandError("The procedure catalogue is missing: run migrate first.")
        try:
            with transaction.atomic():
                started = time.perf_counter()
                self.build_clinic(patients=min(PATIENTS, max(2_000, appointments // 4)))
                total = self.build_appointments(appointments)
                with connection.cursor() as cursor:
                    cursor.execute("ANALYZE")
                self.stdout.write(
                    f"Generated {total:,} appointments ({Appointment.objects.count():,} in the "
                    f"database) at {SITES} sites, {SITES * len(ROOMS)} procedure rooms, "
                    f"{len(self.physicians)} physicians in {time.perf_counter() - started:.0f} s "
                    f"on {connection.vendor}."
                )
                self.measure(repeat)
                raise Rollback
        except Rollback:
            self.stdout.write("Rolled back: the generated clinic is gone.")

    # --- The clinic ----------------------------------------------------------------------

    def build_clinic(self, *, patients):
        self.today = timezone.localdate()
        self.sites = Site.objects.bulk_create(
            [Site(name=f"{PREFIX} Site {n}", time_zone="Europe/Copenhagen") for n in range(SITES)]
        )
        OpeningHours.objects.bulk_create(
            OpeningHours(site=site, weekday=day, opens=OPENS, closes=CLOSES)
            for site in self.sites
            for day in range(5)
        )
        self.rooms, self.bays = {}, {}
        for site in self.sites:
            self.rooms[site.pk] = Room.objects.bulk_create(
                Room(site=site, name=name, capabilities=caps) for name, caps in ROOMS
            )
            self.bays[site.pk] = Room.objects.bulk_create(
                Room(site=site, name=name, kind=Room.Kind.RECOVERY) for name in BAYS
            )
        User = get_user_model()
        password = make_password(None)
        self.physicians = User.objects.bulk_create(
            User(
                username=f"bench.dr{n:02d}",
                first_name="Bench",
                last_name=f"Physician {n:02d}",
                password=password,
            )
            for n in range(SITES * PHYSICIANS_PER_SITE)
        )
        profiles = StaffProfile.objects.bulk_create(
            StaffProfile(user=user, title="Physician") for user in self.physicians
        )
        self.credentials = {}
        links = []
        for n, profile in enumerate(profiles):
            codes = list(WEIGHTS) if n % 2 == 0 else INJECTIONS
            self.credentials[profile.user_id] = [c for c in codes if c in self.types]
            links += [
                StaffProfile.credentials.through(
                    staffprofile_id=profile.pk, proceduretype_id=self.types[code].pk
                )
                for code in self.credentials[profile.user_id]
            ]
        StaffProfile.credentials.through.objects.bulk_create(links)
        self.team = {
            site.pk: self.physicians[n * PHYSICIANS_PER_SITE : (n + 1) * PHYSICIANS_PER_SITE]
            for n, site in enumerate(self.sites)
        }
        PhysicianSession.objects.bulk_create(
            PhysicianSession(
                physician=physician,
                site=site,
                weekday=day,
                starts=OPENS,
                ends=CLOSES,
                valid_from=datetime.date(2000, 1, 1),
            )
            for site in self.sites
            for physician in self.team[site.pk]
            for day in range(5)
        )
        Patient.objects.bulk_create(
            (
                Patient(
                    mrn=f"BENCH-{n:06d}",
                    first_name="Bench",
                    last_name=f"Patient {n}",
                    date_of_birth=datetime.date(1940, 1, 1) + datetime.timedelta(days=n % 20000),
                )
                for n in range(patients)
            ),
            batch_size=BATCH,
        )
        self.patients = list(
            Patient.objects.filter(mrn__startswith="BENCH-").values_list("pk", flat=True)
        )

    def days(self, count):
        """Weekdays back from six weeks ahead, enough for about `count` appointments."""
        per_day = SITES * len(ROOMS) * 10  # a little under capacity: at least `count`
        needed = count // per_day + FUTURE_DAYS
        days, day = [], self.today + datetime.timedelta(days=FUTURE_DAYS)
        while len(days) < needed:
            if day.weekday() < 5:
                days.append(day)
            day -= datetime.timedelta(days=1)
        return sorted(days)

    def build_appointments(self, count) -> int:
        """Rooms run back to back; a bay is used only once its last patient has left."""
        now = timezone.now()
        batch, total = [], 0
        leave = []
        for day in self.days(count):
            ahead = (day - self.today).days
            # Busy near term, thinning out towards six weeks ahead.
            fill = 1.0 if ahead <= 10 else max(0.25, 1 - (ahead - 10) / 40)
            patients_today = set()  # nobody comes twice a day, to any site
            for site in self.sites:
                team = self.team[site.pk]
                working = self.rng.sample(team, len(ROOMS))
                away = next(p for p in team if p not in working)
                if self.rng.random() < 0.05:
                    leave.append((away, day, site))
                batch += self.site_day(site, day, working, fill, patients_today, now)
            if len(batch) >= BATCH:
                Appointment.objects.bulk_create(batch)
                total += len(batch)
                batch = []
        Appointment.objects.bulk_create(batch)
        Unavailability.objects.bulk_create(
            Unavailability(
                physician=physician,
                starts_at=datetime.datetime.combine(day, datetime.time(0), site.zone),
                ends_at=datetime.datetime.combine(
                    day + datetime.timedelta(days=1), datetime.time(0), site.zone
                ),
                reason=Unavailability.Reason.LEAVE,
            )
            for physician, day, site in leave
        )
        return total + len(batch)

    def site_day(self, site, day, working, fill, patients_today, now):
        zone = site.zone
        closes = datetime.datetime.combine(day, CLOSES, zone)
        opens = datetime.datetime.combine(day, OPENS, zone)
        bay_free = {bay.pk: opens for bay in self.bays[site.pk]}
        queue = [(opens, n) for n in range(len(ROOMS))]
        made = []
        while queue:
            starts_at, n = heapq.heappop(queue)
            room, physician = self.rooms[site.pk][n], working[n]
            codes = [
                c
                for c in self.credentials[physician.pk]
                if set(self.types[c].required_capabilities) <= set(room.capabilities)
            ]
            code = self.rng.choices(codes, weights=[WEIGHTS[c] for c in codes])[0]
            windows = rules.windows_for(self.types[code], starts_at)
            if max(windows.ends_at, windows.recovery_ends_at) > closes:
                continue  # this room's day is over
            bay = next(
                (pk for pk, free in bay_free.items() if free <= windows.recovery_starts_at), None
            )
            if bay is None:
                heapq.heappush(queue, (starts_at + 3 * FIVE_MINUTES, n))
                continue
            patient = self.rng.choice(self.patients)
            while patient in patients_today:
                patient = self.rng.choice(self.patients)
            next_start = windows.ends_at + self.rng.choice([0, 0, 0, 1, 2]) * FIVE_MINUTES
            heapq.heappush(queue, (next_start, n))
            if self.rng.random() > fill:
                continue  # left free
            patients_today.add(patient)
            bay_free[bay] = windows.recovery_ends_at
            status = self.status(windows.starts_at, now)
            made.append(
                Appointment(
                    patient_id=patient,
                    procedure_type=self.types[code],
                    physician=physician,
                    site=site,
                    room=room,
                    recovery_bay_id=bay,
                    **asdict(windows),
                    laterality="left" if self.types[code].needs_laterality else "na",
                    levels="L4-L5" if self.types[code].needs_level else "",
                    status=status,
                    cancel_reason=(
                        CancelReason.PATIENT_REQUEST if status == Status.CANCELLED else ""
                    ),
                )
            )
        return made

    def status(self, starts_at, now):
        draw = self.rng.random()
        if draw < 0.04:
            return Status.CANCELLED
        if starts_at < now:
            return Status.NO_SHOW if draw < 0.08 else Status.COMPLETED
        return Status.CONFIRMED if draw < 0.5 else Status.BOOKED

    # --- Measuring ------------------------------------------------------------------------

    def timed(self, label, repeat, run):
        run()  # warm up: connection, query plans, zoneinfo caches
        with CaptureQueriesContext(connection) as queries:
            result = run()
        times = []
        for _ in range(repeat):
            started = time.perf_counter()
            run()
            times.append((time.perf_counter() - started) * 1000)
        size = len(result) if hasattr(result, "__len__") else ""
        self.stdout.write(
            f"  {label:<58} median {statistics.median(times):7.1f} ms   "
            f"p95 {percentile(times, 0.95):7.1f} ms   {len(queries):>2} queries"
            + (f"   {size} results" if size != "" else "")
        )

    def measure(self, repeat):
        tfesi = self.types["esi-transforaminal"]
        site = self.sites[0]
        physician = self.team[site.pk][0]
        busy_patient = (
            Appointment.objects.filter(starts_at__gt=timezone.now(), site__in=self.sites)
            .order_by("starts_at")
            .values_list("patient", flat=True)
            .first()
        )
        patient = Patient.objects.get(pk=busy_patient)
        on_leave = self.team[site.pk][1]
        Unavailability.objects.create(
            physician=on_leave,
            starts_at=timezone.now(),
            ends_at=timezone.now() + datetime.timedelta(days=60),
            reason=Unavailability.Reason.LEAVE,
        )
        self.stdout.write(f"find_slots, {repeat} runs each (after one warm-up run):")
        cases = [
            ("next 10, any site and physician", {"procedure_type": tfesi}),
            (
                "next 10, one physician",
                {"procedure_type": tfesi, "physician": physician},
            ),
            (
                "next 10, one site, afternoons",
                {"procedure_type": tfesi, "site": site, "part_of_day": "afternoon"},
            ),
            ("next 10, for a patient with bookings", {"procedure_type": tfesi, "patient": patient}),
            (
                "next 10, SCS implant (sedation room only)",
                {"procedure_type": self.types["scs-implant"]},
            ),
            (
                "every slot in 28 days, any site (limit 5000)",
                {"procedure_type": tfesi, "limit": 5000},
            ),
            (
                "physician on leave all 28 days (scans all, finds none)",
                {"procedure_type": tfesi, "physician": on_leave},
            ),
        ]
        for label, kwargs in cases:
            self.timed(label, repeat, lambda kwargs=kwargs: find_slots(**kwargs))

        day_board, note = self.day_board()
        self.stdout.write(f"Day board ({note}), {repeat} runs each:")
        busiest = self.today - datetime.timedelta(days=7 + self.today.weekday())
        for label, day in (("a past Monday", busiest), ("today + 1 week", self.next_weekday(7))):
            self.timed(
                f"{label}, one site",
                repeat,
                lambda day=day: day_board(site=site, day=day),
            )

    def next_weekday(self, days):
        day = self.today + datetime.timedelta(days=days)
        while day.weekday() >= 5:
            day += datetime.timedelta(days=1)
        return day

    @staticmethod
    def day_board():
        try:
            from scheduling.selectors_board import day_board
        except ImportError:
            try:
                from scheduling.selectors import day_board
            except ImportError:
                return Command.day_query, "no day_board selector found: the day's query"
        return day_board, "scheduling day_board selector"

    @staticmethod
    def day_query(*, site, day):
        starts = datetime.datetime.combine(day, datetime.time(0), site.zone)
        return list(
            Appointment.objects.filter(
                site=site, starts_at__gte=starts, starts_at__lt=starts + datetime.timedelta(days=1)
            ).select_related("patient", "procedure_type", "physician", "room", "recovery_bay")
        )
