"""The dispatcher: finds due work rows, and sends each email exactly once.

Beat runs `dispatch_tick` every minute (task followup.dispatch). Work rows are
`Invitation`s; their life:

    scheduled --tick claims, due--> queued --worker claims--> sending --SMTP 250--> sent
    sent --a survey reminder is due--> queued --> sending --> sent (reminders_sent + 1)
    scheduled/sent --past expires_at--> expired          any open --answer--> answered
    unwanted when claimed or sent --> cancelled / skipped / expired  (EmailLog "skipped")
    transient failure --> scheduled again at retry_at (sent again at next_reminder_at for a
    survey reminder); permanent failure, or FOLLOWUP_SEND_MAX_ATTEMPTS --> failed

Never twice:
1. Every claim is a conditional update on the row's status. The worker's is
   queued -> sending, so of two deliveries of the same task (a retried task, a message the
   broker re-delivers after a lost worker, a duplicate from the recovery sweep) exactly
   one sends; the other finds the row not queued and does nothing. A sent row is queued
   again only for a new email (a survey reminder, a reminder for a new appointment time),
   and each email has its own send number.
2. The tick selects due rows with SELECT ... FOR UPDATE SKIP LOCKED, so two dispatchers at
   once take disjoint rows. SQLite has no row locks, but its IMMEDIATE transactions run
   one writer at a time, and (1) makes each claim conditional there too.
3. Tasks carry only the row id and are enqueued on commit of the claim.

Nothing lost:
4. Celery acknowledges late and rejects on worker loss, so the message of a killed worker
   comes back (after the broker's visibility timeout).
5. Sooner than that, the tick's recovery sweep takes rows that have been queued or sending
   for FOLLOWUP_STUCK_AFTER_MINUTES. That is longer than the send task's hard time limit
   (checked at start-up), so no live worker still holds them. A queued row (its message
   lost, e.g. the broker was down at the commit) is enqueued again: harmless by (1).
6. A row left in `sending` had its worker die between the claim and recording the outcome.
   We send it again, with the same Message-ID. Marking it failed for staff instead would
   drop, in the common case, an email that was never delivered: an SMTP server takes
   responsibility for a message only when it answers 250 to the end of the data
   (RFC 5321 section 6.1), and the worker records `sent` in the moment after that answer.
   So a stuck row almost always means no 250 came (the worker died connecting, in the
   dialogue, or while the server was still working). The one window for a second copy is
   between the server's 250 and our commit (the RFC 1047 window, milliseconds); that copy
   then carries the same Message-ID as the first, which marks it as the same message to
   the receiving systems. The same holds for a timeout while waiting for the 250, which
   is handled as a transient failure and sent again with the same Message-ID.

On-call alert emails (`oncall_notify`) are at least once: the alert row stays locked
while its email is sent and is marked in the same transaction, so a worker killed
mid-send leaves it unmarked and the next tick emails on-call again. A second alert email
is better than none.
"""

import datetime
import logging
import smtplib

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from followup import emails
from followup.models import Alert, EmailLog, Invitation

logger = logging.getLogger(__name__)

S = Invitation.Status
SURVEY_KINDS = (Invitation.Kind.BASELINE, Invitation.Kind.SURVEY)
# A tick works through at most this many batches of each kind, so one tick stays short.
MAX_BATCHES = 20


def _enqueue(invitation_id: int) -> None:
    from followup.tasks import send_invitation

    send_invitation.delay_on_commit(invitation_id)


def _log(invitation: Invitation, status: str, *, now, message_id="", error="", kind=None):
    EmailLog.objects.create(
        invitation=invitation,
        patient_id=invitation.patient_id,
        kind=kind or invitation.kind,
        to_address=invitation.patient.email,
        at=now,
        status=status,
        message_id=message_id,
        error=error,
    )


def _is_survey_reminder(invitation: Invitation) -> bool:
    return invitation.is_survey and invitation.sends > 0


