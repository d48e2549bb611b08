"""Builds a demo clinic: two sites with rooms, demo staff in every role, and patients.

Idempotent: every object is looked up by its natural key (site name, site and room name,
username, MRN), so a second run creates nothing and changes nothing. Patient data comes
from a seeded random generator, so every run (and every machine) gets the same patients.

Each part is a module-level function returning a dict of label -> Seeded, so later
seeding (appointments, follow-ups...) can add a function and reuse what came before.
Demo accounts carry StaffProfile.is_demo and are refused outside debug mode by
clinic.auth_backends.ClinicModelBackend; this command refuses to run there at all.
"""

import datetime
import random
import unicodedata
from dataclasses import dataclass, field

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction
from simple_history.utils import bulk_create_with_history

from clinic.areas import area_modules
from clinic.models import (
    Allergy,
    Capability,
    Medication,
    OpeningHours,
    Patient,
    ProcedureType,
    Room,
    Site,
    StaffProfile,
    Weekday,
)
from clinic.roles import ADMIN_SITE_ROLES, Role, group_name

DEMO_PASSWORD = "demo-clinic-2026"
RANDOM_SEED = 20261123
DEFAULT_PATIENT_COUNT = 200
MRN_PREFIX = "DEMO-"

# --- Sites and rooms --------------------------------------------------------------------

T = datetime.time
MON_FRI = [Weekday.MONDAY, Weekday.TUESDAY, Weekday.WEDNESDAY, Weekday.THURSDAY, Weekday.FRIDAY]
FLUORO = Capability.FLUOROSCOPY
RF = Capability.RF_GENERATOR
SEDATION = Capability.SEDATION
ULTRASOUND = Capability.ULTRASOUND

DEMO_SITES = [
    {
        "name": "Aarhus Spine Centre",
        "address": "Palle Juul-Jensens Boulevard 99\n8200 Aarhus N\nDenmark",
        "phone": "+45 86 12 34 00",
        "time_zone": "Europe/Copenhagen",
        "hours": {day: (T(7, 30), T(16, 0)) for day in MON_FRI},
        "rooms": [
            ("Procedure 1", Room.Kind.PROCEDURE, [FLUORO, RF, SEDATION]),
            ("Procedure 2", Room.Kind.PROCEDURE, [FLUORO, ULTRASOUND]),
            ("Recovery bay 1", Room.Kind.RECOVERY, []),
            ("Recovery bay 2", Room.Kind.RECOVERY, []),
        ],
    },
    {
        "name": "Copenhagen Pain Clinic",
        "address": "Nørre Allé 14\n2200 København N\nDenmark",
        "phone": "+45 33 45 67 00",
        "time_zone": "Europe/Copenhagen",
        "hours": {
            **{day: (T(8, 0), T(17, 0)) for day in MON_FRI[:4]},
            Weekday.FRIDAY: (T(8, 0), T(14, 0)),
        },
        "rooms": [
            ("Procedure A", Room.Kind.PROCEDURE, [FLUORO, SEDATION, RF]),
            ("Procedure B", Room.Kind.PROCEDURE, [ULTRASOUND]),
            ("Recovery bay A", Room.Kind.RECOVERY, []),
            ("Recovery bay B", Room.Kind.RECOVERY, []),
        ],
    },
]

# --- Staff ------------------------------------------------------------------------------

ALL_PROCEDURES = "all"
INJECTIONS_ONLY = "injections"
NOT_INJECTIONS = ["vertebroplasty", "kyphoplasty"]  # besides the implant category

