"""Times the email dispatcher against a no-op task on the same kind of worker.

Generates due invitations (four surveys to each appointment reminder, the reminder carrying
a baseline survey), committed because the workers are other processes, and removes them
at the end. Starts an SMTP sink on loopback (Sink, in this process) and, for each
measurement, a Celery worker on a broker queue of the bench's own; then reports:

- no-op tasks/s: tasks that do nothing (`celery.accumulate`), one worker process;
- emails/s with one worker process and with two: the dispatcher tick queues every row,
  the workers send them to the sink, until the last send is recorded.

Both rates are counted from the worker's first message to its last, the messages having
been published before the worker started. The three are measured in turn, --rounds times,
and the medians reported, so that a busy machine skews them alike; the ratios are the
medians of each round's own ratios, which a load that changes from round to round skews
less. Last, a sample of the messages is sent in-process to count the queries a send costs.
Use a scratch database (`make bench` uses clinic_bench) and a Redis broker (REDIS_URL,
else --broker).
"""

import datetime
import os
import secrets
import signal
import socketserver
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import redis
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import connection
from django.test.utils import CaptureQueriesContext, override_settings
from django.utils import timezone

from clinic.celery import app as celery_app
from clinic.models import Patient, ProcedureType, Room, Site
from followup import dispatch, emails
from followup.models import EmailLog, Invitation
from scheduling.models import Appointment

PREFIX = "[bench-dispatch]"
PATIENTS = 200
# Every QUERY_SAMPLE-th message of a tick is sent in-process to count its queries.
QUERY_SAMPLE = 10
S = Invitation.Status
K = Invitation.Kind


class Sink(socketserver.ThreadingTCPServer):
    """An SMTP server on loopback that accepts every message and counts connections, messages
    and QUITs: the commands a sender uses, each answered at once, a thread per connection.

    Not aiosmtpd (which the tests use as a real server): reading a line at a time through
    asyncio, it spent more CPU on each message than the dispatcher spends building and
    sending it, on the same two cores, so the bench measured the sink as much as the sender.
    """

    daemon_threads = True
    block_on_close = False  # shutting down does not wait for a connection left open
    allow_reuse_address = True

    def __init__(self):
        super().__init__(("127.0.0.1", 0), _SinkSession)
        self.port = self.server_address[1]
        self.messages = self.sessions = self.quits = 0
        self.counting = threading.Lock()
        self.thread = threading.Thread(target=self.serve_forever, daemon=True)

    def count(self, what: str) -> None:
        with self.counting:
            setattr(self, what, getattr(self, what) + 1)


class _SinkSession(socketserver.StreamRequestHandler):
    wbufsize = 0  # each reply goes at once

    def handle(self):
        sink, reply = self.server, self.wfile.write
        reply(b"220 bench sink ESMTP\r\n")
        for line in iter(self.rfile.readline, b""):
            verb = line[:4].upper()
            if verb == b"EHLO":
                sink.count("sessions")
                reply(b"250-bench sink\r\n250-8BITMIME\r\n250 SIZE 52428800\r\n")
            elif verb == b"DATA":
                reply(b"354 End data with <CR><LF>.<CR><LF>\r\n")
                for data in iter(self.rfile.readline, b""):
                    if data == b".\r\n":
                        break
                else:
                    return  # the sender went away in the middle of the message
                sink.count("messages")
                reply(b"250 Accepted\r\n")
            elif verb == b"QUIT":
                sink.count("quits")
                reply(b"221 Bye\r\n")
                return
            elif verb in (b"HELO", b"MAIL", b"RCPT", b"RSET", b"NOOP"):
                reply(b"250 OK\r\n")
            else:
                reply(b"502 Not implemented\r\n")


