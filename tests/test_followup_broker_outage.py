"""The broker dies in the middle of a dispatcher tick: nothing is lost, nothing waits long.

The broker is a redis-server of this test's own on a free port (never the shared one),
started and killed here; the dispatcher publishes to it from the test process, against
PostgreSQL. The broker dies right after the tick's first message: that message is lost
with it (no persistence), the rest of the tick cannot publish at all.
"""

import datetime
import logging
import shutil
import socket
import subprocess
import time

import pytest
import redis
from django.utils import timezone

from clinic.celery import app as celery_app
from followup import dispatch
from followup.dispatch import dispatch_tick, invitations_send
from followup.emails import INVITATION_HEADER
from followup.models import Alert, Invitation, Response
from tests.factories import AppointmentFactory, InvitationFactory, published

S = Invitation.Status
MINUTE = datetime.timedelta(minutes=1)

pytestmark = pytest.mark.skipif(not shutil.which("redis-server"), reason="needs redis-server")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class PrivateBroker:
    """A redis-server on a free port that the Celery app publishes to while it lives."""

    def __init__(self, tmp_path):
        self.port, self.dir, self.process = free_port(), tmp_path, None
        self.client = redis.Redis(port=self.port)

    def start(self):
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.dir)],
            stdout=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 10
        while True:
            try:
                self.client.ping()
                return
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def kill(self):
        self.process.kill()
        self.process.wait(timeout=10)


def point_celery_at(url: str) -> None:
    celery_app.conf.broker_url = url
    celery_app._after_fork()  # forget pooled connections to the previous broker


@pytest.fixture
def broker(tmp_path):
    before = celery_app.conf.broker_url
    private = PrivateBroker(tmp_path)
    private.start()
    point_celery_at(f"redis://127.0.0.1:{private.port}/0")
    yield private
    point_celery_at(before)
    if private.process.poll() is None:
        private.kill()


def test_it_loses_nothing_and_delays_nothing_past_two_minutes_when_the_broker_dies_mid_tick(
    calendar, patient, smtp_server, broker, settings, monkeypatch, caplog
):
    settings.FOLLOWUP_DISPATCH_BATCH_SIZE = 10
    appointment = AppointmentFactory(
        calendar=calendar, patient=patient, starts_at=timezone.now() - 3 * 1440 * MINUTE
    )
    due = [InvitationFactory(appointment=appointment) for _ in range(30)]
    reminders = [
        InvitationFactory(
            appointment=appointment, status=S.SENT, sends=1, next_reminder_at=timezone.now()
        )
        for _ in range(5)
    ]
    answered = InvitationFactory(appointment=appointment, status=S.ANSWERED)
    response = Response.objects.create(invitation=answered, patient=patient, answers={})
    alert = Alert.objects.create(
        patient=patient, response=response, kind=Alert.Kind.RED_FLAG, detail="Fever"
    )
    publish = dispatch._enqueue

    def first_message_then_the_broker_dies(ids):
        publish(ids)
        if broker.process.poll() is None:
            broker.kill()

    monkeypatch.setattr(dispatch, "_enqueue", first_message_then_the_broker_dies)
    t0 = timezone.now()
    started = time.monotonic()
    with caplog.at_level(logging.ERROR, logger="followup.dispatch"):
        report = dispatch_tick(now=t0)
    took = time.monotonic() - started

    # The tick went on: no traceback, reminders tried, on-call emailed from the tick itself.
    assert report["due"] == 20 and report["reminders"] == 5 and report["alerts"] == 1
    assert report["held_back"] == 15  # the second batch of due rows, and the reminders
    assert took < 15
    (line,) = [r.getMessage() for r in caplog.records if r.name == "followup.dispatch"]
    assert line.startswith("Broker unreachable (OperationalError: ") and "15 emails" in line
    alert.refresh_from_db()
    assert alert.oncall_emailed_at == t0
    assert smtp_server.header_values("To") == ["oncall@localhost"]
    # Rows whose publish failed are due again; the first batch's message died with Redis.
    lost = due[:10]

    def status_of(rows):
        ids = [row.pk for row in rows]
        return set(Invitation.objects.filter(pk__in=ids).values_list("status", flat=True))

    assert status_of(lost) == {S.QUEUED}
    assert status_of(due[10:]) == {S.SCHEDULED} and status_of(reminders) == {S.SENT}

    broker.start()  # back, empty, on the same port
    monkeypatch.setattr(dispatch, "_enqueue", publish)
    handed_over = []
    for minutes in (1, 2):
        report = dispatch_tick(now=t0 + minutes * MINUTE)
        handed_over.append(
            sorted(pk for batch in published(broker.client, "celery") for pk in batch)
        )
    # A minute later: everything that never reached the broker; the lost batch's rows are
    # published again once 90 seconds old, at the next tick: within two minutes.
    assert handed_over[0] == sorted(row.pk for row in due[10:] + reminders)
    assert handed_over[1] == sorted(row.pk for row in lost)

    # Workers send what was handed over: every email once.
    for ids in dispatch.chunks(handed_over[0] + handed_over[1]):
        invitations_send(invitation_ids=ids)
    sent = [int(value) for value in smtp_server.header_values(INVITATION_HEADER) if value]
    assert sorted(sent) == sorted(row.pk for row in due + reminders)