# username, first name, last name, role, title, credentials
DEMO_STAFF = [
    ("dr.holm", "Mette", "Holm", Role.PHYSICIAN, "Consultant in pain medicine", ALL_PROCEDURES),
    ("dr.nielsen", "Anders", "Nielsen", Role.PHYSICIAN, "Consultant spine surgeon", ALL_PROCEDURES),
    ("dr.okafor", "Grace", "Okafor", Role.PHYSICIAN, "Consultant anaesthetist", INJECTIONS_ONLY),
    ("dr.larsen", "Jonas", "Larsen", Role.PHYSICIAN, "Specialist registrar", INJECTIONS_ONLY),
    ("nurse.jensen", "Camilla", "Jensen", Role.NURSE, "Charge nurse", None),
    ("nurse.hansen", "Lars", "Hansen", Role.NURSE, "Registered nurse", None),
    ("nurse.pedersen", "Sofie", "Pedersen", Role.NURSE, "Anaesthesia nurse", None),
    ("nurse.brown", "Emily", "Brown", Role.NURSE, "Registered nurse", None),
    ("nurse.andersen", "Ida", "Andersen", Role.NURSE, "Recovery nurse", None),
    ("nurse.taylor", "James", "Taylor", Role.NURSE, "Registered nurse", None),
    ("desk.madsen", "Louise", "Madsen", Role.FRONT_DESK, "Medical secretary", None),
    ("desk.wilson", "Olivia", "Wilson", Role.FRONT_DESK, "Receptionist", None),
    ("manager", "Henrik", "Kristensen", Role.MANAGER, "Clinic manager", None),
    ("admin", "Sarah", "Mitchell", Role.ADMIN, "System administrator", None),
]

# Every demo login, as (role label, username), in role order; printed by `runclinic`.
_ROLE_ORDER = [Role.FRONT_DESK, Role.NURSE, Role.PHYSICIAN, Role.MANAGER, Role.ADMIN]
DEMO_LOGINS = [
    (group_name(role), username)
    for role in _ROLE_ORDER
    for username, _first, _last, staff_role, _title, _creds in DEMO_STAFF
    if staff_role == role
]

# --- Patients ---------------------------------------------------------------------------


def _words(text: str) -> list[str]:
    return text.split()


FEMALE, MALE = Patient.Sex.FEMALE, Patient.Sex.MALE
FIRST_NAMES = {
    "da": {
        FEMALE: _words(
            "Anne Mette Kirsten Hanne Susanne Lene Camilla Sofie Ida Freja Birgitte Karen Inger "
            "Signe Marianne"
        ),
        MALE: _words(
            "Jens Peter Lars Henrik Søren Niels Anders Mikkel Rasmus Frederik Morten Thomas Ole "
            "Bent Jørgen"
        ),
    },
    "en": {
        FEMALE: _words(
            "Emma Olivia Sarah Emily Charlotte Grace Hannah Lucy Rachel Helen Margaret Susan "
            "Claire Rebecca Jessica"
        ),
        MALE: _words(
            "James John David Michael William Thomas Daniel Matthew Andrew Richard George Paul "
            "Mark Simon Christopher"
        ),
    },
}
LAST_NAMES = {
    "da": _words(
        "Jensen Nielsen Hansen Pedersen Andersen Christensen Larsen Sørensen Rasmussen Jørgensen "
        "Petersen Madsen Kristensen Olsen Thomsen Christiansen Poulsen Johansen Møller Mortensen "
        "Knudsen Jakobsen Mikkelsen Frederiksen Holm Lund Schmidt Eriksen Dahl Bech"
    ),
    "en": _words(
        "Smith Jones Taylor Brown Williams Wilson Johnson Davies Robinson Wright Thompson Evans "
        "Walker White Roberts Green Hall Wood Jackson Clarke Hughes Edwards Turner Harris Martin "
        "Cooper Hill Ward Morris Baker"
    ),
}
SPINAL_HISTORIES = [
    "L4-L5 disc herniation with left L5 radiculopathy",
    "L5-S1 disc herniation with right S1 radiculopathy",
    "Lumbar facet arthropathy",
    "Spinal stenosis L3-L5",
    "Failed back surgery syndrome after L5-S1 fusion",
    "Right sacroiliac joint dysfunction",
    "Left sacroiliac joint dysfunction",
    "Osteoporotic T12 compression fracture",
    "Osteoporotic L1 compression fracture",
    "C5-C6 disc herniation with right C6 radiculopathy",
    "Cervical facet arthropathy C4-C6",
    "Degenerative disc disease L4-S1",
    "Degenerative spondylolisthesis L4-L5",
    "CRPS left foot",
    "Post-herpetic neuralgia T6 dermatome",
]
A = Medication.Agent
# agent, brand or name as the patient takes it, dose
ANTITHROMBOTICS = [
    (A.APIXABAN, "Eliquis", "5 mg twice daily"),
    (A.APIXABAN, "Eliquis", "2.5 mg twice daily"),
    (A.RIVAROXABAN, "Xarelto", "20 mg once daily"),
    (A.WARFARIN, "Marevan", "2.5 mg daily, dose adjusted to INR"),
    (A.CLOPIDOGREL, "Plavix", "75 mg once daily"),
    (A.ASPIRIN, "Hjertemagnyl", "75 mg once daily"),
]
# probability, agent, name, dose
OTHER_MEDICATIONS = [
    (0.50, A.OTHER, "Panodil (paracetamol)", "1 g four times daily"),
    (0.25, A.NSAID, "Ibuprofen", "400 mg three times daily"),
    (0.20, A.OTHER, "Lyrica (pregabalin)", "75 mg twice daily"),
    (0.10, A.OPIOID, "Tramadol", "50 mg up to four times daily as needed"),
    (0.10, A.ORAL_ANTIDIABETIC, "Metformin", "1 g twice daily"),
    (0.04, A.INSULIN, "Lantus (insulin glargine)", "20 units at night"),
]
K, S = Allergy.Kind, Allergy.Severity
# kind, substance, reaction, severity
ALLERGIES = [
    (K.CONTRAST, "Iodinated contrast (iohexol)", "Urticaria", S.MODERATE),
    (K.IODINE, "Povidone-iodine", "Skin rash", S.MILD),
    (K.LATEX, "Latex", "Contact dermatitis", S.MODERATE),
    (K.LOCAL_ANAESTHETIC, "Lidocaine", "Facial swelling", S.SEVERE),
    (K.STEROID, "Methylprednisolone", "Flushing and rash", S.MILD),
    (K.OTHER, "Penicillin", "Rash", S.MODERATE),
    (K.OTHER, "Penicillin", "Anaphylaxis", S.SEVERE),
]
DOB_FIRST = datetime.date(1940, 1, 1)
DOB_DAYS = (datetime.date(2000, 12, 31) - DOB_FIRST).days


