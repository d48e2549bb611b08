"""The dispatcher: due rows are sent once, unwanted ones never, and nothing is lost."""

import datetime
import threading
from collections import Counter

import pytest
from django.conf import settings
from django.core import mail
from django.db import connection
from django.utils import timezone

from clinic.celery import app as celery_app
from clinic.models import Patient
from followup.dispatch import dispatch_tick, recover_stuck
from followup.emails import INVITATION_HEADER
from followup.models import EmailLog, Invitation
from followup.services import reminder_schedule, response_record
from followup.tasks import send_invitation
from scheduling.models import Appointment, Status
from tests.factories import AppointmentFactory, InvitationFactory, run_sends

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
    outcomes = [send_invitation.apply(args=[invitation.pk]).get() for _ in range(3)]
    assert outcomes == ["sent", "not queued", "not queued"]
    assert len(mail.outbox) == 1
    assert EmailLog.objects.filter(invitation=invitation, status="sent").count() == 1


def test_it_hands_the_send_to_celery_when_the_claim_commits(
    appointment, django_capture_on_commit_callbacks
):
    invitation = InvitationFactory(appointment=appointment)
    celery_app.conf.task_always_eager = True
    try:
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            dispatch_tick()
        assert mail.outbox == []  # nothing goes before the claim is committed
        for callback in callbacks:
            callback()
    finally:
        celery_app.conf.task_always_eager = False
    assert len(mail.outbox) == 1
    invitation.refresh_from_db()
    assert invitation.status == S.SENT


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_it_sends_exactly_once_with_two_dispatchers_at_once(calendar, patient, enqueued, settings):
    settings.FOLLOWUP_DISPATCH_BATCH_SIZE = 7
    appointment = AppointmentFactory(
        calendar=calendar, patient=patient, starts_at=timezone.now() - 3 * DAY
    )
    rows = [InvitationFactory(appointment=appointment) for _ in range(60)]
    start = threading.Barrier(4)
    errors = []

    def dispatcher():
        try:
            start.wait()
            dispatch_tick()
        except Exception as exc:  # reported below; a thread cannot fail the test itself
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=dispatcher) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sorted(enqueued) == sorted(row.pk for row in rows)  # each queued exactly once
    run_sends(list(enqueued))
    counts = Counter(int(message.extra_headers[INVITATION_HEADER]) for message in mail.outbox)
    assert counts == {row.pk: 1 for row in rows}


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
    lost_message = InvitationFactory(appointment=appointment)
    killed_worker = InvitationFactory(appointment=appointment)
    long_ago = timezone.now() - datetime.timedelta(
        minutes=settings.FOLLOWUP_STUCK_AFTER_MINUTES + 1
    )
    Invitation.objects.filter(pk=lost_message.pk).update(status=S.QUEUED, queued_at=long_ago)
    Invitation.objects.filter(pk=killed_worker.pk).update(
        status=S.SENDING, queued_at=long_ago, sending_started_at=long_ago
    )
    fresh = InvitationFactory(
        appointment=appointment, status=S.SENDING, sending_started_at=timezone.now()
    )
    assert recover_stuck(timezone.now()) == 2
    assert sorted(enqueued) == sorted([lost_message.pk, killed_worker.pk])
    assert run_sends(enqueued) == ["sent", "sent"]
    assert len(mail.outbox) == 2
    # The resend of the killed worker's email keeps its Message-ID.
    sent_ids = {m.extra_headers["Message-ID"] for m in mail.outbox}
    assert f"<invitation-{killed_worker.pk}-send-1@127.0.0.1>" in sent_ids
    fresh.refresh_from_db()
    assert fresh.status == S.SENDING  # a live send is never repeated


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
