"""Personas for the tests: one user per role, plus an outsider with no role at all."""

import datetime

import pytest
from django.contrib.auth.models import Group, User

from clinic.models import Patient, StaffProfile
from clinic.roles import Role, group_name

PASSWORD = "correct-horse-battery"


@pytest.fixture(autouse=True)
def _empty_cache():
    """Throttles and rate limits count in the cache: every test starts with none."""
    from django.core.cache import cache

    cache.clear()


@pytest.fixture
def otp_verified_logins():
    """Whether the test client's login()/force_login() also pass the second factor.

    Admin, Manager and Physician accounts (and admin-site users) see no page before their
    second factor. Tests of something else log in as if they had typed the code; a module
    that tests the second factor itself overrides this fixture with False.
    """
    return True


def pass_second_factor(client, user):
    """Mark the client's session as verified with a (created) authenticator of the user."""
    from django_otp import DEVICE_ID_SESSION_KEY
    from django_otp.plugins.otp_totp.models import TOTPDevice

    device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
    device = device or TOTPDevice.objects.create(user=user, name="Test phone")
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()


@pytest.fixture(autouse=True)
def _second_factor_for_test_logins(monkeypatch, otp_verified_logins):
    if not otp_verified_logins:
        return
    from django.test import Client

    from clinic.accounts.two_factor import second_factor_required

    force_login, login = Client.force_login, Client.login

    def verified_force_login(self, user, backend=None):
        force_login(self, user, backend)
        if second_factor_required(user):
            pass_second_factor(self, user)

    def verified_login(self, **credentials):
        done = login(self, **credentials)
        user = User.objects.filter(pk=self.session.get("_auth_user_id")).first()
        if done and user is not None and second_factor_required(user):
            pass_second_factor(self, user)
        return done

    monkeypatch.setattr(Client, "force_login", verified_force_login)
    monkeypatch.setattr(Client, "login", verified_login)


def make_staff(username, role=None, **extra):
    user = User.objects.create_user(username=username, password=PASSWORD, **extra)
    StaffProfile.objects.create(user=user, title=role.label if role else "")
    if role:
        user.groups.add(Group.objects.get(name=group_name(role)))
    return user


@pytest.fixture
def front_desk(db):
    return make_staff("frontdesk", Role.FRONT_DESK, first_name="Freja")


@pytest.fixture
def nurse(db):
    return make_staff("nurse", Role.NURSE, first_name="Nina")


@pytest.fixture
def physician(db):
    return make_staff("physician", Role.PHYSICIAN, first_name="Peter", last_name="Holm")


@pytest.fixture
def manager(db):
    return make_staff("manager", Role.MANAGER, first_name="Maja", is_staff=True)


@pytest.fixture
def admin_user(db):
    return make_staff("clinicadmin", Role.ADMIN, is_staff=True)


@pytest.fixture
def outsider(db):
    """Logged in, but holds no clinic role: must be refused everywhere."""
    return make_staff("outsider")


@pytest.fixture
def personas(front_desk, nurse, physician, manager, admin_user, outsider):
    return {
        "front_desk": front_desk,
        "nurse": nurse,
        "physician": physician,
        "manager": manager,
        "admin": admin_user,
        "outsider": outsider,
    }


@pytest.fixture
def patient(db):
    return Patient.objects.create(
        mrn="MRN-0001",
        first_name="Karen",
        last_name="Jensen",
        date_of_birth=datetime.date(1961, 4, 23),
        sex=Patient.Sex.FEMALE,
        email="karen.jensen@example.com",
        phone="+45 20 30 40 50",
        preferred_language="da",
        email_consent=True,
        spinal_history="L4-L5 disc herniation with left L5 radiculopathy",
    )


# A hand-built calendar for scheduling tests: one site open Mon-Fri 08:00-16:00
# (Copenhagen time), a fluoroscopy room, a plain room, one recovery bay and one
# credentialed physician with sessions every weekday.
COPENHAGEN = "Europe/Copenhagen"


def next_monday(weeks_ahead=1) -> datetime.date:
    """A Monday at least three days ahead, so that a 48-hour reminder is still in the future."""
    today = datetime.date.today()
    days = 7 - today.weekday()
    if days < 3:
        days += 7
    return today + datetime.timedelta(days=days + 7 * (weeks_ahead - 1))


def local(day: datetime.date, hour: int, minute: int = 0) -> datetime.datetime:
    from zoneinfo import ZoneInfo

    return datetime.datetime.combine(day, datetime.time(hour, minute), ZoneInfo(COPENHAGEN))


@pytest.fixture
def calendar(db, physician):
    from clinic.models import OpeningHours, ProcedureType, Room, Site
    from scheduling.models import PhysicianSession

    site = Site.objects.create(name="Test Spine Centre", time_zone=COPENHAGEN)
    for weekday in range(5):
        OpeningHours.objects.create(
            site=site, weekday=weekday, opens=datetime.time(8), closes=datetime.time(16)
        )
        PhysicianSession.objects.create(
            physician=physician,
            site=site,
            weekday=weekday,
            starts=datetime.time(8),
            ends=datetime.time(16),
            valid_from=datetime.date(2020, 1, 1),
        )
    fluoro = Room.objects.create(site=site, name="Fluoro room", capabilities=["fluoroscopy"])
    plain = Room.objects.create(site=site, name="Plain room", capabilities=[])
    bay = Room.objects.create(site=site, name="Bay 1", kind=Room.Kind.RECOVERY)
    tfesi = ProcedureType.objects.get(code="esi-transforaminal")
    physician.staff_profile.credentials.add(tfesi)
    return {
        "site": site,
        "fluoro": fluoro,
        "plain": plain,
        "bay": bay,
        "physician": physician,
        "tfesi": tfesi,
        "monday": next_monday(),
    }


@pytest.fixture
def book(calendar, front_desk, patient):
    """Book the transforaminal ESI (room time 10+25+10 = 45 min, recovery 30 min)."""
    from scheduling.services import appointment_book

    def book(hour=9, minute=0, *, day=None, who=None, **overrides):
        args = dict(
            actor=front_desk,
            patient=who or patient,
            procedure_type=calendar["tfesi"],
            physician=calendar["physician"],
            room=calendar["fluoro"],
            starts_at=local(day or calendar["monday"], hour, minute),
            laterality="left",
            levels="L4-L5",
        )
        return appointment_book(**{**args, **overrides})

    return book


@pytest.fixture
def other_patient(db):
    return Patient.objects.create(
        mrn="MRN-0002",
        first_name="Oliver",
        last_name="Smith",
        date_of_birth=datetime.date(1975, 9, 30),
        email="oliver@example.com",
        preferred_language="en",
        email_consent=True,
    )


@pytest.fixture(scope="session")
def live_server(live_server, django_db_setup, django_db_blocker):
    """The live server, and no database session of its left behind when the tests end.

    A request thread of the live server keeps its database connection while Chromium holds the
    keep-alive socket open, which can outlive the browser by a moment; the test database then
    cannot be dropped. Ending those sessions here runs before the test database is torn down.
    """
    yield live_server
    from django.db import connection

    with django_db_blocker.unblock(), connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
