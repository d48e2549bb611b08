"""Demo data of scheduling for `seed_demo`: sessions, exceptions and three weeks of bookings.

Idempotent: sessions and public holidays are looked up by their natural keys; the dated
examples (a conference, a room closure) and the appointments are only made while no demo
appointment exists (their notes start with DEMO_NOTE). Appointments are packed in memory
against the same rules the booking service applies, so none overlaps another in room,
physician, patient or recovery bay, and each sits inside opening hours and a session.
"""

import datetime
import random
from collections import defaultdict
from dataclasses import asdict

from django.contrib.auth import get_user_model
from django.utils import timezone
from simple_history.utils import bulk_create_with_history

from clinic.management.commands.seed_demo import MRN_PREFIX, RANDOM_SEED, Seeded, upsert
from clinic.models import Patient, ProcedureType, Room, Site
from scheduling import rules
from scheduling.models import (
    FREED_STATUSES,
    Appointment,
    AppointmentEvent,
    Laterality,
    PhysicianSession,
    Status,
    Unavailability,
)

DEMO_NOTE = "[demo]"
DAYS_AROUND_TODAY = 10  # three weeks: ten days back, today, ten days ahead
PER_SITE_DAY = (8, 15)
SESSIONS_VALID_FROM = datetime.date(2024, 1, 1)
STEP = datetime.timedelta(minutes=15)
FRONT_DESK_USER = "desk.madsen"
# The shortest time between two of the same procedure for one patient in the demo.
REPEAT_GAP = datetime.timedelta(days=14)
# How long before the day an appointment was booked, in days.
BOOKED_AHEAD = (3, 30)

# Site name -> (physician username, weekdays); each works the site's opening hours.
DEMO_SESSIONS = {
    "Aarhus Spine Centre": [
        ("dr.holm", [0, 1, 2]),
        ("dr.nielsen", [3, 4]),
        ("dr.larsen", range(5)),
    ],
    "Copenhagen Pain Clinic": [
        ("dr.nielsen", [0, 1, 2]),
        ("dr.holm", [3, 4]),
        ("dr.okafor", range(5)),
    ],
}
# How often each procedure is booked, relative to the others.
PROCEDURE_WEIGHTS = {
    "esi-transforaminal": 18,
    "esi-interlaminar": 10,
    "esi-caudal": 5,
    "facet-injection": 10,
    "medial-branch-block": 12,
    "rfa": 10,
    "si-joint-injection": 10,
    "nerve-root-block": 8,
    "peripheral-nerve-block": 6,
    "discography": 2,
    "epiduroscopy": 2,
    "percutaneous-discectomy": 2,
    "vertebroplasty": 2,
    "kyphoplasty": 1,
    "scs-trial": 2,
    "scs-implant": 1,
    "intrathecal-pump": 1,
}
LEVELS = {
    "cervical": ["C5-C6", "C6-C7", "C4-C5"],
    "thoracic": ["T12", "T11", "T7-T8"],
    "lumbar": ["L4-L5", "L5-S1", "L3-L4", "L4-L5, L5-S1", "L1"],
    "sacral": ["S1", "L5-S1"],
}
BOOKING_NOTES = [
    "Referred by GP",
    "Repeat after good response last time",
    "Prefers morning appointments",
    "Needs interpreter",
    "Bring latest MRI",
    "Escort home arranged",
]


def christmas_holidays(today: datetime.date) -> list[tuple[datetime.date, str]]:
    """The next Danish Christmas and New Year public holidays."""
    year = today.year if today <= datetime.date(today.year, 12, 26) else today.year + 1
    return [
        (datetime.date(year, 12, 25), "Christmas Day"),
        (datetime.date(year, 12, 26), "Second Day of Christmas"),
        (datetime.date(year + 1, 1, 1), "New Year's Day"),
    ]


def whole_days(first: datetime.date, days: int, zone):
    return (
        datetime.datetime.combine(first, datetime.time(0), zone),
        datetime.datetime.combine(first + datetime.timedelta(days=days), datetime.time(0), zone),
    )


