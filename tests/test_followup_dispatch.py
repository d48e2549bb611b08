"""The dispatcher: due rows are sent once, unwanted ones never, and nothing is lost."""

import datetime
import socket
import threading
import uuid
from collections import Counter

import pytest
import redis
from celery.signals import worker_process_shutdown
from django.conf import settings
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from clinic.celery import app as celery_app
from clinic.models import Patient
from followup import dispatch, emails
from followup.dispatch import (
    dispatch_tick,
    invitation_send,
    invitations_send,
    recover_stuck,
    republish_waiting,
)
from followup.emails import INVITATION_HEADER
from followup.models import EmailLog, Invitation
from followup.services import patient_unsubscribe, reminder_schedule, response_record
from followup.tasks import send_invitations
from scheduling.models import Appointment, Status
from tests.factories import AppointmentFactory, InvitationFactory, published, run_sends

K, S = Invitation.Kind, Invitation.Status
MINUTE = datetime.timedelta(minutes=1)
DAY = datetime.timedelta(days=1)


@pytest.fixture
def appointment(calendar, patient):
    return AppointmentFactory(
        calendar=calendar, patient=patient, starts_at=timezone.now() - 3 * DAY
    )


def test_it_sends_a_due_survey_once_and_logs_it(appointment, enqueued):
    invitation = InvitationFactory(appointment=appointment)
    later = InvitationFactory(appointment=appointment, due_at=timezone.now() + DAY)
    assert dispatch_tick()["due"] == 1
    assert enqueued == [invitation.pk]
    invitation.refresh_from_db()
    assert invitation.status == S.QUEUED and invitation.queued_at is not None
    assert run_sends(enqueued) == ["sent"]
    invitation.refresh_from_db()
    assert (invitation.status, invitation.sends) == (S.SENT, 1)
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["karen.jensen@example.com"]
    log = EmailLog.objects.get(invitation=invitation)
    assert (log.status, log.kind, log.patient_id) == ("sent", "survey", invitation.patient_id)
    assert log.message_id == f"<invitation-{invitation.pk}-send-1@127.0.0.1>"
    assert dispatch_tick()["due"] == 0 and enqueued == []
    later.refresh_from_db()
    assert later.status == S.SCHEDULED


def test_it_never_sends_for_a_cancelled_appointment(appointment, enqueued):
    invitation = InvitationFactory(appointment=appointment)
    Appointment.objects.filter(pk=appointment.pk).update(
        status=Status.CANCELLED, cancel_reason="other"
    )
    dispatch_tick()
    assert enqueued == [] and mail.outbox == []
    invitation.refresh_from_db()
    assert invitation.status == S.CANCELLED
    log = EmailLog.objects.get(invitation=invitation)
    assert log.status == "skipped" and "cancelled" in log.error


def test_it_checks_again_right_before_sending(appointment, enqueued):
    invitation = InvitationFactory(appointment=appointment)
    dispatch_tick()
    # Cancelled after the dispatcher queued it, before a worker took it.
    Appointment.objects.filter(pk=appointment.pk).update(status=Status.NO_SHOW, cancel_reason="")
    assert run_sends(enqueued) == ["skipped"]
    invitation.refresh_from_db()
    assert invitation.status == S.CANCELLED and mail.outbox == []


def test_it_never_sends_to_a_patient_without_consent(appointment, enqueued):
    invitation = InvitationFactory(appointment=appointment)
    Patient.objects.filter(pk=appointment.patient_id).update(email_consent=False)
    dispatch_tick()
    invitation.refresh_from_db()
    assert (invitation.status, invitation.last_error) == (
        S.SKIPPED,
        "The patient has not agreed to email.",
    )
    assert enqueued == [] and mail.outbox == []
    assert EmailLog.objects.get(invitation=invitation).status == "skipped"


def test_it_never_sends_an_invitation_answered_meanwhile(appointment, enqueued):
    invitation = InvitationFactory(appointment=appointment, instruments=["pgic"])
    dispatch_tick()
    response_record(invitation=invitation, answers={"pgic": 2})
    assert run_sends(enqueued) == ["not queued"]
    assert mail.outbox == []
    invitation.refresh_from_db()
    assert invitation.status == S.ANSWERED