@dataclass
class Seeded:
    """What one part of the seeding made: the objects, and how many were new or updated."""

    objects: list = field(default_factory=list)
    created: int = 0
    updated: int = 0
    skipped: list = field(default_factory=list)

    def add(self, obj, created=False, updated=False):
        self.objects.append(obj)
        self.created += created
        self.updated += updated and not created
        return obj

    @property
    def existing(self) -> int:
        return len(self.objects) - self.created

    def __add__(self, other: "Seeded") -> "Seeded":
        return Seeded(
            objects=self.objects + other.objects,
            created=self.created + other.created,
            updated=self.updated + other.updated,
            skipped=self.skipped + other.skipped,
        )


def upsert(model, lookup: dict, values: dict, seeded: Seeded):
    """Get or create by `lookup`; on an existing row save only the fields that differ.

    Unlike update_or_create this writes nothing (and adds no history row) when the row
    already holds `values`, which keeps a second run a true no-op.
    """
    obj, created = model.objects.get_or_create(**lookup, defaults=values)
    changed = [] if created else [k for k, v in values.items() if getattr(obj, k) != v]
    for name in changed:
        setattr(obj, name, values[name])
    if changed:
        obj.save(update_fields=changed)
    return seeded.add(obj, created=created, updated=bool(changed))


def seed_sites() -> dict[str, Seeded]:
    """The two demo sites with their opening hours, procedure rooms and recovery bays."""
    sites, hours, rooms = Seeded(), Seeded(), Seeded()
    for spec in DEMO_SITES:
        site = upsert(
            Site,
            {"name": spec["name"]},
            {
                "address": spec["address"],
                "phone": spec["phone"],
                "time_zone": spec["time_zone"],
                "active": True,
            },
            sites,
        )
        for weekday, (opens, closes) in spec["hours"].items():
            upsert(
                OpeningHours,
                {"site": site, "weekday": weekday},
                {"opens": opens, "closes": closes},
                hours,
            )
        # The demo schedule is exact: a weekday it does not list is closed.
        for extra in site.opening_hours.exclude(weekday__in=list(spec["hours"])):
            extra.delete()
        for name, kind, capabilities in spec["rooms"]:
            upsert(
                Room,
                {"site": site, "name": name},
                {"kind": kind, "capabilities": list(capabilities), "active": True},
                rooms,
            )
    return {"sites": sites, "opening hours": hours, "rooms": rooms}