def _refuse(invitation: Invitation, from_status: str, refusal: tuple[str, str], now) -> None:
    """Close a row that must not be emailed, saying why; its companions go with it."""
    status, reason = refusal
    rows = Invitation.objects.filter(pk=invitation.pk, status=from_status)
    if _is_survey_reminder(invitation) and status == S.SKIPPED:
        # The survey itself reached the patient: it stays answerable, reminders stop.
        changed = rows.update(status=S.SENT, next_reminder_at=None, last_error=reason)
    else:
        changed = rows.update(status=status, next_reminder_at=None, last_error=reason)
        invitation.companions.filter(status=S.SCHEDULED).update(status=status, last_error=reason)
    if changed:
        _log(invitation, EmailLog.Status.SKIPPED, now=now, error=reason)


def _claim(candidates, from_status: str, now) -> int:
    """Queue up to a batch of `candidates` (rows in `from_status`); returns rows examined."""
    with transaction.atomic():
        rows = list(
            candidates.select_for_update(skip_locked=True, of=("self",)).select_related(
                "patient", "appointment"
            )[: settings.FOLLOWUP_DISPATCH_BATCH_SIZE]
        )
        for row in rows:
            refusal = row.send_refusal(now)
            if refusal:
                _refuse(row, from_status, refusal, now)
            elif (
                Invitation.objects.filter(pk=row.pk, status=from_status).update(
                    status=S.QUEUED, queued_at=now
                )
                == 1
            ):
                _enqueue(row.pk)
    return len(rows)


def _claim_all(candidates, from_status: str, now) -> int:
    examined = 0
    for _batch in range(MAX_BATCHES):
        count = _claim(candidates, from_status, now)
        examined += count
        if count < settings.FOLLOWUP_DISPATCH_BATCH_SIZE:
            break
    return examined


def expire_overdue(now) -> int:
    """Close surveys nobody answered in time (and never-sent rows past their time)."""
    return Invitation.objects.filter(status__in=(S.SCHEDULED, S.SENT), expires_at__lte=now).update(
        status=S.EXPIRED, next_reminder_at=None
    )


def recover_stuck(now) -> int:
    """Enqueue again rows whose worker or message was lost (module docstring, 5 and 6)."""
    cutoff = now - datetime.timedelta(minutes=settings.FOLLOWUP_STUCK_AFTER_MINUTES)
    recovered = 0
    with transaction.atomic():
        queued = Invitation.objects.filter(status=S.QUEUED, queued_at__lt=cutoff)
        for pk in queued.values_list("pk", flat=True)[: settings.FOLLOWUP_DISPATCH_BATCH_SIZE]:
            if queued.filter(pk=pk).update(queued_at=now) == 1:
                _enqueue(pk)
                recovered += 1
        sending = Invitation.objects.filter(status=S.SENDING, sending_started_at__lt=cutoff)
        for pk in sending.values_list("pk", flat=True)[: settings.FOLLOWUP_DISPATCH_BATCH_SIZE]:
            if (
                sending.filter(pk=pk).update(
                    status=S.QUEUED,
                    queued_at=now,
                    last_error="The worker stopped during the send; sending again.",
                )
                == 1
            ):
                logger.warning("Invitation %s was stuck while sending; sending it again", pk)
                _enqueue(pk)
                recovered += 1
    return recovered


def dispatch_tick(*, now: datetime.datetime | None = None) -> dict[str, int]:
    """One run of the dispatcher: expire, recover, queue due sends and reminders, alerts."""
    now = now or timezone.now()
    report = {"expired": expire_overdue(now), "recovered": recover_stuck(now)}
    due = Invitation.objects.filter(
        Q(retry_at__isnull=True) | Q(retry_at__lte=now),
        status=S.SCHEDULED,
        due_at__lte=now,
        # A baseline travelling with the reminder goes out inside the reminder's email.
        sent_with__isnull=True,
    ).order_by("due_at", "pk")
    report["due"] = _claim_all(due, S.SCHEDULED, now)
    reminders = Invitation.objects.filter(
        status=S.SENT, kind__in=SURVEY_KINDS, next_reminder_at__lte=now
    ).order_by("next_reminder_at", "pk")
    report["reminders"] = _claim_all(reminders, S.SENT, now)
    report["alerts"] = _alerts_pending(now).count()
    if report["alerts"]:
        from followup.tasks import notify_oncall

        notify_oncall.delay()
    return report


