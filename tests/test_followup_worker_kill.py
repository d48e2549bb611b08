"""A real Celery worker killed at each point of a send: where a second copy can come from.

Everything is real: the worker process (`celery -A clinic worker`) runs as a subprocess
against this test's PostgreSQL database and the test broker (REDIS_URL, on a queue of each
test's own, so the tests can run in parallel), and delivers to an SMTP server on loopback
(aiosmtpd). The dispatcher ticks in the test process.

- Killed before the server's 250 (the server holds each message a while before replying):
  per RFC 5321 the server has not accepted the message; it is sent again, once.
- Killed after the send was recorded, or before the worker claimed a row: nothing is sent
  again.
- Killed between the server's 250 and the commit of the record: the email went but the
  records do not say so. That is the one window for a second copy, and the copy carries
  the same Message-ID. The test holds the window open by locking the email log.
"""

import datetime
import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from pathlib import Path

import psycopg
import pytest
import redis
from django.conf import settings
from django.db import connection
from django.utils import timezone

from clinic.celery import app as celery_app
from followup.dispatch import dispatch_tick
from followup.emails import INVITATION_HEADER
from followup.models import EmailLog, Invitation
from followup.tasks import send_invitations
from tests.factories import AppointmentFactory, InvitationFactory

ROOT = Path(__file__).resolve().parent.parent
ROWS = 10
S = Invitation.Status

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def wait_for(condition, *, timeout=60.0, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"Timed out waiting for {what}")


def database_url() -> str:
    db = connection.settings_dict
    return (
        f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST'] or '127.0.0.1'}:"
        f"{db['PORT'] or 5432}/{db['NAME']}"
    )


@pytest.fixture
def queue():
    """A queue of this test's own on the test broker: its worker and its ticks use it."""
    name, before = f"test-kill-{uuid.uuid4().hex[:12]}", celery_app.conf.task_default_queue
    celery_app.conf.task_default_queue = name
    client = redis.Redis.from_url(settings.REDIS_URL)
    yield name, client
    celery_app.conf.task_default_queue = before
    client.delete(name)


@pytest.fixture
def environment(smtp, tmp_path):
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "clinic.settings",
        "DATABASE_URL": database_url(),
        "REDIS_URL": settings.REDIS_URL,
        "EMAIL_URL": f"smtp://127.0.0.1:{smtp.port}",
        "DJANGO_DEBUG": "false",
        "DJANGO_SECRET_KEY": settings.SECRET_KEY,
        "ALLOWED_HOSTS": "localhost",
        "SITE_URL": settings.SITE_URL,
        "CLINIC_VAR_DIR": str(tmp_path / "var"),
    }


class Worker:
    def __init__(self, environment, log: Path, name: str, queue: str, concurrency: int = 2):
        self.log = log
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "clinic",
                "worker",
                "--loglevel=INFO",
                "--pool=prefork",
                f"--concurrency={concurrency}",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
                f"--queues={queue}",
                f"--hostname={name}-{queue}@%h",
            ],
            cwd=ROOT,
            env=environment,
            stdout=log.open("w"),
            stderr=subprocess.STDOUT,
            # Its own process group, so SIGKILL reaches the pool's children too.
            start_new_session=True,
        )
        wait_for(lambda: "ready." in log.read_text(), timeout=60, what=f"{name} to start")

    def kill(self):
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self):
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()


def statuses() -> Counter:
    return Counter(Invitation.objects.values_list("status", flat=True))


def time_passes():
    """What the dead worker held is past FOLLOWUP_STUCK_AFTER_MINUTES."""
    stuck_since = timezone.now() - datetime.timedelta(
        minutes=settings.FOLLOWUP_STUCK_AFTER_MINUTES + 1
    )
    Invitation.objects.filter(status__in=[S.QUEUED, S.SENDING]).update(
        queued_at=stuck_since, sending_started_at=stuck_since
    )


def delivered(smtp) -> Counter:
    return Counter(int(message[INVITATION_HEADER]) for message in smtp.messages)


