"""Fixtures of the follow-up engine tests: appointments at any time, a real SMTP server.

Import the fixtures with `from tests.followup_fixtures import *` (they build on the
personas and the `calendar` of tests/conftest.py).
"""

import asyncio
import base64
import datetime
import email
import email.policy
import json
import socket
import threading

import pytest
from aiosmtpd.controller import Controller
from django.utils import timezone

from followup.dispatch import invitation_send
from followup.models import Invitation
from scheduling.models import Appointment, Status
from scheduling.signals import appointment_changed

__all__ = [
    "SmtpRecorder",
    "enqueued",
    "free_port",
    "make_appointment",
    "make_invitation",
    "published",
    "run_sends",
    "set_status",
    "smtp_server",
]


def make_appointment(calendar, patient, *, starts_at=None, status=Status.BOOKED, **extra):
    """An appointment at any time (past ones too), without the booking rules or signal."""
    procedure_type = extra.pop("procedure_type", calendar["tfesi"])
    starts_at = starts_at or timezone.now() + datetime.timedelta(days=7)
    values = {
        "patient": patient,
        "procedure_type": procedure_type,
        "physician": calendar["physician"],
        "site": calendar["site"],
        "room": calendar["fluoro"],
        "starts_at": starts_at,
        "ends_at": starts_at + datetime.timedelta(minutes=procedure_type.room_minutes),
        "laterality": "left",
        "levels": "L4-L5",
        "status": status,
        "cancel_reason": "other" if status == Status.CANCELLED else "",
        **extra,
    }
    return Appointment.objects.create(**values)


def set_status(appointment, status, *, change="status"):
    """Change the status as scheduling does and tell the follow-up engine."""
    Appointment.objects.filter(pk=appointment.pk).update(
        status=status, cancel_reason="other" if status == Status.CANCELLED else ""
    )
    appointment.refresh_from_db()
    appointment_changed.send(Appointment, appointment=appointment, change=change)
    return appointment


def make_invitation(appointment, **extra):
    """A survey row due a minute ago (kind, instruments and times overridable)."""
    now = timezone.now()
    values = {
        "patient": appointment.patient,
        "appointment": appointment,
        "kind": Invitation.Kind.SURVEY,
        "instruments": ["nrs", "pgic"],
        "due_at": now - datetime.timedelta(minutes=1),
        "expires_at": now + datetime.timedelta(days=14),
        **extra,
    }
    return Invitation.objects.create(**values)


@pytest.fixture
def enqueued(monkeypatch):
    """The ids the dispatcher hands to Celery, in order, instead of a broker."""
    ids: list[int] = []
    monkeypatch.setattr("followup.dispatch._enqueue", ids.extend)
    return ids


def run_sends(ids: list[int], now=None) -> list[str]:
    """Run the send task body for every enqueued id, as a worker would."""
    outcomes = [invitation_send(invitation_id=pk, now=now) for pk in ids]
    ids.clear()
    return outcomes


def published(client, queue: str) -> list[list[int]]:
    """The id lists of the send tasks waiting in a Redis queue, oldest first (taken off it)."""
    batches = []
    while (raw := client.rpop(queue)) is not None:
        message = json.loads(raw)
        assert message["headers"]["task"] == "followup.send_invitations"
        args, _kwargs, _embed = json.loads(base64.b64decode(message["body"]))
        batches.append(args[0])
    return batches


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
def smtp_server(settings):
    """A real SMTP server on loopback; Django's SMTP backend points at it."""
    recorder = SmtpRecorder()
    controller = Controller(recorder, hostname="127.0.0.1", port=free_port())
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = controller.port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_TIMEOUT = 10
    recorder.port = controller.port
    yield recorder
    controller.stop()
