"""Personas, the hand-built clinic calendar, and the fixtures several test modules share.

One user per role, plus an outsider with no role at all; things are made with the
factories of tests/factories.py; the browser fixtures live in tests/browser.py.
"""

import asyncio
import datetime
import email
import email.policy
import socket
import threading

import pytest
from aiosmtpd.controller import Controller
from django.contrib.auth.models import User
from django.db import connection
from django.test.utils import CaptureQueriesContext

from clinic.models import Medication, Patient, Room
from clinic.roles import Role
from scheduling.models import Appointment
from tests.browser import chromium, open_page  # noqa: F401  (fixtures for the journeys)
from tests.factories import (
    AppointmentFactory,
    PatientFactory,
    RoomFactory,
    SiteFactory,
    StaffFactory,
    TodaysAppointmentFactory,
    filler_name,
    local,
    next_monday,
    open_weekdays,
    pass_second_factor,
    seeded,
    to_recovery,
)


@pytest.fixture(autouse=True)
def _empty_cache():
    """Throttles and rate limits count in the cache: every test starts with none."""
    from django.core.cache import cache

    cache.clear()


@pytest.fixture(autouse=True)
def _pathway_rules_off_unless_marked(request, monkeypatch):
    """The seeded pathway rules warn about many bookings other tests make for their own
    reasons; only tests marked `pathway_rules` evaluate them."""
    if request.node.get_closest_marker("pathway_rules") is None:
        monkeypatch.setattr("scheduling.pathway.ENABLED", False)


@pytest.fixture
def otp_verified_logins():
    """Whether the test client's login()/force_login() also pass the second factor.

    Admin, Manager and Physician accounts (and admin-site users) see no page before their
    second factor. Tests of something else log in as if they had typed the code; a module
    that tests the second factor itself overrides this fixture with False.
    """
    return True


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


# --- Personas ---------------------------------------------------------------------------


@pytest.fixture
def front_desk(db):
    return StaffFactory(username="frontdesk", role=Role.FRONT_DESK, first_name="Freja")


@pytest.fixture
def nurse(db):
    return StaffFactory(username="nurse", role=Role.NURSE, first_name="Nina")


@pytest.fixture
def physician(db):
    return StaffFactory(
        username="physician", role=Role.PHYSICIAN, first_name="Peter", last_name="Holm"
    )


@pytest.fixture
def manager(db):
    return StaffFactory(username="manager", role=Role.MANAGER, first_name="Maja", is_staff=True)


@pytest.fixture
def admin_user(db):
    return StaffFactory(username="clinicadmin", role=Role.ADMIN, is_staff=True)