def test_it_sends_each_email_once_when_killed_before_the_250_or_after_the_record(
    calendar, patient, smtp, queue, environment, tmp_path
):
    name, broker = queue
    appointment = AppointmentFactory(
        calendar=calendar, patient=patient, starts_at=timezone.now() - datetime.timedelta(days=14)
    )
    rows = [InvitationFactory(appointment=appointment) for _ in range(ROWS)]
    smtp.delay = 3.0  # a slow server: each message waits 3 s for its 250

    first = Worker(environment, tmp_path / "worker-1.log", "first", name)
    try:
        dispatch_tick()  # five messages of two rows
        # Two messages delivered, and both pool processes now mid-SMTP on the next two.
        wait_for(
            lambda: len(smtp.messages) >= 2 and smtp.in_flight == 2,
            what="two deliveries and two sends in progress",
        )
        first.kill()
    finally:
        first.stop()

    killed = statuses()
    assert killed[S.SENT] == 2 and killed[S.SENDING] == 2, killed
    assert killed[S.QUEUED] == ROWS - 4, killed
    assert len(smtp.messages) == 2  # the interrupted sends were never accepted

    time_passes()
    smtp.delay = 0
    second = Worker(environment, tmp_path / "worker-2.log", "second", name)
    try:
        dispatch_tick()  # sends the two stuck rows again, publishes the queued ones again
        wait_for(lambda: statuses() == {S.SENT: ROWS}, what="every invitation sent")
        # The broker delivers every message once more (as after a lost acknowledgement).
        for row in rows:
            send_invitations.apply_async(args=[[row.pk]], queue=name)
        wait_for(lambda: broker.llen(name) == 0, what="the queue to drain")
        time.sleep(2)  # let the last duplicates finish
    finally:
        second.stop()

    assert delivered(smtp) == {row.pk: 1 for row in rows}
    domain = settings.FOLLOWUP_MESSAGE_ID_DOMAIN
    assert sorted(message["Message-ID"] for message in smtp.messages) == sorted(
        f"<invitation-{row.pk}-send-1@{domain}>" for row in rows
    )
    logged = Counter(EmailLog.objects.filter(status="sent").values_list("invitation_id", flat=True))
    assert logged == {row.pk: 1 for row in rows}
    # Each worker process kept its SMTP connection and said QUIT when the worker stopped.
    assert smtp.quits >= 1 and smtp.sessions <= 2 + 2 + 1


def test_it_sends_a_second_copy_with_the_same_message_id_only_when_killed_between_250_and_commit(
    calendar, patient, smtp, queue, environment, tmp_path
):
    """The known at-least-once window (README, "Worker and beat in production").

    The worker got the server's 250 for the first row, then was killed before its record
    committed. The recovery sends that email again: the one duplicate this design allows,
    with the same Message-ID as the first copy. The rows still waiting are sent once.
    """
    name, _broker = queue
    appointment = AppointmentFactory(
        calendar=calendar, patient=patient, starts_at=timezone.now() - datetime.timedelta(days=14)
    )
    window, *waiting = [InvitationFactory(appointment=appointment) for _ in range(3)]
    first = Worker(environment, tmp_path / "worker-1.log", "first", name, concurrency=1)
    # Hold the email log: the worker's record of its first send waits there, after the 250.
    lock = psycopg.connect(database_url().replace("postgres://", "postgresql://", 1))
    waiting_on_lock = (
        "SELECT pid FROM pg_stat_activity"
        " WHERE wait_event_type = 'Lock' AND datname = current_database()"
    )
    try:
        lock.execute(f"LOCK TABLE {EmailLog._meta.db_table} IN SHARE MODE")
        dispatch_tick()  # three messages of one row each
        wait_for(lambda: len(smtp.messages) == 1, what="the server's 250 for the first email")
        wait_for(
            lambda: lock.execute(waiting_on_lock).fetchall(), what="the worker's record to wait"
        )
        (record,) = lock.execute(waiting_on_lock).fetchone()
        # The worker dies, and its record never reaches a commit.
        first.kill()
        lock.execute("SELECT pg_terminate_backend(%s)", [record])
    finally:
        first.stop()
        lock.rollback()
        lock.close()
    (accepted,) = smtp.messages
    assert int(accepted[INVITATION_HEADER]) == window.pk
    assert statuses() == {S.SENDING: 1, S.QUEUED: 2}
    assert not EmailLog.objects.exists()

    time_passes()
    second = Worker(environment, tmp_path / "worker-2.log", "second", name, concurrency=1)
    try:
        dispatch_tick()
        wait_for(lambda: statuses() == {S.SENT: 3}, what="every invitation sent")
    finally:
        second.stop()

    # Exactly this case gives a duplicate, and it is recognisably the same message.
    copies = delivered(smtp)
    assert copies == {window.pk: 2, **{row.pk: 1 for row in waiting}}
    same = {m["Message-ID"] for m in smtp.messages if int(m[INVITATION_HEADER]) == window.pk}
    assert same == {f"<invitation-{window.pk}-send-1@{settings.FOLLOWUP_MESSAGE_ID_DOMAIN}>"}
    logged = Counter(EmailLog.objects.filter(status="sent").values_list("invitation_id", flat=True))
    assert logged == {window.pk: 1, **{row.pk: 1 for row in waiting}}