def seed_sessions(sites: dict, users: dict) -> Seeded:
    seeded = Seeded()
    for site_name, plan in DEMO_SESSIONS.items():
        site = sites.get(site_name)
        if site is None:
            continue
        hours = {row.weekday: row for row in site.opening_hours.all()}
        for username, weekdays in plan:
            physician = users.get(username)
            for weekday in weekdays:
                if physician is None or weekday not in hours:
                    continue
                upsert(
                    PhysicianSession,
                    {
                        "physician": physician,
                        "site": site,
                        "weekday": weekday,
                        "starts": hours[weekday].opens,
                    },
                    {
                        "ends": hours[weekday].closes,
                        "valid_from": SESSIONS_VALID_FROM,
                        "valid_until": None,
                    },
                    seeded,
                )
    return seeded


def seed_holidays(sites: dict, today: datetime.date) -> Seeded:
    seeded = Seeded()
    for site in sites.values():
        for day, name in christmas_holidays(today):
            starts_at, ends_at = whole_days(day, 1, site.zone)
            upsert(
                Unavailability,
                {"site": site, "starts_at": starts_at, "reason": "public_holiday"},
                {"ends_at": ends_at, "note": name},
                seeded,
            )
    return seeded


def seed_examples(sites: dict, users: dict, today: datetime.date) -> Seeded:
    """A conference next week and a room closed for maintenance one afternoon."""
    seeded = Seeded()
    next_monday = today + datetime.timedelta(days=7 - today.weekday())
    aarhus, copenhagen = sites.get("Aarhus Spine Centre"), sites.get("Copenhagen Pain Clinic")
    if "dr.larsen" in users and aarhus:
        starts_at, ends_at = whole_days(next_monday + datetime.timedelta(days=3), 2, aarhus.zone)
        seeded.add(
            Unavailability.objects.create(
                physician=users["dr.larsen"],
                starts_at=starts_at,
                ends_at=ends_at,
                reason=Unavailability.Reason.CONFERENCE,
                note="EUROSPINE congress",
            ),
            created=True,
        )
    room = Room.objects.filter(site=copenhagen, name="Procedure B").first()
    if room:
        tuesday = next_monday + datetime.timedelta(days=1)
        seeded.add(
            Unavailability.objects.create(
                room=room,
                starts_at=datetime.datetime.combine(tuesday, datetime.time(12), room.site.zone),
                ends_at=datetime.datetime.combine(tuesday, datetime.time(17), room.site.zone),
                reason=Unavailability.Reason.MAINTENANCE,
                note="Ultrasound machine service",
            ),
            created=True,
        )
    return seeded


class Ledger:
    """Busy time per resource, for packing appointments without overlaps."""

    def __init__(self):
        self.busy = defaultdict(list)

    def free(self, key, starts_at, ends_at) -> bool:
        return all(end <= starts_at or start >= ends_at for start, end in self.busy[key])

    def take(self, key, starts_at, ends_at):
        self.busy[key].append((starts_at, ends_at))


def load_ledger(first: datetime.datetime, last: datetime.datetime) -> Ledger:
    """What is already taken in the window: bookings, leave and closures."""
    ledger = Ledger()
    for appointment in Appointment.objects.exclude(status__in=FREED_STATUSES).filter(
        starts_at__lt=last, ends_at__gt=first
    ):
        window = (appointment.starts_at, appointment.ends_at)
        ledger.take(("room", appointment.room_id), *window)
        ledger.take(("physician", appointment.physician_id), *window)
        ledger.take(("patient", appointment.patient_id), *window)
        if appointment.recovery_bay_id:
            ledger.take(
                ("room", appointment.recovery_bay_id),
                appointment.recovery_starts_at,
                appointment.recovery_ends_at,
            )
    for away in Unavailability.objects.filter(starts_at__lt=last, ends_at__gt=first):
        if away.physician_id:
            key = ("physician", away.physician_id)
        elif away.room_id:
            key = ("room", away.room_id)
        else:
            key = ("site", away.site_id)
        ledger.take(key, away.starts_at, away.ends_at)
    return ledger