# --- Sending one invitation ------------------------------------------------------------


def _next_reminder(invitation: Invitation, now, reminders_sent: int):
    if not invitation.is_survey or reminders_sent >= settings.FOLLOWUP_SURVEY_MAX_REMINDERS:
        return None
    at = now + datetime.timedelta(days=settings.FOLLOWUP_SURVEY_REMINDER_DAYS)
    if invitation.expires_at is not None and at >= invitation.expires_at:
        return None
    return at


def _is_permanent(exc: Exception) -> bool:
    """A refusal that sending again will not change: a 5xx reply or a malformed address."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return all(code >= 500 for code, _message in exc.recipients.values())
    if isinstance(exc, smtplib.SMTPResponseException):
        return exc.smtp_code >= 500
    return isinstance(exc, ValueError)


def _sent(invitation: Invitation, message_id: str, now) -> None:
    reminder = _is_survey_reminder(invitation)
    fields = {
        "sends": F("sends") + 1,
        "send_attempts": 0,
        "retry_at": None,
        "sending_started_at": None,
        "last_error": "",
    }
    if invitation.is_survey:
        reminders_sent = invitation.reminders_sent + reminder
        fields["reminders_sent"] = reminders_sent
        fields["next_reminder_at"] = _next_reminder(invitation, now, reminders_sent)
    if not reminder:
        fields["sent_at"] = now
    with transaction.atomic():
        if not Invitation.objects.filter(pk=invitation.pk, status=S.SENDING).update(
            status=S.SENT, **fields
        ):
            # Answered or cancelled while the email was on its way: it went all the same.
            Invitation.objects.filter(pk=invitation.pk).update(sends=F("sends") + 1)
        for companion in invitation.companions.filter(status=S.SCHEDULED):
            Invitation.objects.filter(pk=companion.pk, status=S.SCHEDULED).update(
                status=S.SENT,
                sends=F("sends") + 1,
                sent_at=now,
                next_reminder_at=_next_reminder(companion, now, 0),
            )
        kind = "survey_reminder" if reminder else invitation.kind
        _log(invitation, EmailLog.Status.SENT, now=now, message_id=message_id, kind=kind)


def _failed(invitation: Invitation, exc: Exception, now) -> str:
    error = f"{type(exc).__name__}: {exc}"[:2000]
    attempts = invitation.send_attempts + 1
    give_up = _is_permanent(exc) or attempts >= settings.FOLLOWUP_SEND_MAX_ATTEMPTS
    retry_at = now + datetime.timedelta(
        minutes=settings.FOLLOWUP_SEND_RETRY_MINUTES * 2 ** (attempts - 1)
    )
    rows = Invitation.objects.filter(pk=invitation.pk, status=S.SENDING)
    common = {"last_error": error, "sending_started_at": None}
    with transaction.atomic():
        if _is_survey_reminder(invitation):
            # The survey reached the patient before; only this reminder failed.
            rows.update(
                status=S.SENT,
                send_attempts=0 if give_up else attempts,
                next_reminder_at=None if give_up else retry_at,
                **common,
            )
        elif give_up:
            rows.update(status=S.FAILED, send_attempts=0, retry_at=None, **common)
            invitation.companions.filter(status=S.SCHEDULED).update(
                status=S.FAILED, last_error=error
            )
        else:
            rows.update(status=S.SCHEDULED, send_attempts=attempts, retry_at=retry_at, **common)
        _log(invitation, EmailLog.Status.FAILED, now=now, error=error)
    return "failed" if give_up else "retry"


def invitation_send(*, invitation_id: int, now: datetime.datetime | None = None) -> str:
    """Send one queued invitation's email; does nothing unless this call claims the row.

    Returns what happened: "not queued", "skipped", "sent", "retry" or "failed".
    """
    given = now is not None
    now = now or timezone.now()
    claimed = Invitation.objects.filter(pk=invitation_id, status=S.QUEUED).update(
        status=S.SENDING, sending_started_at=now
    )
    if not claimed:
        return "not queued"
    invitation = Invitation.objects.select_related(
        "patient", "appointment__site", "appointment__procedure_type"
    ).get(pk=invitation_id)
    refusal = invitation.send_refusal(now)
    if refusal:
        _refuse(invitation, S.SENDING, refusal, now)
        return "skipped"
    message_id = invitation.message_id
    try:
        emails.invitation_message(invitation).send()
    except Exception as exc:
        logger.warning("Sending invitation %s failed: %s", invitation_id, exc)
        return _failed(invitation, exc, now if given else timezone.now())
    _sent(invitation, message_id, now if given else timezone.now())
    return "sent"


# --- On-call alert emails --------------------------------------------------------------


def _alerts_pending(now):
    """Unacknowledged alerts whose first email, or escalation, is due.

    The escalation counts from the first email, not from the alert: when that email went
    out late (SMTP down, no worker), on-call still gets the full time to act before being
    told nobody did, instead of both emails in the same minute.
    """
    escalate_before = now - datetime.timedelta(minutes=settings.FOLLOWUP_ALERT_ESCALATE_MINUTES)
    return Alert.objects.filter(acknowledged_at__isnull=True).filter(
        Q(oncall_emailed_at__isnull=True)
        | Q(escalated_at__isnull=True, oncall_emailed_at__lte=escalate_before)
    )


class _SendFailed(Exception):
    """Rolls back an on-call claim whose email could not be sent."""


def _notify_one(now) -> bool:
    """Email on-call about one response's pending alerts; False when none is left."""
    with transaction.atomic():
        pending = _alerts_pending(now).select_for_update(skip_locked=True, of=("self",))
        first = pending.order_by("created_at", "pk").first()
        if first is None:
            return False
        escalation = first.oncall_emailed_at is not None
        group = list(
            pending.filter(response_id=first.response_id, oncall_emailed_at__isnull=not escalation)
            .select_related("patient")
            .order_by("kind")
        )
        message = emails.oncall_message(group, escalation=escalation)
        try:
            message.send()
        except Exception as exc:
            raise _SendFailed(f"{type(exc).__name__}: {exc}", first) from exc
        marked = {"escalated_at": now} if escalation else {"oncall_emailed_at": now}
        Alert.objects.filter(pk__in=[alert.pk for alert in group]).update(**marked)
        EmailLog.objects.create(
            patient_id=first.patient_id,
            kind="oncall_escalation" if escalation else "oncall_alert",
            to_address=settings.CLINIC_ONCALL_EMAIL,
            at=now,
            status=EmailLog.Status.SENT,
            message_id=message.extra_headers["Message-ID"],
        )
    return True


def oncall_notify(*, now: datetime.datetime | None = None) -> int:
    """Email on-call about new alerts and escalate unacknowledged ones; returns emails sent.

    Stops at the first failure (logged in EmailLog); the next tick tries again.
    """
    now = now or timezone.now()
    sent = 0
    try:
        while _notify_one(now):
            sent += 1
    except _SendFailed as failure:
        error, alert = failure.args
        logger.warning("On-call email for alert %s failed: %s", alert.pk, error)
        EmailLog.objects.create(
            patient_id=alert.patient_id,
            kind="oncall_alert",
            to_address=settings.CLINIC_ONCALL_EMAIL,
            at=now,
            status=EmailLog.Status.FAILED,
            error=error,
        )
    return sent