def _ascii(text: str) -> str:
    text = text.replace("ø", "oe").replace("Ø", "Oe").replace("æ", "ae").replace("Æ", "Ae")
    text = text.replace("å", "aa").replace("Å", "Aa")
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()


def seed_staff() -> dict[str, Seeded]:
    """The demo staff: a login, a demo StaffProfile and a role group for each."""
    User = get_user_model()
    staff = Seeded()
    all_types = list(ProcedureType.objects.order_by("code"))
    injections = [
        pt
        for pt in all_types
        if pt.category != ProcedureType.Category.IMPLANT and pt.code not in NOT_INJECTIONS
    ]
    credentials = {ALL_PROCEDURES: all_types, INJECTIONS_ONLY: injections, None: []}
    groups = {role: Group.objects.get_or_create(name=group_name(role))[0] for role in Role}
    password_hash = None  # hashed once: PBKDF2 per user would make seeding slow

    for username, first, last, role, title, creds in DEMO_STAFF:
        user = User.objects.filter(username=username).first()
        profile = getattr(user, "staff_profile", None) if user else None
        if user and not (profile and profile.is_demo):
            # A real account by that name (e.g. from createsuperuser): never take it over.
            staff.skipped.append(username)
            continue
        values = {
            "first_name": first,
            "last_name": last,
            "email": f"{_ascii(first)}.{_ascii(last)}@example.com".lower(),
            "is_active": True,
            "is_staff": role in ADMIN_SITE_ROLES,
            # The demo admin works through the Admin role; a superuser would pass as a
            # clinician everywhere a has_perm is asked.
            "is_superuser": False,
        }
        changed = False
        if user is None:
            password_hash = password_hash or make_password(DEMO_PASSWORD)
            user = User.objects.create(username=username, password=password_hash, **values)
            created = True
        else:
            created = False
            diff = [k for k, v in values.items() if getattr(user, k) != v]
            for name in diff:
                setattr(user, name, values[name])
            if diff:
                user.save(update_fields=diff)
                changed = True
        profile_seeded = Seeded()
        profile = upsert(
            StaffProfile, {"user": user}, {"title": title, "is_demo": True}, profile_seeded
        )
        changed |= bool(profile_seeded.updated)
        if set(user.groups.all()) != {groups[role]}:
            user.groups.set([groups[role]])
            changed = True
        wanted = credentials[creds]
        if {pt.pk for pt in profile.credentials.all()} != {pt.pk for pt in wanted}:
            profile.credentials.set(wanted)
            changed = True
        staff.add(user, created=created, updated=changed)
    return {"staff": staff}


def demo_patient(rng: random.Random, number: int):
    """One deterministic demo patient, with medications and allergies (unsaved)."""
    language = "da" if rng.random() < 0.7 else "en"
    sex = FEMALE if rng.random() < 0.55 else MALE
    first = rng.choice(FIRST_NAMES[language][sex])
    last = rng.choice(LAST_NAMES[language])
    if rng.random() < 0.02:
        sex = Patient.Sex.UNKNOWN
    patient = Patient(
        mrn=f"{MRN_PREFIX}{number:06d}",
        first_name=first,
        last_name=last,
        date_of_birth=DOB_FIRST + datetime.timedelta(days=rng.randint(0, DOB_DAYS)),
        sex=sex,
        email=f"{_ascii(first)}.{_ascii(last)}{number}@example.com".lower(),
        phone="+45 {} {:02d} {:02d} {:02d}".format(
            rng.choice(["20", "22", "26", "28", "30", "40", "42", "50", "60", "61"]),
            rng.randint(0, 99),
            rng.randint(0, 99),
            rng.randint(0, 99),
        ),
        preferred_language=language,
        email_consent=rng.random() < 0.85,
        spinal_history=rng.choice(SPINAL_HISTORIES),
    )
    medications = []
    if rng.random() < 0.20:
        agent, name, dose = rng.choice(ANTITHROMBOTICS)
        medications.append(Medication(agent=agent, name=name, dose=dose))
    for probability, agent, name, dose in OTHER_MEDICATIONS:
        if rng.random() < probability:
            medications.append(Medication(agent=agent, name=name, dose=dose))
    allergies = []
    if rng.random() < 0.15:
        picks = rng.sample(ALLERGIES, 2 if rng.random() < 0.15 else 1)
        if len({kind for kind, *_ in picks}) < len(picks):
            picks = picks[:1]
        for kind, substance, reaction, severity in picks:
            allergies.append(
                Allergy(kind=kind, substance=substance, reaction=reaction, severity=severity)
            )
    return patient, medications, allergies