@pytest.fixture
def outsider(db):
    """Logged in, but holds no clinic role: must be refused everywhere."""
    return StaffFactory(username="outsider")


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
    return PatientFactory(
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


@pytest.fixture
def other_patient(db):
    return PatientFactory(
        mrn="MRN-0002",
        first_name="Oliver",
        last_name="Smith",
        date_of_birth=datetime.date(1975, 9, 30),
        email="oliver@example.com",
        preferred_language="en",
        email_consent=True,
    )


# --- The calendar -----------------------------------------------------------------------


@pytest.fixture
def calendar(db, physician):
    """A hand-built calendar for scheduling tests: one site open Mon-Fri 08:00-16:00
    (Copenhagen time), a fluoroscopy room, a plain room, one recovery bay and one
    credentialed physician with sessions every weekday."""
    site = SiteFactory(name="Test Spine Centre")
    open_weekdays(site, physician)
    fluoro = RoomFactory(site=site, name="Fluoro room", capabilities=["fluoroscopy"])
    plain = RoomFactory(site=site, name="Plain room", capabilities=[])
    bay = RoomFactory(site=site, name="Bay 1", kind=Room.Kind.RECOVERY)
    tfesi = seeded("esi-transforaminal")
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
def fill_day(calendar):
    """A crowded clinic day for the board, list and API tests: `fill_day(n)` adds n
    appointments, earliest free slot first, in four procedure rooms with a physician and a
    recovery bay each, ten 45-minute slots a room (so 40 at most). They go straight into
    the database: the booking rules have their own tests; here only reading them back
    matters."""
    site = calendar["site"]
    rooms = [calendar["fluoro"], calendar["plain"]]
    rooms += [RoomFactory(site=site, name=f"Room {n}") for n in (3, 4)]
    bays = [calendar["bay"]]
    bays += [RoomFactory(site=site, name=f"Bay {n}", kind=Room.Kind.RECOVERY) for n in (2, 3, 4)]
    physicians = [calendar["physician"]] + [
        StaffFactory(
            username=f"doc{n}", role=Role.PHYSICIAN, first_name="Doc", last_name=f"Number{n}"
        )
        for n in (2, 3, 4)
    ]
    created: list[Appointment] = []

    def add(count: int, *, day: datetime.date | None = None) -> list[Appointment]:
        new = []
        for _ in range(count):
            number = len(created) + 1
            slot, lane = divmod(number - 1, len(rooms))
            assert slot < 10, "the crowded day holds at most 40 appointments"
            start = local(day or calendar["monday"], 8) + datetime.timedelta(minutes=45 * slot)
            first_name, last_name = filler_name(number).split()
            appointment = AppointmentFactory(
                calendar=calendar,
                patient=PatientFactory(
                    mrn=f"FILL-{number:03}",
                    first_name=first_name,
                    last_name=last_name,
                    date_of_birth=datetime.date(1960, 1, 1) + datetime.timedelta(days=number),
                ),
                physician=physicians[lane],
                room=rooms[lane],
                recovery_bay=bays[lane],
                starts_at=start,
            )
            created.append(appointment)
            new.append(appointment)
        return new

    return add


# --- The nursing day --------------------------------------------------------------------


@pytest.fixture
def appointment(calendar, patient):
    """Karen's transforaminal ESI today: she checked in twenty minutes ago."""
    return TodaysAppointmentFactory(calendar=calendar, patient=patient)


@pytest.fixture
def recovering(appointment, nurse, physician):
    """Karen's appointment today, through the checks and the procedure: in recovery."""
    return to_recovery(appointment, nurse, physician)


@pytest.fixture
def on_apixaban(patient):
    Medication.objects.create(
        patient=patient, agent=Medication.Agent.APIXABAN, name="Eliquis", dose="5 mg x 2"
    )
    return patient


# --- Follow-up: the dispatcher's queue and a real SMTP server ---------------------------


@pytest.fixture
def enqueued(monkeypatch):
    """The ids the dispatcher hands to Celery, in order, instead of a broker."""
    ids: list[int] = []
    monkeypatch.setattr("followup.dispatch._enqueue", ids.extend)
    return ids


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class SmtpRecorder:
    """An aiosmtpd handler that keeps every accepted message.

    `delay` holds each message before the 250 reply (a slow server): a client that goes
    away meanwhile cancels the handler, so that message is not accepted, as RFC 5321 says.
    `reply` replaces the 250 (e.g. "550 No such user") to refuse messages. `sessions` and
    `quits` count connections (EHLO) and polite goodbyes; with `per_session`, the server
    answers 421 to MAIL FROM once a connection carried that many messages.
    """

    def __init__(self):
        self.messages: list[email.message.Message] = []
        self.delay = 0.0
        self.reply = ""
        self.in_flight = 0
        self.sessions = 0
        self.quits = 0
        self.per_session = 0
        self.lock = threading.Lock()

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        with self.lock:
            self.sessions += 1
        session.host_name = hostname
        session.accepted = 0
        return responses

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        if self.per_session and session.accepted >= self.per_session:
            return "421 Too many messages on this connection, closing"
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_QUIT(self, server, session, envelope):
        with self.lock:
            self.quits += 1
        return "221 Bye"

    async def handle_DATA(self, server, session, envelope):
        if self.reply:
            return self.reply
        with self.lock:
            self.in_flight += 1
        try:
            if self.delay:
                await asyncio.sleep(self.delay)
        finally:
            with self.lock:
                self.in_flight -= 1
        with self.lock:
            self.messages.append(
                email.message_from_bytes(envelope.content, policy=email.policy.default)
            )
        session.accepted += 1
        return "250 Message accepted for delivery"

    def header_values(self, name: str) -> list[str]:
        with self.lock:
            return [message[name] for message in self.messages]


@pytest.fixture
def smtp():
    """A real SMTP server on loopback (its port in `.port`) that records what it accepts."""
    recorder = SmtpRecorder()
    controller = Controller(recorder, hostname="127.0.0.1", port=free_port())
    controller.start()
    recorder.port = controller.port
    yield recorder
    controller.stop()


@pytest.fixture
def smtp_server(smtp, settings):
    """The loopback SMTP server, with Django's SMTP backend pointed at it."""
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = smtp.port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_TIMEOUT = 10
    return smtp


# --- Query counts -----------------------------------------------------------------------


def queries_for(client, url, **params) -> int:
    """How many SQL queries one GET of `url` takes."""
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url, params)
    assert response.status_code == 200
    return len(captured)


@pytest.fixture
def assert_query_count_flat():
    """`assert_query_count_flat(client, url, add_rows, **params)`: the page takes as many
    queries with many more rows (`add_rows(n)` adds n) as with a few."""

    def assert_flat(client, url, add_rows, **params):
        add_rows(3)
        few = queries_for(client, url, **params)
        add_rows(30)
        many = queries_for(client, url, **params)
        assert many == few, f"{url}: {few} queries with few rows, {many} with many"

    return assert_flat


# --- The live server --------------------------------------------------------------------


@pytest.fixture(scope="session")
def live_server(live_server, django_db_setup, django_db_blocker):
    """The live server, and no database session of its left behind when the tests end.

    A request thread of the live server keeps its database connection while Chromium holds the
    keep-alive socket open, which can outlive the browser by a moment; the test database then
    cannot be dropped. Ending those sessions here runs before the test database is torn down.
    """
    yield live_server
    with django_db_blocker.unblock(), connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