def status_for(rng, starts_at, ends_at, now) -> str:
    if ends_at <= now and timezone.localdate(starts_at) < timezone.localdate(now):
        return Status.NO_SHOW if rng.random() < 0.08 else Status.COMPLETED
    if ends_at <= now:
        return Status.COMPLETED
    if starts_at <= now:
        return Status.CHECKED_IN
    if starts_at - now < datetime.timedelta(days=2):
        return Status.CONFIRMED
    return Status.CONFIRMED if rng.random() < 0.4 else Status.BOOKED


def side_and_levels(rng, procedure_type) -> tuple[str, str]:
    laterality = Laterality.NOT_APPLICABLE
    if procedure_type.needs_laterality:
        laterality = rng.choices(
            [Laterality.LEFT, Laterality.RIGHT, Laterality.BILATERAL], weights=[45, 45, 10]
        )[0]
    levels = ""
    if procedure_type.needs_level:
        regions = [r for r in procedure_type.regions if r in LEVELS] or ["lumbar"]
        levels = rng.choice(LEVELS[rng.choice(regions)])
    return laterality, levels


class Packer:
    """Places demo appointments one site-day at a time, obeying the booking rules."""

    def __init__(self, *, rng, ledger, patients, credentials, now):
        self.rng, self.ledger, self.patients, self.now = rng, ledger, patients, now
        self.credentials = credentials  # physician id -> ids of procedure types
        self.types = {pt.code: pt for pt in ProcedureType.objects.filter(active=True)}
        self.appointments: list[Appointment] = []
        # Each patient's booked days, per procedure type: one visit a day, and a procedure
        # not repeated within REPEAT_GAP (no two caudal ESIs on consecutive days).
        self.visits = defaultdict(set)
        self.repeats = defaultdict(list)

    def fits_patient(self, patient, procedure_type, day) -> bool:
        if day in self.visits[patient.pk]:
            return False
        done = self.repeats[patient.pk, procedure_type.pk]
        return all(abs((day - other).days) >= REPEAT_GAP.days for other in done)

    def site_day(self, site, day, hours, sessions, rooms, bays):
        zone = site.zone
        closes = datetime.datetime.combine(day, hours.closes, zone)
        cursors = {}
        for session in sessions:
            start = datetime.datetime.combine(day, session.starts, zone)
            cursors[session] = start + self.rng.choice([0, 0, 1]) * STEP
        target = self.rng.randint(*PER_SITE_DAY)
        placed = 0
        while cursors and placed < target:
            session = min(cursors, key=lambda s: (cursors[s], s.pk))
            starts_at = cursors[session]
            session_end = datetime.datetime.combine(day, session.ends, zone)
            if starts_at >= min(session_end, closes):
                del cursors[session]
                continue
            taken = self.place(site, session.physician, starts_at, session_end, closes, rooms, bays)
            if taken:
                placed += 1
                cursors[session] = (
                    taken.ends_at.astimezone(zone) + self.rng.choice([0, 0, 0, 1]) * STEP
                )
            else:
                cursors[session] = starts_at + STEP

    def place(self, site, physician, starts_at, session_end, closes, rooms, bays):
        codes = [
            code
            for code in PROCEDURE_WEIGHTS
            if code in self.types and self.types[code].pk in self.credentials[physician.pk]
        ]
        if not codes:
            return None
        procedure_type = self.types[
            self.rng.choices(codes, weights=[PROCEDURE_WEIGHTS[c] for c in codes])[0]
        ]
        day = starts_at.astimezone(site.zone).date()
        windows = rules.windows_for(procedure_type, starts_at.astimezone(datetime.UTC))
        held_until = max(windows.ends_at, windows.recovery_ends_at)
        ledger = self.ledger
        if windows.ends_at > session_end or held_until > closes:
            return None
        if not ledger.free(("site", site.pk), windows.starts_at, windows.recovery_ends_at):
            return None
        if not ledger.free(("physician", physician.pk), windows.starts_at, windows.ends_at):
            return None
        room = next(
            (
                room
                for room in rooms
                if room.has_capabilities(procedure_type.required_capabilities)
                and ledger.free(("room", room.pk), windows.starts_at, windows.ends_at)
            ),
            None,
        )
        bay = next(
            (
                bay
                for bay in bays
                if ledger.free(
                    ("room", bay.pk), windows.recovery_starts_at, windows.recovery_ends_at
                )
            ),
            None,
        )
        candidates = self.rng.sample(self.patients, min(8, len(self.patients)))
        patient = next(
            (
                p
                for p in candidates
                if ledger.free(("patient", p.pk), windows.starts_at, windows.ends_at)
                and self.fits_patient(p, procedure_type, day)
            ),
            None,
        )
        if room is None or bay is None or patient is None:
            return None
        for key in (("room", room.pk), ("physician", physician.pk), ("patient", patient.pk)):
            ledger.take(key, windows.starts_at, windows.ends_at)
        ledger.take(("room", bay.pk), windows.recovery_starts_at, windows.recovery_ends_at)
        self.visits[patient.pk].add(day)
        self.repeats[patient.pk, procedure_type.pk].append(day)
        laterality, levels = side_and_levels(self.rng, procedure_type)
        appointment = Appointment(
            patient=patient,
            procedure_type=procedure_type,
            physician=physician,
            site=site,
            room=room,
            recovery_bay=bay,
            **asdict(windows),
            laterality=laterality,
            levels=levels,
            notes=f"{DEMO_NOTE} {self.rng.choice(BOOKING_NOTES)}",
            status=status_for(self.rng, windows.starts_at, windows.ends_at, self.now),
        )
        if appointment.status in (Status.CHECKED_IN, Status.COMPLETED):
            # Arrived half an hour early, after confirming by phone.
            appointment.checked_in_at = windows.starts_at - datetime.timedelta(minutes=30)
            appointment.checked_in_from = Status.CONFIRMED
        self.appointments.append(appointment)
        return appointment