def _wait(condition, *, timeout: float, what: str, every: float = 0.01) -> float:
    """Poll `condition` until true; returns the moment it became true."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise CommandError(f"Timed out waiting for {what}.")
        time.sleep(every)
    return time.monotonic()


def _met(met: bool) -> str:
    return "met" if met else "NOT met"


class Command(BaseCommand):
    help = (
        "Time the email dispatcher with one and two worker processes against a no-op task, "
        "to an SMTP sink on loopback. Use a scratch database: make bench."
    )

    def add_arguments(self, parser):
        parser.add_argument("--emails", type=int, default=2000, help="Emails per run.")
        parser.add_argument("--noops", type=int, default=3000, help="No-op tasks to time.")
        parser.add_argument("--rounds", type=int, default=3, help="Measurements of each rate.")
        parser.add_argument(
            "--broker",
            default="",
            help="Redis URL of the broker (default: REDIS_URL, else redis://127.0.0.1:6379/0).",
        )

    def handle(self, *args, emails, noops, rounds, broker, **options):
        broker = broker or (
            settings.REDIS_URL
            if settings.REDIS_URL.startswith("redis")
            else "redis://127.0.0.1:6379/0"
        )
        if connection.vendor != "postgresql":
            raise CommandError("bench_dispatch needs PostgreSQL (DATABASE_URL).")
        if self._due_elsewhere():
            raise CommandError(
                "This database has due invitations or alerts of its own: the dispatcher would "
                "send them too. Use a scratch database (make bench uses clinic_bench)."
            )
        self.queue = f"bench-dispatch-{secrets.token_hex(6)}"
        self.client = redis.Redis.from_url(broker)
        self.sink = Sink()
        self.sink.thread.start()
        before = celery_app.conf.broker_url, celery_app.conf.task_default_queue
        celery_app.conf.broker_url, celery_app.conf.task_default_queue = broker, self.queue
        celery_app._after_fork()  # forget pooled connections to another broker
        self.environment = self._worker_environment(broker, self.sink.port)
        rows, rates = [], {"noop": [], 1: [], 2: []}
        load_before = os.getloadavg()[0]
        try:
            rows = self._generate(emails)
            for _round in range(rounds):
                rates["noop"].append(self._noop_rate(noops))
                for processes in (1, 2):
                    rate, tick, messages = self._email_rate(rows, processes=processes)
                    rates[processes].append(rate)
            sessions, quits = self.sink.sessions, self.sink.quits
            queries, sent, messages_sampled = self._queries_per_send(rows, self.sink.port)
        finally:
            self._remove()
            self.client.delete(self.queue)
            celery_app.conf.broker_url, celery_app.conf.task_default_queue = before
            celery_app._after_fork()
            self.sink.shutdown()
            self.sink.server_close()
        load_after = os.getloadavg()[0]
        noop, one, two = (statistics.median(rates[key]) for key in ("noop", 1, 2))
        spread = {key: f"{min(v):.0f}-{max(v):.0f}" for key, v in rates.items()}
        of_noop = statistics.median(e / n for e, n in zip(rates[1], rates["noop"], strict=True))
        of_one = statistics.median(t / o for t, o in zip(rates[2], rates[1], strict=True))
        write = self.stdout.write
        write(
            f"Dispatcher to an SMTP sink on loopback: {len(rows):,} emails a run, "
            f"medians of {rounds} (range)"
        )
        write(
            f"  tick: {len(rows):,} rows claimed and published in {messages} messages, {tick:.2f} s"
        )
        write(f"  no-op task, 1 worker process:   {noop:6.0f} tasks/s  ({spread['noop']})")
        write(
            f"  dispatcher, 1 worker process:   {one:6.0f} emails/s ({spread[1]}), "
            f"{of_noop:.0%} of the no-op rate (target 25%: {_met(of_noop >= 0.25)})"
        )
        write(
            f"  dispatcher, 2 worker processes: {two:6.0f} emails/s ({spread[2]}), "
            f"{of_one:.2f}x one process (target above 1: {_met(of_one > 1)})"
        )
        write(
            f"  SMTP connections: {sessions} opened by {3 * rounds} sending worker "
            f"processes, {quits} closed with QUIT when they stopped"
        )
        write(
            f"  queries: {queries / sent:.2f} a send ({queries} for {sent} emails in "
            f"{messages_sampled} message{'s' * (messages_sampled != 1)} sent in-process, "
            "each message's read of its rows included; target at most 3)"
        )
        write(
            f"  load average: {load_before:.1f} before, {load_after:.1f} after "
            f"({os.cpu_count()} CPUs)"
        )

    def _queries_per_send(self, rows: list[int], smtp_port: int) -> tuple[int, int, int]:
        """Queries to send every QUERY_SAMPLE-th message of a tick in-process, the emails
        and the messages."""
        self._reset()
        sample = dispatch.chunks(rows)[::QUERY_SAMPLE]
        ids = [pk for chunk in sample for pk in chunk]
        Invitation.objects.filter(pk__in=ids).update(status=S.QUEUED, queued_at=timezone.now())
        mail = {
            "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "EMAIL_HOST": "127.0.0.1",
            "EMAIL_PORT": smtp_port,
            "EMAIL_USE_TLS": False,
            "EMAIL_USE_SSL": False,
        }
        connection.queries_log.clear()  # a DEBUG run has filled it, and it holds 9,000
        try:
            with override_settings(**mail), CaptureQueriesContext(connection) as queries:
                outcomes = [dispatch.invitations_send(invitation_ids=chunk) for chunk in sample]
        finally:
            emails.connection_close()
        sent = sum(list(outcome.values()).count("sent") for outcome in outcomes)
        if sent != len(ids):
            raise CommandError(f"Only {sent} of {len(ids)} emails were sent in-process.")
        return len(queries), sent, len(sample)

    # --- Data -------------------------------------------------------------------------

    def _due_elsewhere(self) -> bool:
        now = timezone.now()
        due = Invitation.objects.filter(
            status__in=(S.SCHEDULED, S.QUEUED, S.SENDING), due_at__lte=now
        ).exclude(appointment__site__name__startswith=PREFIX)
        return due.exists() or dispatch._alerts_pending(now).exists()

    def _generate(self, count: int) -> list[int]:
        """Due email rows, four surveys to one appointment reminder; returns their ids."""
        now = timezone.now()
        site = Site.objects.create(
            name=f"{PREFIX} {secrets.token_hex(4)}",
            address="Bench Street 1\n2100 Copenhagen",
            phone="+45 70 00 00 01",
            time_zone="Europe/Copenhagen",
        )
        room = Room.objects.create(site=site, name="Procedure 1")
        physician = get_user_model().objects.create(username=site.name.replace(" ", "-"))
        procedure = ProcedureType.objects.order_by("pk").first()
        patients = Patient.objects.bulk_create(
            Patient(
                mrn=f"BD-{site.pk}-{number}",
                first_name="Bench",
                last_name=f"Patient {number}",
                date_of_birth=datetime.date(1960, 1, 1) + datetime.timedelta(days=number),
                email=f"bench.patient.{number}@example.org",
                preferred_language=("da", "en")[number % 2],
                email_consent=True,
            )
            for number in range(PATIENTS)
        )
        reminders = count // 5
        # One hour apart, so that no two appointments overlap in the room.
        starts = [now - datetime.timedelta(days=30, hours=hour) for hour in range(PATIENTS)]
        starts += [now + datetime.timedelta(days=3, hours=hour) for hour in range(reminders)]
        appointments = Appointment.objects.bulk_create(
            Appointment(
                patient=patients[number % PATIENTS],
                procedure_type=procedure,
                physician=physician,
                site=site,
                room=room,
                starts_at=start,
                ends_at=start + datetime.timedelta(minutes=30),
                laterality="left",
                levels="L4-L5",
            )
            for number, start in enumerate(starts)
        )
        past, future = appointments[:PATIENTS], appointments[PATIENTS:]
        due = now - datetime.timedelta(minutes=1)
        rows = Invitation.objects.bulk_create(
            [
                Invitation(
                    patient_id=appointment.patient_id,
                    appointment=appointment,
                    kind=K.APPOINTMENT_REMINDER,
                    due_at=due,
                )
                for appointment in future
            ]
            + [
                Invitation(
                    patient_id=past[number % PATIENTS].patient_id,
                    appointment=past[number % PATIENTS],
                    kind=K.SURVEY,
                    instruments=["nrs", "pgic", "odi"],
                    due_at=due,
                    expires_at=now + datetime.timedelta(days=14),
                )
                for number in range(count - reminders)
            ]
        )
        Invitation.objects.bulk_create(
            Invitation(
                patient_id=reminder.patient_id,
                appointment_id=reminder.appointment_id,
                kind=K.BASELINE,
                instruments=["nrs", "odi"],
                due_at=due,
                expires_at=reminder.appointment.ends_at,
                sent_with=reminder,
            )
            for reminder in rows[:reminders]
        )
        return [row.pk for row in rows]

    def _bench_rows(self):
        return Invitation.objects.filter(appointment__site__name__startswith=PREFIX)

    def _reset(self) -> None:
        EmailLog.objects.filter(invitation__in=self._bench_rows()).delete()
        self._bench_rows().update(
            status=S.SCHEDULED,
            sends=0,
            sent_at=None,
            queued_at=None,
            sending_started_at=None,
            next_reminder_at=None,
            reminders_sent=0,
        )

    def _remove(self) -> None:
        sites = Site.objects.filter(name__startswith=PREFIX)
        EmailLog.objects.filter(invitation__in=self._bench_rows()).delete()
        self._bench_rows().delete()
        patients = list(
            Appointment.objects.filter(site__in=sites).values_list("patient_id", flat=True)
        )
        physicians = list(
            Appointment.objects.filter(site__in=sites).values_list("physician_id", flat=True)
        )
        Appointment.objects.filter(site__in=sites).delete()
        Patient.objects.filter(pk__in=patients).delete()
        get_user_model().objects.filter(pk__in=physicians).delete()
        Room.objects.filter(site__in=sites).delete()
        sites.delete()

    # --- Workers ----------------------------------------------------------------------

    def _worker_environment(self, broker: str, smtp_port: int) -> dict:
        db = connection.settings_dict
        self.var = Path(tempfile.mkdtemp(prefix="bench-dispatch-"))
        return {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "clinic.settings",
            "DATABASE_URL": (
                f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST'] or '127.0.0.1'}:"
                f"{db['PORT'] or 5432}/{db['NAME']}"
            ),
            "REDIS_URL": broker,
            "EMAIL_URL": f"smtp://127.0.0.1:{smtp_port}",
            "DJANGO_DEBUG": "false",
            "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
            "ALLOWED_HOSTS": "localhost",
            "SITE_URL": settings.SITE_URL,
            "CLINIC_VAR_DIR": str(self.var),
        }

    def _worker(self, processes: int, log: Path) -> subprocess.Popen:
        worker = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "clinic",
                "worker",
                "--pool=prefork",
                f"--concurrency={processes}",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
                f"--queues={self.queue}",
                f"--hostname={self.queue}-{processes}@%h",
                "--loglevel=INFO",  # as README runs it
            ],
            cwd=settings.BASE_DIR,
            env=self.environment,
            stdout=log.open("w"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        return worker

    def _stop(self, worker: subprocess.Popen) -> None:
        """A warm shutdown, as a supervisor stops a worker: the pool says QUIT to SMTP."""
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait()

    def _drain(self, processes: int, published: int, done, what: str) -> float:
        """Start a worker on the published messages; seconds from its first to `done`."""
        log = self.var / f"worker-{what}-{processes}.log"
        worker = self._worker(processes, log)
        try:
            started = _wait(
                lambda: self.client.llen(self.queue) < published or done(),
                timeout=120,
                what=f"the worker to start ({log})",
                every=0.002,
            )
            finished = _wait(done, timeout=600, what=f"the {what} to finish ({log})", every=0.1)
        finally:
            self._stop(worker)
        return finished - started

    def _noop_rate(self, count: int) -> float:
        noop = celery_app.tasks["celery.accumulate"]
        with celery_app.producer_or_acquire() as producer:
            for _ in range(count):
                noop.apply_async(producer=producer)
        seconds = self._drain(1, count, lambda: self.client.llen(self.queue) == 0, "no-ops")
        return count / seconds

    def _email_rate(self, rows: list[int], *, processes: int) -> tuple[float, float, int]:
        self._reset()
        started = time.monotonic()
        dispatch.dispatch_tick()
        tick = time.monotonic() - started
        messages = self.client.llen(self.queue)
        # The rows' ids are one range (one bulk insert): a cheap query to poll.
        open_rows = Invitation.objects.filter(
            pk__range=(min(rows), max(rows)), status__in=(S.SCHEDULED, S.QUEUED, S.SENDING)
        )
        seconds = self._drain(processes, messages, lambda: not open_rows.exists(), "emails")
        sent = Invitation.objects.filter(pk__range=(min(rows), max(rows)), status=S.SENT).count()
        if sent != len(rows):
            raise CommandError(f"Only {sent} of {len(rows)} emails were sent; see {self.var}.")
        return len(rows) / seconds, tick, messages