def seed_patients(count: int = DEFAULT_PATIENT_COUNT) -> dict[str, Seeded]:
    """`count` demo patients DEMO-000001...; medications and allergies only for new ones.

    The generator runs through every patient each time, so patient n is the same whatever
    `count` is and whichever patients already exist.
    """
    rng = random.Random(RANDOM_SEED)
    generated = [demo_patient(rng, number) for number in range(1, count + 1)]
    existing = Patient.objects.in_bulk([p.mrn for p, _, _ in generated], field_name="mrn")
    new = [(p, meds, alls) for p, meds, alls in generated if p.mrn not in existing]

    bulk_create_with_history([p for p, _, _ in new], Patient, batch_size=500)
    # Fetch the ids back by MRN rather than trusting the database to return them.
    saved = Patient.objects.in_bulk([p.mrn for p, _, _ in new], field_name="mrn")
    medications, allergies = [], []
    for patient, meds, alls in new:
        for item in (*meds, *alls):
            item.patient = saved[patient.mrn]
        medications.extend(meds)
        allergies.extend(alls)
    bulk_create_with_history(medications, Medication, batch_size=500)
    bulk_create_with_history(allergies, Allergy, batch_size=500)

    patients = Seeded()
    for patient, _, _ in generated:
        if patient.mrn in existing:
            patients.add(existing[patient.mrn])
        else:
            patients.add(saved[patient.mrn], created=True)
    return {
        "patients": patients,
        "medications": Seeded(objects=medications, created=len(medications)),
        "allergies": Seeded(objects=allergies, created=len(allergies)),
    }


def analyze_for_the_planner() -> dict[str, Seeded]:
    """Table statistics for PostgreSQL's planner before the late phases read what the seed
    wrote. Autovacuum gathers them only after a commit, so inside this transaction they
    describe the tables as they were: empty, or emptied by a run rolled back (a test's), which
    PostgreSQL reads as pages holding no rows. Planned for one appointment where there are
    thousands, the recall rows' query took minutes. ANALYZE in the transaction counts its own
    rows; see https://www.postgresql.org/docs/current/populate.html#POPULATE-ANALYZE."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    return {}


class Command(BaseCommand):
    help = "Create (or complete) the demo clinic: sites, rooms, demo staff and patients."

    def add_arguments(self, parser):
        parser.add_argument(
            "--patients",
            type=int,
            default=DEFAULT_PATIENT_COUNT,
            metavar="N",
            help=f"How many demo patients (default {DEFAULT_PATIENT_COUNT}).",
        )

    def handle(self, *args, patients, **options):
        if not settings.DEMO_LOGINS_ALLOWED:
            raise CommandError(
                "seed_demo only runs with DJANGO_DEBUG on: "
                "demo logins must never exist in production."
            )
        if patients < 0:
            raise CommandError("--patients must be 0 or more.")
        with transaction.atomic():
            results = {**seed_sites(), **seed_staff(), **seed_patients(patients)}
            # Each area adds its own demo data in INSTALLED_APPS order (each builds on the
            # ones before it), then completes what later areas added (`seed_late`). Every
            # part is idempotent.
            demos = area_modules("demo")
            phases = [demo.seed for demo in demos]
            phases.append(analyze_for_the_planner)
            phases += [demo.seed_late for demo in demos if hasattr(demo, "seed_late")]
            for seed in phases:
                for label, seeded in seed().items():
                    results[label] = results[label] + seeded if label in results else seeded

        for username in results["staff"].skipped:
            self.stderr.write(
                f"Skipped {username!r}: a non-demo user of that name exists; "
                "it keeps its own password and roles."
            )
        lines = ["Demo clinic seeded:"]
        for label, seeded in results.items():
            line = f"  {label:<14} {seeded.created:>4} created, {seeded.existing:>4} existing"
            if seeded.updated:
                line += f" ({seeded.updated} updated)"
            lines.append(line)
        lines.append(f"Demo logins use the password {DEMO_PASSWORD}.")
        self.stdout.write("\n".join(lines))