def seed_appointments(sites: dict, physicians: list, desk, today: datetime.date) -> Seeded:
    """About 8-15 appointments per site per open weekday, ten days either side of today."""
    rng = random.Random(RANDOM_SEED)
    now = timezone.now()
    patients = list(Patient.objects.filter(mrn__startswith=MRN_PREFIX).order_by("mrn"))
    if not (patients and sites and physicians):
        return Seeded()
    first_day = today - datetime.timedelta(days=DAYS_AROUND_TODAY)
    days = [first_day + datetime.timedelta(days=n) for n in range(2 * DAYS_AROUND_TODAY + 1)]
    zones = [site.zone for site in sites.values()]
    ledger = load_ledger(
        min(whole_days(days[0], 1, zone)[0] for zone in zones),
        max(whole_days(days[-1], 1, zone)[1] for zone in zones),
    )
    by_id = {user.pk: user for user in physicians}
    credentials = {
        user.pk: {pt.pk for pt in user.staff_profile.credentials.all()} for user in physicians
    }
    packer = Packer(rng=rng, ledger=ledger, patients=patients, credentials=credentials, now=now)
    for site in sorted(sites.values(), key=lambda s: s.name):
        hours = {row.weekday: row for row in site.opening_hours.all()}
        rooms = list(site.rooms.filter(active=True, kind=Room.Kind.PROCEDURE).order_by("name"))
        bays = list(site.rooms.filter(active=True, kind=Room.Kind.RECOVERY).order_by("name"))
        site_sessions = list(
            PhysicianSession.objects.filter(site=site, physician__in=by_id).order_by("pk")
        )
        for session in site_sessions:
            session.physician = by_id[session.physician_id]
        for day in days:
            if day.weekday() not in hours:
                continue
            sessions = [
                session
                for session in site_sessions
                if session.weekday == day.weekday()
                and session.valid_from <= day
                and (session.valid_until is None or session.valid_until >= day)
            ]
            packer.site_day(site, day, hours[day.weekday()], sessions, rooms, bays)

    for appointment in packer.appointments:
        appointment.created_by = appointment.updated_by = desk
    bulk_create_with_history(packer.appointments, Appointment, batch_size=500, default_user=desk)
    saved = list(
        Appointment.objects.filter(notes__startswith=DEMO_NOTE).select_related(
            "site", "room", "procedure_type"
        )
    )
    AppointmentEvent.objects.bulk_create(
        [
            AppointmentEvent(
                appointment=appointment,
                at=min(
                    appointment.starts_at - datetime.timedelta(days=rng.randint(*BOOKED_AHEAD)),
                    now,
                ),
                user=desk,
                kind=AppointmentEvent.Kind.BOOKED,
                to_status=Status.BOOKED,
                detail=(
                    f"{appointment.procedure_type.name}, "
                    f"{rules.day_and_time(appointment.starts_at, appointment.site)}, "
                    f"{appointment.room.name}"
                ),
            )
            for appointment in saved
        ],
        batch_size=500,
    )
    return Seeded(objects=saved, created=len(saved))