def test_it_sends_exactly_once_when_the_task_is_retried(appointment, enqueued):
    invitation = InvitationFactory(appointment=appointment)
    dispatch_tick()
    # The same message delivered three times (a retry, a redelivery after a lost ack).
    outcomes = [send_invitations.apply(args=[[invitation.pk]]).get() for _ in range(3)]
    assert outcomes == [{"sent": 1}, {"not queued": 1}, {"not queued": 1}]
    assert len(mail.outbox) == 1
    assert EmailLog.objects.filter(invitation=invitation, status="sent").count() == 1


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_it_hands_rows_to_the_workers_only_once_their_claim_is_committed(
    calendar, patient, monkeypatch
):
    appointment = AppointmentFactory(
        calendar=calendar, patient=patient, starts_at=timezone.now() - 3 * DAY
    )
    rows = [InvitationFactory(appointment=appointment) for _ in range(3)]
    outcomes = {}

    def worker(ids):
        # A worker has a database connection of its own: it sees only what was committed.
        def run():
            try:
                outcomes.update(invitations_send(invitation_ids=ids))
            finally:
                connection.close()

        thread = threading.Thread(target=run)
        thread.start()
        thread.join()

    monkeypatch.setattr("followup.dispatch._enqueue", worker)
    dispatch_tick()
    assert outcomes == {row.pk: "sent" for row in rows}
    assert len(mail.outbox) == 3


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_it_sends_exactly_once_with_two_dispatchers_at_once(calendar, patient, enqueued, settings):
    """Two beats: ticks in parallel threads, each with its own PostgreSQL connection."""
    settings.FOLLOWUP_DISPATCH_BATCH_SIZE = 7
    appointment = AppointmentFactory(
        calendar=calendar, patient=patient, starts_at=timezone.now() - 3 * DAY
    )
    due = [InvitationFactory(appointment=appointment) for _ in range(40)]
    now = timezone.now()
    long_ago = now - datetime.timedelta(minutes=settings.FOLLOWUP_STUCK_AFTER_MINUTES + 1)
    # Survey reminders due, messages lost in the broker, and sends a dead worker left.
    reminders = [
        InvitationFactory(
            appointment=appointment, status=S.SENT, sends=1, next_reminder_at=now - MINUTE
        )
        for _ in range(10)
    ]
    lost = [InvitationFactory(appointment=appointment, status=S.QUEUED, queued_at=now - 3 * MINUTE)]
    lost += [
        InvitationFactory(appointment=appointment, status=S.QUEUED, queued_at=now - 2 * MINUTE)
    ]
    stuck = [
        InvitationFactory(appointment=appointment, status=S.SENDING, sending_started_at=long_ago)
        for _ in range(5)
    ]
    rows = due + reminders + lost + stuck
    start = threading.Barrier(4)
    errors = []

    def in_thread(work):
        def run():
            try:
                start.wait()
                work()
            except Exception as exc:  # reported below; a thread cannot fail the test itself
                errors.append(exc)
            finally:
                connection.close()

        return threading.Thread(target=run)

    threads = [in_thread(lambda: dispatch_tick(now=now)) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sorted(enqueued) == sorted(row.pk for row in rows)  # each handed over once

    # Two workers get every message twice (a redelivery): still one email per row.
    messages = dispatch.chunks(list(enqueued)) * 2
    threads = [
        in_thread(lambda part=part: [invitations_send(invitation_ids=ids) for ids in part])
        for part in (messages[0::2], messages[1::2])
    ]
    start = threading.Barrier(2)
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    counts = Counter(int(message.extra_headers[INVITATION_HEADER]) for message in mail.outbox)
    assert counts == {row.pk: 1 for row in rows}
    assert Counter(Invitation.objects.values_list("status", flat=True)) == {S.SENT: len(rows)}


def test_it_reminds_an_unanswered_survey_at_most_twice_then_expires_it(appointment, enqueued):
    invitation = InvitationFactory(appointment=appointment, expires_at=timezone.now() + 14 * DAY)
    now = timezone.now()
    dispatch_tick(now=now)
    run_sends(enqueued, now=now)
    invitation.refresh_from_db()
    assert invitation.next_reminder_at == now + 3 * DAY
    for number, day in enumerate((3, 6), start=1):
        moment = now + day * DAY + MINUTE
        assert dispatch_tick(now=moment)["reminders"] == 1
        run_sends(enqueued, now=moment)
        invitation.refresh_from_db()
        assert (invitation.status, invitation.reminders_sent) == (S.SENT, number)
    assert invitation.next_reminder_at is None
    assert dispatch_tick(now=now + 9 * DAY)["reminders"] == 0
    assert len(mail.outbox) == 3
    # Reminders are further sends of the same survey, each with its own Message-ID.
    assert len({m.extra_headers["Message-ID"] for m in mail.outbox}) == 3
    assert EmailLog.objects.filter(kind="survey_reminder", status="sent").count() == 2
    dispatch_tick(now=now + 15 * DAY)
    invitation.refresh_from_db()
    assert invitation.status == S.EXPIRED


def test_it_sends_no_reminder_once_answered(appointment, enqueued):
    invitation = InvitationFactory(appointment=appointment, instruments=["pgic"])
    now = timezone.now()
    dispatch_tick(now=now)
    run_sends(enqueued, now=now)
    response_record(invitation=invitation, answers={"pgic": 1})
    assert dispatch_tick(now=now + 4 * DAY)["reminders"] == 0
    assert len(mail.outbox) == 1


def test_it_sends_the_baseline_inside_the_appointment_reminder(calendar, patient, enqueued):
    appointment = AppointmentFactory(
        calendar=calendar, patient=patient, starts_at=timezone.now() + DAY
    )
    reminder = reminder_schedule(appointment=appointment)
    baseline = appointment.invitations.get(kind=K.BASELINE)
    dispatch_tick()
    assert enqueued == [reminder.pk]
    run_sends(enqueued)
    baseline.refresh_from_db()
    assert (baseline.status, baseline.sends) == (S.SENT, 1)
    (message,) = mail.outbox
    assert "/s/" in message.body  # the baseline survey link


def test_it_skips_a_reminder_once_the_appointment_has_begun(calendar, patient, enqueued):
    appointment = AppointmentFactory(
        calendar=calendar, patient=patient, starts_at=timezone.now() + DAY
    )
    reminder = reminder_schedule(appointment=appointment)
    Appointment.objects.filter(pk=appointment.pk).update(
        starts_at=timezone.now() - MINUTE, ends_at=timezone.now() + 30 * MINUTE
    )
    dispatch_tick()
    reminder.refresh_from_db()
    assert reminder.status == S.SKIPPED and mail.outbox == []
    assert appointment.invitations.get(kind=K.BASELINE).status == S.SKIPPED


def test_it_retries_a_refused_send_later_and_gives_up_on_a_permanent_refusal(
    appointment, enqueued, smtp_server
):
    invitation = InvitationFactory(appointment=appointment)
    smtp_server.reply = "451 Try again later"
    now = timezone.now()
    dispatch_tick(now=now)
    assert run_sends(enqueued, now=now) == ["retry"]
    invitation.refresh_from_db()
    assert (invitation.status, invitation.send_attempts) == (S.SCHEDULED, 1)
    assert invitation.retry_at > now and "451" in invitation.last_error
    assert dispatch_tick(now=now + MINUTE)["due"] == 0  # waits for retry_at

    smtp_server.reply = "550 No such user here"
    later = invitation.retry_at + MINUTE
    dispatch_tick(now=later)
    assert run_sends(enqueued, now=later) == ["failed"]
    invitation.refresh_from_db()
    assert invitation.status == S.FAILED and "550" in invitation.last_error
    failures = EmailLog.objects.filter(invitation=invitation, status="failed")
    assert failures.count() == 2 and smtp_server.messages == []


def test_it_gives_up_after_the_configured_attempts(appointment, enqueued, smtp_server, settings):
    settings.FOLLOWUP_SEND_MAX_ATTEMPTS = 2
    invitation = InvitationFactory(appointment=appointment)
    smtp_server.reply = "421 Service not available"
    moment = timezone.now()
    for outcome in ("retry", "failed"):
        dispatch_tick(now=moment)
        assert run_sends(enqueued, now=moment) == [outcome]
        moment += datetime.timedelta(hours=1)
    invitation.refresh_from_db()
    assert invitation.status == S.FAILED


def test_it_recovers_rows_stuck_in_queued_or_sending(appointment, enqueued):
    now = timezone.now()
    lost_message = InvitationFactory(appointment=appointment)
    killed_worker = InvitationFactory(appointment=appointment)
    long_ago = now - datetime.timedelta(minutes=settings.FOLLOWUP_STUCK_AFTER_MINUTES + 1)
    Invitation.objects.filter(pk=lost_message.pk).update(
        status=S.QUEUED, queued_at=now - 2 * MINUTE
    )
    Invitation.objects.filter(pk=killed_worker.pk).update(
        status=S.SENDING, queued_at=long_ago, sending_started_at=long_ago
    )
    fresh = InvitationFactory(appointment=appointment, status=S.SENDING, sending_started_at=now)
    waiting = InvitationFactory(appointment=appointment, status=S.QUEUED, queued_at=now - MINUTE)
    assert recover_stuck(now) == 1
    assert enqueued == [killed_worker.pk]
    # A queued row is published again after 90 seconds, the one just queued again not yet.
    assert republish_waiting(now) == 1
    assert enqueued == [killed_worker.pk, lost_message.pk]
    assert run_sends(enqueued) == ["sent", "sent"]
    assert len(mail.outbox) == 2
    # The resend of the killed worker's email keeps its Message-ID.
    sent_ids = {m.extra_headers["Message-ID"] for m in mail.outbox}
    assert f"<invitation-{killed_worker.pk}-send-1@127.0.0.1>" in sent_ids
    fresh.refresh_from_db()
    assert fresh.status == S.SENDING  # a live send is never repeated
    waiting.refresh_from_db()
    assert waiting.status == S.QUEUED


def test_it_delivers_multipart_mail_to_a_real_smtp_server(appointment, enqueued, smtp_server):
    invitation = InvitationFactory(appointment=appointment)
    dispatch_tick()
    run_sends(enqueued)
    (message,) = smtp_server.messages
    assert message["Message-ID"] == f"<invitation-{invitation.pk}-send-1@127.0.0.1>"
    assert message[INVITATION_HEADER] == str(invitation.pk)
    assert message["List-Unsubscribe"].strip().startswith(f"<{settings.SITE_URL}/u/")
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    types = [part.get_content_type() for part in message.walk()]
    assert "text/plain" in types and "text/html" in types


def test_it_runs_the_dispatcher_every_minute_from_beat():
    entry = settings.CELERY_BEAT_SCHEDULE["followup-dispatch"]
    assert (entry["task"], entry["schedule"]) == ("followup.dispatch", 60.0)
    assert "followup.dispatch" in celery_app.tasks


@pytest.fixture
def queue():
    """A Redis queue of this test's own on the test broker (REDIS_URL), removed after it."""
    name, before = f"test-dispatch-{uuid.uuid4().hex[:12]}", celery_app.conf.task_default_queue
    celery_app.conf.task_default_queue = name
    client = redis.Redis.from_url(settings.REDIS_URL)
    yield name, client
    celery_app.conf.task_default_queue = before
    client.delete(name)


def test_it_publishes_a_tick_in_a_few_messages_that_carry_ids(appointment, queue):
    name, client = queue
    rows = [InvitationFactory(appointment=appointment) for _ in range(60)]
    assert dispatch_tick()["due"] == 60
    batches = published(client, name)
    # Eight messages for sixty rows (one broker round trip each), not sixty.
    assert len(batches) == 8 and max(len(batch) for batch in batches) <= dispatch.CHUNK_SIZE
    assert sorted(pk for batch in batches for pk in batch) == [row.pk for row in rows]
    for batch in batches:
        assert send_invitations.apply(args=[batch]).get() == {"sent": len(batch)}
    assert len(mail.outbox) == 60


def test_it_spreads_a_small_tick_over_several_messages_and_a_large_one_in_chunks():
    assert dispatch.chunks([1, 2, 3]) == [[1], [2], [3]]
    assert [len(chunk) for chunk in dispatch.chunks(list(range(20)))] == [3] * 6 + [2]
    assert [len(chunk) for chunk in dispatch.chunks(list(range(200)))] == [25] * 8


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_it_sends_each_email_with_at_most_three_queries(
    calendar, patient, smtp_server, monkeypatch, django_assert_max_num_queries
):
    # Transactional, so that BEGIN and COMMIT count as they do in a worker.
    past = AppointmentFactory(
        calendar=calendar, patient=patient, starts_at=timezone.now() - 3 * DAY
    )
    surveys = [InvitationFactory(appointment=past) for _ in range(5)]
    survey_reminders = [
        InvitationFactory(appointment=past, status=S.SENT, sends=1, next_reminder_at=timezone.now())
        for _ in range(3)
    ]
    appointment_reminders = []
    for day in range(4):
        upcoming = AppointmentFactory(
            calendar=calendar,
            patient=patient,
            starts_at=timezone.now() + (day + 1) * DAY + 10 * MINUTE,
        )
        appointment_reminders.append(reminder_schedule(appointment=upcoming))
    rows = surveys + survey_reminders + appointment_reminders
    Invitation.objects.filter(pk__in=[row.pk for row in rows]).update(
        status=S.QUEUED, due_at=timezone.now() - MINUTE
    )
    # A message naming one row: read it, claim it, record the send.
    with django_assert_max_num_queries(3):
        assert invitation_send(invitation_id=surveys[0].pk) == "sent"

    per_send = []
    send_one = dispatch._send_one

    def counted(invitation, now, **claims):
        before = len(queries)
        outcome = send_one(invitation, now, **claims)
        per_send.append(len(queries) - before)
        return outcome

    monkeypatch.setattr(dispatch, "_send_one", counted)
    with CaptureQueriesContext(connection) as queries:
        outcomes = invitations_send(invitation_ids=[row.pk for row in rows[1:]])
    assert set(outcomes.values()) == {"sent"}
    # One statement records a send (the row, the baseline it carried, the log) and claims
    # the next row; only the first row of a batch is claimed on its own.
    assert per_send == [2] + [1] * len(rows[2:])
    # Reading the batch: one query, five more for what appointment reminders show.
    assert len(queries) - sum(per_send) == 6
    assert len(smtp_server.messages) == len(rows) and smtp_server.sessions == 1
    baselines = Invitation.objects.filter(kind=K.BASELINE, sent_with__in=appointment_reminders)
    assert set(baselines.values_list("status", "sends")) == {(S.SENT, 1)}
    logged = EmailLog.objects.filter(status="sent").values_list("invitation_id", "kind")
    assert sorted(logged) == sorted(
        (row.pk, "survey_reminder" if row in survey_reminders else row.kind) for row in rows
    )


def test_it_respects_an_opt_out_made_after_the_worker_read_the_row(appointment, monkeypatch):
    first, second = (
        InvitationFactory(appointment=appointment),
        InvitationFactory(appointment=appointment),
    )
    Invitation.objects.update(status=S.QUEUED, queued_at=timezone.now())
    read = dispatch._queued

    def read_then_opt_out(ids):
        rows = read(ids)
        if len(ids) > 1:
            patient_unsubscribe(patient=appointment.patient)  # while the batch is in hand
        return rows

    monkeypatch.setattr(dispatch, "_queued", read_then_opt_out)
    outcomes = invitations_send(invitation_ids=[first.pk, second.pk])
    assert outcomes == {first.pk: "skipped", second.pk: "skipped"}
    assert mail.outbox == []


def test_it_keeps_one_smtp_connection_and_says_quit_when_the_worker_stops(
    appointment, enqueued, smtp_server
):
    rows = [InvitationFactory(appointment=appointment) for _ in range(5)]
    dispatch_tick()
    assert set(run_sends(enqueued)) == {"sent"}
    assert (len(smtp_server.messages), smtp_server.sessions, smtp_server.quits) == (5, 1, 0)
    # A connection idle for a while is checked first; one the server dropped is replaced.
    emails._held.last_used -= emails.CHECK_AFTER_IDLE
    emails._held.backend.connection.sock.shutdown(socket.SHUT_RDWR)
    Invitation.objects.filter(pk=rows[0].pk).update(status=S.QUEUED, sends=0)
    assert run_sends([rows[0].pk]) == ["sent"]
    assert smtp_server.sessions == 2
    worker_process_shutdown.send(sender=None, pid=0, exitcode=0)
    assert smtp_server.quits == 1 and emails._held.backend is None


def test_it_sends_at_once_over_a_new_connection_when_the_server_ends_a_session(
    appointment, enqueued, smtp_server
):
    smtp_server.per_session = 2  # "421 Too many messages" at the third MAIL FROM
    [InvitationFactory(appointment=appointment) for _ in range(5)]
    dispatch_tick()
    assert set(run_sends(enqueued)) == {"sent"}
    assert len(smtp_server.messages) == 5 and smtp_server.sessions == 3
    emails.connection_close()
