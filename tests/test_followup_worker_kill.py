"""A real Celery worker killed in the middle of a batch: no email twice, none lost.

Everything is real: the worker process (`celery -A clinic worker`) and the dispatcher
(`manage.py followup_dispatch`) run as subprocesses against this test's PostgreSQL
database and a Redis database of their own, and deliver to an SMTP server on loopback
(aiosmtpd). The server holds each message for a while before its 250 reply, so the worker
is killed (SIGKILL, whole process group) while two messages are in the middle of SMTP.
Per RFC 5321 the server has not accepted those; the dispatcher's recovery sweep must send
them again, and the messages still waiting in the broker must go out exactly once.
"""

import datetime
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
import redis
from django.conf import settings
from django.db import connection
from django.utils import timezone

from clinic.celery import app as celery_app
from followup.emails import INVITATION_HEADER
from followup.models import EmailLog, Invitation
from followup.tasks import send_invitation
from tests.factories import AppointmentFactory, InvitationFactory

ROOT = Path(__file__).resolve().parent.parent
BROKER = "redis://127.0.0.1:6379/14"  # this test's own Redis database, flushed around it
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
def broker():
    client = redis.Redis.from_url(BROKER)
    client.flushdb()
    yield client
    client.flushdb()


@pytest.fixture
def environment(smtp, tmp_path):
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "clinic.settings",
        "DATABASE_URL": database_url(),
        "REDIS_URL": BROKER,
        "EMAIL_URL": f"smtp://127.0.0.1:{smtp.port}",
        "DJANGO_DEBUG": "false",
        "DJANGO_SECRET_KEY": settings.SECRET_KEY,
        "ALLOWED_HOSTS": "localhost",
        "SITE_URL": settings.SITE_URL,
        "CLINIC_VAR_DIR": str(tmp_path / "var"),
    }


class Worker:
    def __init__(self, environment, log: Path, name: str):
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
                "--concurrency=2",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
                f"--hostname={name}@%h",
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


def dispatch(environment):
    subprocess.run(
        [sys.executable, "manage.py", "followup_dispatch"],
        cwd=ROOT,
        env=environment,
        check=True,
        capture_output=True,
        timeout=120,
    )


def statuses() -> Counter:
    return Counter(Invitation.objects.values_list("status", flat=True))


def test_it_sends_every_email_exactly_once_when_a_worker_is_killed_mid_batch(
    calendar, patient, smtp, broker, environment, tmp_path
):
    appointment = AppointmentFactory(
        calendar=calendar, patient=patient, starts_at=timezone.now() - datetime.timedelta(days=14)
    )
    rows = [InvitationFactory(appointment=appointment) for _ in range(ROWS)]
    smtp.delay = 3.0  # a slow server: each message waits 3 s for its 250

    first = Worker(environment, tmp_path / "worker-1.log", "first")
    try:
        dispatch(environment)
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

    # Time passes: what the dead worker held is past FOLLOWUP_STUCK_AFTER_MINUTES.
    stuck_since = timezone.now() - datetime.timedelta(
        minutes=settings.FOLLOWUP_STUCK_AFTER_MINUTES + 1
    )
    Invitation.objects.filter(status__in=[S.QUEUED, S.SENDING]).update(
        queued_at=stuck_since, sending_started_at=stuck_since
    )
    smtp.delay = 0
    second = Worker(environment, tmp_path / "worker-2.log", "second")
    try:
        dispatch(environment)  # the recovery sweep re-enqueues all six
        wait_for(lambda: statuses() == {S.SENT: ROWS}, what="every invitation sent")
        # The broker delivers every message once more (as after a lost acknowledgement).
        with celery_app.connection_for_write(BROKER) as broker_connection:
            for row in rows:
                send_invitation.apply_async(args=[row.pk], connection=broker_connection)
        wait_for(lambda: broker.llen("celery") == 0, what="the queue to drain")
        time.sleep(2)  # let the last duplicates finish
    finally:
        second.stop()

    delivered = Counter(int(message[INVITATION_HEADER]) for message in smtp.messages)
    assert delivered == {row.pk: 1 for row in rows}
    domain = settings.FOLLOWUP_MESSAGE_ID_DOMAIN
    assert sorted(message["Message-ID"] for message in smtp.messages) == sorted(
        f"<invitation-{row.pk}-send-1@{domain}>" for row in rows
    )
    logged = Counter(EmailLog.objects.filter(status="sent").values_list("invitation_id", flat=True))
    assert logged == {row.pk: 1 for row in rows}