def seed() -> dict[str, Seeded]:
    users = {
        user.username: user
        for user in get_user_model()
        .objects.filter(staff_profile__is_demo=True)
        .select_related("staff_profile")
        .prefetch_related("staff_profile__credentials")
    }
    sites = {
        site.name: site
        for site in Site.objects.filter(name__in=DEMO_SESSIONS).prefetch_related("opening_hours")
    }
    today = timezone.localdate()
    results = {
        "sessions": seed_sessions(sites, users),
        "holidays": seed_holidays(sites, today),
    }
    existing = Appointment.objects.filter(notes__startswith=DEMO_NOTE)
    if existing.exists():
        results["leave/closures"] = Seeded()
        results["appointments"] = Seeded(objects=list(existing))
        return results
    physicians = [
        users[username]
        for plan in DEMO_SESSIONS.values()
        for username, _weekdays in plan
        if username in users
    ]
    results["leave/closures"] = seed_examples(sites, users, today)
    results["appointments"] = seed_appointments(
        sites, list(dict.fromkeys(physicians)), users.get(FRONT_DESK_USER), today
    )
    return results


def seed_late() -> dict[str, Seeded]:
    """Every demo appointment booked before anything happened to it.

    Other areas' demos add appointments of their own (earlier procedures, today's recovery
    board) as they would be on the day, with no booking: each gets its "Booked" event days
    ahead, and every demo appointment's creation time (and first history row) is its
    booking's, never the moment the demo was seeded.
    """
    now = timezone.now()
    rng = random.Random(RANDOM_SEED + 7)
    desk = get_user_model().objects.filter(username=FRONT_DESK_USER).first()
    demo = Appointment.objects.filter(patient__mrn__startswith=MRN_PREFIX).select_related(
        "site", "room", "procedure_type"
    )
    events = defaultdict(list)
    for event in AppointmentEvent.objects.filter(appointment__in=demo).order_by("at"):
        events[event.appointment_id].append(event)
    new_events, changed, created = [], [], {}
    for appointment in demo.order_by("pk"):
        booked = next(
            (e for e in events[appointment.pk] if e.kind == AppointmentEvent.Kind.BOOKED), None
        )
        if booked is None:
            ahead = datetime.timedelta(days=rng.randint(*BOOKED_AHEAD))
            firsts = [appointment.starts_at - ahead, now]
            firsts += [e.at for e in events[appointment.pk]]
            booked = AppointmentEvent(
                appointment=appointment,
                at=min(firsts),
                user=desk,
                kind=AppointmentEvent.Kind.BOOKED,
                to_status=Status.BOOKED,
                detail=(
                    f"{appointment.procedure_type.name}, "
                    f"{rules.day_and_time(appointment.starts_at, appointment.site)}, "
                    f"{appointment.room.name}"
                ),
            )
            new_events.append(booked)
        if appointment.created_at > booked.at:
            appointment.created_at = booked.at
            changed.append(appointment)
        created[appointment.pk] = appointment.created_at
    AppointmentEvent.objects.bulk_create(new_events, batch_size=500)
    Appointment.objects.bulk_update(changed, ["created_at"], batch_size=500)
    # The history's creation row says when the appointment was made, too.
    History = Appointment.history.model
    first_rows = [
        row
        for row in History.objects.filter(id__in=created, history_type="+").only(
            "history_id", "id", "history_date"
        )
        if row.history_date > created[row.id]
    ]
    for row in first_rows:
        row.history_date = created[row.id]
    History.objects.bulk_update(first_rows, ["history_date"], batch_size=500)
    return {"booking dates": Seeded(objects=changed, updated=len(changed))}
